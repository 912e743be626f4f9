"""The files a run writes beside its record: tables (CSV) and plots, each atomically; and its headline."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from forecast.atomic import write_csv
from forecast.record import RunRecord
from forecast.reporting import plots
from forecast.training.loop import FitResult


def write_run_files(
    out_dir: Path,
    name: str,
    result: FitResult,
    table: pd.DataFrame,
    flow: pd.DataFrame,
    future: pd.DataFrame,
    frame: pd.DataFrame,
    record: RunRecord,
    which: str = "all",
) -> None:
    """Write ``train_log.csv``, ``forecasts.csv``, ``gradient_flow.csv``, ``future.csv`` and ``plots/``: with
    ``which="main"`` the forecast, future and backtest plots, with ``all`` also loss, residuals and gradient flow
    (each plot costs 0.2-0.8 s on 2 cores), with ``none`` no plot.

    ``name`` titles the plots (e.g. ``AAPL lstm``); ``table`` is the forecast table of every origin and step,
    ``flow`` the gradient norm by lag, ``future`` the path from the last close, ``frame`` the prices, ``record``
    the run's scores (a walk-forward run also gets ``plots/backtest.png``).
    """
    log = pd.DataFrame([asdict(r) for r in result.history])
    write_csv(out_dir / "train_log.csv", log)
    write_csv(out_dir / "forecasts.csv", table)
    write_csv(out_dir / "gradient_flow.csv", flow)
    write_future(out_dir, name, future, frame, plot=which != "none")
    if which == "none":
        return
    final = table[table["step"] == table["step"].max()]  # the last step, the run's headline horizon
    horizon = int(table["step"].max())
    title = f"{name}: test-period forecasts, {horizon} day(s) ahead"
    dm_p = record.dm_vs_persistence.p_value
    plots.plot_forecast(final, title, out_dir / "plots" / "forecast.png", price_label(frame), dm_p)
    if which == "all":
        plots.plot_loss(log, result.best_epoch, out_dir / "plots" / "loss.png")
        plots.plot_residuals(final, out_dir / "plots" / "residuals.png")
        flow_title = f"{name}: gradient flow across input lags"
        plots.plot_gradient_flow(flow, flow_title, out_dir / "plots" / "gradient_flow.png")
    if record.backtest:
        plots.plot_backtest(
            final, record.backtest, f"{name}: walk-forward backtest", out_dir / "plots" / "backtest.png"
        )


def write_future(out_dir: Path, name: str, future: pd.DataFrame, frame: pd.DataFrame, plot: bool = True) -> None:
    """Write ``future.csv`` and ``plots/future.png`` (the last 120 sessions and the path with its intervals)."""
    write_csv(out_dir / "future.csv", future)
    if not plot:
        return
    history = frame["adj_close"].iloc[-120:]
    title = f"{name}: forecast from the close of {future['last_date'].iloc[0]}"
    plots.plot_future(history, future, title, out_dir / "plots" / "future.png", price_label(frame))


def price_label(frame: pd.DataFrame) -> str:
    """Return how plots name the modelled price: adjusted close, or close (unadjusted) for close-only data."""
    return "close (unadjusted)" if frame.attrs.get("price_column") == "close" else "adjusted close"


def headline(record: RunRecord) -> list[str]:
    """Return the lines a run ends with: test scores against persistence, then the future path."""
    test, pers = record.test, record.persistence_test
    skill, up = 100 * (record.skill_vs_persistence or 0.0), 100 * (record.up_fraction_test or 0.0)
    lines = [
        f"{record.ticker} {record.model} test MAE {test.mae:.4f} vs persistence {pers.mae:.4f}: skill {skill:+.1f}%, "
        f"directional accuracy {100 * test.directional_accuracy:.1f}% (up days {up:.1f}%)"
    ]
    lag = record.lag_check
    if lag.drift_only:
        lines.append(
            f"warning: the model predicts the average drift, not the moves (predicted moves of one sign on "
            f"{100 * lag.same_sign_share:.0f}% of test days, correlation with the actual moves {lag.corr_returns:.2f})"
        )
    path = path_lines(record.ticker or "", record.model or "", record.future, record.intervals)
    return lines + comparison_lines(record) + path


def comparison_lines(record: RunRecord) -> list[str]:
    """Return the backtest's fold count and wins, and the model against the drift and linear baselines."""
    lines = []
    b = record.backtest
    if b:
        first, last = b["by_fold"]["1"]["first_date"], b["by_fold"][str(b["folds"])]["last_date"]
        lines.append(
            f"walk-forward backtest: {b['folds']} folds from {first} to {last} (scores above pooled over them); the "
            f"model won {b['won']} of {b['folds']} against persistence, skill per fold {100 * b['skill_mean']:+.1f}% "
            f"± {100 * b['skill_sd']:.1f}"
        )
    base = [
        f"{name} MAE {v['test']['mae']:.4f} (model skill {100 * v['skill']:+.1f}%, DM p {v['dm']['p_value']:.2g})"
        for name, v in record.baselines.items()
    ]
    return lines + ([f"baselines on the same days: {'; '.join(base)}"] if base else [])


def path_lines(ticker: str, cell: str, future: dict, intervals: dict) -> list[str]:
    """Return the future path as printed: one line per session with the widest interval and its test coverage."""
    path = future.get("path") or []
    if not path:
        return []
    levels = sorted((intervals.get("levels") or {}), key=float)
    head = f"{ticker} {cell} forecast from the close of {future['last_date']} ({path[0]['last_close']:.2f} adjusted)"
    if not levels:
        return [
            f"{head}, no intervals (forecast.intervals=none):",
            *(f"  {p['date']}  {p['predicted']:8.2f}" for p in path),
        ]
    top = levels[-1]
    coverage = intervals["levels"][top]["coverage"]
    lines = [f"{head}, {top}% intervals (test coverage {100 * coverage:.1f}%):"]
    return lines + [
        f"  {p['date']}  {p['predicted']:8.2f}  [{p[f'lower_{top}']:.2f}, {p[f'upper_{top}']:.2f}]" for p in path
    ]
