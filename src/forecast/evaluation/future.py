"""The forecast from the last close: a dated path of the next trading sessions with its intervals.

The run and ``python -m forecast.predict`` share :func:`future_path`: a model, its stored scaler statistics
and interval bands, and the newest window give the same path bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecast.data.calendar import next_sessions
from forecast.data.scaling import Standardizer
from forecast.evaluation.inference import predict_returns, price_columns
from forecast.evaluation.intervals.adaptive import ONLINE, Control
from forecast.evaluation.intervals.conformal import (
    apply_scales,
    conformal_quantile,
    conformal_scales,
    gaussian_sigmas,
    level_name,
    supported,
)
from forecast.evaluation.intervals.online import final_scales


@dataclass
class Bands:
    """How a run makes intervals: ``conformal`` scales per level and step, a ``quantile`` head, ``adaptive``
    (volatility-normalised, corrected online: :mod:`forecast.evaluation.intervals.adaptive`), or ``none``. Plain
    fields only: the bands of each ticker are stored in ``model.pt``."""

    method: str = "none"
    scales: dict[str, list[float]] = field(default_factory=dict)  # conformal: level name -> scale per step
    sigmas: list[float] = field(default_factory=list)  # conformal: validation RMS log residual per step (CRPS)
    taus: list[float] = field(default_factory=list)  # quantile head: its quantiles
    cqr: dict[str, list[float]] = field(default_factory=dict)  # quantile head: level -> log widening per step (CQR)
    vol: str = ""  # adaptive: the volatility model that normalises the scores (ewma | garch)
    gamma: float = 0.0  # adaptive: the step size of the level's online update
    pid: list[float] = field(default_factory=list)  # pid: the gains lr, ki, csat (evaluation.pid)
    vol_state: list[float] = field(default_factory=list)  # adaptive: see evaluation.volatility.VolState.to_list
    online: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # adaptive: level -> per step state
    as_of: str = ""  # adaptive: the last close the state has seen
    levels_wanted: list[float] = field(default_factory=list)  # adaptive: the levels the run asked for
    path: bool = False  # online: path bands of the whole path as well (evaluation.online)
    path_online: dict[str, dict[str, Any]] = field(default_factory=dict)  # online: level -> the path bands' state

    def pairs(self) -> list[tuple[float, float]]:
        """Return the quantile head's symmetric (low, high) quantile pairs, e.g. (0.05, 0.95) for 90%."""
        pairs = [(t, round(1 - t, 9)) for t in self.taus if t < 0.5 and round(1 - t, 9) in self.taus]
        return sorted(pairs, key=lambda pair: pair[1] - pair[0])  # narrowest (lowest level) first

    def levels(self) -> list[str]:
        """Return the level names these bands give intervals for (e.g. '80', '90')."""
        if self.method == "quantile":
            return [level_name(high - low) for low, high in self.pairs()]
        return [level_name(a) for a in self.levels_wanted] if self.method in ONLINE else list(self.scales)


def bands_for(
    loss: str,
    intervals: str,
    levels: list[float],
    quantiles: list[float],
    table: pd.DataFrame,
    vol: str,
    control: Control,
    path: bool = False,
) -> Bands:
    """Return the bands of a run: its quantile head's, conformal ones from the table's validation rows, or
    adaptive ones (whose levels the run's walk through its units sets: :func:`forecast.pipeline.fitting.adapt`)."""
    if loss == "quantile":
        bands = Bands("quantile", taus=list(quantiles))
        return replace(bands, cqr=cqr_widening(table, bands.pairs()))
    if intervals == "conformal":
        return Bands("conformal", scales=conformal_scales(table, levels), sigmas=gaussian_sigmas(table))
    if intervals in ONLINE:
        pid = [control.lr, control.ki, control.csat] if intervals == "pid" else []
        return Bands(intervals, vol=vol, gamma=control.gamma, pid=pid, levels_wanted=list(levels), path=path)
    return Bands()


def cqr_widening(table: pd.DataFrame, pairs: list[tuple[float, float]]) -> dict[str, list[float]]:
    """Return the conformalised quantile regression (Romano, Patterson & Candes 2019) of a quantile head on the
    table's validation rows: per level and step, the conformal quantile of the scores
    ``max(log(q_low / y), log(y / q_high))`` (:func:`conformal_quantile`), the log widening (negative: narrowing)
    that makes the band cover its level on validation. A level the validation rows cannot calibrate is refused as
    for conformal bands (:func:`supported`). Test rows are never read."""
    val = table[table["split"] == "val"]
    if val.empty:
        return {}
    parts = [part for _, part in val.groupby("step", sort=True)]
    supported(min(len(p) for p in parts), [high - low for low, high in pairs])
    out: dict[str, list[float]] = {}
    for low, high in pairs:
        steps = []
        for part in parts:
            y = part["actual"].to_numpy()
            scores = np.maximum(np.log(part[f"q{low:g}"].to_numpy() / y), np.log(y / part[f"q{high:g}"].to_numpy()))
            steps.append(conformal_quantile(scores, high - low))
        out[level_name(high - low)] = steps
    return out


def row_sigmas(rows: pd.DataFrame, bands: Bands) -> np.ndarray | None:
    """Return the Gaussian scale of each row for the CRPS: conformal bands' step scale, adaptive bands' volatility
    forecast; None otherwise."""
    if bands.method in ONLINE:
        return rows[f"vol_{bands.vol}"].to_numpy()
    return np.asarray(bands.sigmas)[rows["step"].to_numpy() - 1] if bands.sigmas else None


def add_intervals(table: pd.DataFrame, bands: Bands) -> pd.DataFrame:
    """Return ``table`` with ``lower_<level>``/``upper_<level>`` columns (price units) from ``bands``."""
    if bands.method == "conformal":
        return pd.concat([table, apply_scales(table["predicted"], table["step"], bands.scales)], axis=1)
    if bands.method == "quantile":
        table = table.copy()
        for low, high in bands.pairs():
            name = level_name(high - low)
            widen = np.exp(np.asarray(bands.cqr.get(name, [0.0] * int(table["step"].max())))[table["step"] - 1])
            table[f"lower_{name}"], table[f"upper_{name}"] = table[f"q{low:g}"] / widen, table[f"q{high:g}"] * widen
    if bands.method in ONLINE and bands.online:  # a path from the last close: the final state's bands
        scales = final_scales(bands)
        steps = {k: v for k, v in scales.items() if not k.startswith("path_")}
        paths = {k.removeprefix("path_"): v for k, v in scales.items() if k.startswith("path_")}
        own = apply_scales(table["predicted"], table["step"], steps)
        whole = apply_scales(table["predicted"], table["step"], paths).add_prefix("path_")
        return pd.concat([table, own, whole], axis=1)
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
