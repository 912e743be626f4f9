"""Where prices come from: the shipped snapshot (and, with the data-source issue, yfinance, cache, CSV)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecast.data.frames import standardise
from forecast.errors import DataError

log = logging.getLogger(__name__)
REPO_DATA = Path(__file__).resolve().parents[3] / "data"


@dataclass(frozen=True)
class PriceData:
    """Daily bars for one ticker and where they came from."""

    frame: pd.DataFrame  # DatetimeIndex 'date'; adj_close (+ optional open/high/low/close/volume)
    source: str  # snapshot | cache | yfinance | csv


def ticker_filename(ticker: str) -> str:
    """Return the file stem for ``ticker`` (``^GSPC`` -> ``_GSPC``); assumes a validated ticker."""
    return ticker.replace("^", "_")


def snapshot_dir(configured: str | None) -> Path:
    """Return the snapshot folder: ``configured`` or the repo's ``data/snapshot``."""
    return Path(configured) if configured else REPO_DATA / "snapshot"


def snapshot_tickers(folder: Path) -> list[str]:
    """Return the tickers the snapshot folder holds, sorted."""
    return sorted(p.stem.replace("_", "^", 1) if p.stem.startswith("_") else p.stem for p in folder.glob("*.csv"))


def read_csv_prices(path: Path, origin: str) -> pd.DataFrame:
    """Return the standardised frame in CSV ``path``; raise :class:`DataError` if it cannot be read."""
    try:
        raw = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{origin}: file not found: {path}") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{origin}: not a readable CSV file ({reason}): {path}") from None
    if raw.empty:
        raise DataError(f"{origin}: the file has a header but no rows: {path}")
    return standardise(raw, origin)


def load_snapshot(ticker: str, folder: Path) -> PriceData:
    """Return the shipped prices for ``ticker``; raise :class:`DataError` listing what is shipped."""
    path = folder / f"{ticker_filename(ticker)}.csv"
    if not path.exists():
        shipped = ", ".join(snapshot_tickers(folder)) or "none"
        raise DataError(f"ticker {ticker} is not in the shipped snapshot ({shipped}): pick one of those")
    return PriceData(read_csv_prices(path, f"snapshot {path.name}"), "snapshot")


def select_dates(frame: pd.DataFrame, start: str | None, end: str | None, ticker: str) -> pd.DataFrame:
    """Return the rows of ``frame`` between ``start`` and ``end`` inclusive (either may be None)."""
    try:
        lo = pd.Timestamp(start) if start else None
        hi = pd.Timestamp(end) if end else None
    except ValueError as exc:
        raise DataError(f"data.start/data.end must be dates like 2010-01-31 ({exc})") from None
    if lo is not None and hi is not None and lo > hi:
        raise DataError(f"data.start={lo.date()} is after data.end={hi.date()}: swap them")
    picked = frame.loc[lo:hi]
    if picked.empty:
        span = f"{frame.index.min().date()} .. {frame.index.max().date()}" if len(frame) else "no rows"
        raise DataError(f"{ticker}: no trading days between data.start and data.end (data covers {span})")
    return picked


def load_prices(ticker: str, source: str, snapshot: str | None, start: str | None, end: str | None) -> PriceData:
    """Return the price data for ``ticker`` from ``source``, restricted to ``start``..``end``."""
    if source != "snapshot":
        raise DataError(f"data.source={source} is not available yet: use data.source=snapshot")
    data = load_snapshot(ticker, snapshot_dir(snapshot))
    return PriceData(select_dates(data.frame, start, end, ticker), data.source)
