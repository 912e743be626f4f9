"""Model forecasts for every origin and step, converted back to prices, beside persistence and the actual price."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecast.data.dataset import SPLITS, WindowedData
from forecast.data.scaling import Standardizer, returns_to_paths
from forecast.data.windows import Windows
from forecast.models.recurrent import inference_rows


@torch.inference_mode()
def predict_scaled(model: nn.Module, inputs: torch.Tensor, device: torch.device, batch: int = 0) -> np.ndarray:
    """Return the model's scaled outputs as float64 (``(n, steps)``, or ``(n, steps, quantiles)``), in eval mode, in
    chunks of ``batch`` rows (0: as many as :func:`forecast.models.recurrent.inference_rows` allows)."""
    model.eval()
    batch = batch or inference_rows(model, inputs.shape[1])
    outs = [model(xb.to(device)).double().cpu() for xb in inputs.split(batch)]
    return torch.cat(outs).numpy()


@torch.inference_mode()
def pooled_outputs(model: nn.Module, parts: list[Windows], device: torch.device) -> list[np.ndarray]:
    """Return :func:`predict_scaled` of each of ``parts`` (every ticker's forecast windows of a unit), run as one
    pass in shared chunks; nothing is materialised beyond one chunk. Alone it is no faster than a pass per ticker,
    but a pass per ticker allocates its inputs and outputs between the hand-backs of freed memory, whose pages are
    faulted in again: experiment=fischer_krauss took 18 min 40 s that way and 16 min 48-56 s with this (system time
    85 s against 23-24 s; docs/performance.md)."""
    if not parts:
        return []
    joined = Windows.concat(parts)
    model.eval()
    batch = inference_rows(model, joined.window)
    outs = torch.cat([model(xb.to(device)).double().cpu() for xb, _ in joined.chunks(batch)]).numpy()
    return np.split(outs, np.cumsum([len(p) for p in parts])[:-1])


def predict_returns(
    model: nn.Module, inputs: torch.Tensor, horizon: int, strategy: str, device: torch.device
) -> np.ndarray:
    """Return scaled log returns for steps 1..``horizon`` of every window: ``(n, horizon[, quantiles])``.

    ``direct``: the model's multi-output head. ``recursive``: a one-step model fed its own predictions, each
    predicted (scaled) return appended to the window as the newest day, the oldest dropped.
    """
    if strategy == "direct":
        return predict_scaled(model, inputs, device)
    x, steps = inputs, []
    for _ in range(horizon):
        step = predict_scaled(model, x, device)[:, :1]  # (n, 1)
        steps.append(step)
        x = torch.cat([x[:, 1:], torch.from_numpy(step).to(x.dtype).unsqueeze(-1)], dim=1)
    return np.concatenate(steps, axis=1)


def price_columns(
    last: np.ndarray, scaled: np.ndarray, scaler: Standardizer, taus: list[float]
) -> dict[str, np.ndarray]:
    """Return ``predicted`` (and ``q<tau>`` for a quantile head) price paths, each ``(n, horizon)``.

    A quantile head gives, per step, quantiles of the cumulative scaled return from the origin (see
    ``training.losses.pinball_loss``); its point forecast is the median.
    """
    if scaled.ndim == 2:
        return {"predicted": returns_to_paths(last, scaled, scaler)}
    steps = np.diff(scaled, axis=1, prepend=0.0)  # cumulative quantiles as increments: returns_to_paths sums them back
    out = {f"q{t:g}": returns_to_paths(last, steps[:, :, k], scaler) for k, t in enumerate(taus)}
    out["predicted"] = out[f"q{0.5:g}"]
    return out


def forecast_table(
    data: WindowedData, scaled: np.ndarray, taus: list[float] | None = None, rows: np.ndarray | None = None
) -> pd.DataFrame:
    """Return one row per origin and step: ``date`` (the step's day), ``split`` (of the origin's sample),
    ``actual``, ``predicted``, ``persistence`` (the last known price, the forecast of no move), ``origin_date``,
    ``step`` (1..horizon), and for a quantile head ``q<tau>`` columns.

    The forecast of every step of origin ``t`` uses only days up to ``t``. ``scaled`` comes from
    :func:`predict_returns`, ``(n_samples, data.horizon[, quantiles])``, for the samples ``rows`` (default: all).
    """
    rows = np.arange(len(data.origin)) if rows is None else rows
    origin, split, n, horizon = data.origin[rows], data.split[rows], len(rows), data.horizon
    if scaled.shape[:2] != (n, horizon):
        raise ValueError(f"predictions of shape {scaled.shape} for {n} samples x {horizon} steps")
    last = data.prices[origin]
    day = (origin[:, None] + np.arange(1, horizon + 1)).ravel()  # (n * horizon,) origin-major
    paths = price_columns(last, scaled, data.scaler, taus or [])
    return pd.DataFrame(
        {
            "date": data.dates[day].strftime("%Y-%m-%d"),
            "split": np.repeat(np.asarray(SPLITS)[split], horizon),
            "actual": data.prices[day],
            "predicted": paths.pop("predicted").ravel(),
            "persistence": np.repeat(last, horizon),
            "origin_date": np.repeat(data.dates[origin].strftime("%Y-%m-%d"), horizon),
            "step": np.tile(np.arange(1, horizon + 1), n),
            **{name: path.ravel() for name, path in paths.items()},
        }
    )
