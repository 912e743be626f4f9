"""yfinance behind one boundary function, with a hard deadline and failures told apart.

Facts this module is built on (yfinance 1.7): ``yf.download`` never raises on a network failure (it
logs and returns an empty frame), ``Ticker.history`` raises curl_cffi errors and yfinance's own
``YFRateLimitError`` / ``YFPricesMissingError``, and on a network that accepts connections but never
answers both block for about 130 s whatever ``timeout=`` says. So each fetch runs in a daemon thread
with our own deadline, and an empty frame counts as a failure.
"""

from __future__ import annotations

import queue
import re
import threading
from typing import Any

import pandas as pd

from forecast.errors import DataError


class FetchError(DataError):
    """A yfinance fetch that produced no usable prices; the message says why (network, deadline, rate limit...)."""


def download(ticker: str, start: str | None, end: str | None, timeout_s: float) -> pd.DataFrame:
    """Return yfinance's raw daily bars for ``ticker`` (unadjusted OHLC plus ``Adj Close``).

    The single place that talks to Yahoo; tests replace it. ``start=None`` asks for the whole history.
    """
    import yfinance as yf

    if hasattr(yf, "config"):  # yfinance >= 1.0: raise instead of logging and returning an empty frame
        yf.config.debug.hide_exceptions = False
    ticker_obj = yf.Ticker(ticker)
    args: dict[str, Any] = {"auto_adjust": False, "actions": False, "timeout": timeout_s}
    if start is None:
        args["period"] = "max"
    else:
        args["start"] = start
    if end is not None:  # yfinance's end is exclusive: add a day so data.end is included
        args["end"] = (pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    return ticker_obj.history(**args)


def yfinance_version() -> str:
    """Return the installed yfinance version, or 'unknown'."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yfinance")
    except PackageNotFoundError:
        return "unknown"


def classify(exc: BaseException) -> str:
    """Return the FetchError kind for an exception raised by yfinance or its HTTP client."""
    name, text = type(exc).__name__.lower(), str(exc).lower()
    if "ratelimit" in name or "too many requests" in text or "429" in text:
        return "rate_limit"
    if "timeout" in name or "timed out" in text:
        return "timeout"
    network_words = ("resolve host", "dns", "connect", "network", "unreachable", "ssl", "curl", "connection")
    if isinstance(exc, OSError) or any(w in text or w in name for w in network_words):
        return "network"
    if "missing" in name or "delisted" in text or "no price data" in text or "not found" in text:
        return "not_found"
    return "error"


def short_reason(exc: BaseException) -> str:
    """Return the gist of an HTTP client error: its first line without curl's boilerplate and URL hints."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = re.sub(r"^Failed to perform, curl: \(\d+\)\s*", "", text)
    text = re.sub(r"\.?\s*See https?://\S+.*$", "", text)
    return text[:160] or type(exc).__name__


MESSAGES = {
    "network": "yfinance unreachable (network error: {reason})",
    "timeout": "yfinance unreachable (no answer within data.timeout_s={timeout:g} s)",
    "rate_limit": "yfinance rate-limited by Yahoo (HTTP 429 Too Many Requests): retry later",
    "not_found": "yfinance has no prices for {ticker}: unknown or delisted ticker ({reason})",
    "error": "yfinance failed ({reason})",
}


def fetch(ticker: str, start: str | None, end: str | None, timeout_s: float) -> pd.DataFrame:
    """Return :func:`download`'s frame, or raise :class:`FetchError` within ``timeout_s`` seconds.

    The download runs in a daemon thread: past the deadline it is abandoned, never waited for.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            box.put(("ok", download(ticker, start, end, timeout_s)))
        except BaseException as exc:  # handed to the caller, who classifies it
            box.put(("error", exc))

    threading.Thread(target=work, name=f"yfinance-{ticker}", daemon=True).start()
    try:
        status, value = box.get(timeout=timeout_s)
    except queue.Empty:
        raise FetchError(MESSAGES["timeout"].format(timeout=timeout_s)) from None
    if status == "error":
        kind = classify(value)
        raise FetchError(MESSAGES[kind].format(reason=short_reason(value), ticker=ticker, timeout=timeout_s))
    if not isinstance(value, pd.DataFrame) or value.empty:
        raise FetchError(MESSAGES["not_found"].format(ticker=ticker, reason="empty answer"))
    return flatten_columns(value)


def flatten_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with single-level column names, whatever yfinance version produced it.

    ``yf.download`` returns (field, ticker) MultiIndex columns in some versions; keep the field level.
    """
    if isinstance(frame.columns, pd.MultiIndex):
        fields = {"open", "high", "low", "close", "adj close", "volume"}
        level = next(
            (
                i
                for i in range(frame.columns.nlevels)
                if {str(v).lower() for v in frame.columns.get_level_values(i)} & fields
            ),
            0,
        )
        frame = frame.copy()
        frame.columns = frame.columns.get_level_values(level)
    return frame
