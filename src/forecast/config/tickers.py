"""Ticker names and pools: the safe spelling of one ticker, and the checks of a global run's pool."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from forecast.config.schema import LOGGERS, SAMPLINGS, SCOPES, Config
from forecast.errors import ConfigError, require

ALIASES = {"SP500": "^GSPC", "GSPC": "^GSPC"}  # typeable names of the S&P 500 index on the command line
TICKER_PATTERN = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]{0,14}$")


def normalise_ticker(ticker: str) -> str:
    """Return ``ticker`` upper-cased if it matches the safe pattern; raise :class:`ConfigError` otherwise.

    The pattern (letters, digits, ``.``, ``-``, ``=``, an optional leading ``^``; at most 16 characters)
    is checked before a ticker touches a path, a URL or a log line. ``SP500`` and ``GSPC`` name the S&P 500
    index ``^GSPC``: Hydra's command line does not accept a bare ``^``.
    """
    candidate = str(ticker).strip().upper()
    candidate = ALIASES.get(candidate, candidate)
    if not TICKER_PATTERN.fullmatch(candidate):
        shown = ascii(str(ticker))[:40]
        raise ConfigError(
            f"ticker={shown} is not a valid ticker symbol: use letters, digits, '.', '-', '=' and an "
            "optional leading '^' (e.g. ticker=AAPL, ticker=BRK-B, ticker=SP500 for ^GSPC)"
        )
    return candidate


def validate_scope(cfg: Config, multirun: bool) -> None:
    """Check a global run's pool (``tickers``), its options, and that a pool is never silently run as one ticker."""
    require(cfg.scope in SCOPES, f"scope={cfg.scope!r} is unknown: choose scope={'|'.join(SCOPES)}")
    m, t = cfg.model, cfg.trainer
    require(
        cfg.logger.kind in LOGGERS, f"logger.kind={cfg.logger.kind!r} is unknown: choose logger={'|'.join(LOGGERS)}"
    )
    require(t.sampling in SAMPLINGS, f"trainer.sampling={t.sampling!r} is unknown: choose {'|'.join(SAMPLINGS)}")
    require(m.ticker_embedding >= 0, f"model.ticker_embedding must be >= 0, 0 = none (got {m.ticker_embedding})")
    if cfg.tickers_file:
        require(
            not cfg.tickers,
            f"tickers_file={cfg.tickers_file} and tickers={shown(cfg.tickers)} both name a pool (a universe sets "
            "tickers): keep one",
        )
        cfg.tickers = tickers_in_file(cfg.tickers_file)
    require(
        cfg.train_tickers >= 0, f"train_tickers must be >= 0, 0 = every ticker of the pool (got {cfg.train_tickers})"
    )
    if cfg.scope == "local":
        require(
            cfg.train_tickers == 0,
            f"train_tickers={cfg.train_tickers} needs scope=global: a local model sees one ticker",
        )
        require(
            not cfg.tickers or multirun,
            f"tickers={shown(cfg.tickers)} is a pool for one global model: add scope=global, or sweep one model per "
            "ticker with -m (python -m forecast -m ticker=AAPL,MSFT or -m universe=snapshot)",
        )
        require(
            m.ticker_embedding == 0,
            f"model.ticker_embedding={m.ticker_embedding} needs scope=global: a local model sees one ticker",
        )
        return
    require(
        len(cfg.tickers) > 0,
        "scope=global needs a pool of tickers and tickers=[] is empty: e.g. tickers=[AAPL,MSFT,IBM] or "
        "universe=snapshot",
    )
    pool = [normalise_ticker(x) for x in cfg.tickers]
    twice = sorted({x for x in pool if pool.count(x) > 1})
    require(not twice, f"tickers lists {', '.join(twice)} more than once: name each ticker once")
    cfg.tickers = pool
    require(
        cfg.train_tickers <= len(pool),
        f"train_tickers={cfg.train_tickers} is more than the pool's {len(pool)} tickers: use at most {len(pool)}, or 0",
    )
    d = cfg.data
    require(
        not (d.source.value == "csv" and d.path and Path(d.path).expanduser().is_file() and len(pool) > 1),
        f"scope=global with data.source=csv reads one <TICKER>.csv per ticker from a folder, but data.path={d.path} "
        "is one file: point data.path at a folder of CSV files",
    )


def tickers_in_file(path: str) -> list[str]:
    """Return the tickers a plain list file names: one per line; blank lines and ``#`` comments are skipped."""
    file = Path(path).expanduser()
    try:
        lines = file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"tickers_file={path} cannot be read ({exc.strerror if isinstance(exc, OSError) else 'not text'}): "
            "point it at a text file with one ticker per line"
        ) from None
    tickers = [line.split("#", 1)[0].strip() for line in lines]
    tickers = [x for x in tickers if x]
    require(bool(tickers), f"tickers_file={path} names no ticker: write one ticker per line")
    return tickers


def shown(tickers: list[str]) -> str:
    """Return a pool as typed, cut short after five tickers."""
    head = ",".join(str(x) for x in tickers[:5])
    return f"[{head}{',...' if len(tickers) > 5 else ''}]"


def pool_name(tickers: list[str]) -> str:
    """Return the name a global run goes by: its ticker alone, up to three joined by ``+``, else ``global<N>``."""
    return "+".join(tickers) if 0 < len(tickers) <= 3 else f"global{len(tickers)}"


def path_safe(value: object) -> str:
    """Return ``value`` usable as one folder-name part: only letters, digits, '.', '-', '=', '^' survive."""
    return re.sub(r"[^A-Za-z0-9.\-=^]", "_", str(value)).replace("..", "__")[:40] or "_"


def run_name(scope: object, ticker: object, tickers: object) -> str:
    """Return a run folder's name part: the ticker of a local run, the pool's name for a global run."""
    if scope == "global" and isinstance(tickers, Sequence):
        return path_safe(pool_name([str(t) for t in tickers]))
    return path_safe(ticker)
