"""Conformal PID control (Angelopoulos, Candes & Tibshirani 2023): online bands from a tracked quantile, an error
integrator and a scorecaster, instead of adaptive conformal inference's moving level.

On the volatility-normalised scores of :mod:`forecast.evaluation.intervals.adaptive` the band's quantile is

    q_t = p_t + r_t(E_t),   p_{t+1} = p_t + lr (miss_t - alpha),   E_t = sum_{i<=t} (miss_i - alpha),
    r_t(x) = ki tan(x log(t) / (t csat))   (t: outcomes seen, plus one),

where ``alpha = 1 - level`` and ``miss`` is 1 when an outcome fell outside its band. ``p`` is the P term (quantile
tracking), ``r_t(E_t)`` the I term (the saturating integrator of the paper's equation (6), which grows without bound
when misses persist), and the D term, the scorecaster, is the volatility forecast that normalises every score (the
paper's scorecaster forecasts the score; here the EWMA or GARCH forecast scales it, so ``q`` tracks a stationary
quantile). ``p`` starts at the conformal quantile of the first
:data:`forecast.evaluation.intervals.adaptive.MIN_KNOWN` known scores (the validation span's); a band is never
wider than ``CAP`` times the window's largest score, nor below 0.
The paper's reference code is github.com/aangelopoulos/conformal-time-series (core/methods.py).
"""

from __future__ import annotations

import math

from forecast.evaluation.intervals.adaptive import CAP, MIN_KNOWN, Walk, quantile


def saturation(errors: float, seen: int, ki: float, csat: float) -> float:
    """Return the integrator's term ``ki tan(errors log(t) / (t csat))`` with ``t = seen + 1`` (infinite, signed,
    where the argument reaches +-pi/2)."""
    t = seen + 1
    x = errors * math.log(t) / (t * csat)
    if abs(x) >= math.pi / 2:
        return math.copysign(math.inf, x)
    return ki * math.tan(x)


class PidWalk(Walk):
    """A walk whose band is conformal PID control's (see the module doc); the level stays at its target."""

    def band(self) -> tuple[float, bool]:
        if len(self.ordered) < MIN_KNOWN:
            return quantile(self.ordered, self.level)
        if math.isnan(self.p):  # the first band with enough known scores: start at their conformal quantile
            self.p = quantile(self.ordered, self.level)[0]
        c = self.control
        q, top = self.p + saturation(self.errors, self.seen, c.ki, c.csat), CAP * self.ordered[-1]
        if not q < top:
            return top, True
        return max(q, 0.0), False

    def update(self, miss: bool) -> None:
        if math.isnan(self.p):  # outcomes of bands made before p started move nothing
            return
        error = float(miss) - (1 - self.level)
        self.p += self.control.lr * error
        self.errors += error
        self.seen += 1
