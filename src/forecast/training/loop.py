"""A plain PyTorch training loop: Adam/AdamW on MSE, clipping, early stopping with best weights restored; one process,
or several that train one model (trainer.strategy=ddp: :mod:`forecast.training.distributed`)."""

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

from forecast.config.schema import TrainerConfig
from forecast.data.windows import Samples, as_samples
from forecast.errors import TrainingDiverged
from forecast.lifecycle.signals import raise_if_pending
from forecast.training.checkpoint import EpochRecord, LoopState, restore
from forecast.training.distributed import Ranks
from forecast.training.epochs import (
    PROBE_BATCHES,
    announce,
    batched_loss,
    checkpoint_interval,
    epoch_order,
    matched_validation,
    shared_loss,
)
from forecast.training.losses import Loss
from forecast.training.optim import Stepper, make_optimizer

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


def fit(
    model: nn.Module,
    train_data: Samples | tuple[torch.Tensor, torch.Tensor],
    val_data: Samples | tuple[torch.Tensor, torch.Tensor],
    settings: TrainerConfig,
    checkpoint: Callable[[nn.Module, Stepper, LoopState], None] | None = None,
    resume: dict[str, Any] | None = None,
    loss_fn: Loss = mse_loss,
) -> FitResult:
    """Train ``model`` in place and return its history; the best-validation weights are loaded at the end.

    Assumes the tensors live on the model's device. Every ``checkpoint_interval`` epochs ``checkpoint`` (if given)
    is called with the full training state; ``resume`` (a loaded checkpoint) continues exactly where it stopped.
    Raises :class:`TrainingDiverged` on a NaN/inf loss (best weights restored) and
    :class:`TrainingInterrupted` on Ctrl-C/SIGTERM.
    """
    train, val = as_samples(train_data), as_samples(val_data)
    per_epoch = min(settings.samples_per_epoch or len(train), len(train))  # training samples drawn an epoch
    val = matched_validation(val, len(train), per_epoch)
    opt, ranks = make_optimizer(model, settings), Ranks.current()
    ranks.same_weights(model)  # trainer.strategy=ddp: every rank starts from rank 0's weights
    state = restore(resume, model, opt) if resume else LoopState(best_state=copy.deepcopy(model.state_dict()))
    every, saved = checkpoint_interval(settings, next(model.parameters()).device), state.epoch
    bar = progress_bar(settings, state.epoch)
    first_epoch = state.epoch + 1
    try:
        for epoch in bar:
            raise_if_pending()  # a signal that a C extension swallowed on its way still stops the run
            if state.wait >= settings.patience:  # early stop (also when resuming a run that had stopped)
                break
            start = time.perf_counter()
            announce_at = start if epoch == first_epoch else 0  # once, from this call's first epoch
            loss_sum, norm_sum, n_batches = train_epoch(
                model, train, per_epoch, opt, ranks, settings, loss_fn, announce_at
            )
            train_seconds = time.perf_counter() - start
            train_loss, val_loss = float(ranks.total(loss_sum)) / per_epoch, shared_loss(model, val, loss_fn, ranks)
            record = EpochRecord(
                epoch, train_loss, val_loss, time.perf_counter() - start, float(norm_sum) / n_batches, train_seconds
            )
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
            advance(state, record, model, settings)
            if checkpoint is not None and epoch % every == 0:
                saved = epoch
                checkpoint(model, opt, state)
    except KeyboardInterrupt:
        raise TrainingInterrupted(saved) from None
    except RuntimeError as exc:  # ddp: a collective whose peer process stopped
        if not ranks.active:
            raise
        raise ranks.lost(exc, saved) from None
    finally:
        bar.close()
    said_stop(state, settings)
    model.load_state_dict(state.best_state)
    return FitResult(state.history, state.best_epoch, state.best_val_loss, sum(r.seconds for r in state.history))


def train_epoch(
    model: nn.Module,
    train: Samples,
    per_epoch: int,
    opt: Stepper,
    ranks: Ranks,
    settings: TrainerConfig,
    loss_fn: Loss,
    announce_at: float = 0,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Run one training pass of ``per_epoch`` samples in batches; return the summed loss and gradient norm (on the
    device: one sync an epoch) and the batches. ``announce_at``: the pass's start, to time the first batches and
    say how long an epoch will take (0: do not)."""
    max_norm = settings.grad_clip if settings.grad_clip > 0 else math.inf
    model.train()
    zero = torch.zeros((), device=train.device)
    loss_sum, norm_sum, n_batches = zero, zero.clone(), 0
    for idx in ranks.order(epoch_order(train, per_epoch)).split(settings.batch_size * ranks.world):
        part = ranks.shard(idx)  # a global batch's share of this rank (all of it when alone)
        opt.zero_grad(set_to_none=True)
        if len(part):
            xb, yb = train.take(part)
            loss = loss_fn(model(xb), yb)
            (loss * (len(part) / len(idx)) if ranks.active else loss).backward()
            loss_sum += loss.detach() * len(part)
        ranks.sum_gradients(model)  # ddp: the gradient of the global batch's mean loss on every rank
        norm_sum += nn.utils.clip_grad_norm_(model.parameters(), max_norm).detach()
        opt.step()
        n_batches += 1
        if n_batches == PROBE_BATCHES and announce_at:
            announce(time.perf_counter() - announce_at, per_epoch, settings)
    return loss_sum, norm_sum, n_batches


def diverged(
    train_loss: float, val_loss: float, epoch: int, best_epoch: int, settings: TrainerConfig
) -> TrainingDiverged:
    """Return the error of a loss that became NaN or infinite at ``epoch`` (the best weights are already back)."""
    kept = (
        f"best weights so far, epoch {best_epoch}, kept in checkpoint.pt"
        if best_epoch
        else "no epoch completed, nothing kept"
    )
    return TrainingDiverged(
        f"loss became {train_loss if not math.isfinite(train_loss) else val_loss} at epoch {epoch}: "
        f"exploding gradients; lower trainer.lr (now {settings.lr:g}) or set trainer.grad_clip "
        f"(now {settings.grad_clip:g}) to e.g. 1.0 ({kept})"
    )


def progress_bar(settings: TrainerConfig, done: int) -> Any:
    """Return the epochs still to run as a tqdm bar (shown only on a terminal with ``trainer.progress``)."""
    from tqdm import tqdm

    return tqdm(
        range(done + 1, settings.max_epochs + 1),
        desc="epochs",
        unit="ep",
        leave=False,
        initial=done,
        total=settings.max_epochs,
        disable=not (settings.progress and sys.stderr.isatty()),
    )


def advance(state: LoopState, record: EpochRecord, model: nn.Module, settings: TrainerConfig) -> None:
    """Log the epoch and add it to ``state``, keeping the best weights; a NaN or infinite loss restores them and
    raises :class:`TrainingDiverged`."""
    log.debug("epoch %d train_loss %.6f val_loss %.6f seconds %.3f grad_norm %.4f", *list(vars(record).values())[:5])
    if not (math.isfinite(record.train_loss) and math.isfinite(record.val_loss)):
        model.load_state_dict(state.best_state)
        raise diverged(record.train_loss, record.val_loss, record.epoch, state.best_epoch, settings)
    state.epoch, state.wait = record.epoch, state.wait + 1
    state.history.append(record)
    if record.val_loss < state.best_val_loss:
        state.best_val_loss, state.best_epoch, state.wait = record.val_loss, record.epoch, 0
        state.best_state = copy.deepcopy(model.state_dict())


def said_stop(state: LoopState, settings: TrainerConfig) -> None:
    """Say in one line when early stopping ended the training, and why (nothing when every epoch ran)."""
    if state.wait >= settings.patience and state.history and state.epoch < settings.max_epochs:
        log.info(
            "early stopping after epoch %d of %d: the validation loss last improved at epoch %d, %d epochs before "
            "(trainer.patience=%d); that epoch's weights are kept",
            *(state.epoch, settings.max_epochs, state.best_epoch, state.wait, settings.patience),
        )
