"""The scores of one run: model and persistence on val and test, skill, and the honesty checks."""

from __future__ import annotations

from typing import Any

import pandas as pd

from forecast.evaluation.honesty import diebold_mariano, lag_illusion
from forecast.evaluation.metrics import error_metrics, skill
from forecast.record import DieboldMariano, LagCheck, Scores


def evaluate(table: pd.DataFrame, horizon: int) -> dict[str, Any]:
    """Return the scoring fields of a :class:`forecast.record.RunRecord` from a forecast table.

    ``table`` has one row per sample (``split``, ``actual``, ``predicted``, ``persistence``; see
    ``evaluation.predict.forecast_table``). Honesty checks on test: the Diebold-Mariano test of model vs
    persistence (autocovariances up to lag ``horizon - 1``) and the lag illusion.
    """
    out: dict[str, Any] = {}
    for split in ("val", "test"):
        part = table[table["split"] == split]
        actual, last = part["actual"].to_numpy(), part["persistence"].to_numpy()
        out[split] = Scores(**error_metrics(actual, part["predicted"].to_numpy(), last))
        out[f"persistence_{split}"] = Scores(**error_metrics(actual, last, last))
        out[f"up_fraction_{split}"] = float((actual > last).mean())
    out["skill_vs_persistence"] = skill(out["test"].mae, out["persistence_test"].mae)
    out["skill_vs_persistence_val"] = skill(out["val"].mae, out["persistence_val"].mae)
    test = table[table["split"] == "test"]
    actual, pred, last = (test[c].to_numpy() for c in ("actual", "predicted", "persistence"))
    out["dm_vs_persistence"] = DieboldMariano(**diebold_mariano(actual - pred, actual - last, horizon))
    out["lag_check"] = LagCheck(**lag_illusion(actual, pred, last))
    return out
