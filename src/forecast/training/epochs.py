"""The pieces of a training epoch around the loop: the sample order, the validation share, the loss over a data set,
how often to checkpoint and the up-front estimate of a long epoch."""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from torch import nn
from torch.nn.functional import mse_loss

from forecast.config.schema import TrainerConfig
from forecast.data.windows import Samples, as_samples
from forecast.models.recurrent import inference_rows
from forecast.training.distributed import Ranks
from forecast.training.losses import Loss

log = logging.getLogger("forecast.training.loop")


@torch.inference_mode()
def batched_loss(
    model: nn.Module, data: Samples | tuple[torch.Tensor, torch.Tensor], loss: Loss = mse_loss, batch: int = 0
) -> float:
    """Return the mean ``loss`` (per model output) of ``model`` on ``data`` in eval mode, in chunks of ``batch``
    (0: :func:`forecast.models.recurrent.inference_rows`)."""
    total, count = loss_sums(model, as_samples(data), loss, batch)
    return float(total) / count


@torch.inference_mode()
def loss_sums(model: nn.Module, data: Samples, loss: Loss = mse_loss, batch: int = 0) -> tuple[Any, int]:
    """Return the summed ``loss`` of ``model`` on ``data`` in eval mode and the number of outputs it sums over, in
    chunks of ``batch`` rows (0: as many as :func:`forecast.models.recurrent.inference_rows` allows)."""
    model.eval()
    total: Any = 0.0
    count = 0
    if not batch and len(data):
        batch = inference_rows(model, data.take(torch.zeros(1, dtype=torch.long, device=data.device))[0].shape[1])
    for xb, yb in data.chunks(batch):
        out = model(xb)
        total, count = total + loss(out, yb, reduction="sum"), count + out.numel()
    return total, count


def shared_loss(model: nn.Module, data: Samples, loss: Loss, ranks: Ranks) -> float:
    """Return the mean ``loss`` of ``model`` on ``data``: each rank sums its share of the samples, and the sums are
    added over the ranks (:func:`batched_loss` when alone)."""
    if not ranks.active:
        return batched_loss(model, data, loss)
    mine = data.select(torch.arange(ranks.rank, len(data), ranks.world, device=data.device))
    total, count = loss_sums(model, mine, loss)
    both = ranks.total(torch.tensor([float(total), float(count)], dtype=torch.float64, device=data.device))
    return float(both[0] / both[1])


PROBE_BATCHES = 50  # batches timed in the first epoch to say up front how long a long epoch will take
LONG_EPOCH_S = 60.0


def announce(seconds: float, n_windows: int, settings: TrainerConfig) -> None:
    """Log how long an epoch will take, from the first batches, when it will take over a minute."""
    per_epoch = seconds / PROBE_BATCHES * math.ceil(n_windows / settings.batch_size)
    if per_epoch > LONG_EPOCH_S:
        log.info(
            "a training epoch takes about %.0f min here (%d windows at %.0f windows/s); up to %d epochs",
            per_epoch / 60,
            n_windows,
            n_windows / per_epoch,
            settings.max_epochs,
        )


def checkpoint_interval(settings: TrainerConfig, device: torch.device) -> int:
    """Return the epochs between checkpoints: ``trainer.checkpoint_every``, or with 0 every epoch on CPU (where an
    epoch takes seconds) and every 5th on a GPU (where copying the state to the CPU costs a large part of an
    epoch)."""
    if settings.checkpoint_every:
        return settings.checkpoint_every
    return 1 if device.type == "cpu" else 5


def epoch_order(train: Samples, size: int = 0) -> torch.Tensor:
    """Return the sample indices of one epoch: a permutation (its first ``size`` when ``size`` is set and smaller),
    or ``size`` (else ``len(train)``) draws by ``train.weights``."""
    n = min(size, len(train)) if size else len(train)
    if train.weights is None:
        return torch.randperm(len(train), device=train.device)[:n]
    return torch.multinomial(train.weights, n, replacement=True)


def matched_validation(val: Samples, train_size: int, epoch_size: int) -> Samples:
    """Return the validation samples an epoch of ``epoch_size`` of ``train_size`` training samples is checked on:
    all of them, or an evenly spaced share of the same fraction (every ticker and date alike, the same every epoch,
    so epochs compare like with like)."""
    if not epoch_size or epoch_size >= train_size:
        return val
    keep = max(1, math.ceil(len(val) * epoch_size / train_size))
    return val.select(torch.linspace(0, len(val) - 1, keep, device=val.device).round().long().unique())
