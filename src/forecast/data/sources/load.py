"""Where prices come from: yfinance (with its cache), the cache alone, a CSV file, or the shipped snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecast.config.paths import CACHE, REPO_DATA
from forecast.config.schema import DataConfig
from forecast.data.frames import normalise_columns
from forecast.data.notices import tell, warn
from forecast.data.sources.cache import cache_path, read_cache, write_cache
from forecast.data.sources.folder import csv_in
from forecast.data.sources.shipped import read_universe, universe_files, universe_tickers
from forecast.errors import DataError

log = logging.getLogger(__name__)


class NotCached(DataError):
    """The cache holds nothing for a ticker: an absence, not a fault (``auto`` goes on to the snapshot quietly)."""


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
    """Return the column-normalised frame in CSV ``path``; raise :class:`DataError` if it cannot be read."""
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a fifo, socket or device)"
        raise DataError(f"{origin}: {path} is {kind}: point data.path at a CSV file")
    try:
        raw = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{origin}: file not found: {path}") from None
    except PermissionError:
        raise DataError(f"{origin}: permission denied reading {path}: make it readable") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{origin}: not a readable CSV file ({reason}): {path}") from None
    if raw.empty:
        raise DataError(f"{origin}: the file has a header but no rows: {path}")
    return normalise_columns(raw, origin)


def load_snapshot(ticker: str, folder: Path, file: str | None = None) -> PriceData:
    """Return the shipped prices of ``ticker``: from the universe file ``file`` in ``folder`` when given, else from
    whichever shipped source of it runs latest (the universe file to 2021-04-21 over the 2000-2013 ``AAPL.csv``; the
    index CSV for ``^GSPC``; a tie goes to the CSV). Raises :class:`DataError` naming what is shipped.
    """
    if file:
        universe = read_universe(folder / file)
        if ticker not in universe.rows:
            raise DataError(
                f"ticker {ticker} is not in the shipped universe {file} ({len(universe.rows)} tickers): pick one of "
                "conf/universe/ of that name, or drop data.snapshot_file"
            )
        return PriceData(universe.frame(ticker), "snapshot")
    path = folder / f"{ticker_filename(ticker)}.csv"
    held = [read_csv_prices(path, f"snapshot {path.name}")] if path.exists() else []
    for candidate in universe_files(folder):  # the whole file is read only where it holds the ticker
        if ticker in universe_tickers(candidate):
            held.append(read_universe(candidate).frame(ticker))
    if held:
        return PriceData(max(held, key=lambda frame: frame.index[-1]), "snapshot")  # max keeps the first of a tie
    shipped = ", ".join(snapshot_tickers(folder)) or "none"
    more = "".join(f"; {len(universe_tickers(f))} tickers in {f.name}" for f in universe_files(folder))
    raise DataError(f"ticker {ticker} is not in the shipped snapshot ({shipped}{more}): pick one of those")


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


def cache_folder(d: DataConfig) -> Path:
    return Path(d.cache_dir) if d.cache_dir else CACHE


def from_yfinance(ticker: str, d: DataConfig) -> PriceData:
    """Return prices from the cache when it covers the request (unless ``data.refresh``), else from Yahoo.

    A successful fetch is written to the cache atomically. Raises :class:`DataError` in one line.
    """
    from forecast.data.sources import yahoo

    if d.offline:
        raise DataError("yfinance skipped (data.offline=true)")
    path = cache_path(cache_folder(d), ticker_filename(ticker))
    entry = None if d.refresh else read_cache(path)
    if entry is not None and entry.covers(d.start, d.end):
        return PriceData(entry.frame, "cache")
    frame = normalise_columns(yahoo.fetch(ticker, d.start, d.end, d.timeout_s), f"yfinance {ticker}")
    try:
        write_cache(path, frame, d.start, d.end, yahoo.yfinance_version())
    except OSError as exc:  # a read-only cache folder, or a cache path that is a file: run on, uncached
        log.warning("could not write the cache (%s: %s): the run goes on without caching", path.parent, exc.strerror)
    return PriceData(frame, "yfinance")


def from_cache(ticker: str, d: DataConfig) -> PriceData:
    """Return whatever the cache holds for ``ticker``, however old; raise :class:`DataError` if nothing."""
    folder = cache_folder(d)
    entry = read_cache(cache_path(folder, ticker_filename(ticker)))
    if entry is None:
        raise NotCached(f"no cached prices for {ticker} in {folder}")
    return PriceData(entry.frame, "cache")


def from_csv(ticker: str, d: DataConfig) -> PriceData:
    """Return the prices in the CSV file ``data.path``, or in ``<TICKER>.csv`` when ``data.path`` is a folder."""
    if not d.path:
        raise DataError("data.source=csv needs a file or a folder: add data.path=<file.csv or folder>")
    path = Path(d.path).expanduser()
    try:
        path.stat()
    except FileNotFoundError:
        pass  # said in the reader's own words
    except OSError as exc:  # a symbolic-link loop, a path through a file, no permission
        raise DataError(
            f"data.path={d.path} cannot be opened ({exc.strerror}): give a CSV file, or a folder of <TICKER>.csv files"
        ) from None
    if path.is_dir():
        path = csv_in(path, ticker)
    return PriceData(read_csv_prices(path, f"CSV file {path.name}"), "csv")


def from_snapshot(ticker: str, d: DataConfig) -> PriceData:
    """Return the shipped prices for ``ticker`` (from ``data.snapshot_file`` when it names a universe file)."""
    return load_snapshot(ticker, snapshot_dir(d.snapshot_dir), d.snapshot_file)


LOADERS = {"yfinance": from_yfinance, "cache": from_cache, "csv": from_csv, "snapshot": from_snapshot}
AUTO_ORDER = ("yfinance", "cache", "snapshot")


def said(ticker: str, d: DataConfig, source: str, skipped: dict[str, DataError]) -> None:
    """Say in one line which source served ``ticker`` and why the ones before it did not: plain information when
    they stood aside as asked (offline, and a cache without the ticker), a warning for a real fall-back (Yahoo
    unreachable)."""
    aside = all(name == "yfinance" or isinstance(why, NotCached) for name, why in skipped.items())
    if d.offline and aside and skipped:
        offline = f"data.offline=true{', nothing cached' if 'cache' in skipped else ''}"
        tell(
            f"the {source} served (data.offline=true)",
            ticker,
            f"data for {ticker}: the {source} served the run ({offline})",
        )
    elif skipped:
        reason = f"data for {ticker}: {'; '.join(map(str, skipped.values()))}; the {source} served the run"
        warn(f"sources that did not serve (the {source} did)", ticker, reason)
    else:
        log.info("data for %s: the %s served the run", ticker, source)


def load_prices(ticker: str, d: DataConfig) -> PriceData:
    """Return prices for ``ticker`` from ``data.source``, restricted to ``data.start``..``data.end``.

    ``auto`` tries yfinance, then the cache, then the snapshot, and logs one line saying which source
    served the run and why the ones before it did not. Raises :class:`DataError` with one line.
    """
    source = d.source.value
    if source == "yfinance" and d.offline:
        raise DataError(
            "data.source=yfinance needs the network but data.offline=true (or FORECAST_OFFLINE=1 is set): "
            "use data.source=auto, cache or snapshot"
        )
    if source == "yfinance":
        try:
            data = LOADERS[source](ticker, d)
        except DataError as exc:
            hint = "check the network, or use data.source=auto to fall back to cache and snapshot"
            raise DataError(f"{exc}: {hint}") from None
    elif source != "auto":
        data = LOADERS[source](ticker, d)
    else:
        skipped: dict[str, DataError] = {}
        for name in AUTO_ORDER:
            try:
                data = LOADERS[name](ticker, d)
                break
            except DataError as exc:
                skipped[name] = exc
        else:
            raise DataError(f"no source has prices for {ticker}: {'; '.join(map(str, skipped.values()))}")
        said(ticker, d, data.source, skipped)
    return PriceData(select_dates(data.frame, d.start, d.end, ticker), data.source)
