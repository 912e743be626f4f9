"""One run, end to end, for a panel of one ticker or many: the recipe. Each step lives in its own package; this
module only orders them, and runs the units of work (the single split, or the folds of a backtest) in turn."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from forecast.config.portfolio import PortfolioConfig
from forecast.config.schema import BacktestConfig, Config, config_dict
from forecast.config.tickers import pool_name
from forecast.data.folds import Unit, plan_units
from forecast.data.notices import collected
from forecast.data.panel import Panel, load_panel
from forecast.diagnostics.clock import PhaseClock
from forecast.evaluation.money import portfolio
from forecast.lifecycle.workers import exit_with_parent, quiet_trackers
from forecast.pipeline.describe import describe, gradient_flow, score_fits
from forecast.pipeline.fitting import Fit, FitSettings, adapt, fit_unit
from forecast.pipeline.forecaster import Forecaster
from forecast.reporting.portfolio_plot import plot_portfolio
from forecast.reporting.run_files import write_run_files
from forecast.store.atomic import write_csv
from forecast.store.fields import FuturePath
from forecast.store.folders import UNITS
from forecast.store.record import RunRecord, RunScores
from forecast.training.distributed import Ranks
from forecast.training.runtime import flush_denormals, start_job
from forecast.training.units import Units


def run(cfg: Config, out_dir: Path, overrides: Sequence[str] = ()) -> RunRecord:
    """Train and evaluate as ``cfg`` says, on ``ticker`` (``scope=local``) or on the pool ``tickers`` with one model
    (``scope=global``), over one split or every fold of a backtest; write every artefact into ``out_dir``; return
    the run's record. Assumes ``cfg`` passed :func:`forecast.config.checks.validate`. The record is written first
    as ``running`` and last as ``completed``: a folder whose ``metrics.json`` says ``completed`` holds a whole run.
    """
    clock, config, tickers = PhaseClock(), config_dict(cfg), cfg.tickers if cfg.scope == "global" else [cfg.ticker]
    name, scope = pool_name(tickers), cfg.scope
    RunRecord.running(name, scope, list(overrides), config).write(out_dir)
    device = start_job(cfg.seed, cfg.trainer.threads, cfg.device.value, cfg.trainer.strategy)
    sizes = (cfg.window, cfg.horizon, cfg.seed, cfg.train_tickers)
    s = FitSettings.of(cfg.model, cfg.trainer, cfg.forecast, cfg.data, cfg.portfolio, *sizes)
    with collected(fold=len(tickers) > 1) as notices:  # a pool's per-ticker warnings: one line per kind
        panel, units = plan_units(load_panel(tickers, cfg.data), cfg.backtest, cfg.window, cfg.horizon)
        clock.lap("data")
        fits = fit_all(s, panel, units, cfg.backtest, device, out_dir, config)
        clock.lap("training")
    if not Ranks.current().main:  # trainer.strategy=ddp: rank 0 alone forecasts and writes the run
        return RunRecord(status="completed", reason="trained with rank 0, which wrote the run")
    forecaster = Forecaster.of(fits[-1], panel, s.features, cfg.model)
    paths = forecaster.paths(panel.frames(), cfg.calendar, device)
    flow, (table, scores) = gradient_flow(fits[-1], s, device), score_fits(fits, panel, s, cfg.horizon, cfg.scope)
    curves = trade(cfg.portfolio, cfg.seed, table, scores) if cfg.scope == "global" else None
    record = describe(s, cfg.data.target, name, cfg.scope, panel, fits, device, flow, scores)
    record.future = FuturePath.of(str(panel.calendar[-1].date()), paths, pooled=cfg.scope == "global")
    record.notices = notices.messages()
    clock.lap("evaluation")
    forecaster.save(out_dir / "model.pt", config)
    write_run_files(out_dir, fits[-1].trained.result, table, flow, paths, panel.frames(), record, cfg.plots.value)
    draw_portfolio(curves, cfg.portfolio.cost_bps, cfg.plots.value, record, out_dir)
    clock.lap("outputs")
    record.timings, record.overrides, record.config = clock.laps, list(overrides), config
    record.write(out_dir)
    tidy(out_dir)
    return record


def tidy(out_dir: Path) -> None:
    """Remove what only an unfinished run needs: the epoch checkpoint and a backtest's finished folds."""
    (out_dir / "checkpoint.pt").unlink(missing_ok=True)
    shutil.rmtree(out_dir / UNITS, ignore_errors=True)


def trade(p: PortfolioConfig, seed: int, table: pd.DataFrame, scores: RunScores) -> portfolio.Curves | None:
    """A global run with ``portfolio.k``: put its forecasts in money (``scores.portfolio``); return the curves."""
    if not p.k:
        return None
    scores.portfolio, curves = portfolio.evaluate(table, p, seed)
    return curves


def draw_portfolio(
    curves: portfolio.Curves | None, cost_bps: float, plots: str, record: RunRecord, out_dir: Path
) -> None:
    """Write ``portfolio.csv`` (each test day's returns of the model and the baselines per ``k``) and draw
    ``plots/portfolio.png`` (unless ``plots=none``) of a run that traded its forecasts."""
    if curves is not None:
        write_csv(out_dir / "portfolio.csv", curves.daily.reset_index())
    if curves is not None and plots != "none":
        title = f"{record.ticker} {record.model}: long-short portfolios of the test forecasts"
        plot_portfolio(curves, cost_bps, title, out_dir / "plots" / "portfolio.png")


def fit_all(
    s: FitSettings,
    panel: Panel,
    units: list[Unit],
    b: BacktestConfig,
    device: torch.device,
    out_dir: Path,
    config: dict[str, Any],
) -> list[Fit]:
    """Fit every unit in order (a fold that does not refit rolls the previous fold's model forward), then walk
    adaptive bands through them (:func:`forecast.pipeline.fitting.adapt`).

    With ``backtest.n_jobs > 1`` and a fresh model every fold, the folds train in parallel processes (joblib),
    each with its share of the CPU threads and its own checkpoint folder; every refit is seeded alike, so the
    folds' models match the sequential ones up to the order of floating-point sums across threads.
    """
    n_jobs = b.n_jobs if b.refit_every == 1 and device.type == "cpu" else 1
    saved = Units.of(out_dir, s.trainer.resume) if any(u.fold for u in units) else None  # resume by fold
    fits: list[Fit] = []
    if n_jobs > 1 and len(units) > 1:
        from joblib import Parallel, delayed, parallel_config

        from forecast.store.processes import started

        quiet_trackers()
        threads = max(1, torch.get_num_threads() // n_jobs)
        folders = {u.fold: out_dir / ".folds" / str(u.fold) for u in units}
        jobs = (delayed(fit_in_worker)(s, panel, u, device, folders[u.fold], config, threads, saved) for u in units)
        try:
            # each worker watches this process from its start, not from its first fold: killed (SIGKILL) while
            # the workers still import, the run leaves none waiting for work that never comes
            watch = functools.partial(exit_with_parent, watched=os.getpid(), since=started(os.getpid()))
            with parallel_config(backend="loky", initializer=watch):
                fits = list(Parallel(n_jobs=n_jobs)(jobs))
        finally:  # finished or interrupted: the folds' temporary folders go (a resumed run refits them)
            shutil.rmtree(out_dir / ".folds", ignore_errors=True)
    else:
        for unit in units:
            fits.append(fit_unit(s, panel, unit, fits[-1] if fits else None, device, out_dir, config, saved))
    adapt(fits)
    return fits


def fit_in_worker(
    s: FitSettings,
    panel: Panel,
    unit: Unit,
    device: torch.device,
    out_dir: Path,
    config: dict[str, Any],
    threads: int,
    saved: Units | None = None,
) -> Fit:
    """Fit one fold in a worker process with ``threads`` torch threads (its checkpoints in its own ``out_dir``)."""
    torch.set_num_threads(threads)  # the worker watches this run from its start (fit_all's initializer)
    flush_denormals()
    out_dir.mkdir(parents=True, exist_ok=True)
    return fit_unit(s, panel, unit, None, device, out_dir, config, saved)
