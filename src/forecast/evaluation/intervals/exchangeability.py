"""An alarm for the assumption behind split-conformal intervals: that the errors of the test span are exchangeable
with those of the validation span it was calibrated on.

A conformal test martingale (Vovk, Gammerman & Shafer 2005) bets against that: each new absolute error gets a
conformal p-value, its rank among the errors before it (ties broken at random, with a fixed seed), and the Simple
Jumper (Vovk, Nouretdinov & Gammerman 2021) bets on the p-values being small or large. (A mixture of power
martingales, tried first, sank during the calm of 2003-2007 on ^GSPC and never rose in 2008.) Under exchangeability
``P(sup M_n >= C) <= 1 / C`` (Ville's inequality), so crossing :data:`THRESHOLD` is evidence at the 1% level that
the errors have changed: volatility clustering, a crisis, a model that stopped fitting.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

THRESHOLD = 100.0  # M_n above this: exchangeability rejected at the 1% level
BETS = np.array([-1.0, 0.0, 1.0])  # the Simple Jumper's betting functions 1 + e (p - 1/2)
JUMP = 0.01  # the share of capital redistributed over them before each bet


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
    """Return the Simple Jumper martingale after each score (Vovk, Nouretdinov & Gammerman 2021): capital split
    over the betting functions ``1 + e (p - 1/2)``, ``e`` in {-1, 0, 1} (small p-values: larger errors than
    before; large: smaller), a share :data:`JUMP` of it redistributed over them before every bet so that a long
    calm spell cannot leave the capital stuck on the wrong side."""
    p = conformal_p_values(scores, seed)
    capital, total = np.full(3, 1 / 3), 1.0
    out = np.empty(len(p))
    for n, value in enumerate(p):
        capital = (1 - JUMP) * capital + JUMP / 3 * total
        capital = capital * (1 + BETS * (value - 0.5))
        total = float(capital.sum())
        out[n] = total
    return out


def alarm(scores: np.ndarray, seed: int = 0) -> Alarm:
    """Return where the martingale of ``scores`` first crosses :data:`THRESHOLD`, and its peak."""
    values = martingale(np.asarray(scores, dtype=np.float64), seed)
    over = np.flatnonzero(values >= THRESHOLD)
    return Alarm(int(over[0]) if len(over) else -1, float(values.max()) if len(values) else 0.0)
