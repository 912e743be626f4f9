"""Error metrics in price units, for the model and for the persistence baseline."""

from __future__ import annotations

import numpy as np

from forecast.store.fields import Scores


def error_metrics(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray) -> Scores:
    """Return MAE, RMSE, MAPE (percent) and directional accuracy of ``predicted`` against ``actual``.

    ``last`` is the last known price at each forecast origin. Directional accuracy is the fraction of
    forecasts whose move ``predicted - last`` has the sign of the actual move ``actual - last`` (a zero move
    counts as its own sign, so persistence scores only on days the price did not move).
    """
    error = np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
    return Scores(
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(np.mean(error**2))),
        mape=float(100.0 * np.mean(np.abs(error) / np.abs(actual))),  # prices are validated positive
        directional_accuracy=float(np.mean(np.sign(predicted - last) == np.sign(actual - last))),
        n=len(actual),
    )


def skill(model_mae: float, baseline_mae: float) -> float:
    """Return ``1 - model_mae / baseline_mae``: positive means better than the baseline."""
    return 1.0 - model_mae / baseline_mae if baseline_mae > 0 else float("nan")
