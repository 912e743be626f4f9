"""A walk-forward backtest's own scores: each fold's, how many folds the model won, the spread of its skill."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.evaluation.metrics import skill
from forecast.store.fields import BacktestScores, FoldScores


def fold_scores(table: pd.DataFrame, horizon: int) -> BacktestScores:
    """Return per-fold test MAE, persistence's and the linear baseline's, the skill against each, and a summary.

    ``table`` holds the test rows of every fold (``fold`` column); folds are scored at the last step. Skill is
    ``1 - MAE_model / MAE_baseline``; a fold is won when the skill against persistence is positive.
    """
    final = table[table["step"] == horizon]
    by_fold: dict[str, FoldScores] = {}
    for fold, part in final.groupby("fold"):
        actual = part["actual"].to_numpy()
        mae = float(np.mean(np.abs(actual - part["predicted"].to_numpy())))
        pers = float(np.mean(np.abs(actual - part["persistence"].to_numpy())))
        linear = float(np.mean(np.abs(actual - part["linear"].to_numpy()))) if "linear" in part else float("nan")
        first, last = str(part["date"].min()), str(part["date"].max())  # a pooled fold holds many tickers
        by_fold[str(fold)] = FoldScores(first, last, len(part), mae, pers, skill(mae, pers), skill(mae, linear))
    skills = np.array([f.skill for f in by_fold.values()])
    return BacktestScores(
        folds=len(by_fold),
        won=int((skills > 0).sum()),
        skill_mean=float(skills.mean()),
        skill_sd=float(skills.std(ddof=1)) if len(skills) > 1 else 0.0,
        skill_min=float(skills.min()),
        skill_max=float(skills.max()),
        by_fold=by_fold,
    )
