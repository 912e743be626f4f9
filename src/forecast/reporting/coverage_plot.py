"""The rolling-coverage plot: does the widest interval cover as often as it says, quarter by quarter, beside the
GARCH and EWMA Gaussian bands around the same forecasts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecast.evaluation.intervals.coverage import ROLLING, VOL_BASELINES, gaussian_bands, rolling_coverage
from forecast.reporting.plots import save, subplots
from forecast.store.fields import IntervalScores

COLOURS = {"ewma": "tab:orange", "garch": "tab:green"}


def plot_rolling_coverage(test: pd.DataFrame, scores: IntervalScores, title: str, path: Path) -> Path | None:
    """Plot the coverage of the last :data:`ROLLING` test sessions at each date (pooled over tickers and steps) of
    the run's widest level and of the volatility baselines, with the nominal level, its +-5 point band and the
    date the exchangeability alarm fired; return ``path`` (None when the test span is shorter than the window)."""
    top = max(scores.levels, key=float)
    own = rolling_coverage(test, top)
    if own.empty:
        return None
    fig, ax = subplots(figsize=(11, 4))
    nominal = float(top)
    ax.axhspan(nominal - 5, nominal + 5, color="grey", alpha=0.12, lw=0, label="nominal +-5 points")
    ax.axhline(nominal, color="black", lw=0.9, ls="--", label=f"nominal {top}%")
    pooled = 100 * scores.levels[top].coverage
    ax.plot(
        pd.to_datetime(own.index),
        100 * own.to_numpy(),
        color="tab:blue",
        lw=1.6,
        label=f"{scores.method} ({pooled:.1f}% overall)",
    )
    for vol in VOL_BASELINES:
        if vol in scores.baselines and f"vol_{vol}" in test:
            line = rolling_coverage(gaussian_bands(test, vol, [top]), top)
            overall = 100 * scores.baselines[vol].levels[top].coverage
            label = f"{vol.upper()} Gaussian ({overall:.1f}% overall)"
            ax.plot(
                pd.to_datetime(line.index), 100 * line.to_numpy(), color=COLOURS[vol], lw=1.0, alpha=0.8, label=label
            )
    first_shown = pd.to_datetime(own.index[0])
    if scores.alarm.crossed and pd.Timestamp(scores.alarm.crossed) >= first_shown:
        ax.axvline(pd.Timestamp(scores.alarm.crossed), color="tab:red", lw=1.0, label="exchangeability alarm")
    elif scores.alarm.crossed:  # it fired before the first date drawn: marked at the left edge, with its date
        label = f"exchangeability alarm on {scores.alarm.crossed} (before this chart)"
        ax.axvline(first_shown, color="tab:red", lw=2.5, ls=":", label=label)
    ax.set(ylabel=f"coverage of the last {ROLLING} sessions (%)", xlabel="test day")
    ax.set_ylim(max(0.0, min(ax.get_ylim()[0], nominal - 20)), 100.5)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return save(fig, path)
