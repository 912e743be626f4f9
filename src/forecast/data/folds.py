"""Units of work of a run: one chronological split, or the folds of a walk-forward (rolling-origin) backtest.

Fold arithmetic is scikit-learn's ``TimeSeriesSplit(n_splits, test_size, gap, max_train_size)`` over the day
index: ``folds`` test blocks of ``test_days`` sessions counted back from the end, each preceded by ``gap``
dropped sessions and a training span (all earlier days, or the last ``train_days`` for a rolling window) whose
last ``val_days`` validate. What TimeSeriesSplit cannot express, ``refit_every``, is a flag per fold here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.config import BacktestConfig
from forecast.data.dataset import SplitBounds
from forecast.errors import DataError


@dataclass(frozen=True)
class Unit:
    """One unit of work: its day boundaries, its number (0 for a single split) and whether a model is trained."""

    bounds: SplitBounds
    fold: int = 0
    refit: bool = True


def gap_of(b: BacktestConfig, horizon: int) -> int:
    """Return the sessions dropped between training and test: ``backtest.gap``, by default ``horizon - 1``."""
    return horizon - 1 if b.gap is None else b.gap


def walk_forward(n_days: int, b: BacktestConfig, window: int, horizon: int) -> list[Unit]:
    """Return the folds of a walk-forward backtest over ``n_days`` sessions, oldest first.

    Raises :class:`DataError` naming how many folds fit when the data cannot hold ``b.folds``.
    """
    from sklearn.model_selection import TimeSeriesSplit  # 1.4 s to import: only backtests pay it

    gap = gap_of(b, horizon)
    min_train = window + horizon + 1 + b.val_days  # one training sample and the validation span
    fit = max(0, (n_days - gap - min_train) // b.test_days)
    if b.folds > fit:
        raise DataError(
            f"backtest.folds={b.folds} does not fit: {n_days} trading days hold at most {fit} folds of "
            f"backtest.test_days={b.test_days} after a gap of {gap} and a first training span of {min_train} days "
            f"(window + horizon + 1 + backtest.val_days): set backtest.folds={fit} or less, or shorten the test blocks"
        )
    rolling = b.train_days if b.window_type == "rolling" else None
    splitter = TimeSeriesSplit(n_splits=b.folds, test_size=b.test_days, gap=gap, max_train_size=rolling)
    units = []
    for k, (train, test) in enumerate(splitter.split(np.arange(n_days))):
        start, end = int(train[0]), int(train[-1]) + 1
        val_start, test_start, test_end = end - b.val_days, int(test[0]), int(test[-1]) + 1
        bounds = SplitBounds(val_start, b.val_days, test_end, train_start=start, test_start=test_start)
        refit = k == 0 or (b.refit_every > 0 and k % b.refit_every == 0)
        units.append(Unit(bounds, fold=k + 1, refit=refit))
    return units
