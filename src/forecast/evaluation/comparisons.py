"""Which models are best after every comparison that was run, not one pair at a time.

* The model confidence set (Hansen, Lunde & Nason 2011, ``arch.bootstrap.MCS``, range statistic): the models
  that cannot be told apart from the best at the set's level; each model's MCS p-value is the largest size at
  which it stays in.
* Hansen's (2005) test of superior predictive ability (``arch.bootstrap.SPA``): does any of the models beat the
  benchmark? with Romano & Wolf's (2005) StepM (``arch.bootstrap.StepM``), which names those that do, with the
  family-wise error held at the size over every model tested.

All three resample days with the stationary bootstrap (Politis & Romano 1994) of mean block length
:func:`block_length`: ``max(horizon, ceil(days ** (1/3)))``, the cube-root rule (Hall, Horowitz & Jing 1995),
never shorter than the overlap of ``horizon``-step errors. Losses are one column per model and one row per day: a
pool's ticker-days are averaged per day first (one day's tickers share its news). The seed is fixed, so a
record's p-values are reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecast.evaluation.honesty import clark_west
from forecast.store.fields import Comparisons, ConfidenceSet, Superiority

REPS = 1000  # bootstrap resamples
SIZE = 0.1  # the confidence set's size: the set of best models at 90%
SPA_SIZE = 0.05  # StepM's family-wise error
SEED = 0


def block_length(days: int, horizon: int = 1) -> int:
    """Return the stationary bootstrap's mean block length for ``days`` daily losses of ``horizon``-step forecasts."""
    return max(horizon, math.ceil(days ** (1 / 3)))


def daily_losses(losses: pd.DataFrame, days: np.ndarray | None) -> pd.DataFrame:
    """Return the mean loss of each model per day in date order (``losses`` itself, re-indexed, without days)."""
    if days is None:
        return losses.reset_index(drop=True)
    return losses.groupby(np.asarray(days), sort=True).mean().reset_index(drop=True)


def confidence_set(
    losses: pd.DataFrame, horizon: int = 1, loss: str = "squared errors", size: float = SIZE, reps: int = REPS
) -> ConfidenceSet:
    """Return the model confidence set of ``losses`` (one column per model, one row per day)."""
    from arch.bootstrap import MCS

    losses = losses.dropna()
    names = [str(c) for c in losses.columns]
    losses.columns = names
    block = block_length(len(losses), horizon)
    twin = {c: next(u for u in names if losses[u].equals(losses[c])) for c in names}  # identical losses: one model
    distinct = losses[[c for c in names if twin[c] == c]]
    if distinct.shape[1] > 1:
        mcs = MCS(distinct, size=size, reps=reps, block_size=block, method="R", bootstrap="stationary", seed=SEED)
        mcs.compute()
        found = {str(k): float(v) for k, v in mcs.pvalues["Pvalue"].items()}
    else:
        found = {str(c): 1.0 for c in distinct}
    pvalues = {c: found[twin[c]] for c in names}
    included = [c for c in names if pvalues[c] > size]  # as arch: a p-value above the size stays
    return ConfidenceSet(
        level=1 - size,
        loss=loss,
        models=len(names),
        days=len(losses),
        block=block,
        reps=reps,
        included=included,
        p_values=pvalues,
    )


def superiority(
    benchmark: pd.Series,
    models: pd.DataFrame,
    horizon: int = 1,
    loss: str = "squared errors",
    size: float = SPA_SIZE,
    reps: int = REPS,
    block: int | None = None,
    seed: int = SEED,
) -> Superiority:
    """Return Hansen's SPA p-values for "some model beats ``benchmark``" and StepM's models that do (``block``:
    :func:`block_length` unless given)."""
    from arch.bootstrap import SPA, StepM

    frame = pd.concat([benchmark.rename("__benchmark__"), models], axis=1).dropna()
    base, rest = frame["__benchmark__"], frame.drop(columns="__benchmark__")
    block = block or block_length(len(frame), horizon)
    spa = SPA(base, rest, block_size=block, reps=reps, bootstrap="stationary", seed=seed)
    spa.compute()
    stepm = StepM(base, rest, size=size, block_size=block, reps=reps, bootstrap="stationary", seed=seed)
    stepm.compute()
    return Superiority(
        benchmark=str(benchmark.name),
        loss=loss,
        models=len(rest.columns),
        days=len(frame),
        block=block,
        reps=reps,
        p_lower=float(spa.pvalues["lower"]),
        p_consistent=float(spa.pvalues["consistent"]),
        p_upper=float(spa.pvalues["upper"]),
        size=size,
        superior=[str(c) for c in rest.columns if c in set(stepm.superior_models)],
    )


def run_comparisons(test: pd.DataFrame, horizon: int) -> Comparisons:
    """Return the model confidence set of a run's model, persistence and baselines on the test span (squared
    errors, each day's mean over a pool's tickers) and Clark-West's test of each that nests persistence."""
    actual, last, days = test["actual"].to_numpy(), test["persistence"].to_numpy(), test["date"].to_numpy()
    forecasts = {"model": test["predicted"].to_numpy(), "persistence": last}
    forecasts |= {name: test[name].to_numpy() for name in ("drift", "linear") if name in test}
    losses = pd.DataFrame({name: (actual - f) ** 2 for name, f in forecasts.items()})
    clark = {
        name: clark_west(actual, last, f, horizon, days, "persistence")
        for name, f in forecasts.items()
        if name != "persistence"
    }
    return Comparisons(confidence_set(daily_losses(losses, days), horizon), clark)
