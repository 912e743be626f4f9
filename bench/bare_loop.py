"""A bare PyTorch training loop on the default data, for peak-RSS comparisons: ``python bench/bare_loop.py <cell>``.

Same windows, model class and implementation as a default run (AAPL, window 60, 2x64, batch 64), Adam, MSE,
``--epochs`` epochs, then the predictions of every window in batches of 4,096 under ``inference_mode`` (what any
evaluation needs). Nothing else: no validation loss, checkpoint, plots or records.
"""

from __future__ import annotations

import forecast  # noqa: F401  (before torch: MKL's fast kernels on an AMD CPU, models/fast/mkl.py)

# isort: split
import argparse

import torch
from cells import default_data
from torch.nn.functional import mse_loss

from forecast.models.recurrent import RecurrentForecaster
from forecast.models.registry import resolve_impl


def train_bare(
    cell: str, x: torch.Tensor, y: torch.Tensor, every: torch.Tensor, epochs: int, hidden: int = 64, layers: int = 2
) -> None:
    """Train forecast's model class on ``(x, y)`` in shuffled batches of 64 (Adam, MSE), then predict ``every``
    window in chunks of 4,096: the bare loop the run and the peers are timed against."""
    impl = resolve_impl(cell, "auto", torch.device("cpu"))
    model = RecurrentForecaster(cell=cell, n_features=1, hidden_size=hidden, num_layers=layers, horizon=1, impl=impl)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            loss = mse_loss(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.inference_mode():
        model.eval()
        torch.cat([model(chunk) for chunk in every.split(4096)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = default_data(None)
    x, y = data.part("train")
    train_bare(args.cell, x, y, data.inputs, args.epochs)


if __name__ == "__main__":
    main()
