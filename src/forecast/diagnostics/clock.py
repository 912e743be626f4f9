"""Wall-clock phases of a run (startup, data, training, evaluation, outputs), for metrics.json and the bench."""

from __future__ import annotations

import os
import time


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
