"""Comparison plots for a sweep (matplotlib Agg; each figure closed). Each returns the path it wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecast.models.registry import REGISTRY, colour
from forecast.reporting.plots import save, subplots


def _colour(cell: str) -> str:
    return colour(cell)


def _cells(done: pd.DataFrame) -> list[str]:
    order = [c for c in REGISTRY if c in set(done["cell"])]
    return order + sorted(set(done["cell"]) - set(order))


def plot_test_error(done: pd.DataFrame, path: Path) -> Path:
    """Test MAE relative to persistence by cell for each ticker: a dot per seed, a tick at the mean.

    A dot plot, not bars: on a zoomed axis bars exaggerate small differences. The y axis is the model's MAE over
    persistence's minus 1 (in %), so 0 is persistence and the differences read as they are.
    """
    tickers, cells = sorted(done["ticker"].unique()), _cells(done)
    fig, axes = subplots(1, len(tickers), figsize=(max(7.0, 3.6 * len(tickers) + 1), 4), squeeze=False)
    for ax, ticker in zip(axes[0], tickers, strict=True):
        part = done[done["ticker"] == ticker]
        for i, cell in enumerate(cells):
            rows = part[part["cell"] == cell]
            if rows.empty:
                continue
            rel = 100 * (pd.to_numeric(rows["test_mae"]) / pd.to_numeric(rows["persistence_test_mae"]) - 1)
            ax.scatter(np.full(len(rel), i), rel, color=_colour(cell), zorder=3, s=22, label=f"{cell} (seeds)")
            ax.hlines(rel.mean(), i - 0.25, i + 0.25, color=_colour(cell), lw=2.5)
        ax.axhline(0, color="black", ls="--", lw=1, label="persistence")
        ax.set_xticks(range(len(cells)), cells)
        ax.set_xlim(-0.6, len(cells) - 0.4)
        ax.set(title=ticker, ylabel="test MAE vs persistence (%)")
        ax.legend(loc="best", fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Test MAE by cell relative to persistence (dots: seeds; ticks: mean; above 0: worse)", fontsize=10)
    return save(fig, path)


def plot_cost(done: pd.DataFrame, path: Path) -> Path:
    """Parameters, activation memory, peak RSS and median seconds per epoch by cell: bars at the median over jobs,
    whiskers from the smallest to the largest job (spreads that cannot go below zero); bars start at zero."""
    cells = _cells(done)
    panels = [
        ("n_params", "parameters"),
        ("activation_memory_mb", "activation memory per batch (MB)"),
        ("peak_memory_mb", "peak RSS during training (MB)"),
        ("epoch_seconds_median", "seconds per epoch (median training pass)"),
    ]
    fig, axes = subplots(1, 4, figsize=(15, 3.8))
    for ax, (col, label) in zip(axes, panels, strict=True):
        stats = [pd.to_numeric(done.loc[done["cell"] == c, col], errors="coerce").dropna() for c in cells]
        mid = np.array([s.median() if len(s) else np.nan for s in stats])
        low = np.array([s.min() if len(s) else np.nan for s in stats])
        high = np.array([s.max() if len(s) else np.nan for s in stats])
        ax.bar(cells, mid, yerr=[mid - low, high - mid], color=[_colour(c) for c in cells], capsize=4)
        ax.set_ylim(bottom=0)
        ax.set(title=label)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Cost of each cell (bars: median over jobs; whiskers: smallest to largest job)")
    return save(fig, path)


def plot_skill(done: pd.DataFrame, path: Path) -> Path:
    """Skill versus persistence by ticker and cell (mean ± sd over seeds); above 0 beats persistence."""
    tickers, cells = sorted(done["ticker"].unique()), _cells(done)
    fig, ax = subplots(figsize=(max(6, 2 * len(tickers) + 2), 4))
    width = 0.8 / len(cells)
    for j, cell in enumerate(cells):
        means, sds = [], []
        for ticker in tickers:
            v = done.loc[(done["cell"] == cell) & (done["ticker"] == ticker), "skill_vs_persistence"].astype(float)
            means.append(100 * v.mean() if len(v) else np.nan)
            sds.append(100 * v.std(ddof=1) if len(v) > 1 else 0)
        ax.bar(np.arange(len(tickers)) + j * width, means, width, yerr=sds, label=cell, color=_colour(cell), capsize=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(tickers)) + width * (len(cells) - 1) / 2, tickers)
    ax.set(ylabel="skill vs persistence (%)", title="Skill: 1 - MAE_model / MAE_persistence (test)")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    return save(fig, path)


def plot_curve(done: pd.DataFrame, x: str, xlabel: str, path: Path, log_x: bool = False) -> Path:
    """Test MAE (and persistence) against ``x`` per cell, mean ± sd over seeds and tickers."""
    fig, ax = subplots(figsize=(7, 4.2))
    for cell in _cells(done):
        part = done[done["cell"] == cell].groupby(x)["test_mae"].agg(["mean", "std"]).reset_index()
        ax.errorbar(
            part[x], part["mean"], yerr=part["std"].fillna(0), marker="o", capsize=3, label=cell, color=_colour(cell)
        )
    pers = done.groupby(x)["persistence_test_mae"].mean()
    ax.plot(pers.index, pers.to_numpy(), color="black", ls="--", label="persistence")
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set(xlabel=xlabel, ylabel="test MAE (price units)", title=f"Test error vs {xlabel}")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def plot_gradient_overlay(curves: dict[str, list[np.ndarray]], path: Path, title: str) -> Path:
    """Overlay per-cell gradient-by-lag curves, each normalised by its lag-1 norm.

    Lines are geometric means over jobs, bands one geometric standard deviation (the curves span many
    orders of magnitude, so the spread is taken in log space).
    """
    fig, ax = subplots(figsize=(7.5, 4.2))
    for label, runs in curves.items():
        length = min(len(r) for r in runs)
        logs = np.log10(np.clip(np.stack([r[:length] / r[0] for r in runs]), 1e-30, None))
        mean, sd = logs.mean(axis=0), logs.std(axis=0)
        lags = np.arange(1, length + 1)
        cell = label.split(" ")[0]
        ax.semilogy(
            lags,
            10**mean,
            label=f"{label} ({len(runs)} runs)",
            color=_colour(cell),
            ls="--" if "bias" in label else "-",
        )
        ax.fill_between(lags, 10 ** (mean - sd), 10 ** (mean + sd), color=_colour(cell), alpha=0.12)
    ax.axhline(0.01, color="tab:red", lw=0.8, ls=":", label="1% of lag 1")
    ax.set(xlabel="input lag k (1 = the origin day)", ylabel="gradient norm / lag-1 norm", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_step_skill(done: pd.DataFrame, steps: list[str], path: Path) -> Path:
    """Skill against persistence by forecast step, one line per cell (mean ± sd over jobs)."""
    fig, ax = subplots(figsize=(7, 4))
    x = [int(s) for s in steps]
    for cell in _cells(done):
        part = done[done["cell"] == cell]
        values = [100 * pd.to_numeric(part[f"by_step_{s}_skill"]) for s in steps]
        ax.errorbar(
            x,
            [v.mean() for v in values],
            yerr=[v.std(ddof=1) if len(v) > 1 else 0 for v in values],
            marker="o",
            capsize=3,
            label=cell,
            color=_colour(cell),
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="forecast step (trading days ahead)", ylabel="skill vs persistence (%)", xticks=x)
    ax.set_title("Skill by forecast step (test)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)
