"""``make bench``: forecast against a bare PyTorch loop, per cell and per size, and the fixed costs of a run.

Prints a table and writes ``bench/results.json`` (``--out`` to change; ``--device cuda`` on a GPU machine).
Every measurement runs in a fresh process; timed alternatives alternate within one process, medians of
``--repeats``.

* ``cells`` (per cell at the default config: AAPL, window 60, 2 layers x 64 units, batch 64; ``bench/cells.py``):
  ``seconds_per_epoch`` of forecast's own loop (training pass: clipping, grad-norm and loss bookkeeping) with the
  implementation ``model.impl=auto`` picks, against ``bare_seconds_per_epoch`` (tensors prebuilt, ``randperm``
  batches, forward, MSE, backward, ``torch.optim.Adam`` step) on the same module, ``ratio_vs_bare`` (target
  <= 1.05); ``torch_seconds_per_epoch`` the stock ``nn.RNN/GRU`` (the "before" of the fast path); training
  GFLOP/s and its ``fraction_of_matmul`` (a float32 ``torch.mm`` of one step's shape); ``latency_ms`` of 1 and
  1,000 windows under ``inference_mode``.
* ``sizes``: GRU, oneDNN's LSTM and the fast LSTM epochs alternated in one process at 2x64, 2x128 and 1x64: the
  median GRU/LSTM ratio as ``model.impl=auto`` runs them (target <= 0.83 at 2x64; the fused LSTM where the C++
  build exists), on the same technique (fast GRU against fast LSTM: the cells, not the kernels), the fast LSTM
  against oneDNN's, and each one's share of the GEMM ceiling.
* ``phases`` (``bench/processes.py``): the phases of ``python -m forecast trainer.max_epochs=1`` from its
  metrics.json, the process's wall time, everything but training, and the floor any such process pays here
  (``python -c "import torch, pandas"``); ``predict_wall``: ``python -m forecast.predict`` on that run.
* ``future``: what a run adds to forecast the future (the exchange-calendars import after torch and pandas;
  intervals, scores, the dated path, ``future.csv`` and its plot).
* ``rss``: peak RSS of ``python -m forecast model=<cell> trainer.max_epochs=3`` against ``bench/bare_loop.py``
  (the same training and one inference pass over every window), per cell (target ratio <= 1.3).
* ``sweep`` (skip with ``--no-sweep``): the 75-job ``experiment=cells`` sweep at one epoch a job under the basic
  and joblib launchers: wall time and worker seconds per job outside training.
* ``fischer_krauss`` (with ``shipped``; ``bench/fischer_krauss.py``): the shape of ``experiment=fischer_krauss``
  (1x25, window 240, RMSprop, a 0/1 target) on the universe's windows at batch 512 and 256: windows/s of the LSTM
  on oneDNN and on the fused loop, the fast GRU and sLSTM, their share of the GEMM ceiling, and the forecasting
  pass's windows/s.
* ``costs`` (skip with ``--no-costs``; ``bench/costs.py``): what conformal and adaptive intervals add to a run,
  per run, ticker and fold (the shipped universe on one split, a 20-fold backtest of ^GSPC), and the portfolio
  evaluation's cost on the universe with 0 and 100 random rankings.
* ``ddp`` (skip with ``--no-ddp``; ``bench/ddp.py``): one global model on the shipped universe trained by two
  processes of one thread (``trainer.strategy=ddp``) against one process of one thread and one of two threads.
* ``universe`` (skip with ``--no-universe``): a global model's data path on 500 generated tickers x 6,000 days
  (``bench/universe.py``). ``backtest`` (skip with ``--no-backtest``): a 20-fold walk-forward backtest of the
  default LSTM on ^GSPC against 20 single runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cells as cells_mod
import printing
import processes

ROOT = Path(__file__).resolve().parents[1]
from forecast.config.schema import CELLS  # noqa: E402  (the names only: no torch in this process)


def measure_future(repeats: int) -> dict[str, Any]:
    """Time what a run adds to forecast the future: intervals, scores, the dated path, future.csv and its plot.

    The import of exchange-calendars is timed in a fresh process that has already imported torch and pandas
    (as a run has); the rest in this process on the default data (AAPL, window 60, horizon 1), medians.
    """
    import torch

    from forecast.data.dataset import latest_window
    from forecast.evaluation.future import add_intervals, bands_for, future_path, row_sigmas
    from forecast.evaluation.inference import forecast_table, predict_returns
    from forecast.evaluation.intervals.adaptive import Control
    from forecast.evaluation.scores import interval_scores
    from forecast.models.recurrent import RecurrentForecaster
    from forecast.reporting.run_files import write_future

    probe = (
        "import time, torch, pandas; t = time.perf_counter(); import exchange_calendars; print(time.perf_counter() - t)"
    )
    imports = [
        float(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    frame, data = cells_mod.default_frame(), cells_mod.default_data(None)
    torch.manual_seed(0)
    model = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=64, num_layers=2, horizon=1).eval()
    cpu = torch.device("cpu")
    table = forecast_table(data, predict_returns(model, data.inputs, 1, "direct", cpu))

    def added() -> None:
        bands = bands_for("mse", "conformal", [0.8, 0.9], [], table, "ewma", Control())
        scored = add_intervals(table, bands)
        test = scored[scored["split"] == "test"]
        interval_scores(test, bands.levels(), "conformal", row_sigmas(test, bands), [])
        args = (data.scaler, 1, "direct", bands, "XNYS", cpu)
        latest = latest_window(frame, ("log_return",), data.scaler, 60)
        future = future_path(model, latest, frame.index[-1], float(data.prices[-1]), *args)
        with tempfile.TemporaryDirectory() as tmp:
            write_future(Path(tmp), {"AAPL": future}, {"AAPL": frame}, "lstm", pooled=False)

    added()  # warm-up: the first calendar and figure pay one-time costs
    return {
        "exchange_calendars_import": statistics.median(imports),
        "intervals_path_and_files": cells_mod.median_time(added, repeats),
    }


def machine(device_name: str) -> dict[str, Any]:
    import torch

    from forecast.models.fast import mkl

    cpu, flags = "unknown", list[str]()
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1].split()
    simd = sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "sse4")))
    info = {
        "cpu": cpu,
        "cpu_flags": simd,  # the SIMD flags: oneDNN's LSTM and the fast path's kernels depend on them
        "avx512": any(f.startswith("avx512") for f in flags),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": device_name,
        "mkl_amd": mkl.state(),  # MKL's fast kernels on an AMD CPU: the fast path's GEMMs run 2x faster with them
    }
    if device_name == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def cuda_line(cuda: dict[str, Any]) -> dict[str, Any]:
    """The CUDA figures of ``bench/results-cuda.json`` (written on a lent GPU): epoch against the bare loop per cell."""
    return {
        "gpu": cuda["machine"].get("gpu"),
        "torch": cuda["machine"].get("torch"),
        "date": cuda["machine"].get("date"),
        "ratio_vs_bare": {c: r["ratio_vs_bare"] for c, r in cuda["cells"].items()},
        "seconds_per_epoch": {c: r["seconds_per_epoch"] for c, r in cuda["cells"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--no-backtest", action="store_true", help="skip the 20-fold backtest timing")
    parser.add_argument("--no-universe", action="store_true", help="skip the generated 500-ticker universe")
    parser.add_argument("--no-shipped", action="store_true", help="skip the shipped S&P 500 universe (about 5 min)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the 75-job sweeps")
    parser.add_argument("--no-costs", action="store_true", help="skip the intervals' and portfolio's costs (3 min)")
    parser.add_argument("--no-ddp", action="store_true", help="skip data-parallel training on the universe (4 min)")
    parser.add_argument("--one-cell", help=argparse.SUPPRESS)  # internal: measure one cell, print JSON
    parser.add_argument("--sizes", action="store_true", help=argparse.SUPPRESS)  # internal: the size table
    args = parser.parse_args()
    if args.one_cell:
        print(json.dumps(cells_mod.measure_cell(args.one_cell, args.repeats, args.device)))
        return
    if args.sizes:
        print(json.dumps(cells_mod.measure_sizes(args.repeats, args.device)))
        return

    def child(*extra: str) -> Any:
        cmd = [sys.executable, __file__, "--repeats", str(args.repeats), "--device", args.device, *extra]
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])

    def step(what: str) -> None:
        print(f"measuring {what} ...", file=sys.stderr, flush=True)

    cells = {}
    for cell in args.cells.split(","):
        step(cell)
        cells[cell] = child("--one-cell", cell)
    step("GRU/LSTM at three sizes")
    sizes = child("--sizes")
    step("a run's phases and predict")
    phases, predict = processes.measure_phases(args.device)
    step("the future path")
    future = {**measure_future(args.repeats), **predict}
    results = {"machine": machine(args.device), "cells": cells, "sizes": sizes, "phases": phases, "future": future}
    if args.device == "cpu":
        step("peak RSS per cell")
        results["rss"] = processes.measure_rss(tuple(cells))
    if not args.no_sweep:
        step("the 75-job cells sweep under basic and joblib (about 4 min)")
        results["sweep"] = processes.measure_sweep()
    if not args.no_universe:
        step("a 500-ticker universe")
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "universe.py")], check=True, capture_output=True, text=True
        )
        results["universe"] = json.loads(out.stdout.strip().splitlines()[-1])
    if not args.no_shipped and args.device == "cpu":
        step("the shipped S&P 500 universe: throughput per cell and batch, and a whole run (about 5 min)")
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "shipped.py")], check=True, capture_output=True, text=True
        )
        results["shipped"] = json.loads(out.stdout.strip().splitlines()[-1])
        step("the Fischer & Krauss shape on the universe's windows: 1x25, window 240, RMSprop (about 4 min)")
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "fischer_krauss.py")], check=True, capture_output=True, text=True
        )
        results["fischer_krauss"] = json.loads(out.stdout.strip().splitlines()[-1])
    if not args.no_costs and args.device == "cpu":
        step("what intervals and the portfolio add: the universe and a 20-fold backtest (about 3 min)")
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "costs.py")], check=True, capture_output=True, text=True
        )
        results["costs"] = json.loads(out.stdout.strip().splitlines()[-1])
    if not args.no_ddp and args.device == "cpu":
        step("one model on the shipped universe: 2 ddp processes against 1 process (about 4 min)")
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "ddp.py")], check=True, capture_output=True, text=True
        )
        results["ddp"] = json.loads(out.stdout.strip().splitlines()[-1])
    step("every cell against window length, 60 to 1024 (about 4 min)")
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "windows.py"), "--device", args.device],
        check=True,
        capture_output=True,
        text=True,
    )
    results["windows"] = json.loads(out.stdout.strip().splitlines()[-1])
    if not args.no_backtest:
        step("a 20-fold backtest (several minutes)")
        results["backtest"] = processes.measure_backtest(args.device)
    cuda = ROOT / "bench" / "results-cuda.json"
    if args.device == "cpu" and cuda.exists():  # measured on a lent GPU by bench/gpu_check.sh
        results["cuda"] = cuda_line(json.loads(cuda.read_text()))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    printing.print_table(results)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
