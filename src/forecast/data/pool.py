"""The tickers of a global run on one calendar: loaded, aligned by date, split by date for every ticker alike.

The pool's calendar is the union of its tickers' trading days, up to the last day that a majority of the tickers
reach (a few tickers that run on, like an index in a snapshot of stocks, do not stretch the test span past the
others). The split is drawn on that calendar, by ``data.train_frac/val_frac/test_frac`` or the fixed
``data.*_days``, and each ticker takes the same boundary dates: no ticker trains on a day that is in another
ticker's validation or test span. A ticker takes part when it has a training window before the validation span
and a sample in each of validation and test; otherwise it is left out with one warning line that says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.config import DataConfig
from forecast.data.dataset import SplitBounds, fixed_day_split, split_bounds
from forecast.data.loading import Loaded, load_frame
from forecast.errors import DataError

log = logging.getLogger("forecast")


@dataclass(frozen=True)
class Pool:
    """The tickers that take part, each with its frame (cut to the calendar) and its split on its own days."""

    loaded: dict[str, Loaded]  # ticker -> its source and frame, cut to the pool's calendar
    bounds: dict[str, SplitBounds]  # ticker -> the common split boundaries as that ticker's day indices
    calendar: pd.DatetimeIndex  # the pool's trading days
    boundaries: tuple[pd.Timestamp, pd.Timestamp]  # the first validation day, the first test day
    skipped: dict[str, str]  # ticker -> why it was left out


def load_pool(tickers: list[str], d: DataConfig, window: int, horizon: int) -> Pool:
    """Load every ticker (a ticker without data is left out with a warning), draw the split on the pool's
    calendar and map it onto each ticker's days. Raises :class:`DataError` when no ticker can take part.

    Fixed spans (``data.val_days``/``test_days``) are drawn on the pool's calendar, not on each ticker's days."""
    loaded: dict[str, Loaded] = {}
    skipped: dict[str, str] = {}
    for ticker in tickers:
        try:
            loaded[ticker] = load_frame(ticker, d, trim=False)
        except DataError as exc:
            skipped[ticker] = str(exc)
            log.warning("%s left out of the pool: %s", ticker, exc)
    if not loaded:
        raise DataError(
            f"no ticker of the pool has usable prices ({len(tickers)} tried): {next(iter(skipped.values()))}"
        )
    return align_pool(loaded, skipped, d, window, horizon)


def align_pool(loaded: dict[str, Loaded], skipped: dict[str, str], d: DataConfig, window: int, horizon: int) -> Pool:
    """Return the pool of the ``loaded`` tickers on their calendar (see the module doc); ``skipped`` holds the
    tickers already left out and gains the ones that do not cover the split."""
    calendar = pool_calendar({t: pd.DatetimeIndex(x.frame.index) for t, x in loaded.items()})
    if d.val_days is not None and d.test_days is not None:
        cut = fixed_day_split(pd.DataFrame(index=calendar), d.train_days, d.val_days, d.test_days)[0]
        calendar = pd.DatetimeIndex(cut.index)
        fracs = (
            1 - (d.val_days + d.test_days) / len(calendar),
            d.val_days / len(calendar),
            d.test_days / len(calendar),
        )
    else:
        fracs = (d.train_frac, d.val_frac, d.test_frac)
    common = split_bounds(len(calendar), fracs, window, horizon)
    val_start, test_start = calendar[common.n_train], calendar[common.n_train + common.n_val]
    pool = Pool({}, {}, calendar, (val_start, test_start), skipped)
    for ticker, item in loaded.items():
        frame = item.frame.loc[calendar[0] : calendar[-1]]
        if len(frame) < len(item.frame):
            log.info(
                "%s: %d of its sessions lie outside the pool's calendar (to %s, the last day a majority of the pool "
                "reaches): not used",
                ticker,
                len(item.frame) - len(frame),
                calendar[-1].date(),
            )
        bounds = bounds_on(pd.DatetimeIndex(frame.index), val_start, test_start)
        reason = missing_span(bounds, frame, window, horizon, pool.boundaries)
        if reason:
            skipped[ticker] = reason
            log.warning("%s left out of the pool: %s", ticker, reason)
            continue
        pool.loaded[ticker] = Loaded(item.source, frame, item.fracs)
        pool.bounds[ticker] = bounds
    if not pool.loaded:
        raise DataError(f"no ticker of the pool covers the split: {next(iter(skipped.values()))}")
    log.info(
        "pool of %d tickers (%d left out), calendar %s .. %s: validation from %s, test from %s",
        len(pool.loaded),
        len(skipped),
        calendar[0].date(),
        calendar[-1].date(),
        val_start.date(),
        test_start.date(),
    )
    return pool


def pool_calendar(days: dict[str, pd.DatetimeIndex]) -> pd.DatetimeIndex:
    """Return the union of the tickers' trading days up to the last day that a majority of them reach."""
    ends = sorted((index[-1] for index in days.values()), reverse=True)
    end = ends[len(ends) // 2]  # at least len // 2 + 1 tickers reach it
    union = pd.DatetimeIndex(np.unique(np.concatenate([index.to_numpy() for index in days.values()])))
    return union[union <= end]


def bounds_on(days: pd.DatetimeIndex, val_start: pd.Timestamp, test_start: pd.Timestamp) -> SplitBounds:
    """Return the split of a ticker's ``days`` at the pool's first validation and first test day."""
    n_train = int(days.searchsorted(val_start))
    n_val = int(days.searchsorted(test_start)) - n_train
    return SplitBounds(n_train=n_train, n_val=n_val, n_days=len(days))


def missing_span(
    b: SplitBounds, frame: pd.DataFrame, window: int, horizon: int, boundaries: tuple[pd.Timestamp, pd.Timestamp]
) -> str:
    """Return why a ticker cannot take part (no training window, or no validation or test sample), or ''."""
    first, last = frame.index[0].date(), frame.index[-1].date()
    if b.n_train < window + horizon + 1:
        return (
            f"{b.n_train} trading days before the validation span (from {boundaries[0].date()}; its data starts "
            f"{first}), and one training window needs window + horizon + 1 = {window + horizon + 1}"
        )
    if b.n_val < horizon or b.n_days - b.n_train - b.n_val < horizon:
        return f"its data ends {last}, before the test span (from {boundaries[1].date()}) holds {horizon} of its days"
    return ""
