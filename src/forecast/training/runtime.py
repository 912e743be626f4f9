"""Seeding and device selection for one job."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

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


def threads_per_job(launcher: Mapping[str, Any]) -> int:
    """Return torch threads for one job from the resources its Hydra launcher gives it (0 = torch's default):
    cores / n_jobs under joblib, ``cpus_per_task`` under submitit, ``ray.remote.num_cpus`` under Ray."""
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        cores = os.cpu_count() or 1
        n_jobs = int(launcher.get("n_jobs") or -1)
        parallel = cores if n_jobs < 0 else max(1, n_jobs)  # joblib's -1 means one job per core
        return max(1, cores // parallel)
    if "submitit" in target:
        return int(launcher.get("cpus_per_task") or 0)
    if "ray" in target:
        remote = (launcher.get("ray") or {}).get("remote") or {}
        return int(remote.get("num_cpus") or 0)
    return 0


WATCHED: list[bool] = []


def exit_with_parent(interval: float = 0.5, interrupt_first: bool = False, watched: int | None = None) -> None:
    """In a worker process (a backtest's fold, a launcher's sweep job): exit as soon as the process that started
    it (or ``watched``, an ancestor) is gone, killed with SIGKILL it cannot stop its workers, so nothing trains on
    for nobody. A daemon thread polls. ``interrupt_first``: send this process SIGTERM first (the job records itself
    interrupted), and exit 10 s later whatever it does."""
    import threading
    import time

    if WATCHED:  # a reused worker (joblib's loky) is watched once
        return
    WATCHED.append(True)
    parent = os.getppid()

    def alive() -> bool:
        if watched is None:
            return os.getppid() == parent
        try:
            os.kill(watched, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def watch() -> None:
        while alive():
            time.sleep(interval)
        if interrupt_first:
            import signal

            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
