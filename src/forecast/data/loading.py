"""From a ticker and the data settings to the validated price frame (see :mod:`forecast.data.panel` for many)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.config.schema import DataConfig
from forecast.data.notices import warn
from forecast.data.sources.load import load_prices
from forecast.data.validation import clean_prices

log = logging.getLogger("forecast")


@dataclass(frozen=True)
class Loaded:
    source: str  # the source that served the prices
    frame: pd.DataFrame  # the validated prices (a panel cuts them to its calendar)

    def describe(self, ticker: str) -> str:
        """Return the line that says what was loaded: days, dates, source and the modelled column."""
        column = price_column(self.frame)
        return (
            f"{ticker}: {len(self.frame)} trading days {self.frame.index[0].date()} .. {self.frame.index[-1].date()} "
            f"from {self.source}, modelling the {price_words(column)}"
            + ("" if column == "adj_close" else " (the data has no adjusted close)")
        )


def load_frame(ticker: str, d: DataConfig) -> Loaded:
    """Return the serving source's name and the validated price frame of ``ticker``; warn about split-like moves
    in close-only data."""
    prices = load_prices(ticker, d)
    frame = clean_prices(prices.frame, ticker, d.max_gap_days)
    if price_column(frame) == "close":
        warn_split_like_moves(frame, ticker)
    return Loaded(prices.source, frame)


def price_column(frame: pd.DataFrame) -> str:
    """Return the column the modelled prices came from: ``adj_close``, or ``close`` for close-only data."""
    return str(frame.attrs.get("price_column", "adj_close"))


def price_words(column: str) -> str:
    """Return how every line and plot names the modelled price: ``adjusted close``, or ``unadjusted close`` for
    close-only data (``column``: :func:`price_column`)."""
    return "unadjusted close" if column == "close" else "adjusted close"


def warn_split_like_moves(frame: pd.DataFrame, ticker: str) -> None:
    """Warn when an unadjusted close moves by a split-like ratio (1/2, 1/3, 1/4, 2, 3, 4 within 2%) in one day."""
    prices = frame["adj_close"].to_numpy()
    ratio = prices[1:] / prices[:-1]
    for k in (2, 3, 4):
        for target, name in ((1 / k, f"{k}:1 split"), (k, f"1:{k} reverse split")):
            hit = np.flatnonzero(np.abs(ratio / target - 1) < 0.02)
            if len(hit):
                day = frame.index[hit[0] + 1].date()
                message = (
                    f"{ticker}: the unadjusted close moves {ratio[hit[0]]:.2f}x on {day}, typical of a {name}: use "
                    "adjusted closes (an Adj Close column) or check that day"
                )
                warn("split-like moves in close-only data", ticker, message, abs(float(np.log(ratio[hit[0]]))))
