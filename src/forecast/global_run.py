"""A global run, end to end: one model over the windows of every ticker in ``tickers``, scored per ticker and
pooled. The recipe mirrors :func:`forecast.pipeline.run`; see :mod:`forecast.data.pool` for the calendar split."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.clock import PhaseClock
from forecast.config import Config, config_dict
from forecast.data.pool import Pool, load_pool
from forecast.evaluation.future import row_sigmas
from forecast.evaluation.pooled import pooled_scores, ticker_scores
from forecast.pipeline import describe, gradient_flow, start_job
from forecast.pool_unit import fit_pool, pool_future, pool_table, window_counts
from forecast.record import RunRecord, WindowCounts
from forecast.reporting.pool_outputs import write_pool_files
from forecast.tickers import pool_name
from forecast.training.checkpoint import save_model
from forecast.unit import Fitted


def run_global(cfg: Config, out_dir: Path, overrides: Sequence[str] = ()) -> RunRecord:
    """Train one model on every ticker's training windows (split by calendar date), forecast and score each
    ticker and the pool, write every artefact into ``out_dir`` and return the record (``running`` first)."""
    clock, config, name = PhaseClock(), config_dict(cfg), pool_name(cfg.tickers)
    RunRecord(pid=os.getpid(), ticker=name, scope="global", overrides=list(overrides), config=config).write(out_dir)
    device = start_job(cfg)
    pool = load_pool(cfg.tickers, cfg.data, cfg.window, cfg.horizon)
    clock.lap("data")
    fitted = fit_pool(cfg, pool, device, out_dir, config)
    clock.lap("training")
    table, future = pool_table(pool, fitted), pool_future(cfg, pool, fitted, device)
    first = fitted[0]
    flow = gradient_flow(cfg, first, device)
    record = describe(cfg, next(iter(pool.loaded.values())), first, device, flow, {})
    score_pool(record, cfg, pool, fitted, table)
    paths = {t: future[future["ticker"] == t].drop(columns="ticker").to_dict(orient="records") for t in pool.loaded}
    record.future = {"last_date": str(pool.calendar[-1].date()), "by_ticker": paths}
    clock.lap("evaluation")
    save_model(out_dir / "model.pt", first.model, config, first.data.scaler.to_dict(), **stored(pool, fitted))
    frames = {t: x.frame for t, x in pool.loaded.items()}
    write_pool_files(
        out_dir, cfg.model.cell, first.trained.result, table, flow, future, frames, record, cfg.plots.value
    )
    clock.lap("outputs")
    record.timings, record.overrides, record.config = clock.laps, list(overrides), config
    record.write(out_dir)
    (out_dir / "checkpoint.pt").unlink(missing_ok=True)
    return record


def score_pool(record: RunRecord, cfg: Config, pool: Pool, fitted: list[Fitted], table: pd.DataFrame) -> None:
    """Fill ``record``: pooled scores (relative to the last close), each ticker's scores, the pool's size."""
    bands = fitted[0].bands
    tests = [f.table[f.table["split"] == "test"] for f in fitted]
    sigmas = [row_sigmas(t, f.bands) for t, f in zip(tests, fitted, strict=True)]
    rows = None if sigmas[0] is None else np.concatenate([s for s in sigmas if s is not None])
    scores = pooled_scores(table, cfg.horizon, bands.levels(), bands.method, rows, bands.taus)
    for key, value in scores.items():
        setattr(record, key, value)
    record.tickers = {
        t: ticker_scores(f.table, cfg.horizon, f.bands.levels()) for t, f in zip(pool.loaded, fitted, strict=True)
    }
    record.ticker, record.scope, record.pool = pool_name(list(pool.loaded)), "global", list(pool.loaded)
    record.skipped = dict(pool.skipped)
    record.best_val_loss = fitted[0].trained.result.best_val_loss  # pooled over the tickers' validation windows
    frames = [x.frame for x in pool.loaded.values()]
    record.n_days = int(sum(len(f) for f in frames))
    record.first_date = str(min(f.index[0] for f in frames).date())
    record.last_date = str(pool.calendar[-1].date())
    record.n_windows = WindowCounts(**window_counts(fitted))
    record.data_source = ",".join(sorted({x.source for x in pool.loaded.values()}))


def stored(pool: Pool, fitted: list[Fitted]) -> dict[str, object]:
    """Return what ``model.pt`` keeps beside the weights: per ticker its scaler, bands, index and training end."""
    per_ticker = {
        t: {
            "index": i,
            "scaler": f.data.scaler.to_dict(),
            "bands": asdict(f.bands),
            "train_end": str(f.data.dates[f.data.bounds.n_train - 1].date()),
        }
        for i, (t, f) in enumerate(zip(pool.loaded, fitted, strict=True))
    }
    first = fitted[0]
    best = first.trained.result.best_epoch
    return {
        "best_epoch": best,
        "bands": asdict(first.bands),
        "train_end": per_ticker[next(iter(per_ticker))]["train_end"],
        "pool": per_ticker,
    }
