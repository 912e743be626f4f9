"""Interval coverage a person can check: per fold, per volatility tercile, over rolling windows, and the volatility
baselines (EWMA and GARCH(1,1) Gaussian bands around the same point forecast) it is judged against.

The baselines' bands are ``predicted * exp(+-z sigma)`` with ``sigma`` the table's ``vol_ewma``/``vol_garch`` (the
forecast volatility of the log return to the row's step) and ``z`` the Gaussian quantile of the level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.evaluation.scores import interval_scores
from forecast.store.fields import BreakCoverage, IntervalScores, PathScores

VOL_BASELINES = ("ewma", "garch")
ROLLING = 63  # sessions of the rolling coverage (a quarter)
AFTER_BREAK = 20  # sessions scored from each market break on (forecast.breaks)
MATCHED = 0.03  # a method is compared on Winkler when its coverage is within this of the level


def covered(table: pd.DataFrame, name: str) -> pd.Series:
    """Return whether each row's actual price lies in its ``name`` interval (NaN bounds: not covered)."""
    return (table[f"lower_{name}"] <= table["actual"]) & (table["actual"] <= table[f"upper_{name}"])


def coverage_by(test: pd.DataFrame, levels: list[str], key: str) -> dict[str, dict[str, float]]:
    """Return, per value of column ``key`` (a fold, a tercile), each level's coverage over its rows."""
    if key not in test:
        return {}
    hits = pd.DataFrame({name: covered(test, name) for name in levels})
    return {
        str(k): {str(n): float(v) for n, v in part.mean().items()} for k, part in hits.groupby(test[key].to_numpy())
    }


def gaussian_bands(table: pd.DataFrame, vol: str, levels: list[str]) -> pd.DataFrame:
    """Return ``table`` with the ``vol`` baseline's Gaussian ``lower_<level>``/``upper_<level>`` instead of its own."""
    from scipy.special import ndtri

    out = table.drop(columns=[c for c in table.columns if str(c).startswith(("lower_", "upper_"))])
    sigma = table[f"vol_{vol}"].to_numpy()
    for name in levels:
        z = float(ndtri(0.5 + float(name) / 200))
        out[f"lower_{name}"] = table["predicted"] * np.exp(-z * sigma)
        out[f"upper_{name}"] = table["predicted"] * np.exp(z * sigma)
    return out


def best_method(scores: dict[str, IntervalScores], name: str) -> str:
    """Return the interval method with the lowest Winkler score at level ``name`` among those whose coverage is
    within :data:`MATCHED` of it (when none is, the one whose coverage is closest)."""
    level = float(name) / 100
    near = {m: s for m, s in scores.items() if name in s.levels and abs(s.levels[name].coverage - level) <= MATCHED}
    if near:
        return min(near, key=lambda m: near[m].levels[name].winkler)
    return min(
        scores, key=lambda m: abs(scores[m].levels[name].coverage - level) if name in scores[m].levels else math.inf
    )


def rolling_coverage(test: pd.DataFrame, name: str, window: int = ROLLING) -> pd.Series:
    """Return the coverage of the last ``window`` sessions at each test date (pooled over tickers and steps)."""
    daily = covered(test, name).groupby(test["date"].to_numpy()).mean().sort_index()
    return daily.rolling(window, min_periods=window).mean().dropna()


def with_coverage(scores: IntervalScores, test: pd.DataFrame) -> IntervalScores:
    """Return ``scores`` with the coverage per fold and per volatility tercile of its levels over ``test``, pooled
    over the steps and at each step (a step's worst fold can lie far below the pooled one)."""
    levels = list(scores.levels)
    scores.by_fold, scores.by_tercile = coverage_by(test, levels, "fold"), coverage_by(test, levels, "vol_tercile")
    for step, part in test.groupby("step"):
        folds, terciles = coverage_by(part, levels, "fold"), coverage_by(part, levels, "vol_tercile")
        for name, level in scores.levels.items():
            at = level.by_step[str(step)]
            at.by_fold = {k: v[name] for k, v in folds.items()}
            at.by_tercile = {k: v[name] for k, v in terciles.items()}
    return scores


@dataclass
class WorstFold:
    """The fold and step where one level's coverage fell furthest: its coverage, the fold and the step."""

    level: str
    coverage: float
    fold: str
    step: str


def worst_folds(scores: IntervalScores) -> list[WorstFold]:
    """Return, per level (widest first), the lowest coverage of any fold at any step (none for a single split)."""
    out = []
    for name in sorted(scores.levels, key=float, reverse=True):
        cells = [
            (cover, fold, step)
            for step, at in scores.levels[name].by_step.items()
            for fold, cover in at.by_fold.items()
            if len(at.by_fold) > 1
        ]
        if cells:
            cover, fold, step = min(cells, key=lambda c: (c[0], int(c[1]), int(c[2])))
            out.append(WorstFold(name, cover, fold, step))
    return out


def scored_intervals(
    test: pd.DataFrame, levels: list[str], method: str, sigmas: np.ndarray | None, taus: list[float], capped: int
) -> IntervalScores:
    """Return the run's interval scores on its ``test`` rows (see :func:`forecast.evaluation.scores.interval_scores`)
    with the coverage per fold and tercile, the days capped, the volatility baselines scored alike (Gaussian CRPS
    on their own volatility) and the best method at the widest level by Winkler score at matched coverage."""
    out = with_coverage(interval_scores(test, levels, method, sigmas, taus), test)
    out.capped = capped
    out.span = f"{test['date'].min()}..{test['date'].max()}" if len(test) else ""
    for vol in VOL_BASELINES:
        if f"vol_{vol}" in test and levels:
            bands = gaussian_bands(test, vol, levels)
            sigma = test[f"vol_{vol}"].to_numpy()
            out.baselines[vol] = with_coverage(interval_scores(bands, levels, vol, sigma, []), bands)
    if levels:
        out.best = best_method({method: out, **out.baselines}, max(levels, key=float))
    return out


def after_breaks(test: pd.DataFrame, levels: list[str], breaks: list[str]) -> dict[str, BreakCoverage]:
    """Return, per break date (``YYYY-MM-DD``) inside the test span, each level's coverage over the rows whose
    outcome falls in the first :data:`AFTER_BREAK` test sessions from that date on (the break day included)."""
    days = np.sort(test["date"].unique())
    out = {}
    for day in breaks:
        if not len(days) or not days[0] <= day <= days[-1]:
            continue
        first = days[days >= day][:AFTER_BREAK]
        rows = test[test["date"].isin(first)]
        out[day] = BreakCoverage(len(first), {name: float(covered(rows, name).mean()) for name in levels})
    return out


def with_breaks(scores: IntervalScores, test: pd.DataFrame, breaks: list[str]) -> IntervalScores:
    """Return ``scores`` with the coverage after each break, its own and its volatility baselines'."""
    levels = list(scores.levels)
    scores.after_breaks = after_breaks(test, levels, breaks)
    for vol, base in scores.baselines.items():
        base.after_breaks = after_breaks(gaussian_bands(test, vol, levels), levels, breaks)
    return scores


def path_scores(test: pd.DataFrame, levels: list[str]) -> dict[str, PathScores]:
    """Return, per level, the joint coverage of whole test paths (every step inside at once) for the path bands,
    the per-step bands and the Bonferroni bands, and the median widths (% of the origin's close); empty when the
    table has no path bands. A path is one origin of one ticker."""
    if not levels or f"path_lower_{levels[0]}" not in test:
        return {}
    keys = [test[c].to_numpy() for c in ("ticker", "origin_date") if c in test]

    def joint(prefix: str, name: str) -> float:
        inside = (test[f"{prefix}lower_{name}"] <= test["actual"]) & (test["actual"] <= test[f"{prefix}upper_{name}"])
        return float(inside.groupby(keys).all().mean())

    def width(prefix: str, name: str) -> float:
        return float(
            (100 * (test[f"{prefix}upper_{name}"] - test[f"{prefix}lower_{name}"]) / test["persistence"]).median()
        )

    paths = int(test.groupby(keys).ngroups)
    return {
        name: PathScores(
            joint("path_", name),
            width("path_", name),
            joint("", name),
            joint("bonferroni_", name),
            width("bonferroni_", name),
            paths,
        )
        for name in levels
    }
