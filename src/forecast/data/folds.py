"""Units of work of a run: one chronological split, or the folds of a walk-forward (rolling-origin) backtest,
drawn on a panel's calendar; each unit names the tickers that take part in it and their boundaries on their days.

Fold arithmetic is scikit-learn's ``TimeSeriesSplit(n_splits, test_size, gap, max_train_size)`` over the day
index: ``folds`` test blocks of ``test_days`` sessions counted back from the end, each preceded by ``gap``
dropped sessions and a training span (all earlier days, or the last ``train_days`` for a rolling window) whose
last ``val_days`` validate. It is written out here (three lines, equal to TimeSeriesSplit's splits for two folds
or more in ``tests/test_backtest.py``) because TimeSeriesSplit refuses a single fold, which is a backtest of its
last test block, and costs 1.4 s to import. ``refit_every``, which it cannot express, is a flag per fold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import pandas as pd

from forecast.config.schema import BacktestConfig
from forecast.data.notices import warn
from forecast.data.panel import Panel
from forecast.data.splits import SplitBounds, missing_span, on_days, split_bounds
from forecast.errors import DataError

log = logging.getLogger("forecast")


@dataclass(frozen=True)
class Unit:
    """One unit of work: its boundaries on the calendar, its number (0 for a single split), whether a model is
    trained, and the tickers that take part with their boundaries on their own days."""

    bounds: SplitBounds
    fold: int = 0
    refit: bool = True
    members: dict[str, SplitBounds] = field(default_factory=dict)


def gap_of(b: BacktestConfig, horizon: int) -> int:
    """Return the sessions dropped between training and test: ``backtest.gap``, by default ``horizon - 1``."""
    return horizon - 1 if b.gap is None else b.gap


def walk_forward(n_days: int, b: BacktestConfig, window: int, horizon: int) -> list[Unit]:
    """Return the folds of a walk-forward backtest over ``n_days`` sessions, oldest first.

    Raises :class:`DataError` naming how many folds fit when the data cannot hold ``b.folds``.
    """
    gap = gap_of(b, horizon)
    min_train = window + horizon + 1 + b.val_days  # one training sample and the validation span
    fit = max(0, (n_days - gap - min_train) // b.test_days)
    if b.folds > fit:
        raise DataError(
            f"backtest.folds={b.folds} does not fit: {n_days} trading days hold at most {fit} folds of "
            f"backtest.test_days={b.test_days} after a gap of {gap} and a first training span of {min_train} days "
            f"(window + horizon + 1 + backtest.val_days): set backtest.folds={fit} or less, or shorten the test blocks"
        )
    units = []
    for k in range(b.folds):
        test_start = n_days - (b.folds - k) * b.test_days
        test_end, end = test_start + b.test_days, test_start - gap
        start = max(0, end - b.train_days) if b.window_type == "rolling" and b.train_days else 0
        val_start = end - b.val_days
        bounds = SplitBounds(val_start, b.val_days, test_end, train_start=start, test_start=test_start)
        refit = k == 0 or (b.refit_every > 0 and k % b.refit_every == 0)
        units.append(Unit(bounds, fold=k + 1, refit=refit))
    return units


def plan_units(panel: Panel, b: BacktestConfig, window: int, horizon: int) -> tuple[Panel, list[Unit]]:
    """Return the panel of the tickers that take part in a unit and the units (the single split, or the folds of a
    walk-forward backtest) with their members. A ticker that takes part in no unit is left out with one warning;
    a panel of one raises its reason as a :class:`DataError`, as does a pool where no ticker takes part."""
    calendar = panel.calendar
    if b.kind == "walk_forward":
        units = walk_forward(len(calendar), b, window, horizon)
        first, last = units[0].bounds, units[-1].bounds
        log.info(
            "walk-forward backtest: %d folds of %d sessions, tests from %s to %s, %s training spans",
            len(units),
            b.test_days,
            calendar[first.test_start or 0].date(),
            calendar[last.n_days - 1].date(),
            b.window_type,
        )
    else:
        units = [Unit(split_bounds(len(calendar), panel.fracs, window, horizon))]
    reasons: dict[str, str] = {}
    planned = []
    for unit in units:
        u = unit.bounds
        starts = (str(calendar[u.n_train].date()), str(calendar[u.test_start or u.n_train + u.n_val].date()))
        members = {}
        for ticker, item in panel.loaded.items():
            days = pd.DatetimeIndex(item.frame.index)
            bounds = on_days(u, calendar, days)
            why = missing_span(bounds, days, window, horizon, starts)
            if why:
                reasons.setdefault(ticker, why)
            else:
                members[ticker] = bounds
        if members:
            planned.append(replace(unit, members=members))
    taking_part = {t for unit in planned for t in unit.members}
    left_out = {t: reasons[t] for t in panel.loaded if t not in taking_part}
    if len(panel.loaded) == 1 and left_out:
        raise DataError(next(iter(left_out.values())))
    for ticker, why in left_out.items():
        warn("left out of the pool", ticker, f"{ticker} left out of the pool: {why}")
    if not taking_part:
        raise DataError(f"no ticker of the pool covers the split: {next(iter(left_out.values()))}")
    kept = {t: x for t, x in panel.loaded.items() if t in taking_part}
    if len(panel.loaded) > 1 and b.kind != "walk_forward":
        log.info(
            "pool of %d tickers (%d left out), calendar %s .. %s: validation from %s, test from %s",
            len(kept),
            len(panel.skipped) + len(left_out),
            calendar[0].date(),
            calendar[-1].date(),
            *starts,
        )
    return Panel(kept, calendar, panel.fracs, {**panel.skipped, **left_out}), planned
