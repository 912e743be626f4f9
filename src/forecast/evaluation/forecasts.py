"""A fitted model's forecasts of one ticker's windows: every origin and step in prices, beside the drift and linear
baselines, with intervals calibrated on the ticker's validation span and the volatility forecasts (EWMA, GARCH) that
adaptive bands and the volatility baselines are built on."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecast.config.schema import ForecastConfig, ModelConfig
from forecast.data.dataset import WindowedData
from forecast.data.scaling import returns_to_paths
from forecast.evaluation.baselines import drift_returns, linear_returns
from forecast.evaluation.classifier import classifier_table
from forecast.evaluation.future import Bands, add_intervals, bands_for
from forecast.evaluation.inference import forecast_table, pooled_outputs, predict_returns, predict_scaled
from forecast.evaluation.intervals.adaptive import ONLINE, Control
from forecast.evaluation.intervals.volatility import row_volatility, volatility_terciles


def forecast_rows(data: WindowedData, train_rows: bool) -> np.ndarray:
    """Return the samples a forecast table holds: validation and test (and training with ``train_rows``)."""
    return np.flatnonzero(data.split >= (0 if train_rows else 1))


def unit_outputs(
    datas: dict[str, WindowedData], model: nn.Module, device: torch.device, m: ModelConfig, train_rows: bool
) -> dict[str, np.ndarray]:
    """Return the model's scaled outputs at every ticker's forecast rows, from one pass over the whole pool
    (:func:`forecast.evaluation.inference.pooled_outputs`); none for a recursive model, which feeds each ticker's
    own predictions back step by step (:func:`ticker_forecasts` runs it per ticker)."""
    if m.loss != "bce" and m.strategy != "direct":
        return {}
    names = list(datas)
    parts = [datas[t].windows().select(torch.from_numpy(forecast_rows(datas[t], train_rows))) for t in names]
    return dict(zip(names, pooled_outputs(model, parts, device), strict=True))


def ticker_forecasts(
    data: WindowedData,
    model: nn.Module,
    device: torch.device,
    m: ModelConfig,
    f: ForecastConfig,
    bands: Bands | None,
    outputs: np.ndarray | None = None,
) -> tuple[pd.DataFrame, Bands, float]:
    """Return the forecast table of every validation and test origin (and training origin with
    ``forecast.train_rows``) and step of ``data``, with ``drift``, ``linear`` and interval columns; the bands (``bands``
    kept from an earlier unit, or calibrated on the validation rows); and the ridge penalty chosen on validation.
    ``outputs``: the model's outputs at those rows where :func:`unit_outputs` ran them already."""
    rows = forecast_rows(data, f.train_rows)
    if outputs is None:
        inputs = data.windows().select(torch.from_numpy(rows)).materialise()[0]
        if m.loss == "bce":
            outputs = predict_scaled(model, inputs, device)
        else:
            outputs = predict_returns(model, inputs, data.horizon, m.strategy, device)
    if m.loss == "bce":  # data.target=above_median: probabilities, no price baselines or bands
        return classifier_table(data, outputs, rows), Bands(), math.nan
    table = forecast_table(data, outputs, m.quantiles, rows)
    linear, alpha = linear_returns(data)
    last = data.prices[data.origin[rows]]
    table["drift"] = returns_to_paths(last, drift_returns(data)[rows], data.scaler).ravel()
    table["linear"] = returns_to_paths(last, linear[rows], data.scaler).ravel()
    control = Control(f.intervals, f.gamma, f.pid_lr, f.pid_ki, f.pid_csat)
    bands = bands or bands_for(m.loss, f.intervals, f.levels, m.quantiles, table, f.vol, control, f.path_bands)
    if f.intervals != "none":  # the volatility baselines, and the inputs of adaptive bands
        train = (data.bounds.train_start, data.bounds.n_train)
        columns, state = row_volatility(data.prices, train, data.origin[rows], data.horizon, f.ewma_lambda)
        table = table.assign(
            **columns, vol_tercile=np.repeat(volatility_terciles(data.prices, train, data.origin[rows]), data.horizon)
        )
        if bands.method in ONLINE:  # the state at the unit's last close; the run's walk adds the levels
            bands = replace(bands, vol_state=state.to_list(), as_of=str(data.dates[-1].date()))
    return add_intervals(table, bands), bands, alpha
