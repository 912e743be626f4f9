"""One unit of work of a run (the single split, or one backtest fold): windows, fit, predict, baselines, intervals."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.config import Config, ModelConfig
from forecast.data.dataset import SplitBounds, WindowedData, windows_for
from forecast.data.folds import Unit
from forecast.data.scaling import returns_to_paths
from forecast.diagnostics.gradient_flow import gradient_by_lag
from forecast.errors import DataError
from forecast.evaluation.baselines import drift_returns, linear_returns
from forecast.evaluation.future import Bands, add_intervals, bands_for
from forecast.evaluation.predict import forecast_table, predict_returns
from forecast.models.recurrent import RecurrentForecaster
from forecast.models.registry import resolve_impl
from forecast.training.losses import loss_for
from forecast.training.runtime import seed_everything
from forecast.training.session import Trained, train

log = logging.getLogger("forecast")
MIN_TEST = 3  # forecasts a test span needs for its statistics to be defined


@dataclass
class Fitted:
    """A unit after fitting: its windows, the model that forecast it (trained here or rolled forward), its table."""

    unit: Unit
    data: WindowedData
    model: RecurrentForecaster
    trained: Trained
    trained_on: SplitBounds  # the span the model was trained on (an earlier fold's for a rolled-forward model)
    bands: Bands
    table: pd.DataFrame  # every origin and step of the unit, with baselines and intervals
    grad_init: np.ndarray  # gradient norm by lag before training
    linear_alpha: float  # the ridge penalty chosen on the validation span


def build_model(
    m: ModelConfig, n_features: int, horizon: int, device: torch.device, n_tickers: int = 0
) -> RecurrentForecaster:
    """Return the forecaster for ``m`` with ``n_features`` inputs on ``device``: a head of ``horizon`` steps (one
    for a recursive model), times its quantiles for a quantile head; a ticker embedding over ``n_tickers`` when
    ``m.ticker_embedding`` asks for one (the inputs then carry the ticker index as their last column)."""
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
        n_tickers=n_tickers,
        ticker_embedding=m.ticker_embedding if n_tickers else 0,
    )
    return model.to(device)


def probe(data: WindowedData, model: RecurrentForecaster, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the test windows the gradient flow is measured on (at most 256), targets cut to the model's steps."""
    x, y = data.part("test")
    return x[:256].to(device), y[:256, : model.horizon].to(device)


def fit_unit(
    cfg: Config,
    frame: pd.DataFrame,
    unit: Unit,
    previous: Fitted | None,
    device: torch.device,
    out_dir: Path,
    config: dict[str, Any],
) -> Fitted:
    """Fit ``unit`` (or roll ``previous``'s model forward onto it) and forecast every origin and step of it.

    A refit seeds every generator with ``cfg.seed`` first, so a fold's model depends on its own data alone.
    """
    keep = previous if not unit.refit and previous is not None else None
    scaler = None if keep is None else keep.data.scaler
    data = windows_for(frame, cfg.window, cfg.horizon, unit.bounds, tuple(cfg.data.features), scaler)
    counts = data.counts()
    if not unit.fold and counts["test"] < MIN_TEST:
        raise DataError(
            f"the test span holds {counts['test']} forecast(s); its statistics (Diebold-Mariano test, correlations, "
            f"coverage) need at least {MIN_TEST}: raise data.test_days or data.test_frac"
        )
    name = f"fold {unit.fold}" if unit.fold else "split"
    rolled = "" if keep is None else " (the previous fold's model rolled forward)"
    log.info("%s: %d/%d/%d train/val/test windows%s", name, counts["train"], counts["val"], counts["test"], rolled)
    if keep is None:
        seed_everything(cfg.seed)
        model = build_model(cfg.model, len(data.features), cfg.horizon, device)
        loss = loss_for(cfg.model.loss, cfg.model.quantiles)
        grad_init = gradient_by_lag(model, *probe(data, model, device), loss)
        sets = (data.windows("train", model.horizon), data.windows("val", model.horizon))  # recursive: 1 step
        trained = train(model, sets, cfg.trainer, device, out_dir, config, loss)
        trained_on = unit.bounds
    else:
        model, trained, grad_init, trained_on = keep.model, keep.trained, keep.grad_init, keep.trained_on
    return forecast_unit(cfg, unit, data, model, trained, trained_on, grad_init, device, keep)


def forecast_unit(
    cfg: Config,
    unit: Unit,
    data: WindowedData,
    model: RecurrentForecaster,
    trained: Trained,
    trained_on: SplitBounds,
    grad_init: np.ndarray,
    device: torch.device,
    keep: Fitted | None = None,
) -> Fitted:
    """Forecast every origin and step of ``unit`` with a fitted ``model``, beside the drift and linear baselines,
    with intervals calibrated on the unit's validation span (or ``keep``'s, for a model rolled forward)."""
    m = cfg.model
    table = forecast_table(data, predict_returns(model, data.inputs, data.horizon, m.strategy, device), m.quantiles)
    linear, alpha = linear_returns(data)
    last = data.prices[data.origin]
    table["drift"] = returns_to_paths(last, drift_returns(data), data.scaler).ravel()
    table["linear"] = returns_to_paths(last, linear, data.scaler).ravel()
    f = cfg.forecast
    bands = keep.bands if keep is not None else bands_for(m.loss, f.intervals, f.levels, m.quantiles, table)
    return Fitted(unit, data, model, trained, trained_on, bands, add_intervals(table, bands), grad_init, alpha)


def pooled_table(fitted: list[Fitted]) -> pd.DataFrame:
    """Return the run's forecast table: the single split's whole table, or every fold's test rows with ``fold``."""
    if len(fitted) == 1 and fitted[0].unit.fold == 0:
        return fitted[0].table
    parts = []
    for f in fitted:
        test = f.table[f.table["split"] == "test"]
        parts.append(test.assign(fold=f.unit.fold))
    return pd.concat(parts, ignore_index=True)
