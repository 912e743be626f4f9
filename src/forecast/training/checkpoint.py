"""Epoch checkpoints: everything needed to continue training exactly where it stopped.

A checkpoint holds the model and optimizer states, the best weights so far, the early-stopping counters,
the epoch history and torch's random-number-generator states (training draws randomness from torch
only: batch order and dropout). It is loaded with ``weights_only=True``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from forecast.reporting.artifacts import write_with


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    seconds: float  # the whole epoch: training pass and validation loss
    grad_norm: float  # mean pre-clipping gradient norm over the epoch's batches
    train_seconds: float = 0.0  # the training pass alone (what a bare loop's epoch does)


@dataclass
class LoopState:
    """The training loop's own state after ``epoch`` completed epochs."""

    epoch: int = 0
    best_epoch: int = 0
    best_val_loss: float = math.inf
    wait: int = 0  # epochs since the last improvement
    history: list[EpochRecord] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)


def save_checkpoint(
    path: Path, model: nn.Module, opt: torch.optim.Optimizer, state: LoopState, config: dict[str, Any]
) -> None:
    """Atomically write the training state after ``state.epoch`` epochs, and the run's ``config``, to ``path``."""
    payload: dict[str, Any] = {
        "config": config,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "loop": {k: v for k, v in asdict(state).items() if k not in ("history", "best_state")},
        "history": [asdict(r) for r in state.history],
        "best_state": state.best_state,
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    write_with(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint_file(path: Path) -> dict[str, Any]:
    """Return the checkpoint dict at ``path`` (``weights_only=True``: a crafted pickle is refused)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict):
        raise ValueError(f"{path} is not a forecast checkpoint")
    return payload


def restore(payload: dict[str, Any], model: nn.Module, opt: torch.optim.Optimizer) -> LoopState:
    """Load model, optimizer and RNG states from ``payload``; return the loop state to continue from."""
    model.load_state_dict(payload["model"])
    opt.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng_cpu"])
    if payload["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng_cuda"])
    state = LoopState(**payload["loop"])
    state.history = [EpochRecord(**r) for r in payload["history"]]
    state.best_state = copy.deepcopy(payload["best_state"])
    return state
