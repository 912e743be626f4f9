"""``make bench`` part: a global model's data path on a generated universe of 500 tickers x 6,000 days.

Run by ``bench/bench.py`` in its own process (peak RSS is the process's); alone: ``python bench/universe.py``.
The universe is geometric random walks (generated: benchmarks only) with the shape of real data. Measured:

* ``build_seconds``: calendar split, per-ticker scaling and the pooled sample index (the real global data path:
  ``forecast.data.panel.align``, ``forecast.data.folds.plan_units``, ``windows_for`` per ticker and
  ``forecast.data.panel.training_sets``);
* ``windows_per_second``: forecast's training loop (``forecast.training.loop.fit``, one epoch, training pass
  only) on ``--sample`` windows drawn from the whole pool, gathered per batch from the rows, against the same
  loop on as many materialised windows of one ticker (the single-ticker path before global training), at
  equal batch size; alternating, medians of ``--repeats``; ``ratio`` = pooled / materialised (target >= 0.9);
* ``seconds_per_epoch``: the pool's training windows / the pooled throughput;
* ``peak_rss_mb``: the process's peak resident memory (torch included; target < 1,500 MB), beside
  ``materialised_mb``, what the pool's training inputs alone would take as one float32 window tensor.
"""

from __future__ import annotations

import forecast  # noqa: F401  (before torch: MKL's fast kernels on an AMD CPU, models/fast/mkl.py)

# isort: split
import argparse
import json
import resource
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd
import torch


def universe(n_tickers: int, n_days: int) -> dict[str, Any]:
    from forecast.data.loading import Loaded

    rng = np.random.default_rng(0)
    days = pd.bdate_range("1995-01-02", periods=n_days, name="date")
    out = {}
    for i in range(n_tickers):
        price = 40 * np.exp(np.cumsum(rng.normal(0.0003, 0.018, n_days)))
        frame = pd.DataFrame({"adj_close": price, "close": price}, index=days)
        out[f"T{i:03d}"] = Loaded("generated", frame)
    return out


def one_epoch(model: torch.nn.Module, data: Any, val: Any, settings: Any) -> float:
    from forecast.training.loop import fit

    return fit(model, data, val, settings).history[0].train_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=6000)
    parser.add_argument("--sample", type=int, default=64 * 150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from forecast.config.schema import Config
    from forecast.data.dataset import windows_for
    from forecast.data.folds import plan_units
    from forecast.data.panel import align, training_sets
    from forecast.data.windows import Pairs
    from forecast.models.recurrent import build_model
    from forecast.training.runtime import prepare_process

    prepare_process()  # as every run's start_job does
    cfg = Config(scope="global")
    cfg.trainer.max_epochs, cfg.trainer.progress, cfg.trainer.patience = 1, False, 10
    loaded = universe(args.tickers, args.days)
    start = time.perf_counter()
    panel, units = plan_units(align(loaded, {}, cfg.data), cfg.backtest, cfg.window, cfg.horizon)
    frames = panel.frames()
    datas = {t: windows_for(frames[t], cfg.window, cfg.horizon, b) for t, b in units[0].members.items()}
    train, val = training_sets(list(datas.values()), 1, "windows")
    build = time.perf_counter() - start
    del loaded
    gen = torch.Generator().manual_seed(0)
    pooled = train.subset(torch.randperm(len(train), generator=gen)[: args.sample])
    first = next(iter(datas.values()))
    x, y = first.part("train")
    reps = -(-args.sample // len(x))
    single = Pairs(x.repeat(reps, 1, 1)[: args.sample].contiguous(), y.repeat(reps, 1)[: args.sample].contiguous())
    small_val = Pairs(x[:64], y[:64])
    model = build_model(cfg.model, 1, 1, torch.device("cpu"))
    one_epoch(model, single, small_val, cfg.trainer)  # warm-up
    times: dict[str, list[float]] = {"pooled": [], "materialised": []}
    for _ in range(args.repeats):
        times["pooled"].append(one_epoch(model, pooled, small_val, cfg.trainer))
        times["materialised"].append(one_epoch(model, single, small_val, cfg.trainer))
    rate = {k: args.sample / statistics.median(v) for k, v in times.items()}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "tickers": args.tickers,
        "days": args.days,
        "train_windows": len(train),
        "val_windows": len(val),
        "build_seconds": build,
        "windows_per_second": rate["pooled"],
        "materialised_windows_per_second": rate["materialised"],
        "ratio": rate["pooled"] / rate["materialised"],
        "seconds_per_epoch": len(train) / rate["pooled"],
        "peak_rss_mb": peak,
        "materialised_mb": len(train) * cfg.window * 4 / 2**20,
        "cell": cfg.model.cell,
        "batch_size": cfg.trainer.batch_size,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
