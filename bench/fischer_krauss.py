"""``make bench`` part: the Fischer & Krauss shape on the shipped universe's windows (real prices, offline).

Run by ``bench/bench.py`` in its own process; alone: ``python bench/fischer_krauss.py``. The shape of
``experiment=fischer_krauss``: one layer of 25 units, window 240, RMSprop, binary cross-entropy on a 0/1 target,
``--sample`` windows drawn from every ticker's training windows of the universe, batches of 512 (the shape the
issue names) and 256 (what the experiment runs). Per variant (the LSTM on oneDNN and on the fused C++ loop, the fast
GRU, sLSTM), alternating variants, medians of ``--repeats``:

* ``windows_per_second`` of forecast's training loop (``fit``) and ``seconds_per_50k``, an epoch of the experiment's
  50,000 sampled windows at that rate;
* ``fraction_of_matmul``: training GFLOP/s against a float32 ``torch.mm`` of one step's shape;
* ``inference_windows_per_second``: the forecasting pass (``inference_mode``, in the chunks a run takes,
  ``models.recurrent.inference_rows``: 640 windows at this shape for LSTM and sLSTM, 896 for GRU), what scores
  every ticker-day of a study period.
"""

from __future__ import annotations

import forecast  # noqa: F401  (before torch: MKL's fast kernels on an AMD CPU, models/fast/mkl.py)

# isort: split
import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "src"))
from cells import flops_per_epoch, matmul_gflops  # noqa: E402
from shipped import universe_units  # noqa: E402

WINDOW, HIDDEN, LAYERS = 240, 25, 1
VARIANTS = {
    "lstm": ("lstm", "torch"),  # oneDNN: what model.impl=torch runs
    "lstm-fast": ("lstm", "fast"),  # the fused C++ loop: what model.impl=auto runs where the kernels build
    "gru": ("gru", "fast"),
    "slstm": ("slstm", "fast"),
}


def universe_windows(sample: int) -> tuple[Any, Any, int]:
    """Return ``sample`` training windows of 240 days drawn from every ticker of the universe (targets: whether
    the next scaled return is positive, a 0/1 label of the classifier's shape), 4,096 validation windows and the
    number of tickers."""
    from forecast.config.schema import Config
    from forecast.data.dataset import windows_for
    from forecast.data.panel import training_sets

    cfg = Config()
    cfg.window = WINDOW
    frames, units = universe_units(cfg)
    datas = [windows_for(frames[t], WINDOW, 1, b) for t, b in units[0].members.items()]
    train, val = training_sets(datas, 1, "windows")
    gen = torch.Generator().manual_seed(0)
    drawn = train.select(torch.randperm(len(train), generator=gen)[:sample])
    x, y = drawn.take(torch.arange(len(drawn)))
    xv, yv = val.select(torch.arange(4096)).take(torch.arange(4096))
    return (x, (y > 0).float()), (xv, (yv > 0).float()), len(datas)


def measure(sample: int, repeats: int, batches: tuple[int, ...]) -> dict[str, Any]:
    from forecast.config.schema import Optimizer, TrainerConfig
    from forecast.models.recurrent import RecurrentForecaster
    from forecast.training.loop import fit
    from forecast.training.losses import loss_for
    from forecast.training.runtime import prepare_process

    prepare_process()  # as every job does (training/runtime.start_job)
    train, val, tickers = universe_windows(sample)
    models = {}
    for name, (cell, impl) in VARIANTS.items():
        torch.manual_seed(0)
        models[name] = RecurrentForecaster(cell=cell, n_features=1, hidden_size=HIDDEN, num_layers=LAYERS, horizon=1,
                                           impl=impl)  # fmt: skip
    seconds: dict[tuple[str, int], list[float]] = {}
    for rep in range(repeats + 1):  # the first round warms every shape up and is not counted
        order = [(name, batch) for name in models for batch in batches]
        for name, batch in order if rep % 2 else order[::-1]:
            settings = TrainerConfig(max_epochs=1, progress=False, batch_size=batch, optimizer=Optimizer.rmsprop)
            taken = fit(models[name], train, val, settings, loss_fn=loss_for("bce", ())).history[0].train_seconds
            if rep:
                seconds.setdefault((name, batch), []).append(taken)
    out: dict[str, Any] = {"tickers": tickers, "sample": sample, "window": WINDOW, "size": f"{LAYERS}x{HIDDEN}"}
    for (name, batch), times in seconds.items():
        cell = VARIANTS[name][0]
        per = statistics.median(times)
        gflops = flops_per_epoch(cell, sample, WINDOW, LAYERS, HIDDEN) / per / 1e9
        out.setdefault(name, {})[str(batch)] = {
            "windows_per_second": sample / per,
            "seconds_per_50k": 50_000 * per / sample,
            "fraction_of_matmul": gflops / matmul_gflops(cell, batch, HIDDEN, torch.device("cpu")),
        }
    for name, model in models.items():
        out[name]["inference_windows_per_second"] = inference_rate(model, train[0], repeats)
    return out


def inference_rate(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Windows/s of the forecasting pass in the chunks a run's passes take (``models.recurrent.inference_rows``)."""
    from forecast.models.recurrent import inference_rows

    model.eval()
    times = []
    rows = inference_rows(model, WINDOW)
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            for chunk in x.split(rows):
                model(chunk)
            times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", default="512,256")
    args = parser.parse_args()
    result = measure(args.sample, args.repeats, tuple(int(b) for b in args.batches.split(",")))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
