"""``python -m forecast.predict <run dir> [key=value ...]``: forecast again from the newest prices, without retraining.

Loads the run's ``model.pt`` (``weights_only``), reads prices through the same sources as a run (``data.*``
overrides choose another source or file), scales the newest window with the scaler statistics stored at training
time (never refitted), and writes ``future.csv`` and ``plots/future.png`` into ``<run dir>/predictions/<time>/``.
On the data the run itself used it reproduces the run's ``future.csv`` bit for bit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import Any

from forecast.config import Config
from forecast.config_checks import validate
from forecast.errors import ConfigError, DataError, ForecastError
from forecast.record import read_record

log = logging.getLogger("forecast")
# what may change between training and a later forecast: where the prices come from, the calendar, the device
FREE_PREFIXES = ("data.", "calendar=", "device=", "ticker=")


def run_config(stored: dict[str, Any], overrides: list[str]) -> Config:
    """Return the run's config with ``overrides`` applied, validated; refuse changes to what the model learnt."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    fixed = [o for o in overrides if not o.startswith(FREE_PREFIXES)]
    if fixed:
        raise ConfigError(
            f"{fixed[0].split('=')[0]} cannot change at predict time (only data.*, calendar, device and ticker can): "
            "train a new run for other settings"
        )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), stored, OmegaConf.from_dotlist(overrides))
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"bad override: {str(exc).splitlines()[0]}") from None
    assert isinstance(cfg, Config)
    return validate(cfg)


def predict(run_dir: Path, overrides: list[str]) -> Path:
    """Forecast from the newest prices with the model in ``run_dir``; return the folder written."""
    import torch

    from forecast.data.dataset import latest_window
    from forecast.data.scaling import Standardizer
    from forecast.data.sources import load_prices
    from forecast.data.validation import clean_prices
    from forecast.evaluation.future import Bands, future_path
    from forecast.models.registry import kernel_of, resolve_impl
    from forecast.reporting.outputs import path_lines, write_future
    from forecast.training.checkpoint import MODEL_FORMAT, load_checkpoint
    from forecast.training.runtime import resolve_device
    from forecast.unit import build_model

    record = read_record(run_dir)
    if record is None or record.get("status") != "completed" or not (run_dir / "model.pt").exists():
        raise ConfigError(
            f"{run_dir} holds no completed run (a metrics.json saying completed, and model.pt): train one"
        )
    payload = load_checkpoint(run_dir / "model.pt")
    if payload.get("format") != MODEL_FORMAT or "bands" not in payload:
        raise ConfigError(
            f"{run_dir / 'model.pt'} has format {payload.get('format')!r} without forecast bands; this version reads "
            f"format {MODEL_FORMAT} from runs of this version: train the model again"
        )
    cfg = run_config(payload["config"], overrides)
    trained_on = str(payload["config"]["ticker"])
    pool: dict[str, Any] = payload.get("pool") or {}
    if pool:  # a global model: the ticker's own scaler, bands, training end and embedding index
        if cfg.ticker not in pool:
            names = ", ".join(list(pool)[:8]) + (" ..." if len(pool) > 8 else "")
            raise ConfigError(
                f"ticker={cfg.ticker} is not in this global model's pool of {len(pool)} ({names}): pick one of them"
            )
        payload.update(pool[cfg.ticker])
    elif cfg.ticker != trained_on:
        raise ConfigError(
            f"ticker={cfg.ticker} differs from the run's ticker {trained_on}: a model forecasts the "
            f"ticker it was trained on (train a run for {cfg.ticker})"
        )
    prices = load_prices(cfg.ticker, cfg.data)
    frame = clean_prices(prices.frame, cfg.ticker, cfg.data.max_gap_days)
    last_day, train_end = frame.index[-1], str(payload["train_end"])
    if str(last_day.date()) < train_end:
        raise DataError(
            f"the prices end on {last_day.date()}, before the model's training data ends ({train_end}): "
            f"use prices up to {train_end} or later"
        )
    device = resolve_device(cfg.device.value)  # as a run resolves it (auto: cuda, then mps, then cpu)
    scaler = Standardizer.from_dict(payload["scaler"])
    n_tickers = len(pool) if cfg.model.ticker_embedding else 0
    model = build_model(cfg.model, len(cfg.data.features) + bool(n_tickers), cfg.horizon, device, n_tickers)
    model.load_state_dict(payload["state_dict"])
    latest = latest_window(frame, tuple(cfg.data.features), scaler, cfg.window)
    if n_tickers:
        latest = torch.cat([latest, torch.full((1, cfg.window, 1), float(payload["index"]))], dim=-1)
    bands = Bands(**payload["bands"])
    close = float(frame["adj_close"].iloc[-1])
    args = (scaler, cfg.horizon, cfg.model.strategy, bands, cfg.calendar, device)
    future = future_path(model, latest, last_day, close, *args)
    out = run_dir / "predictions" / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    write_future(out, f"{cfg.ticker} {cfg.model.cell}", future, frame)
    log.info(
        "prices for %s from %s up to %s (%s kernel)",
        cfg.ticker,
        prices.source,
        last_day.date(),
        kernel_of(resolve_impl(cfg.model.cell, cfg.model.impl, device), device),
    )
    summary = {"last_date": str(last_day.date()), "path": future.to_dict(orient="records")}
    intervals = record.get("intervals") or {}
    if pool:  # the ticker's own test coverage, not the pool's
        coverage = (record.get("tickers") or {}).get(cfg.ticker, {}).get("coverage") or {}
        intervals = {"levels": {level: {"coverage": value} for level, value in coverage.items()}}
    for line in path_lines(cfg.ticker, cfg.model.cell, summary, intervals):
        log.info("%s", line)
    log.info("written: %s", out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the command; return 0, 1 (a refusal, one line on stderr) or 2 (bad arguments)."""
    parser = argparse.ArgumentParser(prog="python -m forecast.predict", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder (outputs/runs/<date>/<run>)")
    parser.add_argument("overrides", nargs="*", help="data.source=csv data.path=new.csv ... (data.*, calendar, device)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        predict(args.run_dir, list(args.overrides))
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
