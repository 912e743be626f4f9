"""What sets a long-short portfolio beside Fischer & Krauss (2018) like for like: accuracy on the selected stocks,
the paper's fixed cost (4 half-turns a day), the breakeven cost per half-turn, and the scores per era.

* **Accuracy on the selections**: of the ``2k`` stocks picked each day, a long is right when its return that day is
  above the day's median over the ranked stocks (its label is 1), a short when it is not (label 0); the share of
  picks that are right, over every day that trades. Public replications of the paper report this one.
* **Accuracy over all stocks**: the share of ranked ticker-days whose forecast lies on the same side of the day's
  median forecast as its return lies of the day's median return (every stock, every day).
* **The fixed convention**: the paper charges 4 half-turns every day (0.46 - 4 x 0.05 = 0.26); here each day that
  trades is charged ``4 x cost``, beside the actual turnover's charge.
* **Breakeven**: the cost per half-turn, in bp, at which the mean net return on the actual turnover is zero,
  ``mean gross / mean turnover``.
* **Eras**: ``..2009``; ``2010..2015``, the paper's last years, in which it reports returns around zero after costs;
  ``2016..``, after it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecast.evaluation.money.daily_returns import annual_sharpe, newey_west_t
from forecast.store.portfolio_fields import EraScores

PAPER_HALF_TURNS = 4  # both legs replaced every day, as the paper charges
ERAS = (("..2009", None, "2010-01-01"), ("2010..2015", "2010-01-01", "2016-01-01"), ("2016..", "2016-01-01", None))


def above_day_median(values: np.ndarray) -> np.ndarray:
    """Return days x tickers: True where a value is above its day's median over the row's non-NaN values."""
    with np.errstate(invalid="ignore"):
        median = np.nanmedian(np.where(np.isnan(values), np.nan, values), axis=1, keepdims=True)
        return values > median


def selection_accuracy(weights: np.ndarray, realised: np.ndarray) -> float:
    """Return the share of the picks (``weights != 0``) on the right side of their day's median return."""
    picked = weights != 0
    if not picked.any():
        return math.nan
    above = above_day_median(realised)
    right = (weights > 0) & above | (weights < 0) & ~above
    return float(right[picked].mean())


def accuracy_all(scores: np.ndarray, realised: np.ndarray) -> float:
    """Return the share of ticker-days (both a score and a return) whose score and return lie on the same side of
    their day's medians."""
    valid = ~np.isnan(scores) & ~np.isnan(realised)
    if not valid.any():
        return math.nan
    on_side = above_day_median(np.where(valid, scores, np.nan)) == above_day_median(np.where(valid, realised, np.nan))
    return float(on_side[valid].mean())


def fixed_cost_net(gross: np.ndarray, weights: np.ndarray, cost: float) -> np.ndarray:
    """Return the daily net return under the paper's convention: ``4 x cost`` on every day that holds positions."""
    return gross - PAPER_HALF_TURNS * cost * (weights != 0).any(axis=1)


def breakeven_bps(gross: np.ndarray, turnover: np.ndarray) -> float:
    """Return the cost per half-turn in bp at which the mean daily net return is zero."""
    paid = float(np.mean(turnover)) if len(turnover) else 0.0
    return float(1e4 * np.mean(gross) / paid) if paid > 0 else math.nan


def era_masks(dates: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Return each era's days among ``dates`` (eras without a day left out)."""
    out = {}
    for name, start, end in ERAS:
        mask = np.ones(len(dates), dtype=bool)
        if start is not None:
            mask &= np.asarray(dates >= pd.Timestamp(start))
        if end is not None:
            mask &= np.asarray(dates < pd.Timestamp(end))
        if mask.any():
            out[name] = mask
    return out


def by_era(gross: np.ndarray, net: np.ndarray, fixed: np.ndarray, dates: pd.DatetimeIndex) -> dict[str, EraScores]:
    """Return the scores of each era that has test days (see the module doc)."""
    out = {}
    for name, mask in era_masks(dates).items():
        g, n, f = gross[mask], net[mask], fixed[mask]
        out[name] = EraScores(
            first_date=str(dates[mask][0].date()),
            last_date=str(dates[mask][-1].date()),
            days=int(mask.sum()),
            gross_pct=float(100 * g.mean()),
            gross_t=newey_west_t(g),
            gross_sharpe=annual_sharpe(g),
            net_pct=float(100 * n.mean()),
            net_t=newey_west_t(n),
            net_sharpe=annual_sharpe(n),
            net_fixed_pct=float(100 * f.mean()),
            net_fixed_t=newey_west_t(f),
        )
    return out
