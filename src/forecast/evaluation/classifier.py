"""A classifier run's forecasts (``data.target=above_median``): the probability that each ticker's next-day return is
above the day's median over the pool, in a forecast table beside the label and the prices, and its scores.

The table keeps the price columns a portfolio needs (``actual``, ``persistence``: the origin's close) and has no
``predicted`` price: it carries ``probability`` and the label ``above_median`` instead. Accuracy is tested against
50% on the daily accuracy (the share of a day's tickers on the label's side), with Newey-West errors, because the
tickers of one day share that day's news and are not independent trials.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from forecast.data.dataset import SPLITS, WindowedData
from forecast.evaluation.money.daily_returns import newey_west_t
from forecast.evaluation.money.portfolio import SPLIT_YEAR
from forecast.store.classifier_fields import ClassifierScores

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] in the log loss


def classifier_table(data: WindowedData, logits: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """Return one row per origin of ``rows``: ``date`` (the forecast day), ``split``, ``actual`` (that day's close),
    ``persistence`` (the origin's close), ``origin_date``, ``step`` (1), ``probability`` (the sigmoid of the model's
    logit, ``logits``: ``(len(rows), 1)``) and ``above_median`` (the label)."""
    origin, split = data.origin[rows], data.split[rows]
    if logits.shape != (len(rows), 1):
        raise ValueError(f"logits of shape {logits.shape} for {len(rows)} samples x 1 step")
    assert data.labels is not None, "a classifier's data carries its labels"
    return pd.DataFrame(
        {
            "date": data.dates[origin + 1].strftime("%Y-%m-%d"),
            "split": np.asarray(SPLITS)[split],
            "actual": data.prices[origin + 1],
            "persistence": data.prices[origin],
            "origin_date": data.dates[origin].strftime("%Y-%m-%d"),
            "step": 1,
            "probability": torch.sigmoid(torch.from_numpy(logits[:, 0])).numpy(),
            "above_median": data.labels.numpy()[origin].astype(np.int8),  # row origin is day origin + 1
        }
    )


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Return the mean binary log loss of probabilities ``p`` for labels ``y`` (NaN when there are none)."""
    if len(p) == 0:
        return math.nan
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def accuracy(rows: pd.DataFrame) -> float | None:
    """Return the share of ``rows`` whose probability is on the label's side of 0.5 (None when there are none)."""
    if rows.empty:
        return None
    return float(((rows["probability"].to_numpy() > 0.5) == (rows["above_median"].to_numpy() == 1)).mean())


def classifier_scores(table: pd.DataFrame) -> ClassifierScores:
    """Return the scores of a classifier run's forecast table (see :class:`ClassifierScores`)."""
    val, test = (table[table["split"] == name] for name in ("val", "test"))
    p, y = test["probability"].to_numpy(float), test["above_median"].to_numpy(float)
    hit = (p > 0.5) == (y == 1)
    daily = pd.Series(hit).groupby(test["date"].to_numpy()).mean()
    t = newey_west_t(daily.to_numpy() - 0.5)
    early = (test["date"] < SPLIT_YEAR).to_numpy()  # ISO dates compare as strings
    folds = dict(tuple(test.groupby("fold"))) if "fold" in test else {}
    return ClassifierScores(
        accuracy_val=accuracy(val),
        accuracy_test=accuracy(test),
        log_loss_val=log_loss(val["probability"].to_numpy(float), val["above_median"].to_numpy(float)),
        log_loss_test=log_loss(p, y),
        brier_test=float(np.mean((p - y) ** 2)) if len(p) else None,
        base_rate_test=float(y.mean()) if len(y) else None,
        n_test=len(test),
        days_test=len(daily),
        accuracy_t=t,
        accuracy_p_value=math.erfc(abs(t) / math.sqrt(2)) if math.isfinite(t) else None,
        accuracy_before_2010=accuracy(test[early]),
        accuracy_from_2010=accuracy(test[~early]),
        by_fold={str(fold): accuracy(rows) or 0.0 for fold, rows in folds.items()},
    )


def probability_path(
    model: torch.nn.Module,
    latest: torch.Tensor,
    last_date: pd.Timestamp,
    last_close: float,
    calendar: str,
    device: torch.device,
) -> pd.DataFrame:
    """Return the next session's forecast from the close of ``last_date``: ``date``, ``step`` (1), ``probability``
    (that the ticker's return that day is above the pool's median), ``last_date`` and ``last_close``."""
    from forecast.data.calendar import next_sessions
    from forecast.evaluation.inference import predict_scaled

    logit = predict_scaled(model, latest, device)[:, 0]
    return pd.DataFrame(
        {
            "date": next_sessions(last_date, 1, calendar).strftime("%Y-%m-%d"),
            "step": [1],
            "probability": torch.sigmoid(torch.from_numpy(logit)).numpy(),
            "last_date": pd.Timestamp(last_date).strftime("%Y-%m-%d"),
            "last_close": last_close,
        }
    )
