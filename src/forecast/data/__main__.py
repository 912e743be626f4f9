"""``python -m forecast.data fetch universe=sp500_2021_08``: fill the price cache for a universe (or tickers=A,B).

Options (``key=value``): ``universe=<conf/universe name>`` or ``tickers=AAPL,MSFT``; ``start=`` / ``end=`` (dates;
default the whole history up to the latest close); ``batch=8`` (tickers fetched at once); ``pause=1.0`` (seconds
between batches); ``retries=2`` (for rate-limited tickers); ``refresh=true`` (refetch fresh ones too);
``cache_dir=`` (default data/cache); ``timeout_s=20`` (deadline per ticker).
Exit codes: 0 every ticker is in the cache, 3 some failed (listed), 2 bad usage, 130 interrupted (run again to
resume: fresh tickers are skipped).
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from typing import NoReturn

from forecast.config import paths
from forecast.config.schema import DataConfig
from forecast.errors import ConfigError

CONF = paths.CONF / "universe"
OPTIONS = ("universe", "tickers", "start", "end", "batch", "pause", "retries", "refresh", "cache_dir", "timeout_s")


def universe_tickers(name: str) -> list[str]:
    """Return the ``tickers`` list of ``conf/universe/<name>.yaml``."""
    from omegaconf import OmegaConf

    path = CONF / f"{name}.yaml"
    names = ", ".join(sorted(p.stem for p in CONF.glob("*.yaml")))
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise ConfigError(f"universe={name} is not a universe name (a file of conf/universe/): choose one of {names}")
    if not path.is_file():
        raise ConfigError(f"universe={name} is unknown: choose one of {names}")
    loaded = OmegaConf.to_container(OmegaConf.load(path))
    return [str(t) for t in (loaded.get("tickers") or [])] if isinstance(loaded, dict) else []


def parse(args: list[str]) -> tuple[list[str], DataConfig, dict[str, float]]:
    """Return the tickers, the data settings and the pacing (batch, pause, retries) from ``fetch key=value...``."""
    from forecast.config.tickers import normalise_ticker

    if not args or args[0] != "fetch":
        raise ConfigError("usage: python -m forecast.data fetch universe=<name> | tickers=AAPL,MSFT [key=value ...]")
    opts = {key: value for key, _, value in (a.partition("=") for a in args[1:])}
    unknown = [k for k in opts if k not in OPTIONS]
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}: use {', '.join(OPTIONS)}")
    if ("universe" in opts) == ("tickers" in opts):
        raise ConfigError("name what to fetch: universe=<name> (conf/universe/) or tickers=AAPL,MSFT (one of them)")
    names = universe_tickers(opts["universe"]) if "universe" in opts else opts["tickers"].split(",")
    tickers = [normalise_ticker(t) for t in names if t.strip()]
    if not tickers:
        raise ConfigError("the universe or tickers= list is empty: name at least one ticker")
    d = DataConfig(start=date(opts, "start"), end=date(opts, "end"), cache_dir=opts.get("cache_dir"))
    if d.start and d.end and d.end < d.start:
        raise ConfigError(f"end={d.end} is before start={d.start}: swap them")
    d.refresh = opts.get("refresh", "false").lower() in ("1", "true", "yes")
    d.timeout_s = number(opts, "timeout_s", d.timeout_s)
    pacing = {key: number(opts, key, default) for key, default in (("batch", 8), ("pause", 1.0), ("retries", 2))}
    return tickers, d, pacing


# each numeric option's bounds, whether it is whole, and its rule as its refusal says it, with an example
LIMITS = {
    "batch": (1, 64, True, "batch must be a whole number from 1 to 64 tickers at a time", "e.g. batch=8"),
    "pause": (0, 600, False, "pause must be a number of seconds from 0 to 600", "e.g. pause=1"),
    "retries": (0, 10, True, "retries must be a whole number from 0 to 10", "e.g. retries=2"),
    "timeout_s": (
        1e-3,
        600,
        False,
        "timeout_s must be a number of seconds above 0 and at most 600",
        "e.g. timeout_s=20",
    ),
}


def number(opts: dict[str, str], key: str, default: float) -> float:
    """Return option ``key`` as a finite number within its :data:`LIMITS` (``default`` when absent); else one line."""
    text = opts.get(key)
    if text is None:
        return float(default)
    low, high, whole, rule, example = LIMITS[key]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high and (not whole or value.is_integer())):
        raise ConfigError(f"{rule} (got {text}): {example}")
    return value


def date(opts: dict[str, str], key: str) -> str | None:
    """Return option ``key`` as a ``YYYY-MM-DD`` date (or None when absent); refuse anything else in one line."""
    import datetime as dt

    text = opts.get(key) or None
    if text is not None:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"{key}={text} is not a date (YYYY-MM-DD): e.g. {key}=2010-01-04") from None
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the fetch; print its closing table; return the exit code (see the module doc)."""
    from forecast.data.sources.fetch import fetch_universe, report_lines, total_backoff
    from forecast.data.sources.load import cache_folder

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        tickers, d, pacing = parse(list(sys.argv[1:] if argv is None else argv))
        if os.environ.get("FORECAST_OFFLINE", "").lower() in ("1", "true", "yes"):
            raise ConfigError("fetch needs the network, but FORECAST_OFFLINE is set: unset it")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    retries = int(pacing["retries"])
    print(
        f"fetching {len(tickers)} tickers into {cache_folder(d)} ({int(pacing['batch'])} at a time); a rate-limited "
        f"batch is retried up to {retries} times, waiting at most {total_backoff(pacing['pause'], retries):.0f} s",
        flush=True,
    )
    report = fetch_universe(tickers, d, int(pacing["batch"]), pacing["pause"], int(pacing["retries"]))
    for line in report_lines(report, len(tickers), str(cache_folder(d))):
        print(line)
    return 130 if report.interrupted else 0 if report.complete else 3


def run(argv: list[str] | None = None) -> NoReturn:
    """The command: SIGTERM (what ``kill`` and schedulers send) interrupts like Ctrl-C, and the process leaves at
    once with its code, without waiting for downloads still hanging in their threads (each ticker that arrived is
    already in the cache)."""
    from forecast.lifecycle.signals import interrupts, leave

    interrupts()
    leave(main(argv))


if __name__ == "__main__":
    run()
