"""The statistics of a daily return series that every portfolio score shares: the Newey-West t of its mean and its
annualised Sharpe ratio (the per-day one is :func:`forecast.evaluation.money.overfitting.sharpe`)."""

from __future__ import annotations

import math

import numpy as np

from forecast.evaluation.money.overfitting import sharpe

TRADING_DAYS = 252


def newey_west_t(returns: np.ndarray) -> float:
    """Return the t-statistic of the mean with Newey-West standard errors (Bartlett kernel, ``floor(4 (n/100)^(2/9))``
    lags)."""
    n = len(returns)
    if n < 3:
        return math.nan
    e = returns - returns.mean()
    lags = int(4 * (n / 100) ** (2 / 9))
    variance = e @ e / n + 2 * sum((1 - j / (lags + 1)) * (e[j:] @ e[:-j]) / n for j in range(1, lags + 1))
    return float(returns.mean() / math.sqrt(variance / n)) if variance > 0 else math.nan


def annual_sharpe(returns: np.ndarray) -> float:
    """Return the Sharpe ratio of daily ``returns`` annualised over 252 days; NaN without spread."""
    return sharpe(returns) * math.sqrt(TRADING_DAYS)
