"""``make bench``: forecast's training loop against a bare PyTorch loop, per cell, and the run's phase times.

Prints a table and writes ``bench/results.json`` (``--out`` to change; ``--device cuda`` on a GPU machine).

What is measured, per cell (rnn, lstm, gru) at the default config on the snapshot (AAPL, window 60,
2 layers x 64 units, batch 64):

* ``seconds_per_epoch``: forecast's own loop (``forecast.training.loop.fit``: clipping, checkpoint, loss
  bookkeeping) with the implementation ``model.impl=auto`` picks, training pass only; ``epoch_with_validation``
  adds the validation loss that early stopping needs;
* ``bare_seconds_per_epoch``: a minimal loop (tensors prebuilt, ``randperm`` batches, forward, MSE, backward,
  Adam step, nothing else) on the same module; ``ratio_vs_bare`` = forecast / bare (target <= 1.05);
* ``torch_seconds_per_epoch``: the bare loop on the stock ``nn.RNN/LSTM/GRU`` (the "before" of the fast path);
* forecast and bare epochs alternate, after one warm-up epoch each; medians of ``--repeats`` runs; the stock
  module is timed afterwards in its own block (interleaving it slows the fast path's epochs);
* ``gflops_per_s``: training FLOPs per epoch / seconds, with FLOPs = 3 x (forward FLOPs), forward FLOPs =
  windows x steps x sum over layers of 2 x gates x hidden x (inputs + hidden) (the gate matrix products;
  elementwise work and the head are ignored; backward taken as twice the forward);
  ``matmul_gflops_per_s``: a float32 ``torch.mm`` of the per-step shape (batch x (inputs + hidden)) @
  ((inputs + hidden) x gates*hidden), repeated; ``fraction_of_matmul`` = the ratio;
* ``latency_ms``: one forecast (1 window) and a batch of 1,000 windows, inference mode, medians;
* ``peak_rss_mb``: the peak resident memory of the process measuring that cell (each cell runs in its own
  subprocess: imports, data, model and training included).

``startup``: phase times of ``python -m forecast trainer.max_epochs=1`` (from its metrics.json) plus the
whole process's wall time.

``future``: what a run adds to forecast the future (the exchange-calendars import after torch and pandas, and
intervals, interval scores, the dated path, ``future.csv`` and its plot; target < 0.3 s together) and the wall
time of a whole ``python -m forecast.predict`` process on the startup run's folder (target < 3 s).

``universe`` (skip with ``--no-universe``): a global model's data path on a generated universe of 500 tickers x
6,000 days, in its own process (see ``bench/universe.py``): peak RSS, pooled windows/s against the materialised
single-ticker path at equal batch size, seconds per epoch.

``backtest`` (skip with ``--no-backtest``): a 20-fold expanding walk-forward backtest of the default LSTM on
^GSPC as one process, seconds per fold, and the ratio to 20 single runs of the same model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CELLS = ("rnn", "lstm", "gru")


def median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_cell(cell: str, repeats: int, device_name: str) -> dict[str, Any]:
    """Measure one cell in this process; return its results (see the module docstring)."""
    import torch
    from torch import nn
    from torch.nn.functional import mse_loss

    from forecast.config import TrainerConfig
    from forecast.data.dataset import build_windows
    from forecast.data.sources import REPO_DATA, read_csv_prices
    from forecast.models.recurrent import RecurrentForecaster, count_parameters
    from forecast.models.registry import GATES, kernel_of, resolve_impl
    from forecast.training.loop import fit

    device = torch.device(device_name)
    window, hidden, layers, batch = 60, 64, 2, 64
    frame = read_csv_prices(REPO_DATA / "snapshot" / "AAPL.csv", "bench")
    data = build_windows(frame, window, 1, (0.7, 0.15, 0.15))
    (x, y), (xv, yv) = data.part("train"), data.part("val")
    x, y, xv, yv = (t.to(device) for t in (x, y, xv, yv))
    impl = resolve_impl(cell, "auto", device)
    torch.manual_seed(0)
    model = RecurrentForecaster(
        cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1, impl=impl
    ).to(device)
    bare_model = RecurrentForecaster(
        cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1, impl=impl
    ).to(device)
    stock_model = RecurrentForecaster(
        cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1, impl="torch"
    ).to(device)
    settings = TrainerConfig(max_epochs=1, batch_size=batch, progress=False, patience=10)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def forecast_epoch() -> tuple[float, float]:
        record = fit(model, (x, y), (xv, yv), settings).history[0]
        return record.train_seconds, record.seconds

    def bare_epoch(net: nn.Module) -> float:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        sync()
        start = time.perf_counter()
        for idx in torch.randperm(len(x), device=device).split(batch):
            loss = mse_loss(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync()
        return time.perf_counter() - start

    forecast_epoch(), bare_epoch(bare_model)  # warm-up
    train_s, epoch_s, bare_s = [], [], []
    for _ in range(repeats):  # alternate so drifts of the machine hit both alike
        t, e = forecast_epoch()
        train_s.append(t)
        epoch_s.append(e)
        bare_s.append(bare_epoch(bare_model))
    seconds = statistics.median(train_s)
    bare = statistics.median(bare_s)
    # The stock module is timed afterwards, not interleaved: measured here, an nn.GRU epoch between two fast-path
    # epochs slows the fast path by about 40% (caches and allocator state), which would misstate both.
    stock = median_time(lambda: bare_epoch(stock_model), repeats) if impl != "torch" else bare

    gates = GATES[cell]
    per_step = sum(2 * gates * hidden * (n_in + hidden) for n_in in (1, *[hidden] * (layers - 1)))
    flops = 3 * len(x) * window * per_step
    a = torch.randn(batch, hidden + hidden, device=device)
    b = torch.randn(hidden + hidden, gates * hidden, device=device)

    def mm_burst() -> None:
        for _ in range(200):
            torch.mm(a, b)
        sync()

    mm_burst()
    mm_seconds = median_time(mm_burst, 5) / 200
    mm_gflops = 2 * batch * (2 * hidden) * gates * hidden / mm_seconds / 1e9

    model.eval()
    one, thousand = data.inputs[:1].to(device), data.inputs[:1000].to(device)
    with torch.inference_mode():
        model(one), model(thousand)

        def infer_one() -> None:
            model(one)
            sync()

        def infer_thousand() -> None:
            model(thousand)
            sync()

        latency_one = median_time(infer_one, 50)
        latency_thousand = median_time(infer_thousand, 5)
    gflops = flops / seconds / 1e9
    return {
        "impl": impl,
        "kernel": kernel_of(impl, device),
        "n_params": count_parameters(model),
        "train_windows": len(x),
        "seconds_per_epoch": seconds,
        "epoch_with_validation": statistics.median(epoch_s),
        "bare_seconds_per_epoch": bare,
        "ratio_vs_bare": seconds / bare,
        "torch_seconds_per_epoch": stock,
        "windows_per_second": len(x) / seconds,
        "gflop_per_epoch": flops / 1e9,
        "gflops_per_s": gflops,
        "matmul_gflops_per_s": mm_gflops,
        "fraction_of_matmul": gflops / mm_gflops,
        "latency_ms": {"one_window": 1e3 * latency_one, "batch_1000": 1e3 * latency_thousand},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "repeats": repeats,
    }


def measure_startup(device_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``python -m forecast trainer.max_epochs=1`` once, then ``python -m forecast.predict`` on its folder.

    Returns the run's phase times and wall time, and the predict process's wall time (median of 3).
    """
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        env = {**os.environ, "FORECAST_OFFLINE": "1"}
        cmd = [
            sys.executable,
            "-m",
            "forecast",
            "trainer.max_epochs=1",
            f"device={device_name}",
            f"hydra.run.dir={run_dir}",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=tmp, env=env, capture_output=True)
        wall = time.perf_counter() - start
        timings = json.loads((run_dir / "metrics.json").read_text())["timings"]
        predict = [sys.executable, "-m", "forecast.predict", str(run_dir)]
        walls = [
            median_time(lambda: subprocess.run(predict, check=True, cwd=tmp, env=env, capture_output=True), 1)
            for _ in range(3)
        ]
    overhead = wall - timings.get("training", 0.0)
    return {**timings, "process_wall": wall, "everything_but_training": overhead}, {
        "predict_wall": statistics.median(walls)
    }


def measure_future(repeats: int) -> dict[str, Any]:
    """Time what a run adds to forecast the future: intervals, scores, the dated path, future.csv and its plot.

    The import of exchange-calendars is timed in a fresh process that has already imported torch and pandas
    (as a run has); the rest in this process on the default data (AAPL, window 60, horizon 1), medians.
    """
    import torch

    from forecast.data.dataset import build_windows, latest_window
    from forecast.data.sources import REPO_DATA, read_csv_prices
    from forecast.evaluation.future import add_intervals, bands_for, future_path, row_sigmas
    from forecast.evaluation.predict import forecast_table, predict_returns
    from forecast.evaluation.scores import interval_scores
    from forecast.models.recurrent import RecurrentForecaster
    from forecast.reporting.outputs import write_future

    probe = (
        "import time, torch, pandas; t = time.perf_counter(); import exchange_calendars; print(time.perf_counter() - t)"
    )
    imports = [
        float(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    frame = read_csv_prices(REPO_DATA / "snapshot" / "AAPL.csv", "bench")
    data = build_windows(frame, 60, 1, (0.7, 0.15, 0.15))
    torch.manual_seed(0)
    model = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=64, num_layers=2, horizon=1).eval()
    cpu = torch.device("cpu")
    table = forecast_table(data, predict_returns(model, data.inputs, 1, "direct", cpu))

    def added() -> None:
        bands = bands_for("mse", "conformal", [0.8, 0.9], [], table)
        scored = add_intervals(table, bands)
        test = scored[scored["split"] == "test"]
        interval_scores(test, bands.levels(), "conformal", row_sigmas(test, bands), [])
        args = (data.scaler, 1, "direct", bands, "XNYS", cpu)
        latest = latest_window(frame, ("log_return",), data.scaler, 60)
        future = future_path(model, latest, frame.index[-1], float(data.prices[-1]), *args)
        with tempfile.TemporaryDirectory() as tmp:
            write_future(Path(tmp), "AAPL lstm", future, frame)

    added()  # warm-up: the first calendar and figure pay one-time costs
    return {
        "exchange_calendars_import": statistics.median(imports),
        "intervals_path_and_files": median_time(added, repeats),
    }


def measure_backtest(device_name: str, folds: int = 20) -> dict[str, Any]:
    """Time a ``folds``-fold expanding walk-forward backtest of the default LSTM on ^GSPC, and one single run of it.

    Both are whole ``python -m forecast`` processes; the ratio compares the backtest with ``folds`` single runs.
    """
    env = {**os.environ, "FORECAST_OFFLINE": "1"}
    base = [sys.executable, "-m", "forecast", 'ticker="^GSPC"', f"device={device_name}"]
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("single", []), ("backtest", ["backtest=walk_forward", f"backtest.folds={folds}"])):
            start = time.perf_counter()
            subprocess.run(
                [*base, *extra, f"hydra.run.dir={Path(tmp) / name}"], check=True, cwd=tmp, env=env, capture_output=True
            )
            walls[name] = time.perf_counter() - start
    return {
        "folds": folds,
        "backtest_wall": walls["backtest"],
        "seconds_per_fold": walls["backtest"] / folds,
        "single_run_wall": walls["single"],
        "ratio_to_single_runs": walls["backtest"] / (folds * walls["single"]),
    }


def machine(device_name: str) -> dict[str, Any]:
    import torch

    cpu = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": device_name,
    }
    if device_name == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def print_table(results: dict[str, Any]) -> None:
    head = (
        f"{'cell':5} {'kernel':11} {'params':>7} {'s/epoch':>8} {'bare':>7} {'ratio':>6} {'stock':>7} "
        f"{'win/s':>7} {'GFLOP/s':>8} {'of mm':>6} {'1 win ms':>8} {'1000 ms':>8} {'RSS MB':>7}"
    )
    print(head)
    for cell, r in results["cells"].items():
        print(
            f"{cell:5} {r['kernel']:11} {r['n_params']:>7} {r['seconds_per_epoch']:>8.3f} "
            f"{r['bare_seconds_per_epoch']:>7.3f} {r['ratio_vs_bare']:>6.3f} {r['torch_seconds_per_epoch']:>7.3f} "
            f"{r['windows_per_second']:>7.0f} {r['gflops_per_s']:>8.2f} {r['fraction_of_matmul']:>6.1%} "
            f"{r['latency_ms']['one_window']:>8.2f} {r['latency_ms']['batch_1000']:>8.1f} "
            f"{r['peak_rss_mb']:>7.0f}"
        )
    s = results["startup"]
    print("startup phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in s.items()))
    f = results["future"]
    added = f["exchange_calendars_import"] + f["intervals_path_and_files"]
    print(
        f"future path (s): exchange_calendars import {f['exchange_calendars_import']:.3f}, intervals + path + files "
        f"{f['intervals_path_and_files']:.3f} (a run adds {added:.3f}; target < 0.3); predict process "
        f"{f['predict_wall']:.2f} (target < 3)"
    )
    if "universe" in results:
        u = results["universe"]
        print(
            f"universe: {u['tickers']} tickers x {u['days']} days ({u['train_windows']:,} training windows, "
            f"{u['cell']} batch {u['batch_size']}): peak RSS {u['peak_rss_mb']:.0f} MB (target < 1500; materialised "
            f"inputs alone {u['materialised_mb']:.0f} MB), {u['windows_per_second']:.0f} windows/s pooled vs "
            f"{u['materialised_windows_per_second']:.0f} materialised (ratio {u['ratio']:.2f}, target >= 0.9), "
            f"{u['seconds_per_epoch']:.0f} s an epoch, data path built in {u['build_seconds']:.1f} s"
        )
    if "backtest" in results:
        b = results["backtest"]
        print(
            f"backtest: {b['folds']} folds of the default LSTM on ^GSPC in {b['backtest_wall']:.0f} s "
            f"({b['seconds_per_fold']:.1f} s a fold); one single run {b['single_run_wall']:.1f} s; ratio to "
            f"{b['folds']} single runs {b['ratio_to_single_runs']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--no-backtest", action="store_true", help="skip the 20-fold backtest timing")
    parser.add_argument("--no-universe", action="store_true", help="skip the 500-ticker universe")
    parser.add_argument("--one-cell", help=argparse.SUPPRESS)  # internal: measure one cell, print JSON
    args = parser.parse_args()
    if args.one_cell:
        print(json.dumps(measure_cell(args.one_cell, args.repeats, args.device)))
        return
    cells = {}
    for cell in args.cells.split(","):
        print(f"measuring {cell} ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--one-cell", cell, "--repeats", str(args.repeats), "--device", args.device],
            check=True,
            capture_output=True,
            text=True,
        )
        cells[cell] = json.loads(out.stdout.strip().splitlines()[-1])
    print("measuring startup ...", file=sys.stderr, flush=True)
    startup, predict = measure_startup(args.device)
    print("measuring the future path ...", file=sys.stderr, flush=True)
    future = {**measure_future(args.repeats), **predict}
    results = {"machine": machine(args.device), "cells": cells, "startup": startup, "future": future}
    if not args.no_universe:
        print("measuring a 500-ticker universe ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "universe.py")], check=True, capture_output=True, text=True
        )
        results["universe"] = json.loads(out.stdout.strip().splitlines()[-1])
    if not args.no_backtest:
        print("measuring a 20-fold backtest (several minutes) ...", file=sys.stderr, flush=True)
        results["backtest"] = measure_backtest(args.device)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
