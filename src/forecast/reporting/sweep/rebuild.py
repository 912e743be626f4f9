"""Rebuild a sweep's summary and report by hand: ``python -m forecast.report <sweep dir>`` calls :func:`main`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Write summary.csv, summary.md, plots/, report.md and report.html into the sweep folder (or ``--out``); return
    0, 1 (the report could not be written) or 2 (no sweep folder)."""
    parser = argparse.ArgumentParser(prog="python -m forecast.report", description=__doc__)
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder holding one sub-folder per job")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report (default: the sweep folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a folder", file=sys.stderr)
        return 2
    from forecast.reporting.sweep.report import build_report
    from forecast.store.folders import job_dirs

    if not job_dirs(args.sweep_dir):
        print(
            f"error: {args.sweep_dir} holds no job folders (sub-folders with metrics.json): is it a sweep folder?",
            file=sys.stderr,
        )
        return 2
    out = args.out or args.sweep_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        build_report(args.sweep_dir, out)  # logs "sweep report: <path>"
    except OSError as exc:
        print(
            f"error: cannot write the report into {out} ({exc.strerror or exc}): give --out <a writable folder>",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
