"""Universe files: many tickers' daily bars in one compact parquet file in ``data/snapshot/`` (offline, shipped).

A universe file (``scripts/build_sp500_prices.py`` writes ``sp500_2021_04.parquet``) holds the columns ``ticker``,
``date`` (days since 1970-01-01), ``adj_close``, ``high`` and ``low`` (ten-thousandths of a dollar) and ``volume``,
sorted by ticker and date. It is read once per process and kept as arrays (about 50 MB for 504 tickers x 21
years); a ticker's frame is cut from them when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import DataError


@dataclass(frozen=True)
class Universe:
    """A universe file's bars as arrays, and where each ticker's rows are."""

    rows: dict[str, tuple[int, int]]  # ticker -> [first, last) row
    date: np.ndarray  # int32 days since 1970-01-01
    adj_close: np.ndarray  # float32
    high: np.ndarray  # int32 ten-thousandths
    low: np.ndarray  # int32 ten-thousandths
    volume: np.ndarray  # float32

    def frame(self, ticker: str) -> pd.DataFrame:
        """Return ``ticker``'s bars as a price frame (``date`` index; adj_close, high, low, volume as float64)."""
        first, last = self.rows[ticker]
        index = pd.DatetimeIndex(self.date[first:last].astype("datetime64[D]").astype("datetime64[ns]"), name="date")
        frame = pd.DataFrame(
            {
                "high": self.high[first:last] / 1e4,
                "low": self.low[first:last] / 1e4,
                "adj_close": self.adj_close[first:last].astype(np.float64),
                "volume": self.volume[first:last].astype(np.float64),
            },
            index=index,
        )
        frame.attrs["price_column"] = "adj_close"
        return frame


def universe_files(folder: Path) -> list[Path]:
    """Return the universe files in ``folder``, sorted by name."""
    return sorted(folder.glob("*.parquet"))


def read_universe(path: Path) -> Universe:
    """Return the universe file at ``path`` (read once per process while it is unchanged)."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise DataError(f"universe file {path} not found: see data/README.md for how to rebuild it") from None
    return _read(str(path), stamp)


def universe_tickers(path: Path) -> frozenset[str]:
    """Return the tickers of the universe file at ``path`` from its ticker column alone (read once per process
    while it is unchanged): asking whether a ticker is there costs about 50 ms the first time (the shipped file),
    not the 0.45 s of :func:`read_universe`."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise DataError(f"universe file {path} not found: see data/README.md for how to rebuild it") from None
    return _tickers(str(path), stamp)


@lru_cache(maxsize=2)
def _tickers(path: str, stamp: int) -> frozenset[str]:
    import pyarrow.parquet as pq

    try:
        tickers = pq.read_table(path, columns=["ticker"]).column("ticker").combine_chunks()
        names = tickers.dictionary.to_pylist()
        used = np.flatnonzero(np.bincount(tickers.indices.to_numpy(), minlength=len(names)))
    except Exception as exc:  # a truncated or foreign file
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise DataError(f"universe file {path} cannot be read ({reason}): rebuild it (data/README.md)") from None
    return frozenset(str(names[code]) for code in used)


@lru_cache(maxsize=2)
def _read(path: str, stamp: int) -> Universe:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        tickers = table.column("ticker").combine_chunks()  # dictionary-encoded: codes, not 2.4 M strings
        codes, names = tickers.indices.to_numpy(), tickers.dictionary.to_pylist()
        cols = {
            c: np.ascontiguousarray(table.column(c).to_numpy()) for c in ("date", "adj_close", "high", "low", "volume")
        }
    except Exception as exc:  # a truncated or foreign file
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise DataError(f"universe file {path} cannot be read ({reason}): rebuild it (data/README.md)") from None
    del table, tickers
    pa.default_memory_pool().release_unused()  # the decompression buffers
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    rows = {str(names[codes[s]]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}
    return Universe(rows, **cols)
