"""From a ticker and the data settings to the validated price frame, and the units of work over it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
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


def load_frame(ticker: str, d: DataConfig, trim: bool = True) -> Loaded:
    """Return the serving source's name, the validated price frame and the split fractions (``trim=False``: the
    frame is not cut to the fixed ``data.*_days`` spans; a pool draws them on its calendar)."""
    prices = load_prices(ticker, d)
    frame = clean_prices(prices.frame, ticker, d.max_gap_days)
    fracs = (d.train_frac, d.val_frac, d.test_frac)
    if trim and d.val_days is not None and d.test_days is not None:
        frame, fracs = fixed_day_split(frame, d.train_days, d.val_days, d.test_days)
    first, last = frame.index[0].date(), frame.index[-1].date()
    column = price_column(frame)
    log.info(
        "%s: %d trading days %s .. %s from %s, modelling %s",
        ticker,
        len(frame),
        first,
        last,
        prices.source,
        "adj_close" if column == "adj_close" else "close (unadjusted: the data has no adjusted close)",
    )
    if column == "close":
        warn_split_like_moves(frame, ticker)
    return Loaded(prices.source, frame, fracs)


def price_column(frame: pd.DataFrame) -> str:
    """Return the column the modelled prices came from: ``adj_close``, or ``close`` for close-only data."""
    return str(frame.attrs.get("price_column", "adj_close"))


def warn_split_like_moves(frame: pd.DataFrame, ticker: str) -> None:
    """Warn when an unadjusted close moves by a split-like ratio (1/2, 1/3, 1/4, 2, 3, 4 within 2%) in one day."""
    prices = frame["adj_close"].to_numpy()
    ratio = prices[1:] / prices[:-1]
    for k in (2, 3, 4):
        for target, name in ((1 / k, f"{k}:1 split"), (k, f"1:{k} reverse split")):
            hit = np.flatnonzero(np.abs(ratio / target - 1) < 0.02)
            if len(hit):
                day = frame.index[hit[0] + 1].date()
                log.warning(
                    "%s: the unadjusted close moves %.2fx on %s, typical of a %s: use adjusted closes "
                    "(an Adj Close column) or check that day",
                    ticker,
                    ratio[hit[0]],
                    day,
                    name,
                )


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
