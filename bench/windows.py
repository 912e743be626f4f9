"""Training time against window length for every cell (``make bench`` part; alone: ``python bench/windows.py``).

A training step (forward, backward, and the Adam step a run takes: ``training.optim.make_optimizer``, fused) of the
default forecaster (2 x 64, batch 64, one input feature) on random windows of 60, 128, 256, 512 and 1024 steps,
with a run's allocator settings, for every cell of the registry
(rnn, gru, mingru, minlstm, slstm: their kernels as a run picks them; lstm: oneDNN's) and the fast LSTM
(``lstm-fast``, the fused C++ LSTM that ``model.impl=auto`` runs and sLSTM's loop is built like, where the kernels
built). Cells alternate within each window length
and each figure is the median of ``--repeats`` timings of ``--steps`` steps, so drift between runs hits every cell
alike. Reported: seconds per epoch of 2,228 windows (AAPL's training span at the defaults), each minimal cell's
ratio to its full cell and sLSTM's to the fast LSTM as the median of the repetitions' paired ratios (each
repetition times the two back to back, so drift between repetitions moves both; ``paired_ratio``, with its lowest
and highest), activation memory per batch (the bytes autograd keeps: parameters' gradients excluded).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from forecast.config.schema import TrainerConfig  # noqa: E402
from forecast.models.recurrent import RecurrentForecaster  # noqa: E402
from forecast.models.registry import REGISTRY, kernel_name, resolve_impl  # noqa: E402
from forecast.training.optim import make_optimizer  # noqa: E402
from forecast.training.runtime import prepare_process  # noqa: E402

WINDOWS = (60, 128, 256, 512, 1024)
EPOCH = 2228  # AAPL's training windows at the defaults
PAIRS = {"mingru": "gru", "minlstm": "lstm", "slstm": "lstm-fast"}


def model_for(name: str, device: torch.device) -> RecurrentForecaster:
    torch.manual_seed(0)
    cell = name.removesuffix("-fast")
    stock = cell == "lstm" and not name.endswith("-fast")  # "lstm": oneDNN's, beside "lstm-fast" (what auto runs)
    impl = "fast" if name.endswith("-fast") else "torch" if stock else resolve_impl(cell, "auto", device)
    model = RecurrentForecaster(cell=cell, n_features=1, hidden_size=64, num_layers=2, horizon=1, impl=impl)
    return model.to(device)


def step_seconds(model: RecurrentForecaster, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = make_optimizer(model, TrainerConfig())  # a run's Adam (lr 1e-3, fused): what a training step runs
    sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    sync(x.device)
    return (time.perf_counter() - start) / steps


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def paired_ratio(times: list[float], full: list[float], name: str) -> dict[str, float | str]:
    """Return the median, lowest and highest of the repetitions' ratios ``times[k] / full[k]`` against ``name``."""
    ratios = [a / b for a, b in zip(times, full, strict=True)]
    return {"to": name, "median": statistics.median(ratios), "low": min(ratios), "high": max(ratios)}


def activation_mb(model: RecurrentForecaster, x: torch.Tensor) -> float:
    """Return the MB of tensors autograd saves for the backward of one batch (saved-tensor hooks)."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    # A run's process settings (freed memory kept, denormal floats flushed); unflushed, one random batch trained on
    # again and again grew minGRU's step at window 60 from 3.0 to 7.2 ms over 90 steps, its weight GEMMs 8x slower.
    prepare_process()
    fast_lstm = device.type == "cpu" and kernel_name() == "cpp"
    cells = (*REGISTRY, "lstm-fast") if fast_lstm else tuple(REGISTRY)
    pairs = {m: f for m, f in PAIRS.items() if {m, f} <= set(cells)}
    models = {c: model_for(c, device) for c in cells}
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for window in WINDOWS:
        x, y = torch.randn(64, window, 1, device=device), torch.randn(64, 1, device=device)
        for model in models.values():
            step_seconds(model, x, y, 1)  # warm-up
        times: dict[str, list[float]] = {c: [] for c in cells}
        for _ in range(args.repeats):
            for cell, model in models.items():
                times[cell].append(step_seconds(model, x, y, args.steps))
        for cell in cells:
            per_step = statistics.median(times[cell])
            result.setdefault(cell, {})[str(window)] = {
                "seconds_per_epoch": per_step * EPOCH / 64,
                "activation_mb": activation_mb(models[cell], x),
            }
        for mine, full in pairs.items():
            result[mine][str(window)]["paired_ratio"] = paired_ratio(times[mine], times[full], full)
        print(window, {c: round(result[c][str(window)]["seconds_per_epoch"], 2) for c in cells}, flush=True)
    print("| window | " + " | ".join(cells) + " | " + " | ".join(f"{m} / {f}" for m, f in pairs.items()) + " |")
    print("|---" * (len(cells) + len(pairs) + 1) + "|")
    for size in map(str, WINDOWS):
        s = {c: result[c][size]["seconds_per_epoch"] for c in cells}
        paired = [result[m][size]["paired_ratio"] for m in pairs]
        ratios = [f"{r['median']:.2f} ({r['low']:.2f}-{r['high']:.2f})" for r in paired]
        print(f"| {size} | " + " | ".join(f"{s[c]:.2f}" for c in cells) + " | " + " | ".join(ratios) + " |")
    print(
        "activation MB per batch:",
        {c: {w: round(v["activation_mb"], 1) for w, v in r.items()} for c, r in result.items()},
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))  # the last line: what make bench reads


if __name__ == "__main__":
    main()
