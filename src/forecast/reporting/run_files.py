"""The files a run writes beside its record, for one ticker or a pool: tables (CSV) and plots, each atomically.

A local run draws ``forecast.png``, ``future.png`` (and ``backtest.png``); a global run draws them for its first
:data:`SHOWN` tickers (``forecast_<ticker>.png``...) and ``skill_by_ticker.png``, and its tables carry a
``ticker`` column first. ``python -m forecast.predict`` writes its future paths through :func:`write_future`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.data.loading import price_column, price_words
from forecast.evaluation.pooled import surviving
from forecast.reporting import plots
from forecast.reporting.coverage_plot import plot_rolling_coverage
from forecast.store.atomic import write_csv, write_table
from forecast.store.record import RunRecord
from forecast.training.loop import FitResult

SHOWN = 3  # tickers of a pool that get their own forecast and future plots (500 tickers get 3, not 1,000 plots)
PARQUET_FROM = 50  # a pool of this many tickers writes forecasts.parquet instead of forecasts.csv (5-10x smaller)


def forecasts_file(n_tickers: int) -> str:
    """Return the name of a run's forecast table: ``forecasts.csv``, or ``forecasts.parquet`` for a large pool."""
    return "forecasts.parquet" if n_tickers >= PARQUET_FROM else "forecasts.csv"


def write_run_files(
    out_dir: Path,
    result: FitResult,
    table: pd.DataFrame,
    flow: pd.DataFrame,
    paths: dict[str, pd.DataFrame],
    frames: dict[str, pd.DataFrame],
    record: RunRecord,
    which: str = "all",
) -> None:
    """Write ``train_log.csv``, ``forecasts.csv``, ``gradient_flow.csv``, ``future.csv`` and ``plots/``: with
    ``which="main"`` the forecast, future and backtest plots (and a pool's skill by ticker), with ``all`` also loss,
    residuals and gradient flow (each plot costs 0.2-0.8 s on 2 cores), with ``none`` no plot.

    ``table`` is the forecast table of every origin and step, ``flow`` the gradient norm by lag, ``paths`` each
    ticker's path from its last close, ``frames`` the prices, ``record`` the run's scores.
    """
    log = pd.DataFrame([asdict(r) for r in result.history])
    write_csv(out_dir / "train_log.csv", log)
    write_table(out_dir / forecasts_file(len(frames)), table)
    write_csv(out_dir / "gradient_flow.csv", flow)
    pooled, cell = record.scope == "global", str(record.model)
    write_future(out_dir, paths, frames, cell, pooled, plot=which != "none")
    if which == "none" or record.classifier is not None:  # a classifier's plot is its portfolio's
        return
    name = f"{record.ticker} {cell}"
    if pooled:
        plot_skill(record, f"{name}: test skill by ticker, one global model", out_dir / "plots" / "skill_by_ticker.png")
    if which == "all":
        plots.plot_loss(log, result.best_epoch, out_dir / "plots" / "loss.png")
        plots.plot_gradient_flow(
            flow, f"{name}: gradient flow across input lags", out_dir / "plots" / "gradient_flow.png"
        )
    if record.intervals is not None and record.intervals.levels:
        title = f"{name}: rolling coverage of the widest interval on the test span"
        test = table[table["split"] == "test"]
        plot_rolling_coverage(test, record.intervals, title, out_dir / "plots" / "rolling_coverage.png")
    horizon = int(table["step"].max())
    final = table[table["step"] == horizon]  # the last step, the run's headline horizon
    for ticker in shown(paths, pooled):
        label, suffix = names(ticker, cell, pooled)
        rows = final[final["ticker"] == ticker] if pooled else final
        scores = record.tickers[ticker] if pooled else record
        title = f"{label}: test-period forecasts, {horizon} day(s) ahead"
        price, dm_p = price_label(frames[ticker]), scores.dm_vs_persistence.p_value
        plots.plot_forecast(rows, title, out_dir / "plots" / f"forecast{suffix}.png", price, dm_p)
        if which == "all":
            plots.plot_residuals(rows, out_dir / "plots" / f"residuals{suffix}.png")
        if scores.backtest is not None:
            title = f"{label}: walk-forward backtest"
            plots.plot_backtest(rows, scores.backtest, title, out_dir / "plots" / f"backtest{suffix}.png")


def write_future(
    out_dir: Path,
    paths: dict[str, pd.DataFrame],
    frames: dict[str, pd.DataFrame],
    cell: str,
    pooled: bool,
    plot: bool = True,
) -> None:
    """Write ``future.csv`` (a ``ticker`` column first when ``pooled``) and ``plots/future[_<ticker>].png`` (the
    sessions before it, ten per step of the path from 20 to 120, and the path with its intervals) for the tickers
    shown."""
    write_csv(out_dir / "future.csv", future_table(paths, pooled))
    if not plot or "probability" in next(iter(paths.values())):  # a classifier's next-day probabilities: no path
        return
    for ticker in shown(paths, pooled):
        path, (label, suffix) = paths[ticker], names(ticker, cell, pooled)
        history = frames[ticker]["adj_close"].iloc[-min(120, max(20, 10 * len(path))) :]  # the path stays legible
        title = f"{label}: forecast from the close of {path['last_date'].iloc[0]}"
        plots.plot_future(history, path, title, out_dir / "plots" / f"future{suffix}.png", price_label(frames[ticker]))


def future_table(paths: dict[str, pd.DataFrame], pooled: bool) -> pd.DataFrame:
    """Return the paths as one table: the one ticker's path, or every ticker's with column ``ticker`` first."""
    if not pooled:
        return next(iter(paths.values()))
    out = pd.concat([p.assign(ticker=t) for t, p in paths.items()], ignore_index=True)
    return out[["ticker", *[c for c in out.columns if c != "ticker"]]]


def shown(paths: dict[str, Any], pooled: bool) -> list[str]:
    """Return the tickers that get their own plots: the one ticker, or the first :data:`SHOWN` of a pool."""
    return list(paths)[:SHOWN] if pooled else list(paths)[:1]


def names(ticker: str, cell: str, pooled: bool) -> tuple[str, str]:
    """Return a ticker's plot title label and file-name suffix (none for a local run)."""
    if pooled:
        return f"{ticker} ({cell}, global model)", "_" + ticker.replace("^", "_")
    return f"{ticker} {cell}", ""


def price_label(frame: pd.DataFrame) -> str:
    """Return how plots name the modelled price (:func:`forecast.data.loading.price_words`)."""
    return price_words(price_column(frame))


def plot_skill(record: RunRecord, title: str, path: Path) -> Path:
    """Bars of each ticker's test skill against persistence and against the linear baseline, sorted by the first
    (green: the model is ahead, red: behind); at most 60 tickers shown, the best and worst 30 of a larger pool."""
    tickers = record.tickers
    rows = sorted(((t, 100 * v.skill_vs_persistence) for t, v in tickers.items()), key=lambda r: r[1])
    if len(rows) > 60:
        rows = rows[:30] + rows[-30:]
    names_ = [r[0] for r in rows]
    nan = float("nan")
    linear = [100 * (b.skill if (b := tickers[t].baselines.get("linear")) else nan) for t in names_]
    fig, ax = plots.subplots(figsize=(max(6.0, 0.35 * len(rows) + 3), 4.2))
    x = range(len(rows))
    colours = ["tab:green" if r[1] > 0 else "tab:red" for r in rows]
    kept = surviving(tickers)  # Diebold-Mariano against persistence, after Benjamini-Hochberg at 5%
    hatch = ["//" if kept[t] else "" for t in names_]
    ax.bar(x, [r[1] for r in rows], color=colours, hatch=hatch, label="vs persistence (hatched: significant, BH 5%)")
    ax.plot(x, linear, "k_", markersize=14, mew=2, label="vs linear baseline")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(list(x), names_, rotation=60 if len(rows) > 12 else 0, fontsize=8)
    ax.set(ylabel="test skill (%): 1 - MAE model / MAE baseline")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(title, fontsize=10)
    return plots.save(fig, path)
