"""From a ticker and the data settings to window tensors: load, validate, split, scale, window."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from forecast.config import DataConfig
from forecast.data.dataset import WindowedData, build_windows, fixed_day_split
from forecast.data.sources import load_prices
from forecast.data.validation import clean_prices

log = logging.getLogger("forecast")


@dataclass(frozen=True)
class Loaded:
    source: str  # the source that served the prices
    frame: pd.DataFrame  # the validated prices the windows were built from
    data: WindowedData


def load_windows(ticker: str, d: DataConfig, window: int, horizon: int) -> Loaded:
    """Return the serving source's name, the validated price frame and its window tensors."""
    prices = load_prices(ticker, d)
    frame = clean_prices(prices.frame, ticker, d.max_gap_days)
    fracs = (d.train_frac, d.val_frac, d.test_frac)
    if d.val_days is not None and d.test_days is not None:
        frame, fracs = fixed_day_split(frame, d.train_days, d.val_days, d.test_days)
    data = build_windows(frame, window, horizon, fracs, tuple(d.features))
    counts = data.counts()
    log.info(
        "%s: %d trading days %s .. %s from %s; %d/%d/%d train/val/test windows",
        *(ticker, len(frame), frame.index[0].date(), frame.index[-1].date(), prices.source),
        *(counts["train"], counts["val"], counts["test"]),
    )
    return Loaded(prices.source, frame, data)
