"""Fill the price cache for a universe: batches of concurrent yfinance requests, politely paced, resumable.

Each batch fetches up to ``batch`` tickers at once (each with the data.timeout_s deadline of ``yahoo.fetch``) and
the next batch waits ``pause`` seconds. A rate-limited ticker is retried up to ``retries`` times, after a back-off
that doubles (``10 x pause``, then twice that...) up to a minute. Every ticker that arrives is written to the cache
at once and atomically, so an interrupted fetch loses nothing: the next one skips every ticker whose cache is fresh
(it covers the requested range; for "up to the latest close", fetched today).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from forecast.config.schema import DataConfig
from forecast.data.frames import normalise_columns
from forecast.data.sources import yahoo
from forecast.data.sources.cache import cache_path, read_cache, write_cache
from forecast.data.sources.load import cache_folder, ticker_filename
from forecast.errors import DataError

log = logging.getLogger("forecast")
sleep: Callable[[float], None] = time.sleep  # tests replace it


@dataclass
class FetchReport:
    """What a fetch did: tickers fetched now, already fresh in the cache, and failed (with the reason)."""

    fetched: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        return not self.failed and not self.interrupted


def is_fresh(ticker: str, d: DataConfig) -> bool:
    """Return whether the cache already answers ``ticker`` for ``data.start``..``data.end`` (a corrupt file is
    discarded with a warning by the cache reader, and counts as missing)."""
    entry = read_cache(cache_path(cache_folder(d), ticker_filename(ticker)))
    return entry is not None and entry.covers(d.start, d.end)


def fetch_one(ticker: str, d: DataConfig) -> str:
    """Fetch ``ticker`` into the cache; return '' on success or the one-line reason it failed."""
    try:
        frame = normalise_columns(yahoo.fetch(ticker, d.start, d.end, d.timeout_s), f"yfinance {ticker}")
        write_cache(
            cache_path(cache_folder(d), ticker_filename(ticker)), frame, d.start, d.end, yahoo.yfinance_version()
        )
    except DataError as exc:
        return str(exc)
    except OSError as exc:
        return f"could not write the cache: {exc}"
    return ""


def fetch_universe(
    tickers: list[str], d: DataConfig, batch: int = 8, pause: float = 1.0, retries: int = 2
) -> FetchReport:
    """Fetch every ticker of ``tickers`` that the cache does not hold fresh; return the report."""
    from tqdm import tqdm

    report = FetchReport()
    todo = [t for t in tickers if d.refresh or not is_fresh(t, d)]
    queued = set(todo)
    report.fresh = [t for t in tickers if t not in queued]
    bar = tqdm(total=len(todo), desc="fetch", unit="ticker", disable=not sys.stderr.isatty())
    try:
        for first in range(0, len(todo), batch):
            if first:
                sleep(pause)
            pending = todo[first : first + batch]
            for attempt in range(retries + 1):
                reasons = fetch_batch(pending, d)
                for ticker, reason in reasons.items():
                    if not reason:
                        report.fetched.append(ticker)
                        bar.update(1)
                limited = [t for t, r in reasons.items() if "rate-limited" in r]
                for ticker, reason in reasons.items():
                    if reason and (ticker not in limited or attempt == retries):
                        report.failed[ticker] = reason
                        bar.update(1)
                if not limited or attempt == retries:
                    break
                wait = backoff(pause, attempt)
                log.warning("rate-limited on %d ticker(s): retrying them in %.0f s", len(limited), wait)
                sleep(wait)
                pending = limited
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        bar.close()
    return report


def fetch_batch(pending: list[str], d: DataConfig) -> dict[str, str]:
    """Fetch ``pending`` at once; return each ticker's reason ('' when it arrived). An interruption does not wait
    for the downloads still hanging (up to data.timeout_s each): what arrived is already in the cache."""
    pool = ThreadPoolExecutor(max_workers=len(pending))
    try:
        return dict(zip(pending, pool.map(lambda t: fetch_one(t, d), pending), strict=True))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


MAX_BACKOFF = 60.0  # seconds: a back-off doubles from 10 x pause up to this


def backoff(pause: float, attempt: int) -> float:
    """Return the wait before retry ``attempt + 1`` of a rate-limited batch: 10 x pause, doubling, capped."""
    return min(10 * pause * 2**attempt, MAX_BACKOFF)


def total_backoff(pause: float, retries: int) -> float:
    """Return the longest a batch can wait on rate limits in all (said before the fetch starts)."""
    return sum(backoff(pause, k) for k in range(retries))


def report_lines(report: FetchReport, total: int, folder: str) -> list[str]:
    """Return the fetch's closing lines: counts, then one line per failed ticker with its reason."""
    held = len(report.fetched) + len(report.fresh)
    head = (
        f"{held} of {total} tickers in {folder} ({len(report.fetched)} fetched now, {len(report.fresh)} already "
        "fresh in the cache)"
    )
    if report.interrupted:
        head = f"interrupted: {head}; run the same command again to resume"
    if not report.failed:
        return [head]
    lines = [f"{head}; {len(report.failed)} failed:", f"  {'ticker':<8} reason"]
    return lines + [f"  {ticker:<8} {reason}" for ticker, reason in sorted(report.failed.items())]
