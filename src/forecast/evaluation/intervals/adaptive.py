"""Adaptive conformal intervals: normalised by a volatility forecast, and corrected online as outcomes arrive.

A row (origin ``t``, step ``h``) scores ``s = |log(actual / predicted)| / sigma``, where ``sigma`` is the forecast
made at the close of ``t`` of the volatility of the ``h``-day log return (EWMA or GARCH(1,1),
:mod:`forecast.evaluation.intervals.volatility`). Its band is ``predicted * exp(+-q sigma)``, with ``q`` the conformal
quantile at level ``1 - alpha_t`` of the last :data:`WINDOW` scores whose outcomes were known at ``t`` (those of
origins ``t - h`` and earlier). Adaptive conformal inference (Gibbs & Candes 2021) then moves the level as each
outcome arrives: ``alpha <- alpha + gamma (target - miss)``, ``target = 1 - level`` and ``miss`` 1 when the
outcome fell outside its band. Where the level asks for more than the window holds, ``q`` is capped at :data:`CAP`
times the window's largest score (never an infinite band), and the day is counted as capped.

Rows are processed in date order, so the band of day ``t`` uses outcomes before ``t`` only; the state at the end
(:class:`Online`) goes with the model, and ``predict`` continues it through newer days. Conformal PID control
(:mod:`forecast.evaluation.intervals.pid`) walks the same way with another update;
:mod:`forecast.evaluation.intervals.online` walks a run's tables with either.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

ONLINE = ("adaptive", "pid")  # the interval methods walked online through a run's days
WINDOW = 252  # known scores a band's quantile is taken from (a trading year)
CAP = 2.0  # a band never exceeds this many times the window's largest score
MIN_KNOWN = 20  # scores known before the quantile is read (earlier: the cap)


@dataclass
class Online:
    """One step's online state: its miscoverage level, its known scores (oldest first) and the days capped; for
    conformal PID control also its tracked quantile ``p`` (NaN until the window first holds enough scores), its
    integrated coverage errors and the outcomes it has seen."""

    alpha: float
    scores: list[float] = field(default_factory=list)
    capped: int = 0
    p: float = math.nan
    errors: float = 0.0
    seen: int = 0


@dataclass(frozen=True)
class Control:
    """How an online band moves: ``adaptive`` (ACI: the level by ``gamma`` a step) or ``pid`` (conformal PID
    control: the quantile by ``lr``, an integrator of gain ``ki`` saturating with ``csat``)."""

    method: str = "adaptive"
    gamma: float = 0.02
    lr: float = 0.05
    ki: float = 2.0
    csat: float = 0.5


def quantile(ordered: list[float], level: float) -> tuple[float, bool]:
    """Return the conformal quantile of the sorted scores at ``level`` and whether it was capped."""
    m = len(ordered)
    if m < MIN_KNOWN or level >= 1:
        return CAP * (ordered[-1] if ordered else 0.0), True
    if level <= 0:
        return 0.0, False
    k = math.ceil((m + 1) * level)
    if k > m:
        return CAP * ordered[-1], True
    return ordered[k - 1], False


class Walk:
    """One step's online walk through rows in date order, across any number of calls (the parts of a run: the
    first unit's validation rows, then every unit's test rows). A row joins the window and moves the band only
    once its outcome is known, on the first later origin on or after its outcome's day, whichever part that origin
    lies in; rows still unresolved at the end of a part wait for the next one (:meth:`finish` resolves them).
    This class moves the level as adaptive conformal inference does; subclasses override :meth:`band` and
    :meth:`update`."""

    def __init__(self, level: float, control: Control, state: Online) -> None:
        self.level, self.control = level, control
        self.window: deque[float] = deque(state.scores[-WINDOW:])
        self.ordered = sorted(self.window)
        self.alpha, self.capped = state.alpha, state.capped
        self.p, self.errors, self.seen = state.p, state.errors, state.seen
        self.pending: deque[tuple[float, float, int]] = deque()  # (score, q, day its outcome is known)

    def band(self) -> tuple[float, bool]:
        """Return the next row's quantile of the normalised score and whether it was capped."""
        return quantile(self.ordered, 1 - self.alpha)

    def update(self, miss: bool) -> None:
        """Move the band after an outcome: ``miss`` when it fell outside its band."""
        self.alpha += self.control.gamma * ((1 - self.level) - float(miss))

    def learn(self, known: float, used: float) -> None:
        if math.isnan(known):  # an outcome not known yet moves nothing
            return
        self.update(known > used)
        bisect.insort(self.ordered, known)
        self.window.append(known)
        if len(self.window) > WINDOW:
            self.ordered.pop(bisect.bisect_left(self.ordered, self.window.popleft()))

    def walk(self, scores: np.ndarray, made: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Return the quantile ``q`` of every row: ``made`` is each row's origin day, ``known`` the day its
        outcome is known (any increasing integer days, ``known > made``); rows are in date order."""
        q = np.empty(len(scores))
        for i, score in enumerate(scores):
            while self.pending and self.pending[0][2] <= made[i]:
                self.learn(*self.pending.popleft()[:2])
            q[i], was_capped = self.band()
            self.capped += was_capped
            self.pending.append((float(score), q[i], int(known[i])))
        return q

    def finish(self) -> Online:
        """Return the state once every walked row's outcome is known (the end of the run's or predict's data)."""
        while self.pending:
            self.learn(*self.pending.popleft()[:2])
        return Online(self.alpha, list(self.window), self.capped, self.p, self.errors, self.seen)
