"""Rebuild a sweep's summary and report by hand: ``python -m forecast.report <sweep dir>`` calls :func:`main`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Write summary.csv, summary.md, plots/, report.md and report.html into the sweep folder; return 0, or 2."""
    parser = argparse.ArgumentParser(prog="python -m forecast.report", description=__doc__)
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder holding one sub-folder per job")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a folder", file=sys.stderr)
        return 2
    from forecast.reporting.sweep.report import build_report
    from forecast.reporting.sweep.summary import job_dirs

    if not job_dirs(args.sweep_dir):
        print(
            f"error: {args.sweep_dir} holds no job folders (sub-folders with metrics.json): is it a sweep folder?",
            file=sys.stderr,
        )
        return 2
    build_report(args.sweep_dir)  # logs "sweep report: <path>"
    return 0


if __name__ == "__main__":
    sys.exit(main())
