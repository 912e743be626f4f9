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


def flush_denormals() -> None:
    """Round results below float32's smallest normal number (1.2e-38) to zero, on this thread, on every thread of
    torch's pool (through the C++ kernels, where they built: ``torch.set_flush_denormal`` sets the calling thread
    alone, and the pool's threads that exist keep their mode) and on threads started later (a thread inherits its
    creator's floating-point mode).

    Gradients carried back through hundreds of steps shrink into that range, and x86 cores handle such
    subnormal numbers in microcode, up to 100 times slower: the Fischer & Krauss LSTM (1x25, window 240, a 0/1
    target) trained 20,000 windows in 13.6 s with them and 2.6 s flushed (oneDNN's kernel, one period of the
    universe; docs/performance.md). Only numbers below 1.2e-38 change, where float32 has already lost its
    precision; GPUs flush them in their fast paths too.
    """
    from forecast.models.fast import build

    torch.set_flush_denormal(True)
    build.flush_pool()


def prepare_process() -> None:
    """Set what every job sets on its process before it trains: freed memory kept for reuse and denormal floats
    flushed. A bench that trains in its own process calls this too, or it times something no run does (unflushed,
    the minimal cells' products on the default data slowed epoch after epoch: minLSTM 0.30, 0.37, 0.72 s)."""
    hold_freed_memory()
    flush_denormals()


def start_job(seed: int, threads: int, device: str, strategy: str = "single") -> torch.device:
    """Seed every generator, set torch's CPU threads (0: torch's default), join the other processes of a
    ``trainer.strategy=ddp`` run and return the device: a job's first steps."""
    from forecast.training.distributed import join

    seed_everything(seed)
    prepare_process()
    if threads:
        torch.set_num_threads(threads)
    return join(strategy, resolve_device(device))
