"""``python -m forecast.resume <sweep dir>``: finish a killed sweep. Its completed jobs are kept untouched and not
run again; its missing, failed and interrupted jobs run again with their own job numbers, folders and overrides,
under the sweep's own launcher; the summary and report are rebuilt once, at the end. Refused when the sweep's
config changed since it ran (see :mod:`forecast.store.sweep_resume`).

Exit codes: those of ``python -m forecast -m`` (0 done, 4 jobs still failing, 130 interrupted), 1 a folder that
cannot be resumed, 2 a command line that does not parse.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forecast.resume", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="the folder a python -m forecast -m sweep wrote")
    args = parser.parse_args(argv)
    from forecast.store.sweep_resume import RESUME_ENV, RESUME_LINE_ENV, ResumeError, hydra_files, plan, put_back

    try:
        found = plan(args.sweep_dir)
    except ResumeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    line = (
        f"resuming {found.folder}: {len(found.kept)} completed job(s) kept, {len(found.rerun)} failed or "
        "interrupted job(s) and any never started run again"
    )  # printed by the relaunched sweep once it has checked that the config is the same (one line either way)
    command = [sys.executable, "-m", "forecast", "-m", *found.overrides, *found.hydra_overrides]
    env = os.environ | {RESUME_ENV: str(found.folder), RESUME_LINE_ENV: line}
    saved = hydra_files(found.kept)
    try:
        return subprocess.call(command, cwd=found.cwd, env=env)
    except KeyboardInterrupt:  # the sweep got the signal too and records its interrupted job
        return 130
    finally:
        put_back(saved)  # the kept jobs exactly as they were


if __name__ == "__main__":
    sys.exit(main())
