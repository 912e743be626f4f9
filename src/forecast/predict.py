"""``python -m forecast.predict <run dir> [key=value ...]``: forecast again from the newest prices, without retraining.

Loads the run's ``model.pt`` (``weights_only``), reads prices through the same sources as a run (``data.*``
overrides choose another source or file), scales the newest window with the scaler statistics stored at training
time (never refitted), and writes ``future.csv`` and ``plots/future.png`` into ``<run dir>/predictions/<time>/``
(or ``--out <folder>``).
On the data the run itself used it reproduces the run's ``future.csv`` bit for bit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast.config.checks import validate
from forecast.config.schema import Config
from forecast.errors import ConfigError, DataError, ForecastError
from forecast.store.fields import TickerScores
from forecast.store.record import RunRecord

if TYPE_CHECKING:
    import pandas as pd

    from forecast.pipeline.forecaster import Walked

log = logging.getLogger("forecast")
# what may change between training and a later forecast: where the prices come from, the calendar, the device
FREE_PREFIXES = ("data.", "calendar=", "device=", "ticker=")
LEARNT = ("data.features=", "data.target=")  # data.* keys that change the model's inputs or outputs


def refuse_learnt(overrides: list[str]) -> None:
    """Refuse, in one line, an override of anything the model learnt (all but data.*, calendar, device, ticker)."""
    fixed = [o for o in overrides if not o.startswith(FREE_PREFIXES) or o.startswith(LEARNT)]
    if fixed:
        raise ConfigError(
            f"{fixed[0].split('=')[0]} cannot change at predict time (only data.* but data.features and data.target, "
            "calendar, device and ticker can): train a new run for other settings"
        )


def run_config(stored: dict[str, Any], overrides: list[str]) -> Config:
    """Return the run's config with ``overrides`` applied, validated; refuse changes to what the model learnt. The
    run's ``data.end`` does not carry over: predict reads the newest prices (``data.end=`` given here cuts them)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    refuse_learnt(overrides)
    stored = {**stored, "data": {**(stored.get("data") or {}), "end": None}}
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), stored, OmegaConf.from_dotlist(overrides))
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"bad override: {str(exc).splitlines()[0]}") from None
    assert isinstance(cfg, Config)
    return validate(cfg)


def predict(run_dir: Path, overrides: list[str], out_root: Path | None = None) -> Path:
    """Forecast from the newest prices with the model in ``run_dir``; return the folder written, under
    ``out_root`` (default ``<run dir>/predictions``). Every check and every line comes before anything is written.

    A local run's model forecasts its ticker; a global run's model forecasts every ticker of its pool, or the one
    named by ``ticker=``."""
    from forecast.data.loading import price_column, price_words
    from forecast.evaluation.staleness import warn_if_stale
    from forecast.models.registry import kernel_of, resolve_impl
    from forecast.pipeline.forecaster import Forecaster, read_model
    from forecast.reporting.headline import origin_age, path_lines
    from forecast.reporting.run_files import write_future
    from forecast.store.predictions import agree, completed_run, predictions_root
    from forecast.training.runtime import resolve_device

    record = completed_run(run_dir)
    root = predictions_root(run_dir, out_root)
    refuse_learnt(overrides)  # before the model loads
    payload = read_model(run_dir / "model.pt")
    agree(run_dir, record, payload["config"])
    cfg = run_config(payload["config"], overrides)
    device = resolve_device(cfg.device.value)  # as a run resolves it (auto: cuda, then mps, then cpu)
    features = tuple(cfg.data.features)
    forecaster = Forecaster.load(payload, cfg.model, features, cfg.window, cfg.horizon, device)
    pooled = record.scope == "global"
    tickers = chosen(cfg.ticker, list(forecaster.tickers), pooled, any(o.startswith("ticker=") for o in overrides))
    frames, sources = newest_prices(tickers, cfg, {t: forecaster.tickers[t].train_end for t in tickers})
    paths = forecaster.paths(frames, cfg.calendar, device)
    pooled = pooled and len(tickers) > 1
    kernel = kernel_of(resolve_impl(cfg.model.cell, cfg.model.impl, device), device, cfg.model.cell)
    which = f"for {tickers[0]}" if len(tickers) == 1 else f"for {len(tickers)} tickers"
    newest = max(f.index[-1] for f in frames.values()).date()
    log.info("prices %s from %s up to %s (%s kernel)", which, ", ".join(sorted(set(sources.values()))), newest, kernel)
    lines: list[str] = origin_age(str(newest))
    for ticker, path in paths.items():
        covered, span = band_coverage(record, forecaster.walked.get(ticker), ticker)
        frame, last = frames[ticker], str(frames[ticker].index[-1].date())
        warn_if_stale(ticker, frame, forecaster.tickers[ticker].train_end, str(record.last_date))
        rows = [{str(k): v for k, v in row.items()} for row in path.to_dict(orient="records")]
        lines += path_lines(ticker, cfg.model.cell, last, rows, covered, span, price_words(price_column(frame)))
    out = root / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    try:
        write_future(out, paths, frames, cfg.model.cell, pooled)
    except OSError as exc:
        raise ConfigError(
            f"cannot write predictions into {root} ({exc.strerror or exc}): give --out <a writable folder>"
        ) from None
    for line in lines:
        log.info("%s", line)
    log.info("written: %s", out)
    return out


def newest_prices(
    tickers: list[str], cfg: Config, train_ends: dict[str, str]
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Return each ticker's cleaned prices and their source; refuse prices that end before the model's training
    data does (``train_ends``: ticker -> its last training day)."""
    from forecast.data.sources.load import load_prices
    from forecast.data.validation import clean_prices

    frames, sources = {}, {}
    for ticker in tickers:
        prices = load_prices(ticker, cfg.data)
        frames[ticker], sources[ticker] = clean_prices(prices.frame, ticker, cfg.data.max_gap_days), prices.source
        last_day, train_end = frames[ticker].index[-1], train_ends[ticker]
        if str(last_day.date()) < train_end:
            raise DataError(
                f"the prices of {ticker} end on {last_day.date()}, before the model's training data ends "
                f"({train_end}): use prices up to {train_end} or later"
            )
    return frames, sources


def band_coverage(record: RunRecord, walked: Walked | None, ticker: str) -> tuple[dict[str, float], str]:
    """Return the measured coverage of the bands a path shows, and where it was measured: the sessions adaptive
    bands walked since the run, a pool ticker's own test span, or the run's (:func:`shown_coverage`)."""
    from forecast.reporting.headline import shown_coverage

    if walked is not None:  # adaptive bands walked through newer days: the coverage of the bands shown
        return walked.coverage, f"on the {walked.days} sessions walked since the run, {walked.first}..{walked.last}"
    if record.scope == "global":  # the ticker's own test coverage, not the pool's
        own = record.tickers.get(ticker) or TickerScores()
        return own.coverage, f"on its test span, {own.first_test_date}..{own.last_test_date}"
    return shown_coverage(record)


def chosen(ticker: str, trained: list[str], pooled: bool, named: bool) -> list[str]:
    """Return the tickers to forecast: ``ticker`` when named (it must be one the model was trained on), else the
    run's ticker or its whole pool."""
    if not named:
        return trained
    if ticker not in trained:
        if not pooled:
            raise ConfigError(
                f"ticker={ticker} differs from the run's ticker {trained[0]}: a model forecasts the ticker it was "
                f"trained on (train a run for {ticker})"
            )
        names = ", ".join(trained[:8]) + (" ..." if len(trained) > 8 else "")
        raise ConfigError(
            f"ticker={ticker} is not in this global model's pool of {len(trained)} ({names}): pick one of them"
        )
    return [ticker]


USAGE = "python -m forecast.predict <run dir> [key=value ...] [--out <folder>]"


def quiet_logging() -> None:
    """Send the forecast and what was read to stdout, warnings and errors to stderr (cron keeps stderr for trouble)."""
    out, err = logging.StreamHandler(sys.stdout), logging.StreamHandler(sys.stderr)
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    err.setLevel(logging.WARNING)
    for handler in (out, err):
        handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[out, err])  # a no-op where logging is already set up


def main(argv: list[str] | None = None) -> int:
    """Run the command; return 0, 1 (a refusal, one line on stderr) or 2 (bad arguments)."""
    parser = argparse.ArgumentParser(prog="python -m forecast.predict", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="?", help="a run folder (outputs/runs/<date>/<run>)")
    parser.add_argument("overrides", nargs="*", help="data.source=csv data.path=new.csv ... (data.*, calendar, device)")
    parser.add_argument("--out", type=Path, default=None, help="the folder predictions go into (default: the run's)")
    args = parser.parse_args(argv)
    if args.run_dir is None:
        print(f"error: name a run folder: {USAGE}", file=sys.stderr, flush=True)
        return 2
    quiet_logging()
    try:
        predict(args.run_dir, list(args.overrides), args.out)
    except ForecastError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    # Every file was written atomically and closed: skip the interpreter's teardown of torch and pandas (0.3-1 s).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
