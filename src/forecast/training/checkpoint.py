"""Checkpoints: the epoch checkpoint a run resumes from, and the resume policy.

An epoch checkpoint holds the model and optimizer states, the best weights so far, the early-stopping
counters, the epoch history and torch's random-number-generator states (training draws randomness from torch
only: batch order and dropout). The final ``model.pt`` is written by ``pipeline.forecaster.Forecaster.save``;
both are loaded with ``weights_only=True`` by :func:`load_checkpoint`, so a crafted pickle is refused.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from forecast.errors import ConfigError
from forecast.store.atomic import write_with
from forecast.training.optim import Stepper


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


def save_checkpoint(path: Path, model: nn.Module, opt: Stepper, state: LoopState, config: dict[str, Any]) -> None:
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


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Return the checkpoint or ``model.pt`` dict at ``path`` (``weights_only=True``: a crafted pickle is refused)."""
    import warnings

    with warnings.catch_warnings():  # torch warns in two lines before refusing a crafted pickle; the refusal is ours
        warnings.simplefilter("ignore")
        payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict):
        raise ValueError(f"{path} is not a forecast checkpoint")
    return payload


def restore(payload: dict[str, Any], model: nn.Module, opt: Stepper) -> LoopState:
    """Load model, optimizer and RNG states from ``payload``; return the loop state to continue from.

    Raises :class:`ConfigError` when the checkpoint loads but does not fit (a key missing, weights of another
    shape, a malformed loop state)."""
    try:
        return _restore(payload, model, opt)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:160]
        raise ConfigError(
            f"trainer.resume: checkpoint.pt is not a checkpoint of this run ({type(exc).__name__}: {detail}): "
            "run again without trainer.resume"
        ) from None


def _restore(payload: dict[str, Any], model: nn.Module, opt: Stepper) -> LoopState:
    model.load_state_dict(payload["model"])
    opt.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng_cpu"])
    if payload["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng_cuda"])
    state = LoopState(**payload["loop"])
    state.history = [EpochRecord(**r) for r in payload["history"]]
    state.best_state = copy.deepcopy(payload["best_state"])
    return state


# keys that may differ between an interrupted run and its resumption
RESUME_FREE_KEYS = {
    ("trainer", "resume"),
    ("trainer", "max_epochs"),
    ("trainer", "progress"),
    ("trainer", "threads"),
    ("trainer", "checkpoint_every"),
    ("data", "offline"),
    ("data", "refresh"),
    ("data", "timeout_s"),
    ("device",),
}


def _flatten(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def load_resume(run_dir: str | None, config: dict[str, Any]) -> dict[str, Any] | None:
    """Return the checkpoint of the interrupted run in ``run_dir`` (None when not resuming).

    Raises :class:`ConfigError` when it is missing, unreadable, or was trained with another config.
    """
    if not run_dir:
        return None
    path = Path(run_dir).expanduser() / "checkpoint.pt"
    if not path.exists():
        raise ConfigError(f"trainer.resume={run_dir}: no checkpoint.pt there (only unfinished runs keep one)")
    try:
        payload = load_checkpoint(path)
    except Exception as exc:
        raise ConfigError(
            f"trainer.resume={run_dir}: checkpoint.pt cannot be loaded safely ({type(exc).__name__})"
        ) from None
    if not isinstance(payload.get("config"), dict):
        raise ConfigError(f"trainer.resume={run_dir}: checkpoint.pt holds no run config: run again without it")
    refuse_changed(f"trainer.resume={run_dir}", payload["config"], config)
    return payload


def refuse_changed(what: str, stored: object, config: dict[str, Any]) -> None:
    """Refuse, in one line, to resume a run whose stored config differs from ``config`` (but for the keys a resume
    may change)."""
    saved, now = _flatten(stored if isinstance(stored, dict) else {}), _flatten(config)
    changed = sorted(
        ".".join(k) for k in saved.keys() | now.keys() if k not in RESUME_FREE_KEYS and saved.get(k) != now.get(k)
    )
    if changed:
        key = tuple(changed[0].split("."))
        raise ConfigError(
            f"{what}: that run used {changed[0]}={saved.get(key)!r}, this one {now.get(key)!r}: "
            f"resume with the same overrides ({len(changed)} key(s) differ: {', '.join(changed[:5])})"
        )
