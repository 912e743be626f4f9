"""Volatility forecasts made at each close, for intervals that widen when the market does: EWMA (RiskMetrics) and
GARCH(1,1). Both give, for every origin day ``t`` and step ``h``, the variance of the log return from the close of
``t`` to the close of ``t + h`` from returns up to ``t`` only.

* EWMA: ``v[t] = lam v[t-1] + (1 - lam) r[t]^2`` (``lam`` 0.94, RiskMetrics), started at the training span's
  variance; the ``h``-day variance is ``h v[t]``.
* GARCH(1,1): ``omega``, ``alpha``, ``beta`` and the mean fitted by maximum likelihood on the training span's
  returns in percent (``garch_mle``: ``arch``'s fit, its steps and choices, with the exact gradient);
  then ``s2[t+1] = omega + alpha e[t]^2 + beta s2[t]``
  forward through every day with those parameters, and multi-step variances from the GARCH recursion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

LAMBDA = 0.94  # RiskMetrics' daily decay
MIN_ALPHA, MAX_PERSISTENCE = 1e-3, 0.999  # a GARCH fit outside these is degenerate (see Garch.fit)
MIN_DAYS = 100  # training returns below which GARCH is not fitted (RiskMetrics instead)
DEFAULT_VARIANCE = 1e-4  # a 1% daily volatility: the EWMA's start when the training span has no returns


def ewma_variance(returns: np.ndarray, lam: float, start: float) -> np.ndarray:
    """Return ``v[t]``, the EWMA variance forecast for day ``t + 1`` made at the close of ``t``, for every ``t``.

    ``returns`` are daily log returns (``returns[0]`` may be NaN: it counts as 0); ``start`` is the variance before
    the first day."""
    from scipy.signal import lfilter

    r2 = np.nan_to_num(np.asarray(returns, dtype=np.float64)) ** 2
    return lfilter([1.0 - lam], [1.0, -lam], r2, zi=[lam * start])[0]


@dataclass(frozen=True)
class Garch:
    """GARCH(1,1) parameters for returns in percent: ``r = mu + e``, ``s2[t+1] = omega + alpha e[t]^2 + beta s2[t]``."""

    mu: float
    omega: float
    alpha: float
    beta: float

    @classmethod
    def fit(cls, returns: np.ndarray) -> Garch:
        """Return the maximum-likelihood parameters (Gaussian) of daily ``returns`` (fractions, not percent);
        under :data:`MIN_DAYS` of them, RiskMetrics' integrated GARCH below.

        A degenerate fit (``alpha`` under :data:`MIN_ALPHA`: no reaction to shocks, or ``alpha + beta`` at least
        :data:`MAX_PERSISTENCE`: a variance that drifts away, as short or trending spans give) is replaced by
        RiskMetrics' integrated GARCH (``omega`` 0, ``alpha`` 0.06, ``beta`` 0.94), the EWMA."""
        returns = np.asarray(returns, dtype=np.float64)
        returns = returns[np.isfinite(returns)]
        if len(returns) < MIN_DAYS:  # too short to fit: RiskMetrics
            return cls(0.0, 0.0, 1 - LAMBDA, LAMBDA)
        from forecast.evaluation.intervals.garch_mle import fit_garch

        fitted = cls(*fit_garch(100 * returns))
        if fitted.alpha < MIN_ALPHA or fitted.alpha + fitted.beta >= MAX_PERSISTENCE:
            return cls(0.0, 0.0, 1 - LAMBDA, LAMBDA)
        return fitted

    @property
    def long_run(self) -> float:
        """Return the unconditional variance (percent squared); infinite when ``alpha + beta >= 1``."""
        persistence = self.alpha + self.beta
        return self.omega / (1 - persistence) if persistence < 1 else math.inf

    def variance(self, returns: np.ndarray, start: float) -> np.ndarray:
        """Return ``s2[t+1]`` for every ``t``: the one-day variance forecast made at the close of ``t`` (fractions
        squared), filtered forward from ``start`` (percent squared) with these parameters."""
        from scipy.signal import lfilter

        e2 = (np.nan_to_num(100 * np.asarray(returns, dtype=np.float64)) - self.mu) ** 2
        out = lfilter([1.0], [1.0, -self.beta], self.omega + self.alpha * e2, zi=[self.beta * start])[0]
        return out / 1e4

    def horizon_variance(self, one_day: np.ndarray, steps: int) -> np.ndarray:
        """Return ``(n, steps)``: the variance of the cumulative log return over 1..``steps`` days from each origin,
        given each origin's one-day forecast ``one_day`` (fractions squared): the sum of the GARCH forecasts
        ``s2[t+k] = V + (alpha + beta)^(k-1) (s2[t+1] - V)``."""
        k = np.arange(steps)
        if math.isfinite(self.long_run):
            v = self.long_run / 1e4
            daily = v + (self.alpha + self.beta) ** k[None, :] * (one_day[:, None] - v)
        else:  # integrated: each day adds omega
            daily = one_day[:, None] + k[None, :] * self.omega / 1e4
        return np.cumsum(daily, axis=1)


@dataclass(frozen=True)
class VolState:
    """A ticker's volatility models at its last close: the one-day variance forecasts (fractions squared) made
    then, and the GARCH parameters; a future path's bands start from them, and ``predict`` continues them."""

    ewma: float
    garch: Garch
    garch_variance: float
    lam: float = LAMBDA

    def to_list(self) -> list[float]:
        g = self.garch
        return [self.ewma, g.mu, g.omega, g.alpha, g.beta, self.garch_variance, self.lam]

    @classmethod
    def from_list(cls, values: list[float]) -> VolState:
        ewma, mu, omega, alpha, beta, garch_variance, lam = (float(v) for v in values)
        return cls(ewma, Garch(mu, omega, alpha, beta), garch_variance, lam)

    def horizon(self, vol: str, steps: int) -> np.ndarray:
        """Return ``(steps,)``: the variance of the cumulative log return over 1..``steps`` days from the last close."""
        if vol == "ewma":
            return self.ewma * np.arange(1, steps + 1)
        return self.garch.horizon_variance(np.array([self.garch_variance]), steps)[0]

    def one_day(self, returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the EWMA and GARCH one-day variance forecasts made at the last close and after each of
        ``returns`` (``len(returns) + 1`` each, fractions squared)."""
        ewma = ewma_variance(returns, self.lam, self.ewma) if len(returns) else np.empty(0)
        garch = self.garch.variance(returns, self.garch_variance * 1e4) if len(returns) else np.empty(0)
        return np.r_[self.ewma, ewma], np.r_[self.garch_variance, garch]

    def then(self, returns: np.ndarray) -> VolState:
        """Return the state after the closes of ``returns`` (daily log returns after the last close)."""
        if len(returns) == 0:
            return self
        ewma = float(ewma_variance(returns, self.lam, self.ewma)[-1])
        garch = float(self.garch.variance(returns, self.garch_variance * 1e4)[-1])
        return VolState(ewma, self.garch, garch, self.lam)


def row_volatility(
    prices: np.ndarray, train: tuple[int, int], origins: np.ndarray, horizon: int, lam: float = LAMBDA
) -> tuple[dict[str, np.ndarray], VolState]:
    """Return, per forecast-table row (origin-major, steps 1..``horizon``), the EWMA and GARCH volatility of the log
    return from the origin's close to the step's, forecast at the origin's close; and the state at the last day.

    ``train`` = (first, end) day indices of the training span: the EWMA starts from its variance and GARCH is fitted
    on its returns, so nothing after the training span shapes the models (the filters then run forward, each day's
    forecast from the returns up to that day)."""
    returns = np.diff(np.log(np.asarray(prices, dtype=np.float64)), prepend=np.nan)
    fit_on = returns[train[0] + 1 : train[1]]
    fit_on = fit_on[np.isfinite(fit_on)]
    start = float(np.var(fit_on)) if len(fit_on) > 1 and np.var(fit_on) > 0 else DEFAULT_VARIANCE
    ewma = ewma_variance(returns, lam, start)
    garch = Garch.fit(fit_on)
    g_var = garch.variance(returns, garch.long_run if math.isfinite(garch.long_run) else start * 1e4)
    steps = np.arange(1, horizon + 1)
    columns = {
        "vol_ewma": np.sqrt(ewma[origins][:, None] * steps[None, :]).ravel(),
        "vol_garch": np.sqrt(garch.horizon_variance(g_var[origins], horizon)).ravel(),
    }
    return columns, VolState(float(ewma[-1]), garch, float(g_var[-1]), lam)


TERCILES = ("low", "mid", "high")
REALISED_DAYS = 21  # trailing sessions of the realised volatility that sorts days into terciles


def volatility_terciles(prices: np.ndarray, train: tuple[int, int], origins: np.ndarray) -> np.ndarray:
    """Return each origin's volatility tercile (``low``, ``mid``, ``high``): its trailing 21-session realised
    volatility against the terciles of that volatility over the training span (fixed there, never on the test)."""
    returns = np.diff(np.log(np.asarray(prices, dtype=np.float64)), prepend=np.nan)
    realised = pd.Series(returns).rolling(REALISED_DAYS).std().to_numpy()
    fitted = realised[train[0] + REALISED_DAYS : train[1]]
    cuts = np.nanquantile(fitted, [1 / 3, 2 / 3]) if np.isfinite(fitted).any() else np.array([np.inf, np.inf])
    return np.asarray(TERCILES)[np.searchsorted(cuts, realised[origins], side="right")]
