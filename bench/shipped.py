"""``make bench`` part: one global model over the shipped S&P 500 universe (real prices, offline).

Run by ``bench/bench.py`` in its own process; alone: ``python bench/shipped.py``. Measured:

* ``windows_per_second``: forecast's training loop (``fit``, with the allocator settings of a run) on ``--sample``
  windows drawn from every ticker's training windows, per cell (GRU, LSTM; default 2x64) and batch (64, 256, 1024),
  alternating cells and batches, medians of ``--repeats``; ``seconds_per_epoch`` is a full pass over the pool's
  training windows at that rate;
* ``run``: the whole command line, ``universe=sp500_2021_04 scope=global`` with one epoch of ``--run-samples``
  windows, in a child process: its wall time, phases and peak resident memory (loading, training, forecasting
  every ticker's validation and test windows, writing the outputs; target under 1,500 MB).
"""

from __future__ import annotations

import forecast  # noqa: F401  (before torch: MKL's fast kernels on an AMD CPU, models/fast/mkl.py)

# isort: split
import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import processes
import torch

ROOT = Path(__file__).resolve().parents[1]
CELLS, BATCHES = ("gru", "lstm"), (64, 256, 1024)


def universe_units(cfg: Any = None) -> tuple[dict[str, Any], list[Any]]:
    """Return the frames and units of a global run over the shipped universe (``cfg``: a ``Config`` whose backtest
    and window to use, by default the defaults), as ``universe=sp500_2021_04 scope=global`` plans them."""
    from forecast.config.schema import Config, Source
    from forecast.data.folds import plan_units
    from forecast.data.panel import load_panel
    from forecast.data.sources.load import snapshot_dir
    from forecast.data.sources.shipped import read_universe

    cfg = cfg or Config()
    cfg.scope, cfg.tickers = "global", list(read_universe(snapshot_dir(None) / "sp500_2021_04.parquet").rows)
    cfg.data.source, cfg.data.snapshot_file, cfg.data.offline = Source.snapshot, "sp500_2021_04.parquet", True
    panel, units = plan_units(load_panel(cfg.tickers, cfg.data), cfg.backtest, cfg.window, cfg.horizon)
    return panel.frames(), units


def training_windows() -> tuple[Any, Any, int, float]:
    """Return the pool's training and validation samples, its ticker count and the seconds it took to build them."""
    from forecast.config.schema import Config
    from forecast.data.dataset import windows_for
    from forecast.data.panel import training_sets

    start = time.perf_counter()
    cfg = Config()
    frames, units = universe_units(cfg)
    datas = [windows_for(frames[t], cfg.window, cfg.horizon, b) for t, b in units[0].members.items()]
    train, val = training_sets(datas, 1, "windows")
    return train, val, len(datas), time.perf_counter() - start


def throughput(train: Any, val: Any, sample: int, repeats: int) -> dict[str, dict[str, float]]:
    """Return windows/s per cell and batch size (medians over alternating repeats)."""
    from forecast.config.schema import ModelConfig, TrainerConfig
    from forecast.models.recurrent import build_model
    from forecast.training.loop import fit
    from forecast.training.runtime import prepare_process

    prepare_process()  # as every run's start_job does
    gen = torch.Generator().manual_seed(0)
    drawn = train.select(torch.randperm(len(train), generator=gen)[:sample])
    small = val.select(torch.arange(256))
    times: dict[tuple[str, int], list[float]] = {}
    for rep in range(repeats + 1):  # the first round warms every shape up and is not counted
        order = [(c, b) for c in CELLS for b in BATCHES]
        for cell, batch in order if rep % 2 else order[::-1]:
            torch.manual_seed(0)
            model = build_model(ModelConfig(cell=cell), 1, 1, torch.device("cpu"))
            settings = TrainerConfig(max_epochs=1, progress=False, batch_size=batch)
            seconds = fit(model, drawn, small, settings).history[0].train_seconds
            if rep:
                times.setdefault((cell, batch), []).append(seconds)
    out: dict[str, dict[str, float]] = {}
    for (cell, batch), taken in times.items():
        out.setdefault(cell, {})[str(batch)] = sample / statistics.median(taken)
    return out


def whole_run(samples: int) -> dict[str, Any]:
    """Run the command line over the universe for one epoch of ``samples`` windows; return its cost."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "universe=sp500_2021_04",
            "scope=global",
            "trainer.max_epochs=1",
            f"trainer.samples_per_epoch={samples}",
        ]
        start = time.perf_counter()
        cmd = [sys.executable, "-m", "forecast", *args, f"hydra.run.dir={tmp}/run", "trainer.progress=false"]
        done, peak = processes.run_with_peak(cmd, ROOT)  # not this process's RUSAGE_CHILDREN: see run_with_peak
        wall = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        record = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        size = sum(p.stat().st_size for p in (Path(tmp) / "run").iterdir() if p.is_file())
    return {
        "wall": wall,
        "peak_rss_mb": peak,
        "timings": record["timings"],
        "tickers": len(record["pool"]),
        "samples": samples,
        "folder_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=20480)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--run-samples", type=int, default=50000)
    args = parser.parse_args()
    train, val, tickers, build = training_windows()
    rates = throughput(train, val, args.sample, args.repeats)
    result = {
        "tickers": tickers,
        "train_windows": len(train),
        "build_seconds": build,
        "windows_per_second": rates,
        "seconds_per_epoch": {c: {b: len(train) / r for b, r in by.items()} for c, by in rates.items()},
        "bench_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    del train, val
    result["run"] = whole_run(args.run_samples)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
