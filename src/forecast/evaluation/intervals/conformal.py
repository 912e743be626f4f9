"""Prediction intervals and their scores: split-conformal scales, coverage, width, Winkler, pinball and CRPS.

Conformal intervals (Vovk et al.; split conformal as in Lei et al. 2018) are built per horizon step from the
absolute log residuals ``|log(actual / predicted)|`` of the validation span only: for level ``a`` the scale is
the ``ceil((n + 1) a)``-th smallest of the ``n`` residuals, and the interval is ``predicted * exp(+-scale)``.
The test span is never read, so the coverage measured there is an honest check.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecast.errors import ConfigError

SQRT_PI = math.sqrt(math.pi)


def level_name(level: float) -> str:
    """Return the column suffix of a level: 0.9 -> '90', 0.975 -> '97.5'."""
    return f"{100 * level:.6g}"


def conformal_scale(residuals: np.ndarray, level: float) -> float:
    """Return the split-conformal quantile of absolute ``residuals`` for ``level`` (inf when too few)."""
    return conformal_quantile(np.abs(np.asarray(residuals, dtype=np.float64)), level)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """Return the ``ceil((n + 1) level)``-th smallest of ``n`` conformity ``scores`` (inf when ``n`` is too few)."""
    r = np.sort(np.asarray(scores, dtype=np.float64))
    k = math.ceil((len(r) + 1) * level)
    return float(r[k - 1]) if 1 <= k <= len(r) else math.inf


def log_residuals(table: pd.DataFrame) -> pd.Series:
    """Return ``log(actual / predicted)`` of every row of a forecast table."""
    return np.log(table["actual"]) - np.log(table["predicted"])


def conformal_scales(table: pd.DataFrame, levels: list[float]) -> dict[str, list[float]]:
    """Return, per level name, the conformal scale of each horizon step from the table's ``val`` rows only."""
    val = table[table["split"] == "val"]
    steps = sorted(table["step"].unique())
    by_step = [log_residuals(val[val["step"] == s]).to_numpy() for s in steps]
    supported(min(len(r) for r in by_step) if by_step else 0, levels)
    return {level_name(a): [conformal_scale(r, a) for r in by_step] for a in levels}


def supported(n: int, levels: list[float]) -> None:
    """Refuse a level that ``n`` validation residuals cannot calibrate (``ceil((n + 1) level) > n``: an infinite
    band), naming the largest level they support."""
    for a in levels:
        if math.ceil((n + 1) * a) > n:
            needed = math.ceil(a / (1 - a) - 1e-9)
            largest = math.floor(1000 * n / (n + 1)) / 1000
            raise ConfigError(
                f"forecast.levels={a:g} needs at least {needed} validation forecasts per step for a finite band, and "
                f"this run has {n}: the largest level they support is {largest:g}; lower the level or lengthen the "
                "validation span"
            )


def gaussian_sigmas(table: pd.DataFrame) -> list[float]:
    """Return per step the RMS of the validation log residuals: the Gaussian scale used for CRPS."""
    val = table[table["split"] == "val"]
    return [float(np.sqrt(np.mean(log_residuals(val[val["step"] == s]) ** 2))) for s in sorted(table["step"].unique())]


def apply_scales(predicted: pd.Series, step: pd.Series, scales: dict[str, list[float]]) -> pd.DataFrame:
    """Return ``lower_<level>`` and ``upper_<level>`` columns: ``predicted * exp(-+scale of the row's step)``."""
    out = {}
    for name, per_step in scales.items():
        s = np.asarray(per_step)[step.to_numpy() - 1]
        out[f"lower_{name}"], out[f"upper_{name}"] = predicted * np.exp(-s), predicted * np.exp(s)
    return pd.DataFrame(out, index=predicted.index)


def winkler(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> np.ndarray:
    """Return the Winkler (interval) score per row: width, plus ``2 / (1 - level)`` times any miss distance."""
    alpha = 1.0 - level
    below, above = np.maximum(lower - actual, 0.0), np.maximum(actual - upper, 0.0)
    return (upper - lower) + (2.0 / alpha) * (below + above)


def pinball(actual: np.ndarray, quantile: np.ndarray, tau: float) -> np.ndarray:
    """Return the pinball (quantile) loss of a ``tau`` quantile forecast, per row."""
    diff = actual - quantile
    return np.maximum(tau * diff, (tau - 1.0) * diff)


def crps_gaussian(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Return the closed-form CRPS of a Gaussian ``N(mu, sigma^2)`` forecast at ``y`` (Gneiting et al. 2005)."""
    z = (y - mu) / sigma
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    from scipy.special import ndtr  # here, not at the top: predict imports this module and never scores

    return sigma * (z * (2 * ndtr(z) - 1) + 2 * pdf - 1 / SQRT_PI)


def crps_from_quantiles(actual: np.ndarray, quantiles: np.ndarray, taus: list[float]) -> np.ndarray:
    """Return the CRPS approximated by the quantile score: ``2 / K * sum_k pinball_tau_k`` (K quantiles per row)."""
    return np.asarray(2.0 / len(taus) * sum(pinball(actual, quantiles[:, k], tau) for k, tau in enumerate(taus)))
