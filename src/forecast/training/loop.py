"""A plain PyTorch training loop: Adam/AdamW on MSE, clipping, early stopping with best weights restored."""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.functional import mse_loss

from forecast.config import Optimizer, TrainerConfig
from forecast.errors import TrainingDiverged

log = logging.getLogger(__name__)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    seconds: float
    grad_norm: float  # mean pre-clipping gradient norm over the epoch's batches


@dataclass
class FitResult:
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    seconds: float = 0.0  # wall time of all epochs (training + validation loss)


def make_optimizer(model: nn.Module, settings: TrainerConfig) -> torch.optim.Optimizer:
    """Return Adam or AdamW over the model's parameters, as ``settings.optimizer`` says."""
    cls = torch.optim.AdamW if settings.optimizer == Optimizer.adamw else torch.optim.Adam
    return cls(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)


@torch.inference_mode()
def batched_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> float:
    """Return the mean MSE of ``model`` on ``(x, y)`` in eval mode, in chunks of ``batch`` windows."""
    model.eval()
    total = sum(mse_loss(model(xb), yb, reduction="sum") for xb, yb in zip(x.split(batch), y.split(batch), strict=True))
    return float(total) / y.numel()


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    settings: TrainerConfig,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> FitResult:
    """Train ``model`` in place and return its history; the best-validation weights are loaded at the end.

    Assumes the tensors already live on the model's device. Raises :class:`TrainingDiverged` on a NaN/inf
    loss (after restoring the best weights seen so far).
    """
    from tqdm import tqdm

    (x, y), (xv, yv) = train, val
    opt = make_optimizer(model, settings)
    max_norm = settings.grad_clip if settings.grad_clip > 0 else math.inf
    result, best_state, wait = FitResult(), copy.deepcopy(model.state_dict()), 0
    bar = tqdm(range(1, settings.max_epochs + 1), desc="epochs", unit="ep", leave=False,
               disable=not (settings.progress and sys.stderr.isatty()))  # fmt: skip
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        loss_sum, norm_sum, n_batches = torch.zeros(()), torch.zeros(()), 0
        for idx in torch.randperm(len(x), device=x.device).split(settings.batch_size):
            loss = mse_loss(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm_sum += nn.utils.clip_grad_norm_(model.parameters(), max_norm).detach().cpu()
            opt.step()
            loss_sum += loss.detach().cpu() * len(idx)
            n_batches += 1
        train_loss, val_loss = float(loss_sum) / len(x), batched_loss(model, xv, yv)
        record = EpochRecord(epoch, train_loss, val_loss, time.perf_counter() - start, float(norm_sum) / n_batches)
        result.history.append(record)
        result.seconds += record.seconds
        log.debug("epoch %d train_loss %.6f val_loss %.6f seconds %.3f grad_norm %.4f", *vars(record).values())
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        if on_epoch is not None:
            on_epoch(record)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            model.load_state_dict(best_state)
            raise TrainingDiverged(
                f"loss became {train_loss if not math.isfinite(train_loss) else val_loss} at epoch {epoch}: "
                f"exploding gradients; lower trainer.lr (now {settings.lr}) or set trainer.grad_clip "
                f"(now {settings.grad_clip}) to e.g. 1.0"
            )
        if val_loss < result.best_val_loss:
            result.best_val_loss, result.best_epoch, wait = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            wait += 1
            if wait >= settings.patience:
                break
    bar.close()
    model.load_state_dict(best_state)
    return result
