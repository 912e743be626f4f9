"""The tickers of a run on one calendar: a panel of one ticker or many, loaded and aligned by date.

The calendar is the union of the tickers' trading days, up to the last day that a majority of them reach (a few
tickers that run on, like an index in a snapshot of stocks, do not stretch the test span past the others). Fixed
spans (``data.val_days`` and ``data.test_days``) cut it to its last ``train_days + val_days + test_days``
sessions. The units of work (:mod:`forecast.data.folds`) are drawn on the calendar and every ticker takes the
same boundary dates, so no ticker trains on a day that is in another ticker's validation or test span. One ticker
is a panel of one: its calendar is its own days. The panel's samples are every ticker's windows over one row block
(:func:`training_sets`), each ticker scaled on its own training span.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.config.schema import DataConfig
from forecast.data.dataset import WindowedData
from forecast.data.labels import above_median
from forecast.data.loading import Loaded, load_frame, price_column
from forecast.data.notices import warn
from forecast.data.splits import fixed_day_split
from forecast.data.windows import Windows
from forecast.errors import DataError

log = logging.getLogger("forecast")
PROGRESS_FROM = 20  # tickers from which loading shows a progress bar on a terminal


@dataclass(frozen=True)
class Panel:
    """The tickers that take part, each with its source and frame (cut to the calendar), in the order given."""

    loaded: dict[str, Loaded]
    calendar: pd.DatetimeIndex  # the panel's trading days
    fracs: tuple[float, float, float]  # the single split's train/val/test fractions of the calendar
    skipped: dict[str, str]  # ticker -> why it was left out

    @property
    def tickers(self) -> list[str]:
        return list(self.loaded)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {t: x.frame for t, x in self.loaded.items()}

    @cached_property
    def above_median(self) -> dict[str, np.ndarray]:
        """Each ticker's labels for ``data.target=above_median`` (:mod:`forecast.data.labels`), once a run."""
        return above_median(self.frames())

    def describe(self) -> dict[str, Any]:
        """Return the run record's fields on the data: sources, the modelled column (of the first ticker), dates
        and sessions."""
        frames = list(self.frames().values())
        return {
            "data_source": ",".join(sorted({x.source for x in self.loaded.values()})),
            "price_column": price_column(frames[0]),
            "first_date": str(min(f.index[0] for f in frames).date()),
            "last_date": str(self.calendar[-1].date()),
            "n_days": int(sum(len(f) for f in frames)),
        }


def load_panel(tickers: list[str], d: DataConfig) -> Panel:
    """Load every ticker and align them on one calendar. A single ticker's error is raised as it is; in a pool a
    ticker without data is left out with a warning, and :class:`DataError` is raised when none has data."""
    if len(tickers) == 1:
        return align({tickers[0]: load_frame(tickers[0], d)}, {}, d)
    from tqdm import tqdm

    loaded: dict[str, Loaded] = {}
    skipped: dict[str, str] = {}
    show = len(tickers) >= PROGRESS_FROM and sys.stderr.isatty()
    for ticker in tqdm(tickers, desc="loading", unit="ticker", leave=False, disable=not show):
        try:
            loaded[ticker] = load_frame(ticker, d)
        except DataError as exc:
            skipped[ticker] = str(exc)
            warn("left out of the pool", ticker, f"{ticker} left out of the pool: {exc}")
    if not loaded:
        raise DataError(
            f"no ticker of the pool has usable prices ({len(tickers)} tried): {next(iter(skipped.values()))}"
        )
    return align(loaded, skipped, d)


def align(loaded: dict[str, Loaded], skipped: dict[str, str], d: DataConfig) -> Panel:
    """Return the panel of the ``loaded`` tickers on their calendar (see the module doc)."""
    calendar = pool_calendar({t: pd.DatetimeIndex(x.frame.index) for t, x in loaded.items()})
    fracs = (d.train_frac, d.val_frac, d.test_frac)
    if d.val_days is not None and d.test_days is not None:
        cut, fracs = fixed_day_split(pd.DataFrame(index=calendar), d.train_days, d.val_days, d.test_days)
        calendar = pd.DatetimeIndex(cut.index)
    aligned, outside = {}, 0
    each = logging.INFO if len(loaded) < PROGRESS_FROM else logging.DEBUG  # a large pool: summary lines only
    for ticker, item in loaded.items():
        frame = item.frame.loc[calendar[0] : calendar[-1]]
        if len(frame) < len(item.frame) and len(loaded) > 1:
            outside += 1
            unused, first, last = len(item.frame) - len(frame), calendar[0].date(), calendar[-1].date()
            message = "%s: %d of its sessions lie outside the pool's calendar (%s .. %s): not used"
            log.log(each, message, ticker, unused, first, last)
        aligned[ticker] = Loaded(item.source, frame)
        log.log(logging.INFO if len(loaded) == 1 else logging.DEBUG, "%s", aligned[ticker].describe(ticker))
    if len(loaded) > 1:
        counts = pd.Series([x.source for x in aligned.values()]).value_counts()
        sources = ", ".join(f"{n} from {s}" for s, n in counts.items())
        more = f"; {outside} with sessions outside it, not used" if outside and each == logging.DEBUG else ""
        log.info(
            "loaded %d tickers (%s), calendar %s .. %s%s",
            len(aligned),
            sources,
            calendar[0].date(),
            calendar[-1].date(),
            more,
        )
    return Panel(aligned, calendar, fracs, dict(skipped))


def pool_calendar(days: dict[str, pd.DatetimeIndex]) -> pd.DatetimeIndex:
    """Return the union of the tickers' trading days up to the last day that a majority of them reach."""
    ends = sorted((index[-1] for index in days.values()), reverse=True)
    end = ends[len(ends) // 2]  # at least len // 2 + 1 tickers reach it
    union = pd.DatetimeIndex(np.unique(np.concatenate([index.to_numpy() for index in days.values()])))
    return union[union <= end]


def with_index(data: WindowedData, index: int) -> WindowedData:
    """Return ``data`` with a constant last column ``index`` in its rows (read by the model's ticker embedding)."""
    column = torch.full((len(data.rows), 1), float(index))
    return replace(data, rows=torch.cat([data.rows, column], dim=1))


def training_sets(datas: list[WindowedData], steps: int, sampling: str) -> tuple[Windows, Windows]:
    """Return the pooled (train, val) samples: every ticker's windows over one row block. With
    ``sampling=tickers`` and several tickers, every ticker is drawn equally often (weights 1 / its windows)."""
    train_set = Windows.concat([d.windows("train", steps) for d in datas])
    val_set = Windows.concat([d.windows("val", steps) for d in datas])
    if sampling == "tickers" and len(datas) > 1:
        counts = [int((d.split == 0).sum()) for d in datas]
        weights = torch.cat([torch.full((n,), 1.0 / n, dtype=torch.float64) for n in counts])
        train_set = replace(train_set, weights=weights)
    return train_set, val_set
