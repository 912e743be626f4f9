"""Chronological splits by day index: the boundaries of a split, how they are drawn, and how the boundaries of a
panel's calendar map onto one ticker's own days (each ticker takes the same boundary dates)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.errors import DataError

MIN_TEST = 3  # forecasts a single split's test span needs for its statistics to be defined


@dataclass(frozen=True)
class SplitBounds:
    """Day-index boundaries: train ``[train_start, n_train)``, val ``[n_train, n_train + n_val)``, test
    ``[test_start, n_days)`` (``test_start`` defaults to the end of val). Days in none of them (before the
    training span, in a backtest's gap, after the test span) belong to no split."""

    n_train: int
    n_val: int
    n_days: int
    train_start: int = 0
    test_start: int | None = None

    def split_of(self, day: np.ndarray) -> np.ndarray:
        """Return 0/1/2 (train/val/test) for each day index in ``day``, -1 for a day in no split."""
        val_end = self.n_train + self.n_val
        test_start = val_end if self.test_start is None else self.test_start
        out = np.full(np.shape(day), -1, dtype=np.int64)
        out[(day >= self.train_start) & (day < self.n_train)] = 0
        out[(day >= self.n_train) & (day < val_end)] = 1
        out[(day >= test_start) & (day < self.n_days)] = 2
        return out


def fixed_day_split(
    frame: pd.DataFrame, train_days: int | None, val_days: int, test_days: int
) -> tuple[pd.DataFrame, tuple[float, float, float]]:
    """Return ``frame`` trimmed to its last ``train_days + val_days + test_days`` rows and the exact fractions.

    With ``train_days=None`` all history before the validation span trains. Keeping val and test fixed while
    ``train_days`` grows gives learning curves on one test period.
    """
    train = len(frame) - val_days - test_days if train_days is None else train_days
    need = train + val_days + test_days
    if train < 1 or need > len(frame):
        raise DataError(
            f"data.train_days={train_days} + data.val_days={val_days} + data.test_days={test_days} needs {need} "
            f"trading days, but the data has {len(frame)}: shorten a span or widen data.start/data.end"
        )
    return frame.iloc[len(frame) - need :], (train / need, val_days / need, test_days / need)


def split_bounds(n_days: int, fracs: tuple[float, float, float], window: int, horizon: int) -> SplitBounds:
    """Return the chronological split of ``n_days`` days; raise if a split would hold no sample.

    Training needs ``window + horizon + 1`` days at least (one sample), val and test ``horizon`` days each.
    """

    def fits(n: int) -> bool:
        n_train, n_val = round(n * fracs[0]), round(n * fracs[1])
        return n_train >= window + horizon + 1 and n_val >= horizon and n - n_train - n_val >= horizon

    if not fits(n_days):
        # the smallest n that fits lies just above the bound without rounding; scan a little around it
        floor = max((window + horizon + 1) / fracs[0], horizon / fracs[1], horizon / fracs[2])
        start = max(n_days + 1, int(floor) - 2)
        needed = next((n for n in range(start, start + 1000) if fits(n)), math.ceil(floor))
        raise DataError(
            f"series too short: {n_days} trading days, but window={window} + horizon={horizon} with splits "
            f"{fracs[0]:g}/{fracs[1]:g}/{fracs[2]:g} need at least {needed}: "
            "use a longer date range, a smaller window or larger val/test fractions"
        )
    n_train, n_val = round(n_days * fracs[0]), round(n_days * fracs[1])
    return SplitBounds(n_train=n_train, n_val=n_val, n_days=n_days)


def on_days(b: SplitBounds, calendar: pd.DatetimeIndex, days: pd.DatetimeIndex) -> SplitBounds:
    """Return the boundaries ``b`` (day indices of ``calendar``) as indices of ``days``, a ticker's sessions within
    the calendar: each boundary is the ticker's first session on or after the calendar's boundary date."""

    def at(i: int) -> int:
        return len(days) if i >= len(calendar) else int(days.searchsorted(calendar[i]))

    val_start, val_end = at(b.n_train), at(b.n_train + b.n_val)
    test_start = None if b.test_start is None else at(b.test_start)
    return SplitBounds(val_start, val_end - val_start, at(b.n_days), at(b.train_start), test_start)


def missing_span(b: SplitBounds, days: pd.DatetimeIndex, window: int, horizon: int, starts: tuple[str, str]) -> str:
    """Return why a ticker with ``days`` cannot take part in a unit split at ``b`` (no training window, too few
    validation or test samples), or ''. ``starts``: the unit's first validation and first test date. A single split
    (``b.test_start`` None) needs :data:`MIN_TEST` test forecasts for its statistics."""
    n_test = b.n_days - (b.n_train + b.n_val if b.test_start is None else b.test_start)
    if b.n_train - b.train_start < window + horizon + 1:
        return (
            f"{b.n_train - b.train_start} trading days before the validation span (from {starts[0]}; its data "
            f"starts {days[0].date()}), and one training window needs window + horizon + 1 = {window + horizon + 1}"
        )
    if b.n_val < horizon or n_test < horizon:
        return f"its data ends {days[-1].date()}, before the test span (from {starts[1]}) holds {horizon} of its days"
    if b.test_start is None and n_test < MIN_TEST:
        return (
            f"the test span holds {n_test} forecast(s); its statistics (Diebold-Mariano test, correlations, "
            f"coverage) need at least {MIN_TEST}: raise data.test_days or data.test_frac"
        )
    return ""
