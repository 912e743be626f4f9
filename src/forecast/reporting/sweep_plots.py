"""Comparison plots for a sweep (matplotlib Agg; each figure closed). Each returns the path it wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecast.reporting.plots import save, subplots

CELL_COLOURS = {"rnn": "tab:green", "lstm": "tab:blue", "gru": "tab:orange"}


def _colour(cell: str) -> str:
    return CELL_COLOURS.get(cell, "tab:purple")


def _cells(done: pd.DataFrame) -> list[str]:
    order = [c for c in CELL_COLOURS if c in set(done["cell"])]
    return order + sorted(set(done["cell"]) - set(order))


def plot_test_error(done: pd.DataFrame, path: Path) -> Path:
    """Test MAE by cell for each ticker: one dot per seed, the mean as a bar, persistence as a line."""
    tickers, cells = sorted(done["ticker"].unique()), _cells(done)
    fig, axes = subplots(1, len(tickers), figsize=(3.6 * len(tickers) + 1, 4), squeeze=False)
    for ax, ticker in zip(axes[0], tickers, strict=True):
        part = done[done["ticker"] == ticker]
        for i, cell in enumerate(cells):
            values = part.loc[part["cell"] == cell, "test_mae"].astype(float)
            if values.empty:
                continue
            ax.bar(i, values.mean(), color=_colour(cell), alpha=0.35, width=0.6)
            ax.scatter(np.full(len(values), i), values, color=_colour(cell), zorder=3, s=18)
        ax.axhline(part["persistence_test_mae"].astype(float).mean(), color="black", ls="--", lw=1, label="persistence")
        ax.set_xticks(range(len(cells)), cells)
        ax.set(title=ticker, ylabel="test MAE (price units)")
        lo = min(part["test_mae"].astype(float).min(), part["persistence_test_mae"].astype(float).min())
        hi = max(part["test_mae"].astype(float).max(), part["persistence_test_mae"].astype(float).max())
        ax.set_ylim(lo - 0.15 * (hi - lo + 1e-9), hi + 0.15 * (hi - lo + 1e-9))
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Test error by cell (dots: seeds; bars: mean)")
    return save(fig, path)


def plot_cost(done: pd.DataFrame, path: Path) -> Path:
    """Parameters, activation memory, peak RSS and seconds per epoch by cell (mean ± sd over jobs)."""
    cells = _cells(done)
    panels = [
        ("n_params", "parameters"),
        ("activation_memory_mb", "activation memory per batch (MB)"),
        ("peak_memory_mb", "peak RSS during training (MB)"),
        ("seconds_per_epoch", "seconds per epoch"),
    ]
    fig, axes = subplots(1, 4, figsize=(15, 3.8))
    for ax, (col, label) in zip(axes, panels, strict=True):
        stats = [done.loc[done["cell"] == c, col].astype(float) for c in cells]
        ax.bar(
            cells,
            [s.mean() for s in stats],
            yerr=[s.std(ddof=1) if len(s) > 1 else 0 for s in stats],
            color=[_colour(c) for c in cells],
            capsize=4,
        )
        ax.set(title=label)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Cost of each cell (error bars: sd over jobs)")
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
    ax.set(xlabel="input lag k (days)", ylabel="gradient norm / lag-1 norm", title=title)
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
