"""Model forecasts for every sample, converted back to prices, beside persistence and the actual price."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecast.data.dataset import SPLITS, WindowedData, returns_to_prices


@torch.inference_mode()
def predict_scaled(model: nn.Module, inputs: torch.Tensor, device: torch.device, batch: int = 4096) -> np.ndarray:
    """Return the model's scaled outputs ``(n_samples, horizon)`` as float64, computed in eval mode."""
    model.eval()
    outs = [model(xb.to(device)).double().cpu() for xb in inputs.split(batch)]
    return torch.cat(outs).numpy()


def forecast_table(data: WindowedData, scaled_pred: np.ndarray) -> pd.DataFrame:
    """Return one row per sample: ``date`` (forecast day), ``split``, ``actual``, ``predicted``, ``persistence``.

    The forecast for day ``t + horizon`` uses only days up to ``t`` (its origin). ``persistence`` is the
    last known price ``p[t]``. ``scaled_pred`` has shape ``(n_samples, data.horizon)``.
    """
    if scaled_pred.shape != (len(data.origin), data.horizon):
        raise ValueError(f"predictions of shape {scaled_pred.shape} for {len(data.origin)} samples x {data.horizon}")
    last = data.prices[data.origin]
    return pd.DataFrame(
        {
            "date": data.dates[data.forecast_day].strftime("%Y-%m-%d"),
            "split": np.asarray(SPLITS)[data.split],
            "actual": data.prices[data.forecast_day],
            "predicted": returns_to_prices(last, scaled_pred, data.scaler),
            "persistence": last,
        }
    )
