"""Run plots (bare matplotlib figures rendered with Agg, no pyplot): forecast, loss, residuals, future, backtest."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.evaluation.honesty import move_correlation
from forecast.store.atomic import write_with
from forecast.store.fields import BacktestScores


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """Return a new figure and its axes, as ``pyplot.subplots`` does, without pyplot (about 1 s of imports and
    global figure state): a bare ``matplotlib.figure.Figure`` renders with Agg when saved."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig: Any, path: Path, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` atomically (PNG, 110 dpi) and return ``path``.

    ``tight=False`` keeps the figure's own margins: ``tight_layout`` costs about 0.1 s a figure.
    """
    if tight:
        fig.tight_layout()
    return write_with(path, lambda tmp: fig.savefig(tmp, dpi=110))


def plot_forecast(
    table: pd.DataFrame, title: str, path: Path, price: str = "adjusted close", dm_p: float = math.nan
) -> Path:
    """Plot the test period (persistence, actual, then the model on top), its last 60 days, and the moves.

    The third panel is what the model is for: its predicted move from the last close against the actual move,
    with their correlation. The headline numbers (test MAE, persistence's, skill, DM p) are written in the figure.
    """
    test = table[table["split"] == "test"]
    dates = pd.to_datetime(test["date"])
    fig = subplots(figsize=(13, 7.5))[0]
    fig.delaxes(fig.axes[0])
    # fixed margins, not tight_layout (0.2-0.4 s for this figure): every run draws it
    grid = fig.add_gridspec(
        2,
        2,
        width_ratios=[2.3, 1],
        height_ratios=[3, 2],
        left=0.06,
        right=0.985,
        top=0.91,
        bottom=0.09,
        hspace=0.42,
        wspace=0.2,
    )
    ax, zoom, moves = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[:, 1])
    for axis, part in ((ax, slice(None)), (zoom, slice(-60, None))):
        marker = "." if axis is zoom else None
        axis.plot(
            dates[part],
            test["persistence"].iloc[part],
            color="tab:orange",
            lw=1.0,
            ls="--",
            label="persistence (last close)",
        )
        axis.plot(dates[part], test["actual"].iloc[part], color="black", lw=1.0, marker=marker, label="actual")
        axis.plot(dates[part], test["predicted"].iloc[part], color="tab:blue", lw=1.4, marker=marker, label="model")
        axis.grid(alpha=0.3)
        axis.set_ylabel(price)
        axis.legend(loc="best", fontsize=8)
        axis.tick_params(axis="x", labelrotation=20)  # not autofmt_xdate: it hides the upper panel's dates
    mae = float((test["actual"] - test["predicted"]).abs().mean())
    pers = float((test["actual"] - test["persistence"]).abs().mean())
    ax.set_title(
        f"{title}\ntest MAE {mae:.4g} vs persistence {pers:.4g}: skill {100 * (1 - mae / pers):+.2f}% "
        f"(absolute errors), DM p {dm_p:.2g} (squared errors)",
        fontsize=10,
    )
    zoom.set_title("last 60 test days", fontsize=10)
    zoom.set_xlabel("date")
    plot_moves(moves, test)
    return save(fig, path, tight=False)


def plot_moves(moves: Any, test: pd.DataFrame) -> None:
    """Draw the predicted against the actual moves from the last close (%), titled with their correlation (the
    definition the terminal's lines use, :func:`forecast.evaluation.honesty.move_correlation`)."""
    predicted = 100 * (test["predicted"] / test["persistence"] - 1)
    actual = 100 * (test["actual"] / test["persistence"] - 1)
    corr = move_correlation(*(test[c].to_numpy() for c in ("actual", "predicted", "persistence")))
    moves.scatter(predicted, actual, s=6, alpha=0.5, color="tab:blue")
    moves.axhline(0, color="black", lw=0.6)
    moves.axvline(0, color="black", lw=0.6)
    moves.set(xlabel="predicted move from the last close (%)", ylabel="actual move (%)")
    moves.set_title(f"moves: correlation {corr:.2f}", fontsize=10)
    moves.grid(alpha=0.3)


def plot_loss(log: pd.DataFrame, best_epoch: int, path: Path) -> Path:
    """Plot training and validation loss per epoch, marking the restored best epoch."""
    fig, ax = subplots(figsize=(7, 4))
    ax.plot(log["epoch"], log["train_loss"], marker="o", ms=3, label="train")
    ax.plot(log["epoch"], log["val_loss"], marker="o", ms=3, label="validation")
    ax.axvline(best_epoch, color="grey", ls=":", label=f"best epoch {best_epoch}")
    ax.set(title="loss (MSE on scaled log returns)", xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)


def plot_residuals(table: pd.DataFrame, path: Path) -> Path:
    """Plot test residuals (actual - forecast): the model's, persistence's over it, and the two distributions."""
    test = table[table["split"] == "test"]
    dates = pd.to_datetime(test["date"])
    res_model, res_pers = test["actual"] - test["predicted"], test["actual"] - test["persistence"]
    fig, (ax1, ax2) = subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
    ax1.plot(dates, res_model, color="tab:blue", lw=1.2, label="model")
    ax1.plot(dates, res_pers, color="tab:orange", lw=0.7, label="persistence")  # thinner, on top: both visible
    ax1.axhline(0, color="black", lw=0.6)
    ax1.set(title="test residuals (actual - forecast)", xlabel="date", ylabel="price units")
    ax1.legend()
    ax1.grid(alpha=0.3)
    bins = np.histogram_bin_edges(np.concatenate([res_model, res_pers]), 50)
    # outlines (histtype step): one polygon each, neither hides the other
    ax2.hist(res_model, bins=bins, color="tab:blue", label="model", histtype="step", lw=1.4)
    ax2.hist(res_pers, bins=bins, color="tab:orange", label="persistence", histtype="step", lw=1.0)
    ax2.set(title="residual distribution", xlabel="price units", ylabel="days")
    ax2.legend()
    ax1.tick_params(axis="x", labelrotation=20)
    return save(fig, path)


def plot_gradient_flow(table: pd.DataFrame, title: str, path: Path) -> Path:
    """Plot the gradient norm by input lag (log scale) at initialisation and after training."""
    fig, ax = subplots(figsize=(7, 4))
    ax.semilogy(table["lag"], table["init"], label="at initialisation", color="grey", ls="--")
    ax.semilogy(table["lag"], table["trained"], label="trained", color="tab:blue")
    ax.axhline(table["trained"].iloc[0] * 0.01, color="tab:red", lw=0.8, ls=":", label="1% of lag-1 (trained)")
    ax.set(
        title=title,
        xlabel="input lag k (1 = the origin day t; lag k = day t - k + 1)",
        ylabel="||d loss / d x(t-k+1)||",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return save(fig, path)


def plot_future(
    history: pd.Series, future: pd.DataFrame, title: str, path: Path, price: str = "adjusted close"
) -> Path:
    """Fan chart: the last sessions of actual prices, then the forecast path with its intervals shaded."""
    fig, ax = subplots(figsize=(10, 4.5))
    ax.plot(history.index, history.to_numpy(), color="black", lw=1.3, label=f"actual ({price})")
    dates = pd.to_datetime(pd.concat([pd.Series([history.index[-1]]), pd.to_datetime(future["date"])]))
    start = float(history.iloc[-1])
    names = sorted((c.removeprefix("lower_") for c in future.columns if c.startswith("lower_")), key=float)
    for i, name in enumerate(reversed(names)):  # widest first, so narrower bands draw on top
        lower = [start, *future[f"lower_{name}"]]
        upper = [start, *future[f"upper_{name}"]]
        ax.fill_between(dates, lower, upper, color="tab:blue", alpha=0.15 + 0.15 * i, lw=0, label=f"{name}% interval")
    ax.plot(dates, [start, *future["predicted"]], color="tab:blue", lw=1.6, marker=".", label="forecast")
    last = future.iloc[-1]
    widest = f" [{last[f'lower_{names[-1]}']:.2f}, {last[f'upper_{names[-1]}']:.2f}]" if names else ""
    ax.annotate(  # the last step's forecast, in numbers (at horizon 1 the whole path is this one point)
        f"{last['predicted']:.2f}{widest}",
        (dates.iloc[-1], float(last["predicted"])),
        xytext=(6, 0),
        textcoords="offset points",
        va="center",
        fontsize=8,
        color="tab:blue",
    )
    ax.set_xlim(right=dates.iloc[-1] + 0.18 * (dates.iloc[-1] - history.index[0]))  # room for the numbers
    ax.axvline(history.index[-1], color="grey", ls=":", lw=0.8)
    ax.set(title=title, ylabel="price")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    ax.tick_params(axis="x", labelrotation=20)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.92, bottom=0.14)  # fixed margins: every run draws this one
    return save(fig, path, tight=False)


def plot_backtest(final: pd.DataFrame, backtest: BacktestScores, title: str, path: Path) -> Path:
    """Per-fold skill against persistence (bars), and the cumulative sum of squared-error differences (model minus
    persistence) over the test days: where the line rises the model loses ground, where it falls it wins."""
    folds = backtest.by_fold
    fig, (bars, cum) = subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 1.6]})
    skill = [100 * f.skill for f in folds.values()]
    bars.bar(list(folds), skill, color=["tab:green" if v > 0 else "tab:red" for v in skill])
    bars.axhline(0, color="black", lw=0.8)
    bars.set(xlabel="fold (oldest first)", ylabel="skill vs persistence (%)")
    bars.set_title(
        f"ahead in {backtest.won} of {backtest.folds} folds, significantly in {backtest.won_significantly} (DM, 5%)",
        fontsize=10,
    )
    bars.grid(alpha=0.3, axis="y")
    dates = pd.to_datetime(final["date"])
    diff = (final["actual"] - final["predicted"]) ** 2 - (final["actual"] - final["persistence"]) ** 2
    cum.plot(dates, diff.cumsum().to_numpy(), color="tab:blue", lw=1.2)
    for start in final.groupby("fold")["date"].first():
        cum.axvline(pd.Timestamp(start), color="grey", lw=0.5, ls=":")
    cum.axhline(0, color="black", lw=0.8)
    cum.set(xlabel="test day", ylabel="cumulative (model - persistence) squared error")
    cum.set_title("below 0: the model is ahead (dotted lines: fold starts)", fontsize=10)
    cum.grid(alpha=0.3)
    fig.suptitle(title)
    return save(fig, path)
