"""A fitted run as its files and record say it: the forecast table, its scores, the gradient flow, the record.

A local run is scored in price units. A global run (``scope=global``) is scored pooled over its tickers on prices
relative to each origin's close, and each ticker in its own price units (``tickers``). A backtest's table holds
every fold's test rows with a ``fold`` column, and its scores are pooled over the folds.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.config.tickers import pool_name
from forecast.data.loading import price_column
from forecast.data.panel import Panel
from forecast.diagnostics.gradient_flow import effective_memory_lag, gradient_by_lag
from forecast.evaluation.backtest import fold_scores
from forecast.evaluation.future import row_sigmas
from forecast.evaluation.pooled import pooled_scores, ticker_scores
from forecast.evaluation.scores import evaluate, interval_scores
from forecast.models.recurrent import count_parameters
from forecast.models.registry import kernel_of, resolve_impl
from forecast.pipeline.fitting import Fit, FitSettings, probe
from forecast.store.columns import epoch_timing
from forecast.store.fields import WindowCounts
from forecast.store.record import RunRecord
from forecast.training.losses import loss_for


def gradient_flow(fit: Fit, s: FitSettings, device: torch.device) -> pd.DataFrame:
    """Return the gradient norm by input lag of ``fit``'s model (on its first ticker's test windows), at
    initialisation and after training."""
    loss = loss_for(s.model.loss, s.model.quantiles)
    data = next(iter(fit.tickers.values())).data
    trained = gradient_by_lag(fit.model, *probe(data, fit.model, device), loss)
    return pd.DataFrame({"lag": np.arange(1, s.window + 1), "init": fit.grad_init, "trained": trained})


def run_table(fits: list[Fit], pooled: bool) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Return the run's forecast table (``forecasts.csv``: the single split's rows, or every fold's test rows with
    ``fold``; a ``ticker`` column first when ``pooled``) and the Gaussian scale of each of its test rows (None
    unless the intervals are conformal), in the order of the table's test rows."""
    single = len(fits) == 1 and fits[0].unit.fold == 0
    parts, sigmas = [], []
    for fit in fits:
        for ticker, tf in fit.tickers.items():
            part = tf.table if single else tf.table[tf.table["split"] == "test"].assign(fold=fit.unit.fold)
            sigma = row_sigmas(part[part["split"] == "test"], tf.bands)
            if sigma is not None:
                sigmas.append(sigma)
            parts.append(part.assign(ticker=ticker) if pooled else part)
    table = parts[0] if len(parts) == 1 and single else pd.concat(parts, ignore_index=True)
    if pooled:
        table = table[["ticker", *[c for c in table.columns if c != "ticker"]]]
    return table, np.concatenate(sigmas) if sigmas else None


def score_run(fits: list[Fit], panel: Panel, horizon: int, scope: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the forecast table and the record's scoring fields (see the module doc)."""
    table, sigmas = run_table(fits, pooled=scope == "global")
    bands = next(iter(fits[-1].tickers.values())).bands
    levels, method, taus = bands.levels(), bands.method, bands.taus
    if scope == "global":
        out = pooled_scores(table, horizon, levels, method, sigmas, taus)
        groups = dict(tuple(table.groupby("ticker", sort=False)))
        out["tickers"] = {t: ticker_scores(groups[t].drop(columns="ticker"), horizon, levels) for t in panel.tickers}
    else:
        out = evaluate(table, horizon)
        if method != "none":
            out["intervals"] = interval_scores(table[table["split"] == "test"], levels, method, sigmas, taus)
        if "fold" in table:
            out["backtest"] = fold_scores(table, horizon)
    fits_once = {id(f.trained): f.trained.result for f in fits}.values()  # a model rolled forward counts once
    out["best_val_loss"] = float(np.mean([r.best_val_loss for r in fits_once]))
    return table, out


def describe(
    s: FitSettings,
    target: str,
    scope: str,
    panel: Panel,
    fits: list[Fit],
    device: torch.device,
    flow: pd.DataFrame,
    scores: dict[str, Any],
) -> RunRecord:
    """Return the completed run's record: what ran (the newest unit's model), on what data, at what cost, and its
    ``scores``."""
    last = fits[-1]
    result, n_params, frames = last.trained.result, count_parameters(last.model), panel.frames()
    pass_median, busy = epoch_timing([r.train_seconds for r in result.history])
    impl = resolve_impl(s.model.cell, s.model.impl, device)
    counts = [tf.data.counts() for tf in last.tickers.values()]
    pooled: dict[str, Any] = {"pool": panel.tickers, "skipped": dict(panel.skipped)} if scope == "global" else {}
    resumed = last.trained.resumed_from
    return RunRecord(
        status="completed",
        ticker=pool_name(panel.tickers),
        scope=scope,
        model=s.model.cell,
        impl=impl,
        kernel=kernel_of(impl, device),
        n_params=n_params,
        epochs_run=len(result.history),
        best_epoch=result.best_epoch,
        train_seconds=result.seconds,
        seconds_per_epoch=result.seconds / max(1, len(result.history)),
        epoch_seconds_median=pass_median,
        busy_machine=busy,
        peak_memory_mb=last.trained.peak_memory_mb,
        activation_memory_mb=last.trained.activation_bytes / 2**20,
        state_memory_mb=4 * 4 * n_params / 2**20,  # float32 weights, gradients, Adam's two moments
        data_source=",".join(sorted({x.source for x in panel.loaded.values()})),
        price_column=price_column(next(iter(frames.values()))),
        first_date=str(min(f.index[0] for f in frames.values()).date()),
        last_date=str(panel.calendar[-1].date()),
        n_days=int(sum(len(f) for f in frames.values())),
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
        environment={
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
        strategy=s.model.strategy,
        loss=s.model.loss,
        resumed_from=None if resumed is None else {"run": s.trainer.resume, "epoch": resumed},
        **pooled,
        **scores,
    )
