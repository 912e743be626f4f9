"""The files of a global run: the pooled tables, a skill-by-ticker chart, and the usual plots for a few tickers."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.atomic import write_csv
from forecast.record import RunRecord
from forecast.reporting import plots
from forecast.reporting.outputs import price_label
from forecast.training.loop import FitResult

SHOWN = 3  # tickers that get their own forecast and future plots (a pool of 500 gets 3, not 1,000 plots)


def write_pool_files(
    out_dir: Path,
    cell: str,
    result: FitResult,
    table: pd.DataFrame,
    flow: pd.DataFrame,
    future: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    record: RunRecord,
    which: str = "all",
) -> None:
    """Write ``train_log.csv``, ``forecasts.csv`` and ``future.csv`` (both with ``ticker``), ``gradient_flow.csv``,
    ``plots/skill_by_ticker.png``, the loss and gradient-flow plots, and forecast/future plots of the first
    :data:`SHOWN` tickers (``plots/forecast_<ticker>.png``, ``plots/future_<ticker>.png``). ``which``: as
    :func:`forecast.reporting.outputs.write_run_files` (loss and gradient flow only with ``all``)."""
    log = pd.DataFrame([asdict(r) for r in result.history])
    write_csv(out_dir / "train_log.csv", log)
    write_csv(out_dir / "forecasts.csv", table)
    write_csv(out_dir / "gradient_flow.csv", flow)
    write_csv(out_dir / "future.csv", future)
    name = f"{record.ticker} {cell}"
    if which == "none":
        return
    plot_skill(
        record.tickers, f"{name}: test skill by ticker, one global model", out_dir / "plots" / "skill_by_ticker.png"
    )
    if which == "all":
        plots.plot_loss(log, result.best_epoch, out_dir / "plots" / "loss.png")
        flow_title = f"{name}: gradient flow across input lags"
        plots.plot_gradient_flow(flow, flow_title, out_dir / "plots" / "gradient_flow.png")
    horizon = int(table["step"].max())
    for ticker in list(frames)[:SHOWN]:
        rows = table[(table["ticker"] == ticker) & (table["step"] == horizon)]
        dm_p = record.tickers[ticker]["dm_vs_persistence"]["p_value"]
        title = f"{ticker} ({cell}, global model): test-period forecasts, {horizon} day(s) ahead"
        stem = ticker.replace("^", "_")
        price = price_label(frames[ticker])
        plots.plot_forecast(rows, title, out_dir / "plots" / f"forecast_{stem}.png", price, dm_p)
        path = future[future["ticker"] == ticker].drop(columns="ticker")
        title = f"{ticker} ({cell}, global model): forecast from the close of {path['last_date'].iloc[0]}"
        history = frames[ticker]["adj_close"].iloc[-120:]
        plots.plot_future(history, path, title, out_dir / "plots" / f"future_{stem}.png", price)


def plot_skill(tickers: dict[str, Any], title: str, path: Path) -> Path:
    """Bars of each ticker's test skill against persistence and against the linear baseline, sorted by the first
    (green: the model is ahead, red: behind); at most 60 tickers shown, the best and worst 30 of a larger pool."""
    rows = sorted(((t, 100 * v["skill_vs_persistence"]) for t, v in tickers.items()), key=lambda r: r[1])
    if len(rows) > 60:
        rows = rows[:30] + rows[-30:]
    names = [r[0] for r in rows]
    linear = [100 * tickers[t]["baselines"].get("linear", {}).get("skill", float("nan")) for t in names]
    fig, ax = plots.subplots(figsize=(max(6.0, 0.35 * len(rows) + 3), 4.2))
    x = range(len(rows))
    ax.bar(
        x, [r[1] for r in rows], color=["tab:green" if r[1] > 0 else "tab:red" for r in rows], label="vs persistence"
    )
    ax.plot(x, linear, "k_", markersize=14, mew=2, label="vs linear baseline")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(list(x), names, rotation=60 if len(rows) > 12 else 0, fontsize=8)
    ax.set(ylabel="test skill (%): 1 - MAE model / MAE baseline")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(title, fontsize=10)
    return plots.save(fig, path)


def pool_lines(record: RunRecord, shown: int = 5) -> list[str]:
    """Return the lines a global run ends with: pooled scores, the tickers' skill range, each path's next day."""
    test, pers = record.test, record.persistence_test
    skills = sorted((v["skill_vs_persistence"], t) for t, v in record.tickers.items())
    won = sum(s > 0 for s, _ in skills)
    dm = record.dm_vs_persistence
    lines = [
        f"{record.ticker} {record.model} (one model over {plural(len(record.pool), 'ticker')}) pooled test MAE "
        f"{test.mae:.5f} of the last close vs persistence {pers.mae:.5f}: skill "
        f"{100 * (record.skill_vs_persistence or 0):+.1f}% (DM p {dm.p_value:.2g}); ahead of persistence on {won} "
        f"of {len(skills)} tickers (skill {100 * skills[0][0]:+.1f}% {skills[0][1]} .. {100 * skills[-1][0]:+.1f}% "
        f"{skills[-1][1]})"
    ]
    if record.skipped:
        lines.append(f"left out: {', '.join(list(record.skipped)[:10])}{' ...' if len(record.skipped) > 10 else ''}")
    by_ticker = record.future.get("by_ticker") or {}
    levels = sorted((record.intervals.get("levels") or {}), key=float)
    top = levels[-1] if levels else None
    for ticker, path in list(by_ticker.items())[:shown]:
        p = path[0]
        band = f"  [{p[f'lower_{top}']:.2f}, {p[f'upper_{top}']:.2f}] ({top}%)" if top else ""
        lines.append(f"  {ticker:<6} {p['date']}  {p['predicted']:10.2f}{band}  (last close {p['last_close']:.2f})")
    if len(by_ticker) > shown:
        lines.append(f"  ... {len(by_ticker) - shown} more tickers in future.csv")
    return lines


def plural(n: int, word: str) -> str:
    """Return ``n word`` or ``n words``."""
    return f"{n} {word}{'' if n == 1 else 's'}"
