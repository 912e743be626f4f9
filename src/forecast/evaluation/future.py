"""The forecast from the last close: a dated path of the next trading sessions with its intervals.

The run and ``python -m forecast.predict`` share :func:`future_path`: a model, its stored scaler statistics
and interval bands, and the newest window give the same path bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecast.data.calendar import next_sessions
from forecast.data.scaling import Standardizer
from forecast.evaluation.intervals import apply_scales, conformal_scales, gaussian_sigmas, level_name
from forecast.evaluation.predict import predict_returns, price_columns


@dataclass
class Bands:
    """How a run makes intervals: ``conformal`` scales per level and step, a ``quantile`` head, or ``none``."""

    method: str = "none"
    scales: dict[str, list[float]] = field(default_factory=dict)  # conformal: level name -> scale per step
    sigmas: list[float] = field(default_factory=list)  # conformal: validation RMS log residual per step (CRPS)
    taus: list[float] = field(default_factory=list)  # quantile head: its quantiles

    def pairs(self) -> list[tuple[float, float]]:
        """Return the quantile head's symmetric (low, high) quantile pairs, e.g. (0.05, 0.95) for 90%."""
        return [(t, round(1 - t, 9)) for t in self.taus if t < 0.5 and round(1 - t, 9) in self.taus]

    def levels(self) -> list[str]:
        """Return the level names these bands give intervals for (e.g. '80', '90')."""
        if self.method == "quantile":
            return [level_name(high - low) for low, high in self.pairs()]
        return list(self.scales)


def bands_for(loss: str, intervals: str, levels: list[float], quantiles: list[float], table: pd.DataFrame) -> Bands:
    """Return the bands of a run: its quantile head's, or conformal ones from the table's validation rows."""
    if loss == "quantile":
        return Bands("quantile", taus=list(quantiles))
    if intervals == "conformal":
        return Bands("conformal", scales=conformal_scales(table, levels), sigmas=gaussian_sigmas(table))
    return Bands()


def row_sigmas(rows: pd.DataFrame, bands: Bands) -> np.ndarray | None:
    """Return the Gaussian scale of each row's step (conformal bands; None otherwise), for the CRPS."""
    return np.asarray(bands.sigmas)[rows["step"].to_numpy() - 1] if bands.sigmas else None


def add_intervals(table: pd.DataFrame, bands: Bands) -> pd.DataFrame:
    """Return ``table`` with ``lower_<level>``/``upper_<level>`` columns (price units) from ``bands``."""
    if bands.method == "conformal":
        return pd.concat([table, apply_scales(table["predicted"], table["step"], bands.scales)], axis=1)
    if bands.method == "quantile":
        table = table.copy()
        for low, high in bands.pairs():
            name = level_name(high - low)
            table[f"lower_{name}"], table[f"upper_{name}"] = table[f"q{low:g}"], table[f"q{high:g}"]
    return table


def future_path(
    model: nn.Module,
    latest: torch.Tensor,
    last_date: pd.Timestamp,
    last_close: float,
    scaler: Standardizer,
    horizon: int,
    strategy: str,
    bands: Bands,
    calendar: str,
    device: torch.device,
) -> pd.DataFrame:
    """Return the path from the close of ``last_date``: ``date``, ``step``, ``predicted``, the interval columns,
    any ``q<tau>`` columns, then ``last_date`` and ``last_close``; one row per step.

    ``latest`` is the newest scaled window ``(1, window, features)``; dates are ``calendar``'s next sessions.
    """
    scaled = predict_returns(model, latest, horizon, strategy, device)
    paths = price_columns(np.array([last_close]), scaled, scaler, bands.taus)
    dates = next_sessions(last_date, horizon, calendar)
    path = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "step": np.arange(1, horizon + 1)})
    path["predicted"] = paths.pop("predicted")[0]
    for name, values in paths.items():
        path[name] = values[0]
    path = add_intervals(path, bands)
    first = ["date", "step", "predicted", *[c for c in path.columns if c.startswith(("lower_", "upper_"))]]
    path = path[first + [c for c in path.columns if c not in first]]
    path["last_date"], path["last_close"] = pd.Timestamp(last_date).strftime("%Y-%m-%d"), last_close
    return path
