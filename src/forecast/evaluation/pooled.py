"""Scores of a global run: each ticker as a local run would score it, and all tickers pooled.

Pooled scores are computed on prices relative to each forecast's origin close (``price / last close``), so that a
$3,000 index and a $30 stock weigh alike: MAE and RMSE are then fractions of the last close, MAPE and directional
accuracy are unchanged, and skill and the Diebold-Mariano tests compare the same relative errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecast.evaluation.backtest import fold_scores
from forecast.evaluation.honesty import benjamini_hochberg, significant_counts
from forecast.evaluation.intervals.coverage import covered, scored_intervals
from forecast.evaluation.scores import evaluate
from forecast.store.fields import BaselineBrief, TickerScores
from forecast.store.record import RunScores
from forecast.store.ticker_tests import TickerTests

PRICE_PREFIXES = ("actual", "predicted", "persistence", "drift", "linear", "lower_", "upper_", "q0")


def relative(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with every price column divided by the row's origin close (``persistence``)."""
    out = table.copy()
    last = table["persistence"].to_numpy()
    for column in table.columns:
        if column.startswith(PRICE_PREFIXES):
            out[column] = table[column].to_numpy() / last
    return out


def pooled_scores(
    table: pd.DataFrame,
    horizon: int,
    levels: list[str],
    method: str,
    sigmas: np.ndarray | None,
    taus: list[float],
    capped: int = 0,
) -> RunScores:
    """Return the run's scores for the pooled, relative ``table`` (all tickers; see the module doc).

    ``sigmas``: the conformal scale of each test row (None otherwise), in the order of the test rows."""
    rel = relative(table)
    with np.errstate(invalid="ignore", divide="ignore"):  # the relative last close is 1: no price correlation
        out = evaluate(rel, horizon)
    lag = out.lag_check
    lag.corr_lag0 = lag.corr_lag1 = float("nan")
    lag.delayed_copy = None
    lag.verdict = "pooled over tickers: moves compared (corr_returns, drift_only); the delayed-copy check is per ticker"
    if method != "none":
        out.intervals = scored_intervals(rel[rel["split"] == "test"], levels, method, sigmas, taus, capped)
    if "fold" in rel:
        out.backtest = fold_scores(rel, horizon)
    return out


def ticker_scores(table: pd.DataFrame, horizon: int, levels: list[str]) -> TickerScores:
    """Return one ticker's headline scores (price units, as its local run reports them) from its forecast table."""
    scores = evaluate(table, horizon)
    test = table[(table["split"] == "test") & (table["step"] == horizon)]
    coverage = {name: float(covered(test, name).mean()) for name in levels}
    return TickerScores(
        test=scores.test,
        persistence_test=scores.persistence_test,
        skill_vs_persistence=math.nan if scores.skill_vs_persistence is None else scores.skill_vs_persistence,
        dm_vs_persistence=scores.dm_vs_persistence,
        delayed_copy=scores.lag_check.delayed_copy,
        drift_only=scores.lag_check.drift_only,
        baselines={n: BaselineBrief(b.test.mae, b.skill, b.dm.p_value) for n, b in scores.baselines.items()},
        coverage=coverage,
        first_test_date=str(test["date"].iloc[0]) if len(test) else None,
        last_test_date=str(test["date"].iloc[-1]) if len(test) else None,
        backtest=fold_scores(table, horizon) if "fold" in table else None,
    )


ALPHA = 0.05  # the per-ticker Diebold-Mariano tests, and the false discovery rate of their Benjamini-Hochberg control


def surviving(tickers: dict[str, TickerScores]) -> dict[str, bool]:
    """Return, per ticker, whether its Diebold-Mariano test against persistence survives Benjamini-Hochberg at 5%."""
    names = list(tickers)
    kept = benjamini_hochberg(np.array([tickers[t].dm_vs_persistence.p_value for t in names]), ALPHA)
    return dict(zip(names, kept.tolist(), strict=True))


def ticker_tests(tickers: dict[str, TickerScores]) -> TickerTests:
    """Return the counts of tickers ahead of persistence, significantly better or worse raw and after
    Benjamini-Hochberg, and predicting the drift only."""
    names = list(tickers)
    p = np.array([tickers[t].dm_vs_persistence.p_value for t in names])
    stat = np.array([tickers[t].dm_vs_persistence.statistic for t in names])
    return TickerTests(
        tickers=len(tickers),
        ahead=sum(v.skill_vs_persistence > 0 for v in tickers.values()),
        **significant_counts(p, stat, ALPHA),
        drift_only=sum(bool(v.drift_only) for v in tickers.values()),
    )
