"""Honest baselines beside the network, fitted on the same training span and scored on the same days.

* ``persistence``: no move (the close at the origin); in every forecast table already.
* ``drift``: the mean training log return every day. Returns are scaled by their training mean and standard
  deviation, so the drift forecast is exactly 0 in scaled units.
* ``linear``: a ridge autoregression on the same scaled windows (all lags and features -> every step), with the
  penalty chosen on the validation span. Closed form: scikit-learn's ``Ridge`` gives the same coefficients (a test
  checks it) but costs 1.4 s of imports a run, more than fitting this one.
"""

from __future__ import annotations

import numpy as np

from forecast.data.dataset import WindowedData

ALPHAS = tuple(float(a) for a in np.logspace(-3, 7, 41))  # ridge penalties tried on validation: 4 a decade


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(coef (features, outputs), intercept (outputs,))`` minimising ``|y - x coef - b|^2 + alpha |coef|^2``.

    The intercept is not penalised (as in scikit-learn's ``Ridge``): the problem is solved on centred data.
    """
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mx, y - my
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    return coef, my - mx @ coef


def linear_returns(data: WindowedData) -> tuple[np.ndarray, float]:
    """Return the ridge autoregression's scaled returns ``(n_samples, horizon)`` and the penalty chosen on val."""
    x = data.inputs.reshape(len(data.inputs), -1).double().numpy()
    y = data.targets.double().numpy()
    train, val = data.split == 0, data.split == 1
    alpha = ALPHAS[int(np.argmin(val_errors(x[train], y[train], x[val], y[val])))] if val.any() else 1.0
    coef, intercept = ridge_fit(x[train], y[train], alpha)
    return x @ coef + intercept, alpha


def val_errors(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> list[float]:
    """Return the validation mean squared error of the ridge fit on ``(x, y)`` at every penalty of :data:`ALPHAS`,
    from one eigendecomposition of the centred Gram matrix (``coef = V (V' X'y) / (s + alpha)``)."""
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc = x - mx
    s, v = np.linalg.eigh(xc.T @ xc)
    projected, xv = v.T @ (xc.T @ (y - my)), (x_val - mx) @ v
    return [float(np.mean((xv @ (projected / (s + a)[:, None]) + my - y_val) ** 2)) for a in ALPHAS]


def at_edge(alpha: float) -> bool:
    """Return whether a chosen penalty sits at an end of :data:`ALPHAS` (the top: the fit is nearly the drift)."""
    return alpha in (ALPHAS[0], ALPHAS[-1])


def drift_returns(data: WindowedData) -> np.ndarray:
    """Return the drift forecast in scaled units: zeros (the scaled training mean return)."""
    return np.zeros((len(data.origin), data.horizon))
