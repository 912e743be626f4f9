"""Wall-clock phases of a run (startup, data, training, evaluation, outputs), for metrics.json and the bench, and
the environment they were measured in."""

from __future__ import annotations

import os
import platform
import time
from typing import Any


def process_age() -> float:
    """Return seconds since this process started (from /proc; 0.0 where /proc is absent)."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


class PhaseClock:
    """Records the duration of consecutive named phases; ``startup`` is the process age at creation."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {"startup": process_age()}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Close the current phase under ``name`` (durations of repeated names add up)."""
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now


def environment() -> dict[str, Any]:
    """Return what a timing depends on: torch's and python's versions, torch's threads and the machine."""
    import torch

    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
