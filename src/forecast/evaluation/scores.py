"""The scores of one run: model and persistence on val and test, skill, every horizon step, intervals, honesty."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from forecast.evaluation.comparisons import run_comparisons
from forecast.evaluation.honesty import diebold_mariano, lag_illusion
from forecast.evaluation.intervals.conformal import crps_from_quantiles, crps_gaussian, pinball, winkler
from forecast.evaluation.metrics import error_metrics, skill
from forecast.store.fields import (
    BaselineScores,
    IntervalScores,
    LevelScores,
    StepCoverage,
    StepScores,
)
from forecast.store.record import RunScores


def evaluate(table: pd.DataFrame, horizon: int) -> RunScores:
    """Return the scores of a run (:class:`forecast.store.record.RunScores`) from a forecast table.

    ``table`` has one row per origin and step (``split``, ``step``, ``actual``, ``predicted``, ``persistence``;
    see ``evaluation.predict.forecast_table``). The headline scores are those of the last step (``horizon``
    days ahead); ``by_step`` scores every step on test. Honesty checks on the last step's test errors: the
    Diebold-Mariano test of model vs persistence (autocovariances up to lag ``horizon - 1``), the lag illusion.
    """
    final = table[table["step"] == horizon]
    out = RunScores()
    val = final[final["split"] == "val"]
    if not val.empty:  # a backtest's table holds test rows only
        actual, last = val["actual"].to_numpy(), val["persistence"].to_numpy()
        out.val = error_metrics(actual, val["predicted"].to_numpy(), last)
        out.persistence_val = error_metrics(actual, last, last)
        out.up_fraction_val = float((actual > last).mean())
        out.skill_vs_persistence_val = skill(out.val.mae, out.persistence_val.mae)
    test = final[final["split"] == "test"]
    actual, pred, last = (test[c].to_numpy() for c in ("actual", "predicted", "persistence"))
    out.test, out.persistence_test = error_metrics(actual, pred, last), error_metrics(actual, last, last)
    out.up_fraction_test = float((actual > last).mean())
    out.skill_vs_persistence = skill(out.test.mae, out.persistence_test.mae)
    days = test["date"].to_numpy()  # a pool's tickers of one day: one observation
    out.dm_vs_persistence = diebold_mariano(actual - pred, actual - last, horizon, days)
    out.lag_check = lag_illusion(actual, pred, last)
    out.by_step = by_step(table[table["split"] == "test"])
    out.baselines = baseline_scores(test, horizon)
    out.comparisons = run_comparisons(test, horizon)
    return out


def baseline_scores(test: pd.DataFrame, horizon: int) -> dict[str, BaselineScores]:
    """Return, per baseline column present (``drift``, ``linear``), its test scores, the model's skill against it
    (``1 - MAE_model / MAE_baseline``) and the Diebold-Mariano test of model vs baseline (statistic < 0: the model
    has the smaller squared errors)."""
    actual, pred, last = (test[c].to_numpy() for c in ("actual", "predicted", "persistence"))
    model_mae = float(np.mean(np.abs(actual - pred)))
    out = {}
    for name in ("drift", "linear"):
        if name in test:
            base = test[name].to_numpy()
            scores = error_metrics(actual, base, last)
            dm = diebold_mariano(actual - pred, actual - base, horizon, test["date"].to_numpy())
            out[name] = BaselineScores(scores, skill(model_mae, scores.mae), dm)
    return out


def by_step(test: pd.DataFrame) -> dict[str, StepScores]:
    """Return per horizon step (keys '1'..'H') the model's test metrics, persistence's MAE and the skill."""
    out = {}
    for step, part in test.groupby("step"):
        actual, last = part["actual"].to_numpy(), part["persistence"].to_numpy()
        model = error_metrics(actual, part["predicted"].to_numpy(), last)
        persistence_mae = float(np.mean(np.abs(actual - last)))
        out[str(step)] = StepScores(
            **asdict(model), persistence_mae=persistence_mae, skill=skill(model.mae, persistence_mae)
        )
    return out


def interval_scores(
    test: pd.DataFrame, levels: list[str], method: str, sigmas: np.ndarray | None, taus: list[float]
) -> IntervalScores:
    """Return, per level name, empirical coverage, mean width (price units) and Winkler score on test, pooled and
    per step; the CRPS in log-price units (conformal: the Gaussian whose scale ``sigmas`` gives per row, the
    validation RMS log residual of its step; a quantile head: the quantile-score approximation) and, for a
    quantile head, the pinball loss of each quantile.
    """
    actual = test["actual"].to_numpy()
    out = IntervalScores(method)
    for name in levels:
        lower, upper = test[f"lower_{name}"].to_numpy(), test[f"upper_{name}"].to_numpy()
        scores = pd.DataFrame(
            {
                "step": test["step"].to_numpy(),
                "coverage": (lower <= actual) & (actual <= upper),
                "width": upper - lower,
                "winkler": winkler(actual, lower, upper, float(name) / 100),
            }
        )
        steps = scores.groupby("step").mean()
        per_step = {
            str(s): StepCoverage(float(row["coverage"]), float(row["width"]), float(row["winkler"]))
            for s, row in steps.iterrows()
        }
        pooled = {k: float(scores[k].mean()) for k in ("coverage", "width", "winkler")}
        out.levels[name] = LevelScores(**pooled, by_step=per_step)
    log_actual = np.log(actual)
    if method == "quantile":
        q = np.log(test[[f"q{t:g}" for t in taus]].to_numpy())
        out.crps = float(crps_from_quantiles(log_actual, q, taus).mean())
        out.pinball = {f"q{t:g}": float(pinball(actual, test[f"q{t:g}"].to_numpy(), t).mean()) for t in taus}
    elif sigmas is not None:
        out.crps = float(crps_gaussian(log_actual, np.log(test["predicted"].to_numpy()), sigmas).mean())
    return out
