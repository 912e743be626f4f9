"""An alarm for the assumption behind split-conformal intervals: that the errors of the test span are exchangeable
with those of the validation span it was calibrated on.

A conformal test martingale (Vovk, Gammerman & Shafer 2005; the simple mixture of power martingales) bets against
that: each new absolute error gets a conformal p-value, its rank among the errors before it (ties broken at random,
with a fixed seed), and ``M_n = integral over e in (0, 1] of prod_i e p_i^(e - 1)``. Under exchangeability
``P(sup M_n >= C) <= 1 / C`` (Ville's inequality), so crossing :data:`THRESHOLD` is evidence at the 1% level that
the errors have changed: volatility clustering, a crisis, a model that stopped fitting.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

THRESHOLD = 100.0  # M_n above this: exchangeability rejected at the 1% level
EPSILONS = np.linspace(0.005, 1.0, 200)  # the mixture over the power's exponent, on a grid


@dataclass(frozen=True)
class Alarm:
    """Where the martingale crossed its threshold (index into the scores; -1: never) and its largest value."""

    crossed: int
    peak: float


def conformal_p_values(scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """Return each score's conformal p-value against the scores before it and itself: the share of them at least
    as large, ties counted at a random fraction (so the p-values are uniform under exchangeability)."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(size=len(scores))
    ordered: list[float] = []
    out = np.empty(len(scores))
    for n, s in enumerate(scores):
        bisect.insort(ordered, float(s))
        above = len(ordered) - bisect.bisect_right(ordered, s)
        equal = bisect.bisect_right(ordered, s) - bisect.bisect_left(ordered, s)
        out[n] = (above + theta[n] * equal) / (n + 1)
    return out


def martingale(scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """Return ``M_n`` after each score (the simple mixture of power martingales, log-space on a grid of exponents)."""
    p = np.clip(conformal_p_values(scores, seed), 1e-12, 1.0)
    log_terms = np.log(EPSILONS)[None, :] + (EPSILONS[None, :] - 1) * np.log(p)[:, None]  # (n, grid)
    cumulative = np.cumsum(log_terms, axis=0)
    top = cumulative.max(axis=1, keepdims=True)
    return np.exp(top[:, 0]) * np.mean(np.exp(cumulative - top), axis=1)


def alarm(scores: np.ndarray, seed: int = 0) -> Alarm:
    """Return where the martingale of ``scores`` first crosses :data:`THRESHOLD`, and its peak."""
    values = martingale(np.asarray(scores, dtype=np.float64), seed)
    over = np.flatnonzero(values >= THRESHOLD)
    return Alarm(int(over[0]) if len(over) else -1, float(values.max()) if len(values) else 0.0)
