"""Gradient flow across time: ||d loss / d input at lag k|| for k = 1..window.

The vanishing-gradient argument for gated cells, measured: a plain RNN's sensitivity to inputs k days
back should decay fast with k, an LSTM's or GRU's more slowly.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.functional import mse_loss


def gradient_by_lag(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss: Any = mse_loss) -> np.ndarray:
    """Return ``(window,)`` mean norms of d(loss)/d(input) at lag 1 (the last day) .. lag ``window``.

    The loss (squared error by default; the training loss is passed for a quantile head) is summed over the
    batch, so each window's gradient is its own (not divided by the batch);
    norms are taken over features, then averaged over the batch. Dropout is off (eval mode); cuDNN, whose
    RNN backward needs training mode, is disabled for this call. The model's parameters are not changed.
    """
    was_training = model.training
    model.eval()
    flags = torch.backends.cudnn.flags(enabled=False) if inputs.is_cuda else contextlib.nullcontext()
    sums = torch.zeros(inputs.shape[1], dtype=torch.float64, device=inputs.device)
    try:
        with flags, torch.enable_grad():
            for xb, yb in zip(inputs.split(PROBE_CHUNK), targets.split(PROBE_CHUNK), strict=True):
                x = xb.detach().clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(loss(model(x), yb, reduction="sum"), x)
                sums += grad.norm(dim=2).sum(dim=0, dtype=torch.float64)
    finally:
        model.train(was_training)
    per_step = sums / max(len(inputs), 1)  # (window,), index window-1 is lag 1
    return per_step.flip(0).cpu().numpy()


# Windows per backward pass: a stock LSTM in eval mode keeps every step's intermediates for its backward (2 x 128
# at window 60: about 0.9 MB a window), so 256 windows at once held 220 MB that glibc's heap then kept.
PROBE_CHUNK = 32


def effective_memory_lag(norms: np.ndarray, threshold: float = 0.01) -> int:
    """Return the largest lag (1-based) whose gradient norm is at least ``threshold`` x the lag-1 norm."""
    if norms.size == 0 or not np.isfinite(norms[0]) or norms[0] <= 0:
        return 0
    return int(np.flatnonzero(norms >= threshold * norms[0]).max()) + 1


def flow_table(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss: Any, init: np.ndarray
) -> pd.DataFrame:
    """Return ``gradient_flow.csv``: ``lag`` 1..window, the norm at initialisation (``init``, measured before
    training) and after training (``trained``, measured now on ``inputs``)."""
    trained = gradient_by_lag(model, inputs, targets, loss)
    return pd.DataFrame({"lag": np.arange(1, len(trained) + 1), "init": init, "trained": trained})
