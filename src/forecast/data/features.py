"""Feature rows of a price frame, and the checks that keep a bad value from reaching the model unnoticed."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from forecast.data.notices import warn
from forecast.errors import DataError

log = logging.getLogger("forecast")
EXTREME_SD = 10.0  # a scaled feature value farther than this from the training mean gets a warning naming the day


def volume(frame: pd.DataFrame, ticker: str = "") -> np.ndarray:
    """Return the volume column with zero or missing volumes treated as missing: the previous day's carried forward.

    A zero volume is a data gap, not a value: log(1 + 0) against a day of millions would be a move of about 100
    training standard deviations. Warns in one line naming the first such day.
    """
    raw = frame["volume"].to_numpy(np.float64)
    bad = ~(raw > 0)
    if not bad.any():
        return raw
    first = frame.index[int(bad.argmax())].date()
    message = (
        f"{int(bad.sum())} day(s) with zero or missing volume (first {first}) treated as missing: the previous "
        "day's volume is carried forward for log_volume"
    )
    warn("zero or missing volumes", ticker, f"{ticker}: {message}" if ticker else message, float(bad.sum()))
    return pd.Series(np.where(bad, np.nan, raw)).ffill().bfill().to_numpy()


def warn_extremes(scaled: np.ndarray, days: pd.DatetimeIndex, features: tuple[str, ...], ticker: str = "") -> None:
    """Warn, once per feature, when a scaled value lies beyond ``EXTREME_SD`` training standard deviations.

    ``scaled`` holds the rows after the training span (``(n, features)``), ``days`` their dates.
    """
    for k, name in enumerate(features):
        far = np.abs(scaled[:, k]) > EXTREME_SD
        if far.any():
            i = int(np.argmax(np.abs(scaled[:, k])))
            message = (
                f"{name} on {days[i].date()} is {scaled[i, k]:.0f} training standard deviations from its training "
                f"mean ({int(far.sum())} day(s) beyond {EXTREME_SD:g}): check the data of that day"
            )
            severity = float(abs(scaled[i, k]))
            warn("extreme feature values", ticker, f"{ticker}: {message}" if ticker else message, severity)


def feature_rows(frame: pd.DataFrame, features: tuple[str, ...], ticker: str = "") -> np.ndarray:
    """Return ``(n_days, n_features)`` float64; row 0 is NaN (no previous day). Raises on missing columns."""
    price = frame["adj_close"].to_numpy(dtype=np.float64)
    columns = []
    for name in features:
        if name == "log_return":
            col = np.diff(np.log(price), prepend=np.nan)
        elif name == "hl_range":
            if not {"high", "low"} <= set(frame.columns):
                raise DataError("data.features has hl_range but the data has no high/low columns: drop hl_range")
            col = np.log(frame["high"].to_numpy(np.float64) / frame["low"].to_numpy(np.float64))
            col[0] = np.nan
        elif name == "log_volume":
            if "volume" not in frame.columns:
                raise DataError("data.features has log_volume but the data has no volume column: drop log_volume")
            col = np.diff(np.log1p(volume(frame, ticker)), prepend=np.nan)
        else:  # validated in config.validate
            raise DataError(f"unknown feature {name}")
        columns.append(col)
    rows = np.stack(columns, axis=1)
    if not np.isfinite(rows[1:]).all():
        raise DataError(f"features {list(features)} have non-finite values (zero high/low or volume?)")
    return rows
