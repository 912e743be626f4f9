"""Checks every price frame passes before it reaches the model, whatever its source."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.errors import DataError


def clean_prices(frame: pd.DataFrame, ticker: str, max_gap_days: int) -> pd.DataFrame:
    """Return ``frame`` checked: DatetimeIndex sorted and unique, ``adj_close`` finite and positive.

    Assumes ``frame`` is indexed by date and has an ``adj_close`` column (other OHLCV columns optional).
    Isolated missing prices are forward-filled when the surrounding calendar gap is at most
    ``max_gap_days``; a longer gap between consecutive rows raises :class:`DataError` naming the dates.
    """
    if frame.empty:
        raise DataError(f"{ticker}: no price rows: check the ticker and data.start/data.end")
    if "adj_close" not in frame.columns:
        raise DataError(f"{ticker}: no close or adjusted close column (columns: {list(frame.columns)})")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{ticker}: dates are not parsed as dates")
    if frame.index.isna().any():
        raise DataError(f"{ticker}: {int(np.sum(frame.index.isna()))} rows have missing or unparsable dates")
    frame = frame.sort_index()
    dupes = frame.index[frame.index.duplicated()]
    if len(dupes):
        raise DataError(f"{ticker}: duplicated dates, first {dupes[0].date()}: remove the duplicate rows")
    prices = frame["adj_close"].astype("float64")
    bad = prices.notna() & (~np.isfinite(prices) | (prices <= 0))
    if bad.any():
        first = frame.index[bad.to_numpy()][0].date()
        raise DataError(f"{ticker}: {int(bad.sum())} prices are zero, negative or infinite, first on {first}")
    if prices.isna().all():
        raise DataError(f"{ticker}: every price is missing")
    if prices.nunique() < 2:
        raise DataError(
            f"{ticker}: the price never changes ({prices.dropna().iloc[0]:g} on all {int(prices.notna().sum())} days): "
            "a constant series has no moves to forecast; check the data"
        )
    frame = frame.loc[prices.first_valid_index() :]
    present = frame.index[frame["adj_close"].notna().to_numpy()]
    gaps = np.diff(present.to_numpy()).astype("timedelta64[D]").astype(np.int64)
    if len(gaps) and gaps.max() > max_gap_days:
        pos = int(gaps.argmax())
        raise DataError(
            f"{ticker}: {int(gaps[pos])}-day gap in prices from {present[pos].date()} to {present[pos + 1].date()} "
            f"(more than data.max_gap_days={max_gap_days}): "
            "pick dates after it with data.start or raise data.max_gap_days"
        )
    return frame.ffill()
