"""Whole-process measurements for ``make bench``: a run's phases, predict, peak RSS per cell, and sweeps."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "FORECAST_OFFLINE": "1"}
# Runs a command and prints its peak RSS (KiB): RUSAGE_CHILDREN of a fresh process holds that one child only. The
# command's stderr is passed on and its exit status returned.
PEAK = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); " + (
    "sys.stderr.buffer.write(r.stderr); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.exit(r.returncode)"
)


def run_with_peak(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cmd`` from a fresh small process; return that run (its exit status and stderr are ``cmd``'s) and
    ``cmd``'s peak resident memory (MB).

    Why not ``RUSAGE_CHILDREN`` of the caller: a child of a large process starts with that process's resident
    memory counted in its peak. A 2.4 GB Python process that runs ``true`` reads 2,314 MB for it, and
    ``bench/shipped.py``'s whole run read 1,503, 3,574 and 8,178 MB in three runs of that script, against
    1,485-1,510 MB measured alone."""
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], cwd=cwd, env=ENV, capture_output=True, text=True)
    return done, int(done.stdout.split()[-1]) / 1024 if done.stdout.split() else float("nan")


def peak_rss_mb(cmd: list[str], cwd: Path) -> float:
    """Return the peak resident memory (MB) of ``cmd`` run to completion (an error if it failed)."""
    done, peak = run_with_peak(cmd, cwd)
    done.check_returncode()
    return peak


def wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=cwd, env=ENV, capture_output=True)
    return time.perf_counter() - start


def measure_phases(device: str, repeats: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    """Phases of ``python -m forecast trainer.max_epochs=1`` (medians of ``repeats`` processes, from metrics.json),
    the floor every run pays (a process that imports torch and pandas), and ``forecast.predict`` on the run."""
    runs, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            run_dir = Path(tmp) / f"run{i}"
            cmd = [sys.executable, "-m", "forecast", "trainer.max_epochs=1", f"device={device}"]
            walls.append(wall([*cmd, f"hydra.run.dir={run_dir}"], Path(tmp)))
            runs.append(json.loads((run_dir / "metrics.json").read_text())["timings"])
        floor = statistics.median(wall([sys.executable, "-c", "import torch, pandas"], Path(tmp)) for _ in range(3))
        predict = [sys.executable, "-m", "forecast.predict", str(Path(tmp) / "run0")]
        predict_wall = statistics.median(wall(predict, Path(tmp)) for _ in range(3))
    phases = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    process = statistics.median(walls)
    outside = process - phases.get("training", 0.0)
    return {
        **phases,
        "process_wall": process,
        "everything_but_training": outside,
        "import_torch_pandas_process": floor,
        "ours_beyond_imports": outside - floor,
    }, {"predict_wall": predict_wall}


def measure_rss(cells: tuple[str, ...]) -> dict[str, Any]:
    """Peak RSS of a default run (``trainer.max_epochs=3``) against the bare loop (``bench/bare_loop.py``), per cell."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cell in cells:
            run = [sys.executable, "-m", "forecast", f"model={cell}", "trainer.max_epochs=3"]
            forecast_mb = peak_rss_mb([*run, f"hydra.run.dir={Path(tmp) / cell}"], Path(tmp))
            bare_mb = peak_rss_mb([sys.executable, str(ROOT / "bench" / "bare_loop.py"), cell], Path(tmp))
            out[cell] = {"run_mb": forecast_mb, "bare_mb": bare_mb, "ratio": forecast_mb / bare_mb}
    return out


def measure_sweep(launchers: tuple[str, ...] = ("basic", "joblib")) -> dict[str, Any]:
    """The ``experiment=cells`` sweep (75 jobs: five cells x five series x three seeds) at one epoch a job, under
    each launcher: wall time, and per job the worker seconds outside training ((wall x workers - total training) /
    jobs; basic runs one worker, in-process; joblib one process per core)."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for launcher in launchers:
            sweep = Path(tmp) / launcher
            cmd = [sys.executable, "-m", "forecast", "-m", "experiment=cells", "trainer.max_epochs=1"]
            seconds = wall([*cmd, f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep}"], Path(tmp))
            jobs = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
            training = sum(j["timings"]["training"] for j in jobs)
            workers = 1 if launcher == "basic" else (os.cpu_count() or 1)
            out[launcher] = {
                "jobs": len(jobs),
                "completed": sum(j["status"] == "completed" for j in jobs),
                "wall": seconds,
                "seconds_per_job": seconds / len(jobs),
                "training_per_job": training / len(jobs),
                "outside_training_per_job": (seconds * workers - training) / len(jobs),
            }
    return out


def measure_backtest(device: str, folds: int = 20) -> dict[str, Any]:
    """A ``folds``-fold expanding walk-forward backtest of the default LSTM on ^GSPC and one single run of it, both
    whole processes; the ratio compares the backtest with ``folds`` single runs."""
    base = [sys.executable, "-m", "forecast", 'ticker="^GSPC"', f"device={device}"]
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("single", []), ("backtest", ["backtest=walk_forward", f"backtest.folds={folds}"])):
            walls[name] = wall([*base, *extra, f"hydra.run.dir={Path(tmp) / name}"], Path(tmp))
    return {
        "folds": folds,
        "backtest_wall": walls["backtest"],
        "seconds_per_fold": walls["backtest"] / folds,
        "single_run_wall": walls["single"],
        "ratio_to_single_runs": walls["backtest"] / (folds * walls["single"]),
    }
