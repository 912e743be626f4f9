"""The portfolio plot: cumulative net return of the long-short rule per ``k`` over the test days, beside the random
rankings' 5-95% band (smallest ``k``) and the equal-weight pool held long."""

from __future__ import annotations

from pathlib import Path

from forecast.evaluation.money.portfolio import Curves
from forecast.reporting.plots import save, subplots


def plot_portfolio(curves: Curves, cost_bps: float, title: str, path: Path) -> Path:
    """Plot ``curves`` (cumulative returns in percent, log-free: a reader compares end points) and return ``path``."""
    fig, ax = subplots(figsize=(11, 4.5))
    low, high = curves.random_band
    if len(low):
        k = min(curves.net)
        ax.fill_between(
            low.index, 100 * low, 100 * high, color="grey", alpha=0.25, lw=0, label=f"random rankings, k={k}: 5-95%"
        )
    for k, series in sorted(curves.net.items()):
        ax.plot(series.index, 100 * series, lw=1.4, label=f"long-short k={k}")
    ax.plot(curves.pool.index, 100 * curves.pool, color="black", lw=1.0, ls="--", label="equal-weight pool, long")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel(f"cumulative return after {cost_bps:g} bp per half-turn (%)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return save(fig, path)
