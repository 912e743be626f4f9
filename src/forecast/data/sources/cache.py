"""The on-disk price cache: one parquet file per ticker, written atomically, with its fetch record."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecast.store.atomic import write_with

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheEntry:
    frame: pd.DataFrame
    fetched_at: pd.Timestamp  # UTC
    start: str | None  # the range asked for (None = whole history / up to the latest close)
    end: str | None
    yfinance_version: str

    def covers(self, start: str | None, end: str | None, today: dt.date | None = None) -> bool:
        """Return whether this entry answers a request for ``start``..``end`` without a refetch.

        A request with ``end=None`` (up to the latest close) is covered only by an entry fetched today.
        """
        today = today or dt.datetime.now(dt.UTC).date()
        if start is not None and self.start is not None and pd.Timestamp(start) < pd.Timestamp(self.start):
            return False
        if start is None and self.start is not None:
            return False
        if end is None:
            return self.end is None and self.fetched_at.date() >= today
        return self.end is None or pd.Timestamp(end) <= pd.Timestamp(self.end)


def cache_path(folder: Path, ticker_stem: str) -> Path:
    """Return the cache file of a ticker (``ticker_stem`` from :func:`sources.ticker_filename`)."""
    return folder / f"{ticker_stem}.parquet"


def write_cache(path: Path, frame: pd.DataFrame, start: str | None, end: str | None, version: str) -> None:
    """Atomically write ``frame`` with its fetch record (time, requested range, yfinance version)."""
    out = frame.copy()
    out.attrs = {
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(),
        "start": start,
        "end": end,
        "yfinance_version": version,
    }
    write_with(path, lambda tmp: out.to_parquet(tmp))


def read_cache(path: Path) -> CacheEntry | None:
    """Return the cached entry at ``path``; None when absent. A corrupt file is deleted with a warning; where it
    cannot be deleted (a read-only cache, a folder of that name) it is left and said so: discarding a bad cache
    entry never fails the run, the next source serves it."""
    if not path.exists():
        return None
    try:
        frame = pd.read_parquet(path)
        meta = frame.attrs
        entry = CacheEntry(
            frame=frame,
            fetched_at=pd.Timestamp(meta["fetched_at"]),
            start=meta.get("start"),
            end=meta.get("end"),
            yfinance_version=str(meta.get("yfinance_version", "unknown")),
        )
        if "adj_close" not in frame.columns or not isinstance(frame.index, pd.DatetimeIndex):
            raise ValueError("missing adj_close column or date index")
    except Exception as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        try:
            path.unlink(missing_ok=True)
        except OSError as gone:
            log.warning(
                "cache file %s is corrupt (%s) and cannot be removed (%s): ignored",
                path.name,
                reason,
                gone.strerror or type(gone).__name__,
            )
            return None
        log.warning("cache file %s is corrupt (%s): discarded", path.name, reason)
        return None
    return entry
