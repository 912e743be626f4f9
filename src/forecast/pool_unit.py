"""The unit of work of a global run: one model fitted on the windows of every ticker, forecasting each of them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.config import Config
from forecast.data.dataset import WindowedData, latest_window, windows_for
from forecast.data.folds import Unit
from forecast.data.pool import Pool
from forecast.data.windows import Windows
from forecast.diagnostics.gradient_flow import gradient_by_lag
from forecast.evaluation.future import future_path
from forecast.training.losses import loss_for
from forecast.training.runtime import seed_everything
from forecast.training.session import train
from forecast.unit import Fitted, build_model, forecast_unit, probe

log = logging.getLogger("forecast")


def pool_windows(cfg: Config, pool: Pool) -> dict[str, WindowedData]:
    """Return each ticker's windows on its split, scaled by its own training span; with a ticker embedding, the
    rows carry the ticker's index (its order in the pool) as a last column."""
    out = {}
    for index, (ticker, item) in enumerate(pool.loaded.items()):
        data = windows_for(item.frame, cfg.window, cfg.horizon, pool.bounds[ticker], tuple(cfg.data.features))
        out[ticker] = with_index(data, index) if cfg.model.ticker_embedding else data
    return out


def with_index(data: WindowedData, index: int) -> WindowedData:
    """Return ``data`` with a constant last column ``index`` in its rows (read by the model's ticker embedding)."""
    from dataclasses import replace

    column = torch.full((len(data.rows), 1), float(index))
    return replace(data, rows=torch.cat([data.rows, column], dim=1))


def training_sets(datas: dict[str, WindowedData], steps: int, sampling: str) -> tuple[Windows, Windows]:
    """Return the pooled (train, val) samples: every ticker's windows over one row block. With
    ``sampling=tickers`` every ticker is drawn equally often (weights 1 / its training windows)."""
    train_set = Windows.concat([d.windows("train", steps) for d in datas.values()])
    val_set = Windows.concat([d.windows("val", steps) for d in datas.values()])
    if sampling == "tickers":
        counts = [int((d.split == 0).sum()) for d in datas.values()]
        weights = torch.cat([torch.full((n,), 1.0 / n, dtype=torch.float64) for n in counts])
        train_set = Windows(train_set.rows, train_set.start, train_set.window, train_set.steps, weights)
    return train_set, val_set


def fit_pool(cfg: Config, pool: Pool, device: torch.device, out_dir: Path, config: dict[str, Any]) -> list[Fitted]:
    """Fit one model on the training windows of every ticker (early stopping on their pooled validation loss) and
    return one :class:`Fitted` per ticker, in pool order, that share the model."""
    datas = pool_windows(cfg, pool)
    n_windows = {s: sum(int((d.split == i).sum()) for d in datas.values()) for i, s in enumerate(("train", "val"))}
    log.info(
        "global model over %d ticker(s): %d/%d train/val windows%s",
        len(datas),
        n_windows["train"],
        n_windows["val"],
        " (one ticker: a local model, split and scored as the pool would be)" if len(datas) == 1 else "",
    )
    seed_everything(cfg.seed)
    n_tickers = len(datas) if cfg.model.ticker_embedding else 0
    model = build_model(cfg.model, len(cfg.data.features) + (1 if n_tickers else 0), cfg.horizon, device, n_tickers)
    loss = loss_for(cfg.model.loss, cfg.model.quantiles)
    first = next(iter(datas.values()))
    grad_init = gradient_by_lag(model, *probe(first, model, device), loss)
    sets = training_sets(datas, model.horizon, cfg.trainer.sampling)
    trained = train(model, sets, cfg.trainer, device, out_dir, config, loss)
    return [forecast_unit(cfg, Unit(d.bounds), d, model, trained, d.bounds, grad_init, device) for d in datas.values()]


def pool_future(cfg: Config, pool: Pool, fitted: list[Fitted], device: torch.device) -> pd.DataFrame:
    """Return every ticker's path from its last close (column ``ticker`` first), forecast by the global model."""
    paths = []
    for index, (ticker, f) in enumerate(zip(pool.loaded, fitted, strict=True)):
        frame = pool.loaded[ticker].frame
        latest = latest_window(frame, tuple(cfg.data.features), f.data.scaler, cfg.window)
        if cfg.model.ticker_embedding:
            latest = torch.cat([latest, torch.full((1, cfg.window, 1), float(index))], dim=-1)
        args = (f.data.scaler, cfg.horizon, cfg.model.strategy, f.bands, cfg.calendar, device)
        path = future_path(f.model, latest, frame.index[-1], float(frame["adj_close"].iloc[-1]), *args)
        paths.append(path.assign(ticker=ticker))
    out = pd.concat(paths, ignore_index=True)
    return out[["ticker", *[c for c in out.columns if c != "ticker"]]]


def pool_table(pool: Pool, fitted: list[Fitted]) -> pd.DataFrame:
    """Return every ticker's forecast table, one after another, with column ``ticker`` first."""
    parts = [f.table.assign(ticker=t) for t, f in zip(pool.loaded, fitted, strict=True)]
    out = pd.concat(parts, ignore_index=True)
    return out[["ticker", *[c for c in out.columns if c != "ticker"]]]


def window_counts(fitted: list[Fitted]) -> dict[str, int]:
    """Return the pooled number of windows per split."""
    return {k: int(np.sum([f.data.counts()[k] for f in fitted])) for k in ("train", "val", "test")}
