"""One forecast, end to end: the recipe of a run. Each step lives in its own package; this module only orders them."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.clock import PhaseClock
from forecast.config import Config, ModelConfig, config_dict
from forecast.data.loading import Loaded, load_windows
from forecast.diagnostics.gradient_flow import effective_memory_lag, gradient_by_lag
from forecast.evaluation.future import Bands, add_intervals, bands_for, future_path
from forecast.evaluation.predict import forecast_table, predict_returns
from forecast.evaluation.scores import evaluate, interval_scores
from forecast.models.recurrent import RecurrentForecaster, count_parameters
from forecast.models.registry import kernel_of, resolve_impl
from forecast.record import RunRecord, WindowCounts
from forecast.reporting.outputs import write_run_files
from forecast.training.checkpoint import save_model
from forecast.training.losses import loss_for
from forecast.training.runtime import resolve_device, seed_everything
from forecast.training.session import Trained, train


def run(cfg: Config, out_dir: Path, overrides: Sequence[str] = ()) -> RunRecord:
    """Train and evaluate one model as ``cfg`` says; write every artefact into ``out_dir``; return its record.

    Assumes ``cfg`` passed :func:`forecast.config.validate`. The record is written first as ``running`` and
    last as ``completed``, so a folder whose ``metrics.json`` says ``completed`` holds a complete run.
    """
    clock, config = PhaseClock(), config_dict(cfg)
    RunRecord(pid=os.getpid(), ticker=cfg.ticker, overrides=list(overrides), config=config).write(out_dir)
    device = start_job(cfg)
    loaded = load_windows(cfg.ticker, cfg.data, cfg.window, cfg.horizon)
    model, loss = (
        build_model(cfg.model, len(loaded.data.features), cfg.horizon, device),
        loss_for(cfg.model.loss, cfg.model.quantiles),
    )
    x_probe, y_probe = (t[:256].to(device) for t in loaded.data.part("test"))  # the gradient flow's test windows
    probe = (x_probe, y_probe[:, : model.horizon])
    grad_init = gradient_by_lag(model, probe[0], probe[1], loss)
    clock.lap("data")
    trained = train(model, loaded.data, cfg.trainer, device, out_dir, config, loss)
    clock.lap("training")
    table, bands, future = forecast(cfg, model, loaded, device)
    flow = pd.DataFrame({"lag": np.arange(1, cfg.window + 1), "init": grad_init})
    flow["trained"] = gradient_by_lag(model, probe[0], probe[1], loss)
    record = describe(cfg, loaded, model, device, trained, flow, score(table, bands, cfg.horizon))
    record.future = {"last_date": str(loaded.frame.index[-1].date()), "path": future.to_dict(orient="records")}
    clock.lap("evaluation")
    stored = {"best_epoch": trained.result.best_epoch, "bands": asdict(bands), "train_end": train_end(loaded)}
    save_model(out_dir / "model.pt", model, config, loaded.data.scaler.to_dict(), **stored)
    write_run_files(out_dir, f"{cfg.ticker} {cfg.model.cell}", trained.result, table, flow, future, loaded.frame)
    clock.lap("outputs")
    record.timings, record.overrides, record.config = clock.laps, list(overrides), config
    record.write(out_dir)
    (out_dir / "checkpoint.pt").unlink(missing_ok=True)  # complete: checkpoints are for unfinished runs
    return record


def forecast(
    cfg: Config, model: RecurrentForecaster, loaded: Loaded, device: torch.device
) -> tuple[pd.DataFrame, Bands, pd.DataFrame]:
    """Return the forecast table of every origin and step (with intervals), the bands, and the future path."""
    data, m = loaded.data, cfg.model
    table = forecast_table(data, predict_returns(model, data.inputs, data.horizon, m.strategy, device), m.quantiles)
    bands = bands_for(m.loss, cfg.forecast.intervals, cfg.forecast.levels, m.quantiles, table)
    last_date, last_close = loaded.frame.index[-1], float(data.prices[-1])
    args = (data.scaler, data.horizon, m.strategy, bands, cfg.calendar, device)
    return add_intervals(table, bands), bands, future_path(model, data.latest, last_date, last_close, *args)


def score(table: pd.DataFrame, bands: Bands, horizon: int) -> dict[str, Any]:
    """Return the record's scores: point forecasts (last step and every step) and, where made, the intervals."""
    test = table[table["split"] == "test"]
    sigmas = bands.sigmas or None
    intervals = (
        {} if bands.method == "none" else interval_scores(test, bands.levels(), bands.method, sigmas, bands.taus)
    )
    return {**evaluate(table, horizon), "intervals": intervals}


def train_end(loaded: Loaded) -> str:
    """Return the last day of the training span (the newest price the model's weights have seen)."""
    return str(loaded.frame.index[loaded.data.bounds.n_train - 1].date())


def start_job(cfg: Config) -> torch.device:
    """Seed every generator, set torch's CPU threads and return the device (a job's first steps)."""
    seed_everything(cfg.seed)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    return resolve_device(cfg.device.value)


def build_model(m: ModelConfig, n_features: int, horizon: int, device: torch.device) -> RecurrentForecaster:
    """Return the forecaster for ``m`` with ``n_features`` inputs on ``device``: a head of ``horizon`` steps (one
    for a recursive model), times its quantiles for a quantile head."""
    impl = resolve_impl(m.cell, m.impl, device)
    model = RecurrentForecaster(
        cell=m.cell,
        n_features=n_features,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        horizon=1 if m.strategy == "recursive" else horizon,
        dropout=m.dropout,
        forget_bias=m.forget_bias,
        impl=impl,
        quantiles=len(m.quantiles) if m.loss == "quantile" else 0,
    )
    return model.to(device)


def describe(
    cfg: Config,
    loaded: Loaded,
    model: torch.nn.Module,
    device: torch.device,
    trained: Trained,
    flow: pd.DataFrame,
    scores: dict[str, Any],
) -> RunRecord:
    """Return the completed run's record: what ran, on what data, at what cost, and its ``scores``."""
    result, n_params = trained.result, count_parameters(model)
    impl = resolve_impl(cfg.model.cell, cfg.model.impl, device)
    frame, data = loaded.frame, loaded.data
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
        peak_memory_mb=trained.peak_memory_mb,
        activation_memory_mb=trained.activation_bytes / 2**20,
        state_memory_mb=4 * 4 * n_params / 2**20,  # float32 weights, gradients, Adam's two moments
        data_source=loaded.source,
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
