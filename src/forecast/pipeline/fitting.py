"""Fit one unit of work (the single split, or one backtest fold) of a panel of one ticker or many: every ticker's
windows on its own days and scaler, one model trained on all their training windows, and each ticker forecast at
every origin and step beside the drift and linear baselines, with intervals calibrated on its validation span."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecast.config.portfolio import PortfolioConfig
from forecast.config.schema import DataConfig, ForecastConfig, ModelConfig, TrainerConfig
from forecast.config.target import is_classifier
from forecast.data.dataset import WindowedData, pooled_scaler, windows_for
from forecast.data.folds import Unit
from forecast.data.panel import Panel, training_sets, with_index
from forecast.data.splits import SplitBounds
from forecast.data.windows import Samples
from forecast.diagnostics.gradient_flow import gradient_by_lag
from forecast.diagnostics.memory import release_freed
from forecast.evaluation.forecasts import forecast_rows, ticker_forecasts, unit_outputs
from forecast.evaluation.future import Bands
from forecast.evaluation.intervals.adaptive import ONLINE
from forecast.evaluation.intervals.online import control_of, online_tables
from forecast.models.classic import ClassicSettings, Classifier, classic_columns, fit_classic
from forecast.models.recurrent import RecurrentForecaster, build_model
from forecast.training.distributed import Ranks
from forecast.training.losses import Loss, loss_for
from forecast.training.runtime import seed_everything
from forecast.training.session import Trained, train
from forecast.training.units import Units

log = logging.getLogger("forecast")
RELEASE_EVERY = 32  # tickers forecast between hand-backs of freed memory (diagnostics.memory.release_freed: 13 ms each)


@dataclass(frozen=True)
class FitSettings:
    """What fitting reads from the config: the model, the trainer, the intervals, the inputs and the seed."""

    model: ModelConfig
    trainer: TrainerConfig
    forecast: ForecastConfig
    features: tuple[str, ...]
    window: int
    horizon: int
    seed: int
    train_tickers: int = 0  # a pool: train on its first N tickers only (0 = all); every ticker is forecast
    target: str = "log_return"  # data.target: above_median trains on labels (data.labels), not returns
    scaling: str = "per_ticker"  # data.scaling: pooled = one scaler over every training ticker's training rows
    classic: ClassicSettings = field(default_factory=ClassicSettings)  # portfolio.baselines

    @classmethod
    def of(
        cls,
        m: ModelConfig,
        t: TrainerConfig,
        f: ForecastConfig,
        d: DataConfig,
        p: PortfolioConfig,
        window: int,
        horizon: int,
        seed: int,
        train_tickers: int,
    ) -> FitSettings:
        """Return the settings from the config's typed parts."""
        classic = ClassicSettings(tuple(p.baselines), p.forest_trees, p.forest_depth, seed)
        inputs = (tuple(d.features), window, horizon, seed, train_tickers, d.target, d.scaling)
        return cls(m, t, f, *inputs, classic)


@dataclass
class TickerFit:
    """One ticker of a fitted unit: its windows, its intervals and its forecast table (every origin and step)."""

    data: WindowedData
    bands: Bands
    table: pd.DataFrame
    linear_alpha: float  # the ridge penalty chosen on the validation span


@dataclass
class Fit:
    """A unit after fitting: the model that forecast it (trained here, or rolled forward) and its tickers."""

    unit: Unit
    model: RecurrentForecaster
    trained: Trained
    trained_on: SplitBounds  # the calendar span the model was trained on (an earlier fold's when rolled forward)
    grad_init: np.ndarray  # gradient norm by lag before training
    tickers: dict[str, TickerFit]
    trainers: tuple[str, ...]  # the tickers whose training windows the model was fitted on
    classic: dict[str, Classifier] = field(default_factory=dict)  # portfolio.baselines fitted on the same span


def probe(data: WindowedData, model: RecurrentForecaster, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the test windows the gradient flow is measured on (at most 256), targets cut to the model's steps."""
    x, y = data.windows("test").take(torch.arange(min(256, data.counts()["test"])))
    return x.to(device), y[:, : model.horizon].to(device)


def fit_unit(
    s: FitSettings,
    panel: Panel,
    unit: Unit,
    previous: Fit | None,
    device: torch.device,
    out_dir: Path,
    config: dict[str, Any],
    units: Units | None = None,
) -> Fit:
    """Fit ``unit`` (or roll ``previous``'s model forward onto it) and forecast every ticker taking part in it.

    A refit seeds every generator with ``s.seed`` first, so a unit's model depends on its own data alone. A model
    rolled forward keeps each ticker's scaler and bands from the unit it was trained on. A backtest's fold that
    finished before a kill is read back from ``units`` instead of trained again, and each one trained is saved."""
    keep = previous if not unit.refit and previous is not None else None
    index = {t: i for i, t in enumerate(panel.loaded)} if s.model.ticker_embedding else {}
    labels = panel.above_median if is_classifier(s.target) or s.classic.names else {}
    first = panel.tickers[: s.train_tickers] if s.train_tickers else panel.tickers
    trainers = tuple(t for t in first if t in unit.members) if keep is None else keep.trainers
    datas = unit_datas(s, panel, unit, keep, trainers, labels)
    datas = {t: with_index(d, index[t]) for t, d in datas.items()} if index else datas
    log_counts(unit, datas, trainers, keep is not None)
    if keep is None:
        seed_everything(s.seed)
        model = build_model(s.model, len(s.features) + bool(index), s.horizon, device, len(index))
        loss = loss_for(s.model.loss, s.model.quantiles)
        grad_init = gradient_by_lag(model, *probe(next(iter(datas.values())), model, device), loss)
        sets = training_sets([datas[t] for t in trainers], model.horizon, s.trainer.sampling)  # recursive: 1 step
        trained = refit(s, model, sets, unit.fold, device, out_dir, config, loss, units)
        trained_on = unit.bounds
        release_freed()  # the training steps' workspaces
        classic = fit_comparisons(s.classic, datas, trainers, labels)
    else:
        model, trained, grad_init, trained_on = keep.model, keep.trained, keep.grad_init, keep.trained_on
        classic = keep.classic
    tickers = {}
    forecast = datas if Ranks.current().main else {}  # trainer.strategy=ddp: rank 0 alone forecasts
    outputs = unit_outputs(forecast, model, device, s.model, s.forecast.train_rows)
    for i, (ticker, data) in enumerate(forecast.items(), start=1):
        kept = keep.tickers.get(ticker) if keep is not None else None
        given = (kept.bands if kept else None, outputs.get(ticker))  # bands rolled forward; the pooled outputs
        table, bands, alpha = ticker_forecasts(data, model, device, s.model, s.forecast, *given)
        if classic:  # the comparison models' probabilities on the same rows
            origins = data.origin[forecast_rows(data, s.forecast.train_rows)]
            table = table.assign(**classic_columns(classic, data.prices, origins, data.horizon))
        tickers[ticker] = TickerFit(data, bands, table, alpha)
        if i % RELEASE_EVERY == 0:
            release_freed()
    return Fit(unit, model, trained, trained_on, grad_init, tickers, trainers, classic)


def refit(
    s: FitSettings,
    model: torch.nn.Module,
    sets: tuple[Samples, Samples],
    fold: int,
    device: torch.device,
    out_dir: Path,
    config: dict[str, Any],
    loss: Loss,
    units: Units | None,
) -> Trained:
    """Return fold ``fold``'s training as it finished before (``units``), or train it now and save it there; a
    backtest resumes by fold, so its folds never read an epoch checkpoint (``trainer.resume``: a single split's)."""
    trained = units.load(fold, model, config) if units is not None else None
    if trained is None:
        trainer = replace(s.trainer, resume=None) if units is not None else s.trainer
        trained = train(model, sets, trainer, device, out_dir, config, loss)
        if units is not None and Ranks.current().main:
            units.save(fold, model, trained, config)
    return trained


def unit_datas(
    s: FitSettings,
    panel: Panel,
    unit: Unit,
    keep: Fit | None,
    trainers: tuple[str, ...],
    labels: dict[str, np.ndarray],
) -> dict[str, WindowedData]:
    """Return every member ticker's windows on the unit's bounds, scaled with the scaler of the model rolled
    forward (``keep``), else one pooled over the ``trainers`` (``data.scaling=pooled``), else each its own."""
    pooled = (
        pooled_scaler([panel.loaded[t].frame for t in trainers], [unit.members[t] for t in trainers], s.features)
        if s.scaling == "pooled" and keep is None
        else None
    )
    datas = {}
    for ticker, bounds in unit.members.items():
        kept = keep.tickers.get(ticker) if keep is not None else None
        scaler = kept.data.scaler if kept else pooled
        name = ticker if len(unit.members) > 1 else ""
        target = labels.get(ticker) if is_classifier(s.target) else None
        frame = panel.loaded[ticker].frame
        datas[ticker] = windows_for(frame, s.window, s.horizon, bounds, s.features, scaler, name, target)
    return datas


def log_counts(unit: Unit, datas: dict[str, WindowedData], trainers: tuple[str, ...], rolled: bool) -> None:
    """Log the unit's train/val/test windows (and how many tickers trained, and whether the model rolled forward)."""
    counts = [sum(datas[t].counts()["train"] for t in trainers if t in datas)]
    counts += [sum(d.counts()[k] for d in datas.values()) for k in ("val", "test")]
    log.info(
        "%s: %d/%d/%d train/val/test windows%s%s%s",
        f"fold {unit.fold}" if unit.fold else "split",
        *counts,
        f" over {len(datas)} tickers" if len(datas) > 1 else "",
        f" (trained on the first {len(trainers)})" if len(trainers) < len(datas) else "",
        " (the previous fold's model rolled forward)" if rolled else "",
    )


def fit_comparisons(
    c: ClassicSettings, datas: dict[str, WindowedData], trainers: tuple[str, ...], labels: dict[str, np.ndarray]
) -> dict[str, Classifier]:
    """Return the comparison models of ``portfolio.baselines`` fitted on the trainers' training origins (none
    when it names none)."""
    if not c.names:
        return {}
    spans = [(datas[t].prices, datas[t].origin[datas[t].split == 0], labels[t]) for t in trainers]
    return fit_classic(c, spans, threads())


def threads() -> int:
    """Return the CPU threads torch uses here (the forest's workers: one job's share)."""
    return max(1, torch.get_num_threads())


def adapt(fits: list[Fit]) -> None:
    """Give adaptive bands their levels: walk each ticker's units in date order (validation of its first unit, then
    every unit's test span; :func:`forecast.evaluation.intervals.adaptive.adaptive_tables`), so a band uses only
    outcomes before its day, and keep the final state with the ticker's newest bands (the future path and ``predict``
    continue from it). Other bands are left alone."""
    for ticker in dict.fromkeys(t for fit in fits for t in fit.tickers):
        own = [fit.tickers[ticker] for fit in fits if ticker in fit.tickers]
        bands = own[-1].bands
        if bands.method not in ONLINE:
            return
        tables = [tf.table for tf in own]
        walked = online_tables(tables, bands.levels_wanted, bands.vol, control_of(bands), bands.path)
        for tf, table in zip(own, walked.tables, strict=True):
            tf.table = table
        online = {k: [asdict(s) for s in v] for k, v in walked.states.items()}
        paths = {k: asdict(s) for k, s in walked.paths.items()}
        own[-1].bands = replace(bands, online=online, path_online=paths)
