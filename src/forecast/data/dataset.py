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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from forecast.data.features import feature_rows, warn_extremes
from forecast.data.scaling import Standardizer
from forecast.data.splits import SplitBounds, split_bounds
from forecast.data.windows import Windows
from forecast.errors import DataError

SPLITS = ("train", "val", "test")


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
    labels: torch.Tensor | None = None  # (n_days - 1,) the target of each row when not its return (data.labels)

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
        every = Windows(self.rows, start, self.window, steps or self.horizon, labels=self.labels)
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
    ticker: str = "",
    labels: np.ndarray | None = None,
) -> WindowedData:
    """Return scaled window tensors for every origin whose window starts at or after the training span's start and
    whose forecast day falls in a split of ``bounds``. The scaling statistics are fitted on the training span
    only, or are ``scaler``'s (a model rolled forward from an earlier fold keeps the scaler it was trained with).

    The scaled rows are kept once; a sample is its origin, gathered from the rows when asked for
    (:class:`forecast.data.windows.Windows`). ``labels`` (aligned with feature rows 1..n-1) replace the scaled
    returns as targets (``data.target=above_median``).
    """
    prices = frame["adj_close"].to_numpy(np.float64)
    rows = feature_rows(frame, features, ticker)
    scaler = scaler or Standardizer.fit(rows[bounds.train_start + 1 : bounds.n_train])  # training span only
    scaled_rows = scaler.transform(rows[1:])  # feature rows 1..n-1
    warn_extremes(scaled_rows[bounds.n_train :], pd.DatetimeIndex(frame.index)[bounds.n_train + 1 :], features, ticker)
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
        labels=None if labels is None else torch.from_numpy(labels),
    )


def pooled_scaler(frames: list[pd.DataFrame], bounds: list[SplitBounds], features: tuple[str, ...]) -> Standardizer:
    """Return one mean and deviation per feature over every frame's training span (``data.scaling=pooled``, as
    Fischer & Krauss 2018 standardise): the rows each ticker's own scaler would be fitted on, stacked."""
    rows = [feature_rows(f, features)[b.train_start + 1 : b.n_train] for f, b in zip(frames, bounds, strict=True)]
    return Standardizer.fit(np.concatenate(rows))


def latest_window(frame: pd.DataFrame, features: tuple[str, ...], scaler: Standardizer, window: int) -> torch.Tensor:
    """Return ``(1, window, n_features)``: the newest window of ``frame`` scaled with a fitted ``scaler``.

    This is how the run and a stored model forecast from the last close without refitting anything.
    """
    rows = feature_rows(frame, features)
    if len(rows) <= window:
        raise DataError(f"{len(rows)} trading days cannot fill a window of {window} returns: needs {window + 1} days")
    return torch.from_numpy(scaler.transform(rows[-window:]).astype(np.float32)).unsqueeze(0)
