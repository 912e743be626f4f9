"""A fitted run as its files and record say it: the forecast table, its scores, the gradient flow, the record."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.data.panel import Panel
from forecast.diagnostics.clock import environment
from forecast.diagnostics.gradient_flow import effective_memory_lag, flow_table
from forecast.evaluation import run_scores
from forecast.evaluation.baselines import at_edge
from forecast.evaluation.run_scores import TickerTable
from forecast.models.fast import mkl
from forecast.models.recurrent import count_parameters
from forecast.models.registry import kernel_of, resolve_impl
from forecast.pipeline.fitting import Fit, FitSettings, probe
from forecast.store.fields import WindowCounts
from forecast.store.record import RunRecord, RunScores
from forecast.training.losses import loss_for


def gradient_flow(fit: Fit, s: FitSettings, device: torch.device) -> pd.DataFrame:
    """Return the gradient norm by input lag of ``fit``'s model on its first ticker's test windows (see
    :func:`forecast.diagnostics.gradient_flow.flow_table`)."""
    data = next(iter(fit.tickers.values())).data
    loss = loss_for(s.model.loss, s.model.quantiles)
    return flow_table(fit.model, *probe(data, fit.model, device), loss, fit.grad_init)


def score_fits(
    fits: list[Fit], panel: Panel, s: FitSettings, horizon: int, scope: str
) -> tuple[pd.DataFrame, RunScores]:
    """Return the forecast table and the record's scoring fields (:mod:`forecast.evaluation.run_scores`)."""
    parts = [TickerTable(f.unit.fold, t, tf.table, tf.bands) for f in fits for t, tf in f.tickers.items()]
    table, out = run_scores.score_run(parts, panel.tickers, horizon, scope, list(s.forecast.breaks))
    linear = out.baselines.get("linear")
    if linear is not None:  # the ridge penalty of each unit (a pool's: the median over its tickers), edges counted
        alphas = {str(f.unit.fold): [tf.linear_alpha for tf in f.tickers.values()] for f in fits}
        linear.penalties = {unit: float(np.median(a)) for unit, a in alphas.items()}
        linear.at_edge = sum(at_edge(a) for a_list in alphas.values() for a in a_list)
    fits_once = {id(f.trained): f.trained.result for f in fits}.values()  # a model rolled forward counts once
    out.best_val_loss = float(np.mean([r.best_val_loss for r in fits_once]))
    return table, out


def describe(
    s: FitSettings,
    target: str,
    name: str,
    scope: str,
    panel: Panel,
    fits: list[Fit],
    device: torch.device,
    flow: pd.DataFrame,
    scores: RunScores,
) -> RunRecord:
    """Return the completed run's record: what ran (the newest unit's model), on what data, at what cost, and its
    ``scores``; ``name``: the run's ticker, or its pool's name as configured (as its folder says, though tickers
    without data were left out: the record lists the pool and those left out)."""
    last, n_params = fits[-1], count_parameters(fits[-1].model)
    impl = resolve_impl(s.model.cell, s.model.impl, device)
    counts = [
        {**tf.data.counts(), "train": tf.data.counts()["train"] * (t in last.trainers)}
        for t, tf in last.tickers.items()
    ]
    pooled: dict[str, Any] = {}
    if scope == "global":
        pooled = {"pool": panel.tickers, "skipped": dict(panel.skipped), "train_pool_size": len(last.trainers)}
    resumed, read_back = last.trained.resumed_from, [f.unit.fold for f in fits if f.unit.refit and f.trained.read_back]
    back = {"run": s.trainer.resume, "folds": read_back} if read_back else None  # a backtest's folds read back
    return RunRecord(
        status="completed",
        ticker=name,
        scope=scope,
        model=s.model.cell,
        impl=impl,
        kernel=kernel_of(impl, device, s.model.cell),
        n_params=n_params,
        state_memory_mb=4 * 4 * n_params / 2**20,  # float32 weights, gradients, Adam's two moments
        n_windows=WindowCounts(**{k: sum(c[k] for c in counts) for k in ("train", "val", "test")}),
        window=s.window,
        horizon=s.horizon,
        seed=s.seed,
        device=str(device),
        features=list(s.features),
        target=target,
        forget_bias=s.model.forget_bias,
        effective_memory_lag=effective_memory_lag(flow["trained"].to_numpy()),
        effective_memory_lag_init=effective_memory_lag(flow["init"].to_numpy()),
        environment=environment() | {"mkl_amd": mkl.state()},  # MKL's fast kernels on AMD: 2x the GEMMs
        strategy=s.model.strategy,
        loss=s.model.loss,
        resumed_from=back if resumed is None else {"run": s.trainer.resume, "epoch": resumed},
        **last.trained.costs(),
        **panel.describe(),
        **pooled,
        **scores.fields(),
    )
