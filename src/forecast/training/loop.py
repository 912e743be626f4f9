"""A plain PyTorch training loop: Adam/AdamW on MSE, clipping, early stopping with best weights restored."""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.functional import mse_loss

from forecast.config.schema import Optimizer, TrainerConfig
from forecast.data.windows import Samples, as_samples
from forecast.errors import TrainingDiverged
from forecast.training.checkpoint import EpochRecord, LoopState, restore
from forecast.training.losses import Loss
from forecast.training.optim import FunctionalAdam
from forecast.training.signals import raise_if_pending

log = logging.getLogger(__name__)
__all__ = ["EpochRecord", "FitResult", "TrainingInterrupted", "batched_loss", "fit"]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during training; ``last_epoch`` is the last completed (checkpointed) epoch."""

    def __init__(self, last_epoch: int) -> None:
        super().__init__(f"interrupted after epoch {last_epoch}")
        self.last_epoch = last_epoch


@dataclass
class FitResult:
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    seconds: float = 0.0  # wall time of all epochs (training + validation loss)


def make_optimizer(model: nn.Module, settings: TrainerConfig) -> FunctionalAdam:
    """Return Adam or AdamW over the model's parameters, as ``settings.optimizer`` says (torch's update, without
    ``torch.optim.Optimizer``'s import of ``torch._dynamo``: see :mod:`forecast.training.optim`)."""
    decoupled = settings.optimizer == Optimizer.adamw
    return FunctionalAdam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, decoupled=decoupled)


@torch.inference_mode()
def batched_loss(
    model: nn.Module, data: Samples | tuple[torch.Tensor, torch.Tensor], loss: Loss = mse_loss, batch: int = 4096
) -> float:
    """Return the mean ``loss`` (per model output) of ``model`` on ``data`` in eval mode, in chunks of ``batch``."""
    model.eval()
    total: Any = 0.0
    count = 0
    for xb, yb in as_samples(data).chunks(batch):
        out = model(xb)
        total, count = total + loss(out, yb, reduction="sum"), count + out.numel()
    return float(total) / count


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


def fit(
    model: nn.Module,
    train_data: Samples | tuple[torch.Tensor, torch.Tensor],
    val_data: Samples | tuple[torch.Tensor, torch.Tensor],
    settings: TrainerConfig,
    checkpoint: Callable[[nn.Module, FunctionalAdam, LoopState], None] | None = None,
    resume: dict[str, Any] | None = None,
    loss_fn: Loss = mse_loss,
) -> FitResult:
    """Train ``model`` in place and return its history; the best-validation weights are loaded at the end.

    Assumes the tensors live on the model's device. Every ``checkpoint_interval`` epochs ``checkpoint`` (if given)
    is called with the full training state; ``resume`` (a loaded checkpoint) continues exactly where it stopped.
    Raises :class:`TrainingDiverged` on a NaN/inf loss (best weights restored) and
    :class:`TrainingInterrupted` on Ctrl-C/SIGTERM.
    """
    from tqdm import tqdm

    train, val = as_samples(train_data), as_samples(val_data)
    per_epoch = min(settings.samples_per_epoch or len(train), len(train))  # training samples drawn an epoch
    val = matched_validation(val, len(train), per_epoch)
    opt = make_optimizer(model, settings)
    max_norm = settings.grad_clip if settings.grad_clip > 0 else math.inf
    state = restore(resume, model, opt) if resume else LoopState(best_state=copy.deepcopy(model.state_dict()))
    every, saved = checkpoint_interval(settings, next(model.parameters()).device), state.epoch
    bar = tqdm(
        range(state.epoch + 1, settings.max_epochs + 1),
        desc="epochs",
        unit="ep",
        leave=False,
        initial=state.epoch,
        total=settings.max_epochs,
        disable=not (settings.progress and sys.stderr.isatty()),
    )
    first_epoch = state.epoch + 1
    try:
        for epoch in bar:
            raise_if_pending()  # a signal that a C extension swallowed on its way still stops the run
            if state.wait >= settings.patience:  # early stop (also when resuming a run that had stopped)
                break
            start = time.perf_counter()
            model.train()
            zero = torch.zeros((), device=train.device)  # sums stay on the device: one sync an epoch
            loss_sum, norm_sum, n_batches = zero, zero.clone(), 0
            for idx in epoch_order(train, per_epoch).split(settings.batch_size):
                xb, yb = train.take(idx)
                loss = loss_fn(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                norm_sum += nn.utils.clip_grad_norm_(model.parameters(), max_norm).detach()
                opt.step()
                loss_sum += loss.detach() * len(idx)
                n_batches += 1
                if n_batches == PROBE_BATCHES and epoch == first_epoch:  # once, from this call's first epoch
                    announce(time.perf_counter() - start, per_epoch, settings)
            train_seconds = time.perf_counter() - start
            train_loss, val_loss = float(loss_sum) / per_epoch, batched_loss(model, val, loss_fn)
            record = EpochRecord(
                epoch, train_loss, val_loss, time.perf_counter() - start, float(norm_sum) / n_batches, train_seconds
            )
            log.debug(
                "epoch %d train_loss %.6f val_loss %.6f seconds %.3f grad_norm %.4f", *list(vars(record).values())[:5]
            )
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                model.load_state_dict(state.best_state)
                kept = "no epoch completed, nothing kept"
                if state.best_epoch:
                    kept = f"best weights so far, epoch {state.best_epoch}, kept in checkpoint.pt"
                raise TrainingDiverged(
                    f"loss became {train_loss if not math.isfinite(train_loss) else val_loss} at epoch {epoch}: "
                    f"exploding gradients; lower trainer.lr (now {settings.lr:g}) or set trainer.grad_clip "
                    f"(now {settings.grad_clip:g}) to e.g. 1.0 ({kept})"
                )
            state.epoch, state.wait = epoch, state.wait + 1
            state.history.append(record)
            if val_loss < state.best_val_loss:
                state.best_val_loss, state.best_epoch, state.wait = val_loss, epoch, 0
                state.best_state = copy.deepcopy(model.state_dict())
            if checkpoint is not None and epoch % every == 0:
                saved = epoch
                checkpoint(model, opt, state)
    except KeyboardInterrupt:
        raise TrainingInterrupted(saved) from None
    finally:
        bar.close()
    model.load_state_dict(state.best_state)
    return FitResult(state.history, state.best_epoch, state.best_val_loss, sum(r.seconds for r in state.history))
