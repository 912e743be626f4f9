"""From a clean price frame to window tensors: features, chronological split, train-only scaling.

Indexing convention (prices ``p[0..N-1]``, one per trading day):

* feature row ``i`` (``i >= 1``) describes day ``i``: ``log_return[i] = log(p[i] / p[i-1])`` and, optionally,
  ``hl_range[i] = log(high[i] / low[i])``, ``log_volume[i] = log1p(vol[i]) - log1p(vol[i-1])``;
* a sample with *origin* ``t`` (the last known day) sees feature rows ``t-window+1 .. t`` and targets the
  log returns of days ``t+1 .. t+horizon``; its forecast is for day ``t+horizon``;
* a sample belongs to the split that contains its forecast day ``t+horizon``. Splits are consecutive
  day ranges (train, then val, then test), so no input or target of a sample lies in a later split;
* every scaling statistic is computed on feature rows ``1 .. n_train-1`` (the training span) only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from forecast.data.features import feature_rows, warn_extremes
from forecast.data.scaling import Standardizer
from forecast.data.windows import Windows
from forecast.errors import DataError

SPLITS = ("train", "val", "test")


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


@dataclass(frozen=True)
class WindowedData:
    """Everything the trainer and the evaluation need, one sample per origin day ``t``."""

    dates: pd.DatetimeIndex  # (n_days,)
    prices: np.ndarray  # (n_days,) adjusted close
    rows: torch.Tensor  # (n_days - 1, n_features) float32 scaled feature rows 1..n-1 (the samples gather from it)
    origin: np.ndarray  # (n_samples,) day index of the last input day
    split: np.ndarray  # (n_samples,) 0/1/2 by forecast day
    scaler: Standardizer
    bounds: SplitBounds
    features: tuple[str, ...]
    window: int  # input days per sample
    horizon: int  # target days per sample; the forecast day of a sample is origin + horizon

    @property
    def forecast_day(self) -> np.ndarray:
        """Return ``(n_samples,)`` day indices of each sample's forecast day ``origin + horizon``."""
        return self.origin + self.horizon

    def counts(self) -> dict[str, int]:
        """Return the number of samples in each split."""
        return {name: int((self.split == i).sum()) for i, name in enumerate(SPLITS)}

    def windows(self, name: str | None = None, steps: int | None = None) -> Windows:
        """Return the samples of split ``name`` (train|val|test; None = all), gathered lazily from the rows, with
        targets cut to ``steps`` (default: the horizon)."""
        start = torch.from_numpy(self.origin - self.window)
        every = Windows(self.rows, start, self.window, steps or self.horizon)
        return every if name is None else every.subset(torch.from_numpy(self.split == SPLITS.index(name)))

    @property
    def inputs(self) -> torch.Tensor:
        """``(n_samples, window, n_features)``: every sample's inputs, materialised (window-times the rows)."""
        return self.windows().materialise()[0]

    @property
    def targets(self) -> torch.Tensor:
        """``(n_samples, horizon)``: every sample's scaled target log returns."""
        return self.windows().materialise()[1]

    def part(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs, targets)`` of split ``name`` (train|val|test), materialised."""
        return self.windows(name).materialise()


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


def build_windows(
    frame: pd.DataFrame,
    window: int,
    horizon: int,
    fracs: tuple[float, float, float],
    features: tuple[str, ...] = ("log_return",),
) -> WindowedData:
    """Return scaled window tensors for the chronological split of ``frame`` by ``fracs`` (see :func:`split_bounds`).

    Assumes ``frame`` passed :func:`forecast.data.validation.clean_prices`.
    """
    return windows_for(frame, window, horizon, split_bounds(len(frame), fracs, window, horizon), features)


def windows_for(
    frame: pd.DataFrame,
    window: int,
    horizon: int,
    bounds: SplitBounds,
    features: tuple[str, ...] = ("log_return",),
    scaler: Standardizer | None = None,
) -> WindowedData:
    """Return scaled window tensors for every origin whose window starts at or after the training span's start and
    whose forecast day falls in a split of ``bounds``. The scaling statistics are fitted on the training span
    only, or are ``scaler``'s (a model rolled forward from an earlier fold keeps the scaler it was trained with).

    The scaled rows are kept once; a sample is its origin, gathered from the rows when asked for
    (:class:`forecast.data.windows.Windows`).
    """
    prices = frame["adj_close"].to_numpy(np.float64)
    rows = feature_rows(frame, features)
    scaler = scaler or Standardizer.fit(rows[bounds.train_start + 1 : bounds.n_train])  # training span only
    scaled_rows = scaler.transform(rows[1:])  # feature rows 1..n-1
    warn_extremes(scaled_rows[bounds.n_train :], pd.DatetimeIndex(frame.index)[bounds.n_train + 1 :], features)
    # origin t uses input rows t-window+1..t = scaled[t-window .. t-1] and targets rows t+1..t+h = scaled[t .. t+h-1]
    origin = np.arange(bounds.train_start + window, min(len(prices), bounds.n_days) - horizon)
    split = bounds.split_of(origin + horizon)
    origin, split = origin[split >= 0], split[split >= 0]
    return WindowedData(
        dates=pd.DatetimeIndex(frame.index),
        prices=prices,
        rows=torch.from_numpy(scaled_rows.astype(np.float32)),
        origin=origin,
        split=split,
        scaler=scaler,
        bounds=bounds,
        features=tuple(features),
        window=window,
        horizon=horizon,
    )


def latest_window(frame: pd.DataFrame, features: tuple[str, ...], scaler: Standardizer, window: int) -> torch.Tensor:
    """Return ``(1, window, n_features)``: the newest window of ``frame`` scaled with a fitted ``scaler``.

    This is how the run and a stored model forecast from the last close without refitting anything.
    """
    rows = feature_rows(frame, features)
    if len(rows) <= window:
        raise DataError(f"{len(rows)} trading days cannot fill a window of {window} returns: needs {window + 1} days")
    return torch.from_numpy(scaler.transform(rows[-window:]).astype(np.float32)).unsqueeze(0)
