"""A seeded fault suite: kill a 3-fold global backtest, a 4-job sweep under the joblib launcher and a 2-rank ddp run
at random points, and check what each leaves.

Usage: ``python scripts/faults.py [--points 3] [--seed 0] [--only backtest,sweep,ddp] [--out outputs/faults]``.

Each scenario runs once uninterrupted (the reference; its wall time bounds the kill points), then once per point:
started in its own session, killed (SIGKILL or SIGTERM to the leading process, as ``kill`` or a scheduler sends it,
drawn from the seed) after a delay drawn from 5-95% of the reference time, and checked:

- **record**: every folder a run started (``.hydra/`` exists) holds a ``metrics.json``;
- **processes**: nothing the killed run started is alive 30 s after the kill (workers watch their parent);
- **files**: nothing new outside the point's folder (its working folder and its own TMPDIR are compared);
- **resume**: the documented resume (``trainer.resume=<run>`` for a run, ``python -m forecast.resume <sweep>`` for a
  sweep; a fresh run where nothing could be kept) completes, and its results equal the reference's byte for byte
  (``forecasts.csv`` and ``future.csv``; a sweep's ``summary.csv`` without the columns measured on the machine).

It prints one line per point and writes ``faults.json``. The CI tests kill each scenario at one fixed point
(``tests/test_resume.py``, ``tests/test_backtest.py``, ``tests/test_distributed.py``); this suite draws more points
than CI's 15 minutes allow.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from forecast.store.record import MACHINE_FIELDS

TINY = ["window=20", "model.hidden_size=8", "model.num_layers=1", "data.start=2008-01-01", "plots=none"]
SCENARIOS: dict[str, list[str]] = {
    "backtest": ["-m", "forecast", *TINY, "scope=global", "tickers=[AAPL,MSFT,IBM]", "backtest=walk_forward",
                 "backtest.folds=3", "backtest.n_jobs=2", "trainer.max_epochs=4"],
    "sweep": ["-m", "forecast", "-m", *TINY, "model=rnn,gru", "seed=0,1", "trainer.max_epochs=4",
              "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "ddp": ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "forecast",
            "trainer.strategy=ddp", *TINY, "forecast.intervals=none", "trainer.threads=1", "trainer.max_epochs=6",
            "trainer.patience=6"],
}  # fmt: skip
TORCHRUN_LOGS = "torchelastic_"  # torchrun's own log folder: it leaves one after every run, completed or not


@dataclass
class Point:
    """One kill and what it left."""

    scenario: str
    signal: str
    delay_s: float
    signalled: bool = False  # False: it had ended before the kill
    status: str = ""  # the killed run's record status (a sweep: its jobs'), '' when it wrote none
    exit_code: int | None = None
    unrecorded: list[str] = field(default_factory=list)  # started folders without a metrics.json
    survivors: list[str] = field(default_factory=list)  # processes of the session alive after the grace period
    strays: list[str] = field(default_factory=list)  # new files outside the run's folder
    resume: str = ""  # how it was resumed
    resume_error: str = ""  # the resume's own error line, when it failed
    identical: bool = False
    differs: list[str] = field(default_factory=list)


def command(scenario: str, folder: Path, *extra: str) -> list[str]:
    """Return the scenario's command line writing into ``folder``."""
    where = "hydra.sweep.dir" if scenario == "sweep" else "hydra.run.dir"
    return [sys.executable, *SCENARIOS[scenario], f"{where}={folder}", *extra]


def environment(tmp: Path) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "FORECAST_OFFLINE": "1", "TMPDIR": str(tmp)}


def run_to_end(args: list[str], cwd: Path, tmp: Path) -> float:
    """Run ``args`` to the end (raise with its stderr's tail if it fails); return its wall time."""
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=environment(tmp), capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        ours = [line for line in done.stderr.splitlines() if line.startswith(("error: ", "interrupted: "))]
        raise Failed(f"exit {done.returncode}: " + (" | ".join(dict.fromkeys(ours)) or done.stderr[-500:]))
    return time.perf_counter() - started


class Failed(RuntimeError):
    """A command that should have completed did not: its exit code and its one-line errors."""


def left(tmp: Path) -> list[str]:
    """Return the live processes started for a point (``pid command``): every one inherits its TMPDIR, ``tmp``,
    whatever session it moved to (torchrun starts each rank in its own)."""
    marker, alive = f"TMPDIR={tmp}\0".encode(), []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes() and "Z" not in (proc / "stat").read_text().split(")")[-1][:3]:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                alive.append(f"{proc.name} {cmdline[:80]}")
        except (OSError, ValueError):
            continue
    return alive


def kill(scenario: str, folder: Path, sig: signal.Signals, delay: float) -> Point:
    """Start the scenario in ``folder``/run, send ``sig`` to its leading process after ``delay`` s; check what is
    left (record, processes, files)."""
    point = Point(scenario, sig.name, round(delay, 2))
    job = subprocess.Popen(
        command(scenario, folder / "run"), cwd=folder, env=environment(folder / "tmp"), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(delay)
    if job.poll() is None:
        os.kill(job.pid, sig)
        point.signalled = True
    try:
        point.exit_code = job.wait(timeout=60)
    except subprocess.TimeoutExpired:
        job.kill()
        point.exit_code = job.wait()
    deadline = time.monotonic() + 30
    while left(folder / "tmp") and time.monotonic() < deadline:
        time.sleep(0.2)
    point.survivors = left(folder / "tmp")
    for line in point.survivors:  # clean up, after counting them
        os.kill(int(line.split()[0]), signal.SIGKILL)
    started = [p for p in [folder / "run", *(folder / "run").glob("*")] if (p / ".hydra").is_dir()]
    point.unrecorded = [str(p.relative_to(folder)) for p in started if not (p / "metrics.json").is_file()]
    point.strays = sorted(p.name for p in (folder / "tmp").iterdir() if not p.name.startswith(TORCHRUN_LOGS))
    point.strays += sorted(p.name for p in folder.iterdir() if p.name not in ("run", "tmp"))
    jobs = sorted((folder / "run").glob("*_*")) if scenario == "sweep" else [folder / "run"]
    point.status = ", ".join(status(job) or "none" for job in jobs)
    return point


def status(folder: Path) -> str:
    try:
        return str(json.loads((folder / "metrics.json").read_text()).get("status", ""))
    except (OSError, ValueError):
        return ""


def resume(point: Point, folder: Path) -> Path:
    """Resume the killed run as the docs say; return the folder that holds the finished results."""
    run, scenario, tmp = folder / "run", point.scenario, folder / "tmp-resume"
    if scenario == "sweep":
        if (run / "multirun.yaml").is_file():
            point.resume = "python -m forecast.resume"
            run_to_end([sys.executable, "-m", "forecast.resume", str(run)], folder, tmp)
            return run
        point.resume = "a new sweep (no multirun.yaml was written)"
        run_to_end(command(scenario, folder / "again"), folder, tmp)
        return folder / "again"
    if point.status == "completed" or not point.signalled:
        point.resume = "none (it completed before the kill)"
        return run
    units = run / (".units" if scenario == "backtest" else "checkpoint.pt")
    kept = units.is_file() or (units.is_dir() and any(units.glob("*.pt")))
    point.resume = "trainer.resume" if kept else "run again (nothing to keep)"
    run_to_end(command(scenario, run, *([f"trainer.resume={run}"] if kept else [])), folder, tmp)
    return run


def compare(point: Point, done: Path, reference: Path) -> None:
    """Set ``point.identical`` (and what differs) from ``done`` against the uninterrupted ``reference``."""
    if point.scenario == "sweep":
        ours, theirs = (pd.read_csv(p / "summary.csv").drop(columns=list(MACHINE_FIELDS)) for p in (done, reference))
        ours, theirs = (
            f.drop(columns=[c for c in f.columns if c in ("job", "folder", "run_dir")]) for f in (ours, theirs)
        )
        point.differs = [] if ours.equals(theirs) else [c for c in ours.columns if not ours[c].equals(theirs[c])]
    else:
        files = ("forecasts.csv", "future.csv")
        point.differs = [n for n in files if (done / n).read_bytes() != (reference / n).read_bytes()]
    point.identical = not point.differs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--signals", default="KILL,TERM", help="the signals drawn from")
    parser.add_argument("--out", type=Path, default=Path("outputs/faults") / time.strftime("%Y-%m-%d_%H-%M-%S"))
    args = parser.parse_args(argv)
    rng, points = random.Random(args.seed), []
    for scenario in args.only.split(","):
        reference = args.out.resolve() / scenario / "reference"
        reference.mkdir(parents=True)
        wall = run_to_end(command(scenario, reference / "run"), reference, reference / "tmp")
        print(f"{scenario}: reference {wall:.1f} s", flush=True)
        for i in range(args.points):
            sig = signal.Signals[f"SIG{rng.choice(args.signals.split(','))}"]
            delay = rng.uniform(0.05, 0.95) * wall
            folder = args.out.resolve() / scenario / f"point{i}"
            folder.mkdir()
            point = kill(scenario, folder, sig, delay)
            try:
                compare(point, resume(point, folder), reference / "run")
            except Failed as exc:
                point.resume_error = str(exc)
            points.append(point)
            print(line(point), flush=True)
    (args.out / "faults.json").write_text(json.dumps([asdict(p) for p in points], indent=1))
    bad = [p for p in points if p.unrecorded or p.survivors or p.strays or p.resume_error or not p.identical]
    print(f"{len(points)} kill points, {len(bad)} with a finding; details in {args.out / 'faults.json'}")
    return 1 if bad else 0


def line(p: Point) -> str:
    found = [f"unrecorded {p.unrecorded}"] * bool(p.unrecorded) + [f"{len(p.survivors)} survivors"] * bool(
        p.survivors
    ) + [f"strays {p.strays}"] * bool(p.strays) + [f"differs {p.differs}"] * bool(p.differs)  # fmt: skip
    killed = f"exit {p.exit_code}" if p.signalled else "it had ended"
    outcome = f"FAILED ({p.resume_error})" if p.resume_error else "identical" if p.identical else "DIFFERENT"
    return (
        f"  {p.scenario:<8} {p.signal:<7} at {p.delay_s:5.1f} s: {killed}, record {p.status or 'none'}; "
        f"resumed by {p.resume}: {outcome}; {'; '.join(found) or 'nothing left'}"
    )


if __name__ == "__main__":
    sys.exit(main())
