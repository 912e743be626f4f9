"""One training session of a run: fit with a checkpoint every epoch (or resume one), and measure its memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.functional import mse_loss

from forecast.config.schema import TrainerConfig
from forecast.data.windows import Samples
from forecast.diagnostics.memory import PeakMemory, warm_up
from forecast.store.columns import epoch_timing
from forecast.training.checkpoint import LoopState, load_resume, save_checkpoint
from forecast.training.distributed import Ranks
from forecast.training.loop import FitResult, fit
from forecast.training.losses import Loss
from forecast.training.optim import Stepper


@dataclass
class Trained:
    result: FitResult
    peak_memory_mb: float  # peak memory rise during training
    activation_bytes: int  # bytes autograd saves for one training batch
    resumed_from: int | None  # the epoch a resumed run continued after
    read_back: bool = False  # a backtest's fold that finished before a kill, read back instead of trained

    def costs(self) -> dict[str, Any]:
        """Return the run record's fields on what training cost: epochs, seconds (and whether the machine was busy)
        and memory."""
        history = self.result.history
        median, busy = epoch_timing([r.train_seconds for r in history])
        return {
            "epochs_run": len(history),
            "best_epoch": self.result.best_epoch,
            "train_seconds": self.result.seconds,
            "seconds_per_epoch": self.result.seconds / max(1, len(history)),
            "epoch_seconds_median": median,
            "busy_machine": busy,
            "peak_memory_mb": self.peak_memory_mb,
            "activation_memory_mb": self.activation_bytes / 2**20,
        }


def train(
    model: torch.nn.Module,
    sets: tuple[Samples, Samples],
    settings: TrainerConfig,
    device: torch.device,
    out_dir: Path,
    config: dict[str, Any],
    loss: Loss = mse_loss,
) -> Trained:
    """Fit ``model`` on ``sets`` = (train, val) samples (early stopping on val), checkpointing to
    ``out_dir/checkpoint.pt``.

    ``config`` (the run's plain config) goes into every checkpoint, so a resume with other settings is refused.
    """
    resume = load_resume(settings.resume, config)
    train_set, val_set = (s.to(device) for s in sets)
    first = torch.arange(min(settings.batch_size, len(train_set)), device=device)
    activation_bytes = warm_up(model, *train_set.take(first), loss)
    ckpt_path = out_dir / "checkpoint.pt"

    def save(mod: torch.nn.Module, opt: Stepper, state: LoopState) -> None:
        save_checkpoint(ckpt_path, mod, opt, state, config)

    with PeakMemory(device) as memory:
        result = fit(
            model,
            train_set,
            val_set,
            settings,
            checkpoint=save if Ranks.current().main else None,  # trainer.strategy=ddp: rank 0 alone writes
            resume=resume,
            loss_fn=loss,
        )
    resumed_from = int(resume["loop"]["epoch"]) if resume is not None else None
    return Trained(result, memory.peak_mb, activation_bytes, resumed_from)
