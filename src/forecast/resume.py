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

STOP_S = 60.0  # how long an interrupted sweep gets to record its jobs before it is killed


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
        return relaunch(command, found.cwd, env)
    finally:
        put_back(saved)  # the kept jobs exactly as they were, once the sweep has ended


def relaunch(command: list[str], cwd: str, env: dict[str, str]) -> int:
    """Run the sweep to its end and return its exit code. Ctrl-C reaches the sweep with the terminal's group; a
    SIGTERM sent to the resume alone is passed on: either way the sweep records its running job interrupted, says
    so in one line and exits 130, and nothing is left running."""
    import signal

    from forecast.lifecycle.signals import interrupts

    interrupts()  # SIGTERM and SIGINT raise KeyboardInterrupt here
    child = subprocess.Popen(command, cwd=cwd, env=env)
    try:
        return child.wait()
    except KeyboardInterrupt as exc:
        if str(exc) == f"signal {int(signal.SIGTERM)}":
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:  # a sweep that did not stop in time: nothing may run on unattended
            child.kill()
            child.wait()
        return 130


if __name__ == "__main__":
    sys.exit(main())
