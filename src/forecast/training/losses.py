"""Training losses: mean squared error for point forecasts, the pinball loss for a quantile head, binary
cross-entropy on logits for a 0/1 target (``data.target=above_median``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn.functional import binary_cross_entropy_with_logits, mse_loss

Loss = Callable[..., torch.Tensor]  # loss(prediction, target, reduction="mean" | "sum")


def pinball_loss(taus: Sequence[float]) -> Loss:
    """Return the pinball (quantile) loss of ``(batch, steps, len(taus))`` predictions against ``(batch, steps)``
    scaled daily returns, whose cumulative sums are the quantity forecast: the head's step h gives quantiles of the
    (scaled) log return from the origin to day h. Quantiles do not add up, so the quantiles of a multi-day move
    must be learnt as such, not compounded from daily ones."""
    tau = torch.tensor(list(taus))

    def loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        diff = target.cumsum(dim=1).unsqueeze(-1) - pred  # (batch, steps, quantiles)
        t = tau.to(pred.device, pred.dtype)
        per = torch.maximum(t * diff, (t - 1) * diff)
        return per.sum() if reduction == "sum" else per.mean()

    return loss


def loss_for(name: str, taus: Sequence[float]) -> Loss:
    """Return the loss called ``name`` (``mse``, ``quantile`` or ``bce``)."""
    if name == "bce":
        return binary_cross_entropy_with_logits
    return pinball_loss(taus) if name == "quantile" else mse_loss
