"""The comparison models of Fischer & Krauss (2018): a logistic regression and a random forest on lagged returns,
as Krauss, Do & Huck (2017) built their inputs (``portfolio.baselines``).

Each origin ``t`` (the last close known) is described by its stock's returns over the last ``m`` sessions,
``R(m) = p[t] / p[t - m] - 1`` for ``m`` in 1..20, 40, 60, .., 240 (31 inputs), and labelled as the recurrent
classifier is: 1 when the stock's return on day ``t + 1`` is above that day's median over the pool
(:mod:`forecast.data.labels`). Both models are fitted per unit of work (a study period) on the training origins of
the tickers the network trains on, and forecast every ticker's validation and test origins: the probability of
the label, written to the forecast table beside the network's as ``probability_logistic`` and
``probability_forest``, which the portfolio ranks with the same rule (:mod:`forecast.evaluation.money.portfolio`).

The logistic regression standardises its inputs on the training rows (scikit-learn's ``StandardScaler``) and
keeps scikit-learn's default L2 penalty (``C = 1``). The random forest takes ``sqrt(31) = 5`` inputs a split, as
Krauss et al. did; their 1,000 trees of depth 20 cost ten times the default's 100 (35 s a study period on 2 cores),
so the trees and the depth are options (``portfolio.forest_trees``, ``portfolio.forest_depth``), each tree on a
bootstrap sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

LAGS = np.array([*range(1, 21), *range(40, 241, 20)])  # Krauss, Do & Huck (2017): 31 returns
COLUMNS = {"logistic": "probability_logistic", "forest": "probability_forest"}


@dataclass(frozen=True)
class ClassicSettings:
    """Which comparison models to fit (``portfolio.baselines``) and the forest's size."""

    names: tuple[str, ...] = ()
    trees: int = 100
    depth: int = 20
    seed: int = 0


def lagged_returns(prices: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """Return ``(len(origins), 31)``: ``R(m)`` at each origin (NaN where ``t - m`` falls before the first day)."""
    back = origins[:, None] - LAGS[None, :]
    out = prices[origins][:, None] / prices[np.maximum(back, 0)] - 1.0
    out[back < 0] = np.nan
    return out


def examples(prices: np.ndarray, origins: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the inputs and labels of the training ``origins`` that have every lag and a label; ``labels`` are
    aligned with feature rows 1..n-1, so the label of origin ``t``'s next day is ``labels[t]``."""
    x, y = lagged_returns(prices, origins), labels[origins]
    keep = ~np.isnan(x).any(axis=1) & ~np.isnan(y)
    return x[keep], y[keep].astype(np.int64)


class Classifier(Protocol):
    """A fitted scikit-learn classifier: what the forecast table needs of it."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...


def fit_classic(
    s: ClassicSettings, spans: list[tuple[np.ndarray, np.ndarray, np.ndarray]], threads: int
) -> dict[str, Classifier]:
    """Return each named model fitted on ``spans``: per ticker its prices, its training origins and its labels."""
    if not s.names:
        return {}
    pairs = [examples(prices, origins, labels) for prices, origins, labels in spans]
    x, y = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
    fitted: dict[str, Classifier] = {}
    if "logistic" in s.names:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        fitted["logistic"] = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    if "forest" in s.names:
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(
            n_estimators=s.trees, max_depth=s.depth, max_features="sqrt", n_jobs=threads, random_state=s.seed
        )
        fitted["forest"] = forest.fit(x, y).set_params(n_jobs=1)  # a threaded predict sums trees in any order
    return fitted


def classic_columns(
    fitted: dict[str, Classifier], prices: np.ndarray, origins: np.ndarray, horizon: int
) -> dict[str, np.ndarray]:
    """Return each fitted model's probability of the label for ``origins``, repeated over the ``horizon``'s steps
    as the forecast table's rows are (NaN where a lag is missing)."""
    x = lagged_returns(prices, origins)
    ok = ~np.isnan(x).any(axis=1)
    out = {}
    for name, model in fitted.items():
        p = np.full(len(origins), np.nan)
        if ok.any():
            p[ok] = model.predict_proba(x[ok])[:, 1]
        out[COLUMNS[name]] = np.repeat(p, horizon)
    return out
