"""Adaptive conformal intervals: normalised by a volatility forecast, and corrected online as outcomes arrive.

A row (origin ``t``, step ``h``) scores ``s = |log(actual / predicted)| / sigma``, where ``sigma`` is the forecast
made at the close of ``t`` of the volatility of the ``h``-day log return (EWMA or GARCH(1,1),
:mod:`forecast.evaluation.volatility`). Its band is ``predicted * exp(+-q sigma)``, with ``q`` the conformal
quantile at level ``1 - alpha_t`` of the last :data:`WINDOW` scores whose outcomes were known at ``t`` (those of
origins ``t - h`` and earlier). Adaptive conformal inference (Gibbs & Candes 2021) then moves the level as each
outcome arrives: ``alpha <- alpha + gamma (target - miss)``, ``target = 1 - level`` and ``miss`` 1 when the
outcome fell outside its band. Where the level asks for more than the window holds, ``q`` is capped at :data:`CAP`
times the window's largest score (never an infinite band), and the day is counted as capped.

Rows are processed in date order, so the band of day ``t`` uses outcomes before ``t`` only; the state at the end
(:class:`Online`) goes with the model, and ``predict`` continues it through newer days.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecast.evaluation.intervals import level_name, log_residuals
from forecast.evaluation.volatility import VolState

WINDOW = 252  # known scores a band's quantile is taken from (a trading year)
CAP = 2.0  # a band never exceeds this many times the window's largest score
MIN_KNOWN = 20  # scores known before the quantile is read (earlier: the cap)


@dataclass
class Online:
    """One step's online state: its miscoverage level, its known scores (oldest first) and the days capped."""

    alpha: float
    scores: list[float] = field(default_factory=list)
    capped: int = 0


def quantile(ordered: list[float], level: float) -> tuple[float, bool]:
    """Return the conformal quantile of the sorted scores at ``level`` and whether it was capped."""
    m = len(ordered)
    if m < MIN_KNOWN or level >= 1:
        return CAP * (ordered[-1] if ordered else 0.0), True
    if level <= 0:
        return 0.0, False
    k = math.ceil((m + 1) * level)
    if k > m:
        return CAP * ordered[-1], True
    return ordered[k - 1], False


class Walk:
    """One step's online walk through rows in date order, across any number of calls (the parts of a run: the
    first unit's validation rows, then every unit's test rows). A row joins the window and moves the level only
    once its outcome is known, on the first later origin on or after its outcome's day, whichever part that origin
    lies in; rows still unresolved at the end of a part wait for the next one (:meth:`finish` resolves them)."""

    def __init__(self, level: float, gamma: float, state: Online) -> None:
        self.level, self.gamma = level, gamma
        self.window: deque[float] = deque(state.scores[-WINDOW:])
        self.ordered = sorted(self.window)
        self.alpha, self.capped = state.alpha, state.capped
        self.pending: deque[tuple[float, float, int]] = deque()  # (score, q, day its outcome is known)

    def learn(self, known: float, used: float) -> None:
        if math.isnan(known):  # an outcome not known yet moves nothing
            return
        self.alpha += self.gamma * ((1 - self.level) - float(known > used))
        bisect.insort(self.ordered, known)
        self.window.append(known)
        if len(self.window) > WINDOW:
            self.ordered.pop(bisect.bisect_left(self.ordered, self.window.popleft()))

    def walk(self, scores: np.ndarray, made: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Return the quantile ``q`` of every row: ``made`` is each row's origin day, ``known`` the day its
        outcome is known (any increasing integer days, ``known > made``); rows are in date order."""
        q = np.empty(len(scores))
        for i, score in enumerate(scores):
            while self.pending and self.pending[0][2] <= made[i]:
                self.learn(*self.pending.popleft()[:2])
            q[i], was_capped = quantile(self.ordered, 1 - self.alpha)
            self.capped += was_capped
            self.pending.append((float(score), q[i], int(known[i])))
        return q

    def finish(self) -> Online:
        """Return the state once every walked row's outcome is known (the end of the run's or predict's data)."""
        while self.pending:
            self.learn(*self.pending.popleft()[:2])
        return Online(self.alpha, list(self.window), self.capped)


def run_online(scores: np.ndarray, step: int, level: float, gamma: float, state: Online) -> tuple[np.ndarray, Online]:
    """Return the quantile ``q`` of every row of one step (rows: consecutive origins, oldest first) and the state
    after the last row's outcome is known. Row ``i``'s outcome is known from row ``i + step`` on: only then does it
    join the window and move the level. A NaN score (an outcome not known yet) moves nothing."""
    walk = Walk(level, gamma, state)
    made = np.arange(len(scores))
    q = walk.walk(scores, made, made + step)
    return q, walk.finish()


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Return ``YYYY-MM-DD`` dates as integer days (ordered as the dates are)."""
    return pd.to_datetime(dates.to_numpy()).to_numpy().astype("datetime64[D]").astype(np.int64)


def adaptive_tables(
    tables: list[pd.DataFrame], levels: list[float], vol: str, gamma: float
) -> tuple[list[pd.DataFrame], dict[str, list[Online]]]:
    """Return one ticker's forecast tables (its units in date order) with ``lower_<level>``/``upper_<level>``
    columns, and the online state per level and step after the last row.

    The rows are walked in date order: the first table's validation rows (they fill the window; their bands are
    not scored), then every table's test rows; a later unit's validation rows lie before rows already walked and
    get no band. ``vol`` names the table's volatility column (``vol_<vol>``)."""
    steps = sorted(int(s) for s in tables[0]["step"].unique())
    walk = [(0, tables[0]["split"] == "val")] + [(k, t["split"] == "test") for k, t in enumerate(tables)]
    out = [t.copy() for t in tables]
    states: dict[str, list[Online]] = {}
    for level in levels:
        name, per_step = level_name(level), []
        for table in out:
            table[f"lower_{name}"] = table[f"upper_{name}"] = np.nan
        for step in steps:
            walker = Walk(level, gamma, Online(1 - level))
            for part, (k, rows) in enumerate(walk):
                t = out[k]
                mask = (rows & (t["step"] == step)).to_numpy()
                sigma = t.loc[mask, f"vol_{vol}"].to_numpy()
                score = np.abs(log_residuals(t.loc[mask]).to_numpy()) / sigma
                if part == 1:
                    walker.capped = 0  # count capped days from the first test row on
                made, known = day_numbers(t.loc[mask, "origin_date"]), day_numbers(t.loc[mask, "date"])
                q = walker.walk(score, made, known)
                centre = t.loc[mask, "predicted"].to_numpy()
                t.loc[mask, f"lower_{name}"] = centre * np.exp(-q * sigma)
                t.loc[mask, f"upper_{name}"] = centre * np.exp(q * sigma)
            state = walker.finish()  # the walk's end: every outcome walked is known
            per_step.append(state)
        states[name] = per_step
    return out, states


def final_scales(bands: Any) -> dict[str, list[float]]:
    """Return, per level name, the log-price half-width of each step of the next origin's band: the final state's
    quantile per step times the volatility forecast of that step from the last close (``bands``: adaptive
    :class:`forecast.evaluation.future.Bands` after the run's walk)."""
    sigma = np.sqrt(VolState.from_list(bands.vol_state).horizon(bands.vol, len(next(iter(bands.online.values())))))
    out = {}
    for name, per_step in bands.online.items():
        q = [quantile(sorted(s["scores"]), 1 - s["alpha"])[0] for s in per_step]
        out[name] = list(np.asarray(q) * sigma)
    return out


@dataclass
class Walked:
    """What a catch-up walk saw: per level name, the share of the walked rows (every step whose outcome the prices
    hold) inside the bands walked; the origins walked and the first and last of their outcome days."""

    coverage: dict[str, float]
    days: int
    first: str
    last: str


def catch_up(
    bands: Any, prices: np.ndarray, start: int, predicted: np.ndarray
) -> tuple[dict[str, list[dict]], VolState, dict[str, float]]:
    """Continue adaptive ``bands`` through the days after their state's (``predict`` on newer prices): return the
    online state per level and the volatility state at the last of ``prices``, and per level the coverage of the
    bands walked on the rows whose outcomes ``prices`` holds.

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
    online, coverage = {}, {}
    for name, per_step in bands.online.items():
        out, hits, rows = [], 0, 0
        for h, saved in enumerate(per_step, start=1):
            known = np.arange(n)[start + np.arange(n) + h < len(prices)]
            actual = prices[start + known + h]
            score = np.abs(np.log(actual / predicted[known, h - 1])) / np.sqrt(variance[known, h - 1])
            before = Online(saved["alpha"], list(saved["scores"]), saved["capped"])
            q, after = run_online(score, h, float(name) / 100, bands.gamma, before)
            hits, rows = hits + int((score <= q).sum()), rows + len(score)
            out.append(asdict(after))
        online[name] = out
        coverage[name] = hits / rows if rows else math.nan
    return online, state.then(returns), coverage
