"""Seeding and device selection for one job."""

from __future__ import annotations

import random

import numpy as np
import torch

from forecast.diagnostics.memory import hold_freed_memory
from forecast.errors import ConfigError


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) so the same seed on the same machine gives the same run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """Return the torch device for ``auto|cpu|cuda|mps``; raise :class:`ConfigError` if it is absent."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but CUDA is not available on this machine: use device=auto or device=cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device=mps but MPS is not available on this machine: use device=auto or device=cpu")
    return torch.device(name)


def start_job(seed: int, threads: int, device: str, strategy: str = "single") -> torch.device:
    """Seed every generator, set torch's CPU threads (0: torch's default), join the other processes of a
    ``trainer.strategy=ddp`` run and return the device: a job's first steps."""
    from forecast.training.distributed import join

    seed_everything(seed)
    hold_freed_memory()
    if threads:
        torch.set_num_threads(threads)
    return join(strategy, resolve_device(device))
