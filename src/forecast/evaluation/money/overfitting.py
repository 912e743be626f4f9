"""How much of a backtest's best Sharpe ratio is selection: the deflated Sharpe ratio and the probability of
backtest overfitting.

* The deflated Sharpe ratio (Bailey & Lopez de Prado 2014, "The Deflated Sharpe Ratio", Journal of Portfolio
  Management 40(5)): the probability that a strategy's true Sharpe ratio exceeds the best one expected from
  ``trials`` unskilled trials whose Sharpe ratios vary with variance ``variance``, correcting for the return's
  skewness and kurtosis and the sample length. Every Sharpe ratio here is per period (daily), not annualised.
* The probability of backtest overfitting (Bailey, Borwein, Lopez de Prado & Zhu 2017, "The Probability of Backtest
  Overfitting", Journal of Computational Finance 20(4)) by combinatorially symmetric cross-validation: split the
  days into ``blocks`` blocks, and for every half of them pick the configuration with the best in-sample Sharpe
  ratio; PBO is the share of halves where it ranks at or below the median out of sample.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

EULER_GAMMA = 0.5772156649015329
BLOCKS = 16  # CSCV's blocks: C(16, 8) = 12,870 in-sample halves


def sharpe(returns: np.ndarray) -> float:
    """Return the per-period Sharpe ratio (mean over standard deviation, n - 1); NaN with no spread."""
    r = np.asarray(returns, dtype=np.float64)
    sd = r.std(ddof=1) if r.size > 1 else 0.0
    return float(r.mean() / sd) if sd > 0 else math.nan


def expected_max_sharpe(trials: int, variance: float) -> float:
    """Return the Sharpe ratio the best of ``trials`` unskilled trials reaches in expectation (the paper's SR0)."""
    from scipy.stats import norm

    if trials < 2:
        return 0.0
    z = (1 - EULER_GAMMA) * norm.ppf(1 - 1 / trials) + EULER_GAMMA * norm.ppf(1 - 1 / (trials * math.e))
    return float(math.sqrt(variance) * z)


def deflated_sharpe(sr: float, days: int, skew: float, kurtosis: float, trials: int, variance: float) -> float:
    """Return the deflated Sharpe ratio of a per-period Sharpe ratio ``sr`` over ``days`` returns of ``skew`` and
    (non-excess) ``kurtosis``, the best of ``trials`` whose Sharpe ratios have variance ``variance``."""
    from scipy.stats import norm

    denominator = 1 - skew * sr + (kurtosis - 1) / 4 * sr**2
    if days < 2 or not denominator > 0:
        return math.nan
    sr0 = expected_max_sharpe(trials, variance)
    return float(norm.cdf((sr - sr0) * math.sqrt(days - 1) / math.sqrt(denominator)))


def moments(returns: np.ndarray) -> tuple[float, float]:
    """Return the skewness and the non-excess kurtosis of ``returns`` (population moments, as the paper)."""
    r = np.asarray(returns, dtype=np.float64)
    centred = r - r.mean()
    sd = math.sqrt(float(np.mean(centred**2)))
    if sd == 0:
        return math.nan, math.nan
    return float(np.mean(centred**3) / sd**3), float(np.mean(centred**4) / sd**4)


def backtest_overfitting(returns: np.ndarray, blocks: int = BLOCKS) -> tuple[float, int]:
    """Return the probability of backtest overfitting of the configurations in the columns of ``returns`` (one row
    per day) by CSCV over ``blocks`` blocks (even; the last days left over are dropped), and the halves tried."""
    r = np.asarray(returns, dtype=np.float64)
    days, configs = r.shape
    if configs < 2 or blocks % 2 or days < 2 * blocks:
        return math.nan, 0
    size = days // blocks
    parts = r[: size * blocks].reshape(blocks, size, configs)
    sums, squares = parts.sum(axis=1), (parts**2).sum(axis=1)  # blocks x configs
    halves = np.array([[b in c for b in range(blocks)] for c in itertools.combinations(range(blocks), blocks // 2)])
    inside = _sharpes(halves.astype(float) @ sums, halves.astype(float) @ squares, size * blocks // 2)
    outside = _sharpes((~halves).astype(float) @ sums, (~halves).astype(float) @ squares, size * blocks // 2)
    best = np.argmax(inside, axis=1)
    chosen = outside[np.arange(len(best)), best]
    rank = (outside < chosen[:, None]).sum(axis=1) + 1  # 1 = worst out of sample
    omega = rank / (configs + 1)
    return float(np.mean(np.log(omega / (1 - omega)) <= 0)), len(halves)


def _sharpes(sums: np.ndarray, squares: np.ndarray, n: int) -> np.ndarray:
    """Return per-period Sharpe ratios from sums and sums of squares over ``n`` returns each."""
    mean = sums / n
    variance = (squares - n * mean**2) / (n - 1)
    return mean / np.sqrt(np.maximum(variance, 1e-300))
