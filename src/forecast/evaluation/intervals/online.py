"""A run's online bands: each ticker's units walked in date order with adaptive (ACI) or PID control, the path
bands of a whole multi-step forecast, and the final state's bands from the last close (and through newer days,
for ``predict``).

Path bands (``forecast.path_bands``) cover a whole path at once: each origin scores the largest of its steps'
normalised scores, ``max_h |log(actual_h / predicted_h)| / sigma_h``, known once its last step's outcome is, and
one online quantile ``q`` of that score gives every step the band ``predicted_h * exp(+-q sigma_h)``: all steps of
a path lie inside exactly when its score is within ``q``, so ``q`` is calibrated on the joint event. Steps move
together (a path's cumulative returns share their first days), so this is narrower than the Bonferroni split of
the level over the steps (each step at ``1 - (1 - level) / H``), which the run walks beside it for comparison.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecast.evaluation.intervals.adaptive import Control, Online, Walk
from forecast.evaluation.intervals.conformal import level_name, log_residuals
from forecast.evaluation.intervals.pid import PidWalk
from forecast.evaluation.intervals.volatility import VolState


def walker(control: Control, level: float, state: Online) -> Walk:
    """Return the online walk of ``control``'s method at ``level`` from ``state``."""
    return (PidWalk if control.method == "pid" else Walk)(level, control, state)


def run_online(
    scores: np.ndarray, step: int, level: float, control: Control, state: Online
) -> tuple[np.ndarray, Online]:
    """Return the quantile ``q`` of every row of one step (rows: consecutive origins, oldest first) and the state
    after the last row's outcome is known. Row ``i``'s outcome is known from row ``i + step`` on: only then does it
    join the window and move the band. A NaN score (an outcome not known yet) moves nothing."""
    walk = walker(control, level, state)
    made = np.arange(len(scores))
    q = walk.walk(scores, made, made + step)
    return q, walk.finish()


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Return ``YYYY-MM-DD`` dates as integer days (ordered as the dates are)."""
    return pd.to_datetime(dates.to_numpy()).to_numpy().astype("datetime64[D]").astype(np.int64)


@dataclass(frozen=True)
class Walked:
    """One ticker's walk: its tables with band columns, and the final state per level name (per step; and of its
    path bands, when asked)."""

    tables: list[pd.DataFrame]
    states: dict[str, list[Online]]
    paths: dict[str, Online]


def online_tables(
    tables: list[pd.DataFrame], levels: list[float], vol: str, control: Control, path: bool = False
) -> Walked:
    """Return one ticker's forecast tables (its units in date order) with ``lower_<level>``/``upper_<level>``
    columns (with ``path``: also ``path_`` and ``bonferroni_`` ones) and the final online states.

    The rows are walked in date order: the first table's validation rows (they fill the window; their bands are
    not scored), then every table's test rows; a later unit's validation rows lie before rows already walked and
    get no band. ``vol`` names the table's volatility column (``vol_<vol>``)."""
    parts = [(0, tables[0]["split"] == "val")] + [(k, t["split"] == "test") for k, t in enumerate(tables)]
    out = [t.copy() for t in tables]
    states, paths = {}, {}
    horizon = int(tables[0]["step"].max())
    for level in levels:
        states[level_name(level)] = step_walks(out, parts, level, level_name(level), vol, control)
        if path:
            paths[level_name(level)] = path_walk(out, parts, level, vol, control)
            bonferroni = 1 - (1 - level) / horizon
            step_walks(out, parts, bonferroni, level_name(level), vol, control, prefix="bonferroni_")
    return Walked(out, states, paths)


def scored_rows(t: pd.DataFrame, mask: np.ndarray, vol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the normalised scores, volatility forecasts and point forecasts of the rows ``mask`` of ``t``."""
    sigma = t.loc[mask, f"vol_{vol}"].to_numpy()
    return np.abs(log_residuals(t.loc[mask]).to_numpy()) / sigma, sigma, t.loc[mask, "predicted"].to_numpy()


def step_walks(
    out: list[pd.DataFrame], parts: list, level: float, name: str, vol: str, control: Control, prefix: str = ""
) -> list[Online]:
    """Walk every step's rows through ``parts`` at ``level``, writing ``<prefix>lower_<name>``/``upper`` columns;
    return the final state per step."""
    for table in out:
        table[f"{prefix}lower_{name}"] = table[f"{prefix}upper_{name}"] = np.nan
    per_step = []
    for step in sorted(int(s) for s in out[0]["step"].unique()):
        walk = walker(control, level, Online(1 - level))
        for i, (k, rows) in enumerate(parts):
            t = out[k]
            mask = (rows & (t["step"] == step)).to_numpy()
            score, sigma, centre = scored_rows(t, mask, vol)
            if i == 1:
                walk.capped = 0  # count capped days from the first test row on
            q = walk.walk(score, day_numbers(t.loc[mask, "origin_date"]), day_numbers(t.loc[mask, "date"]))
            t.loc[mask, f"{prefix}lower_{name}"] = centre * np.exp(-q * sigma)
            t.loc[mask, f"{prefix}upper_{name}"] = centre * np.exp(q * sigma)
        per_step.append(walk.finish())  # the walk's end: every outcome walked is known
    return per_step


def path_walk(out: list[pd.DataFrame], parts: list, level: float, vol: str, control: Control) -> Online:
    """Walk the origins' path scores (the largest normalised score of their steps) through ``parts``, writing
    ``path_lower_<name>``/``path_upper_<name>`` on every step's row; return the final state."""
    name, walk = level_name(level), walker(control, level, Online(1 - level))
    for table in out:
        table[f"path_lower_{name}"] = table[f"path_upper_{name}"] = np.nan
    for i, (k, rows) in enumerate(parts):
        t = out[k]
        mask = rows.to_numpy()
        score, sigma, centre = scored_rows(t, mask, vol)
        steps = int(t["step"].max())  # rows are origin-major: each origin's steps 1..H in turn
        if i == 1:
            walk.capped = 0
        dates = t.loc[mask, "date"].to_numpy().reshape(-1, steps)
        origins = t.loc[mask, "origin_date"].to_numpy().reshape(-1, steps)[:, 0]
        made, known = day_numbers(pd.Series(origins)), day_numbers(pd.Series(dates[:, -1]))
        q = walk.walk(score.reshape(-1, steps).max(axis=1), made, known)
        q_rows = np.repeat(q, steps)
        t.loc[mask, f"path_lower_{name}"] = centre * np.exp(-q_rows * sigma)
        t.loc[mask, f"path_upper_{name}"] = centre * np.exp(q_rows * sigma)
    return walk.finish()


def control_of(bands: Any) -> Control:
    """Return the online control stored in adaptive or PID :class:`forecast.evaluation.future.Bands`."""
    lr, ki, csat = bands.pid or [math.nan] * 3
    return Control(bands.method, bands.gamma, lr, ki, csat)


def final_scales(bands: Any) -> dict[str, list[float]]:
    """Return, per level name, the log-price half-width of each step of the next origin's band: the final state's
    quantile per step times the volatility forecast of that step from the last close (``bands``: online
    :class:`forecast.evaluation.future.Bands` after the run's walk); with path bands, ``path_<level>`` too."""
    steps = len(next(iter(bands.online.values())))
    sigma = np.sqrt(VolState.from_list(bands.vol_state).horizon(bands.vol, steps))
    control, out = control_of(bands), {}
    for name, per_step in bands.online.items():
        q = [walker(control, float(name) / 100, Online(**s)).band()[0] for s in per_step]
        out[name] = list(np.asarray(q) * sigma)
    for name, state in bands.path_online.items():
        out[f"path_{name}"] = list(walker(control, float(name) / 100, Online(**state)).band()[0] * sigma)
    return out


def catch_up(
    bands: Any, prices: np.ndarray, start: int, predicted: np.ndarray
) -> tuple[dict[str, list[dict]], dict[str, dict], VolState, dict[str, float]]:
    """Continue online ``bands`` through the days after their state's (``predict`` on newer prices): return the
    state per level (per step, and of the path bands) and the volatility state at the last of ``prices``, and
    per level the coverage of the bands walked on the rows whose outcomes ``prices`` holds.

    ``start`` is the index in ``prices`` of the state's last close; ``predicted`` the model's price paths
    ``(n, steps)`` from the origins ``start .. start + n - 1``. Each step's rows whose outcome ``prices`` holds are
    walked as the run walks its test span; rows from origins before ``start`` are not replayed (their volatility
    forecasts were not kept)."""
    state = VolState.from_list(bands.vol_state)
    returns = np.diff(np.log(np.asarray(prices[start:], dtype=np.float64)))
    ewma, garch = state.one_day(returns)
    n, steps = predicted.shape
    k = np.arange(1, steps + 1)
    variance = ewma[:n, None] * k if bands.vol == "ewma" else state.garch.horizon_variance(garch[:n], steps)
    scores = np.full((n, steps), np.nan)
    for h in range(1, steps + 1):
        known = np.arange(n)[start + np.arange(n) + h < len(prices)]
        actual = prices[start + known + h]
        scores[known, h - 1] = np.abs(np.log(actual / predicted[known, h - 1])) / np.sqrt(variance[known, h - 1])
    control, online, coverage, paths = control_of(bands), {}, {}, {}
    for name, per_step in bands.online.items():
        out, hits, rows = [], 0, 0
        for h, saved in enumerate(per_step, start=1):
            score = scores[: max(0, len(prices) - start - h), h - 1]
            q, after = run_online(score, h, float(name) / 100, control, Online(**saved))
            hits, rows = hits + int((score <= q).sum()), rows + len(score)
            out.append(asdict(after))
        online[name], coverage[name] = out, hits / rows if rows else math.nan
    for name, saved in bands.path_online.items():
        whole = scores[: max(0, len(prices) - start - steps)].max(axis=1)
        paths[name] = asdict(run_online(whole, steps, float(name) / 100, control, Online(**saved))[1])
    return online, paths, state.then(returns), coverage
