"""One forecast, end to end: the recipe of a run. Each step lives in its own package; this module only orders them."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.clock import PhaseClock
from forecast.config import Config, ModelConfig, config_dict
from forecast.data.dataset import WindowedData
from forecast.data.loading import Loaded, load_windows
from forecast.diagnostics.gradient_flow import effective_memory_lag, gradient_by_lag
from forecast.evaluation.predict import forecast_table, predict_scaled
from forecast.evaluation.scores import evaluate
from forecast.models.recurrent import RecurrentForecaster, count_parameters
from forecast.models.registry import kernel_of, resolve_impl
from forecast.record import RunRecord, WindowCounts
from forecast.reporting.outputs import write_run_files
from forecast.training.checkpoint import save_model
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
    model = build_model(cfg.model, loaded.data, device)
    probe = [t[:256].to(device) for t in loaded.data.part("test")]  # test windows the gradient flow is measured on
    grad_init = gradient_by_lag(model, *probe)
    clock.lap("data")
    trained = train(model, loaded.data, cfg.trainer, device, out_dir, config)
    clock.lap("training")
    table = forecast_table(loaded.data, predict_scaled(model, loaded.data.inputs, device))
    flow = pd.DataFrame(
        {"lag": np.arange(1, cfg.window + 1), "init": grad_init, "trained": gradient_by_lag(model, *probe)}
    )
    record = describe(cfg, loaded, model, device, trained, flow, evaluate(table, cfg.horizon))
    clock.lap("evaluation")
    save_model(out_dir / "model.pt", model, config, loaded.data.scaler.to_dict(), trained.result.best_epoch)
    history = trained.result.history
    write_run_files(
        out_dir, f"{cfg.ticker} {cfg.model.cell}", cfg.horizon, history, record.best_epoch or 0, table, flow
    )
    clock.lap("outputs")
    record.timings, record.overrides, record.config = clock.laps, list(overrides), config
    record.write(out_dir)
    (out_dir / "checkpoint.pt").unlink(missing_ok=True)  # complete: checkpoints are for unfinished runs
    return record


def start_job(cfg: Config) -> torch.device:
    """Seed every generator, set torch's CPU threads and return the device (a job's first steps)."""
    seed_everything(cfg.seed)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    return resolve_device(cfg.device.value)


def build_model(m: ModelConfig, data: WindowedData, device: torch.device) -> RecurrentForecaster:
    """Return the forecaster for ``m``, sized by the data (features in, horizon out), on ``device``."""
    impl = resolve_impl(m.cell, m.impl, device)
    model = RecurrentForecaster(
        cell=m.cell,
        n_features=len(data.features),
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        horizon=data.horizon,
        dropout=m.dropout,
        forget_bias=m.forget_bias,
        impl=impl,
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
        resumed_from=None
        if trained.resumed_from is None
        else {"run": cfg.trainer.resume, "epoch": trained.resumed_from},
        **scores,
    )
