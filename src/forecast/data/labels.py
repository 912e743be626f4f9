"""The cross-sectional target of ``data.target=above_median`` (Fischer & Krauss 2018): 1 when a stock's return on a
day is above the median of that day's returns over the pool, else 0.

The median of a day is taken over the tickers that have a return that day (a close that day and one before it), so
a ticker missing from the day is not in its median; with an even count the median lies between the middle two and
exactly half the day's tickers are above it. A label is the target of the window that ends the session before, so
it reads that day's closes and nothing later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def day_returns(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Return the pool's log returns, days (the union of the tickers' sessions) x tickers; NaN where a ticker has
    no return that day."""
    return pd.DataFrame({t: np.log(f["adj_close"].astype(float)).diff() for t, f in frames.items()})  # type: ignore[attr-defined]


def above_median(frames: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Return, per ticker, its labels aligned with its feature rows (``(n_days - 1,)`` float32: row ``i`` is day
    ``i + 1``, the day of that row's return): 1.0 above the day's median over the pool, else 0.0."""
    returns = day_returns(frames)
    median = returns.median(axis=1, skipna=True)
    above = returns.gt(median, axis=0).astype(np.float32)
    return {t: above[t].reindex(f.index).to_numpy(np.float32, copy=True)[1:] for t, f in frames.items()}
