"""A walk-forward backtest's own scores: each fold's with its Diebold-Mariano test, how many folds the model is ahead
in (and how many significantly, with a sign test of the count), the spread of its skill."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecast.evaluation.honesty import diebold_mariano
from forecast.evaluation.metrics import skill
from forecast.store.fields import BacktestScores, FoldScores


def fold_scores(table: pd.DataFrame, horizon: int) -> BacktestScores:
    """Return per-fold test MAE, persistence's and the linear baseline's, the skill against each, and a summary.

    ``table`` holds the test rows of every fold (``fold`` column); folds are scored at the last step. Skill is
    ``1 - MAE_model / MAE_baseline``; a fold is won when the skill against persistence is positive, and won (or
    lost) significantly when the fold's Diebold-Mariano test (squared errors; a pool's relative to the origin's
    close) says so at 5%.
    """
    final = table[table["step"] == horizon]
    by_fold: dict[str, FoldScores] = {}
    for fold, part in final.groupby("fold"):
        actual = part["actual"].to_numpy()
        mae = float(np.mean(np.abs(actual - part["predicted"].to_numpy())))
        pers = float(np.mean(np.abs(actual - part["persistence"].to_numpy())))
        linear = float(np.mean(np.abs(actual - part["linear"].to_numpy()))) if "linear" in part else float("nan")
        first, last = str(part["date"].min()), str(part["date"].max())  # a pooled fold holds many tickers
        scale = part["persistence"].to_numpy() if "ticker" in part else 1.0
        model, pers_errors = (
            (actual - part["predicted"].to_numpy()) / scale,
            (actual - part["persistence"].to_numpy()) / scale,
        )
        dm = diebold_mariano(model, pers_errors, horizon, part["date"].to_numpy())
        by_fold[str(fold)] = FoldScores(
            first, last, len(part), mae, pers, skill(mae, pers), skill(mae, linear), dm.p_value, dm.statistic
        )
    skills = np.array([f.skill for f in by_fold.values()])
    significant = [f for f in by_fold.values() if f.dm_p_value < ALPHA]
    return BacktestScores(
        folds=len(by_fold),
        won=int((skills > 0).sum()),
        won_significantly=sum(f.dm_statistic < 0 for f in significant),
        lost_significantly=sum(f.dm_statistic > 0 for f in significant),
        sign_test_p=sign_test(int((skills > 0).sum()), len(skills)),
        skill_mean=float(skills.mean()),
        skill_sd=float(skills.std(ddof=1)) if len(skills) > 1 else 0.0,
        skill_min=float(skills.min()),
        skill_max=float(skills.max()),
        by_fold=by_fold,
    )


ALPHA = 0.05  # a fold's Diebold-Mariano test at this level counts it as won or lost significantly


def sign_test(wins: int, n: int) -> float:
    """Return the two-sided exact binomial p-value of ``wins`` out of ``n`` against one half."""
    if n == 0:
        return math.nan
    tail = min(sum(math.comb(n, k) for k in range(wins + 1)), sum(math.comb(n, k) for k in range(wins, n + 1)))
    return min(1.0, 2 * tail / 2**n)
