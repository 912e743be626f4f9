"""From a ticker and the data settings to the validated price frame, and the units of work over it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from forecast.config import BacktestConfig, DataConfig
from forecast.data.dataset import fixed_day_split, split_bounds
from forecast.data.folds import Unit, walk_forward
from forecast.data.sources import load_prices
from forecast.data.validation import clean_prices

log = logging.getLogger("forecast")


@dataclass(frozen=True)
class Loaded:
    source: str  # the source that served the prices
    frame: pd.DataFrame  # the validated prices, trimmed to data.train_days + val_days + test_days when those are set
    fracs: tuple[float, float, float]  # the single split's train/val/test fractions


def load_frame(ticker: str, d: DataConfig) -> Loaded:
    """Return the serving source's name, the validated price frame and the split fractions."""
    prices = load_prices(ticker, d)
    frame = clean_prices(prices.frame, ticker, d.max_gap_days)
    fracs = (d.train_frac, d.val_frac, d.test_frac)
    if d.val_days is not None and d.test_days is not None:
        frame, fracs = fixed_day_split(frame, d.train_days, d.val_days, d.test_days)
    first, last = frame.index[0].date(), frame.index[-1].date()
    log.info("%s: %d trading days %s .. %s from %s", ticker, len(frame), first, last, prices.source)
    return Loaded(prices.source, frame, fracs)


def plan_units(loaded: Loaded, b: BacktestConfig, window: int, horizon: int) -> list[Unit]:
    """Return the units of work: the one chronological split, or the folds of a walk-forward backtest."""
    n_days = len(loaded.frame)
    if b.kind == "walk_forward":
        units = walk_forward(n_days, b, window, horizon)
        first, last = units[0].bounds, units[-1].bounds
        log.info(
            "walk-forward backtest: %d folds of %d sessions, tests from %s to %s, %s training spans",
            len(units),
            b.test_days,
            loaded.frame.index[first.test_start or 0].date(),
            loaded.frame.index[last.n_days - 1].date(),
            b.window_type,
        )
        return units
    return [Unit(split_bounds(n_days, loaded.fracs, window, horizon))]
