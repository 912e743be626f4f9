"""One forecast, end to end: the recipe of a run. Each step lives in its own package; this module only orders them."""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.clock import PhaseClock
from forecast.config import Config, config_dict
from forecast.data.dataset import latest_window
from forecast.data.folds import Unit
from forecast.data.loading import Loaded, load_frame, plan_units, price_column
from forecast.diagnostics.gradient_flow import effective_memory_lag, gradient_by_lag
from forecast.evaluation.backtest import fold_scores
from forecast.evaluation.future import future_path, row_sigmas
from forecast.evaluation.scores import evaluate, interval_scores
from forecast.models.recurrent import count_parameters
from forecast.models.registry import kernel_of, resolve_impl
from forecast.record import RunRecord, WindowCounts, epoch_timing
from forecast.reporting.outputs import write_run_files
from forecast.training.checkpoint import save_model
from forecast.training.losses import loss_for
from forecast.training.runtime import resolve_device, seed_everything
from forecast.unit import Fitted, fit_unit, pooled_table, probe


def run(cfg: Config, out_dir: Path, overrides: Sequence[str] = ()) -> RunRecord:
    """Train and evaluate as ``cfg`` says (one split, or every fold of a backtest); write every artefact into
    ``out_dir``; return the run's record.

    Assumes ``cfg`` passed :func:`forecast.config_checks.validate`. The record is written first as ``running``
    and last as ``completed``, so a folder whose ``metrics.json`` says ``completed`` holds a complete run.
    """
    clock, config = PhaseClock(), config_dict(cfg)
    RunRecord(pid=os.getpid(), ticker=cfg.ticker, overrides=list(overrides), config=config).write(out_dir)
    device = start_job(cfg)
    loaded = load_frame(cfg.ticker, cfg.data)
    units = plan_units(loaded, cfg.backtest, cfg.window, cfg.horizon)
    clock.lap("data")
    fitted = fit_all(cfg, loaded.frame, units, device, out_dir, config)
    clock.lap("training")
    last, table = fitted[-1], pooled_table(fitted)
    future = forecast_future(cfg, last, loaded.frame, device)
    flow = gradient_flow(cfg, last, device)
    record = describe(cfg, loaded, last, device, flow, score(table, fitted, cfg.horizon))
    record.future = {"last_date": str(loaded.frame.index[-1].date()), "path": future.to_dict(orient="records")}
    clock.lap("evaluation")
    train_end = str(loaded.frame.index[last.trained_on.n_train - 1].date())  # the newest price the weights saw
    stored = {"best_epoch": last.trained.result.best_epoch, "bands": asdict(last.bands), "train_end": train_end}
    save_model(out_dir / "model.pt", last.model, config, last.data.scaler.to_dict(), **stored)
    name = f"{cfg.ticker} {cfg.model.cell}"
    write_run_files(out_dir, name, last.trained.result, table, flow, future, loaded.frame, record, cfg.plots.value)
    clock.lap("outputs")
    record.timings, record.overrides, record.config = clock.laps, list(overrides), config
    record.write(out_dir)
    (out_dir / "checkpoint.pt").unlink(missing_ok=True)  # complete: checkpoints are for unfinished runs
    return record


def fit_all(
    cfg: Config, frame: pd.DataFrame, units: list[Unit], device: torch.device, out_dir: Path, config: dict[str, Any]
) -> list[Fitted]:
    """Fit every unit in order (a fold that does not refit rolls the previous fold's model forward).

    With ``backtest.n_jobs > 1`` and a fresh model every fold, the folds train in parallel processes (joblib),
    each with its share of the CPU threads and its own checkpoint folder; every refit is seeded alike, so the
    folds' models match the sequential ones up to the order of floating-point sums across threads.
    """
    n_jobs = cfg.backtest.n_jobs if cfg.backtest.refit_every == 1 and device.type == "cpu" else 1
    if n_jobs > 1 and len(units) > 1:
        from joblib import Parallel, delayed

        threads = max(1, torch.get_num_threads() // n_jobs)
        jobs = (
            delayed(fit_in_worker)(cfg, frame, u, device, out_dir / ".folds" / str(u.fold), config, threads)
            for u in units
        )
        parallel: list[Fitted] = list(Parallel(n_jobs=n_jobs, backend="loky")(jobs))
        shutil.rmtree(out_dir / ".folds", ignore_errors=True)
        return parallel
    fitted: list[Fitted] = []
    for unit in units:
        fitted.append(fit_unit(cfg, frame, unit, fitted[-1] if fitted else None, device, out_dir, config))
    return fitted


def fit_in_worker(
    cfg: Config,
    frame: pd.DataFrame,
    unit: Unit,
    device: torch.device,
    out_dir: Path,
    config: dict[str, Any],
    threads: int,
) -> Fitted:
    """Fit one fold in a worker process with ``threads`` torch threads (its checkpoints in its own ``out_dir``)."""
    torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    return fit_unit(cfg, frame, unit, None, device, out_dir, config)


def forecast_future(cfg: Config, last: Fitted, frame: pd.DataFrame, device: torch.device) -> pd.DataFrame:
    """Return the path from the last close, forecast by the newest model with the scaler it was trained with."""
    scaler = last.data.scaler
    latest = latest_window(frame, tuple(cfg.data.features), scaler, cfg.window)
    args = (scaler, cfg.horizon, cfg.model.strategy, last.bands, cfg.calendar, device)
    return future_path(last.model, latest, frame.index[-1], float(frame["adj_close"].iloc[-1]), *args)


def gradient_flow(cfg: Config, last: Fitted, device: torch.device) -> pd.DataFrame:
    """Return the gradient norm by input lag of the newest model, at initialisation and after training."""
    loss = loss_for(cfg.model.loss, cfg.model.quantiles)
    trained = gradient_by_lag(last.model, *probe(last.data, last.model, device), loss)
    return pd.DataFrame({"lag": np.arange(1, cfg.window + 1), "init": last.grad_init, "trained": trained})


def score(table: pd.DataFrame, fitted: list[Fitted], horizon: int) -> dict[str, Any]:
    """Return the record's scores: point forecasts (last step, every step, baselines), intervals, backtest folds."""
    out = evaluate(table, horizon)
    fits = {id(f.trained): f.trained.result for f in fitted}.values()  # a model rolled forward counts once
    out["best_val_loss"] = float(np.mean([r.best_val_loss for r in fits]))
    bands = fitted[-1].bands
    if bands.method != "none":
        tests = [f.table[f.table["split"] == "test"] for f in fitted]
        sigmas = [row_sigmas(t, f.bands) for t, f in zip(tests, fitted, strict=True)]
        rows = None if sigmas[0] is None else np.concatenate([s for s in sigmas if s is not None])
        test = table[table["split"] == "test"]
        out["intervals"] = interval_scores(test, bands.levels(), bands.method, rows, bands.taus)
    if fitted[0].unit.fold:
        out["backtest"] = fold_scores(table, horizon)
    return out


def start_job(cfg: Config) -> torch.device:
    """Seed every generator, set torch's CPU threads and return the device (a job's first steps)."""
    seed_everything(cfg.seed)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    return resolve_device(cfg.device.value)


def describe(
    cfg: Config, loaded: Loaded, last: Fitted, device: torch.device, flow: pd.DataFrame, scores: dict[str, Any]
) -> RunRecord:
    """Return the completed run's record: what ran (the newest unit's model), on what data, at what cost, and its
    ``scores``."""
    trained, data, frame = last.trained, last.data, loaded.frame
    result, n_params = trained.result, count_parameters(last.model)
    pass_median, busy = epoch_timing([r.train_seconds for r in result.history])
    impl = resolve_impl(cfg.model.cell, cfg.model.impl, device)
    return RunRecord(
        status="completed",
        ticker=cfg.ticker,
        model=cfg.model.cell,
        impl=impl,
        kernel=kernel_of(impl, device),
        n_params=n_params,
        epochs_run=len(result.history),
        best_epoch=result.best_epoch,
        train_seconds=result.seconds,
        seconds_per_epoch=result.seconds / max(1, len(result.history)),
        epoch_seconds_median=pass_median,
        busy_machine=busy,
        peak_memory_mb=trained.peak_memory_mb,
        activation_memory_mb=trained.activation_bytes / 2**20,
        state_memory_mb=4 * 4 * n_params / 2**20,  # float32 weights, gradients, Adam's two moments
        data_source=loaded.source,
        price_column=price_column(frame),
        first_date=str(frame.index[0].date()),
        last_date=str(frame.index[-1].date()),
        n_days=len(frame),
        n_windows=WindowCounts(**data.counts()),
        window=data.window,
        horizon=data.horizon,
        seed=cfg.seed,
        device=str(device),
        features=list(data.features),
        target=cfg.data.target,
        forget_bias=cfg.model.forget_bias,
        effective_memory_lag=effective_memory_lag(flow["trained"].to_numpy()),
        effective_memory_lag_init=effective_memory_lag(flow["init"].to_numpy()),
        environment={
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
        strategy=cfg.model.strategy,
        loss=cfg.model.loss,
        resumed_from=None
        if trained.resumed_from is None
        else {"run": cfg.trainer.resume, "epoch": trained.resumed_from},
        **scores,
    )
