"""The report's sections on forecasts over several steps: error growth with the step, and interval coverage."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from forecast.reporting.sweep import plots as sweep_plots
from forecast.reporting.sweep.summary import mean_sd


def _numbered(columns: list[str], pattern: str) -> list[str]:
    """Return the distinct captured names of ``pattern`` in ``columns``, in numeric order."""
    found = {m.group(1) for c in columns if (m := re.fullmatch(pattern, c))}
    return sorted(found, key=float)


def step_section(done: pd.DataFrame, plots_dir: Path) -> list[str]:
    """Return the section on error growth with the horizon step (empty when every job forecast one step)."""
    steps = _numbered(list(done.columns), r"by_step_(\d+)_skill")
    if len(steps) < 2:
        return []
    rows = []
    for (ticker, cell, strategy), part in done.groupby(["ticker", "cell", "strategy"], dropna=False):
        row = {"ticker": ticker, "cell": cell, "strategy": strategy, "seeds": len(part)}
        for s in steps:
            row[f"MAE step {s}"] = mean_sd(part[f"by_step_{s}_mae"])
            row[f"skill step {s}"] = mean_sd(100 * pd.to_numeric(part[f"by_step_{s}_skill"]), 2)
        rows.append(row)
    sweep_plots.plot_step_skill(done, steps, plots_dir / "skill_by_step.png")
    return [
        "## Error growth with the forecast step",
        "",
        "Test MAE (price units) and skill against persistence at the same step (%), mean ± sd over seeds. "
        "Persistence for step h is the close at the origin; every step is scored on the same origins.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
        "![skill by step](plots/skill_by_step.png)",
        "",
    ]


def interval_section(done: pd.DataFrame) -> list[str]:
    """Return the section on prediction intervals: coverage, width and Winkler score per level (empty if none)."""
    levels = _numbered(list(done.columns), r"intervals_levels_([\d.]+)_coverage")
    if not levels:
        return []
    rows = []
    for (ticker, cell, method), part in done.groupby(["ticker", "cell", "intervals_method"], dropna=False):
        row = {"ticker": ticker, "cell": cell, "method": method, "seeds": len(part)}
        for name in levels:
            row[f"{name}% coverage"] = mean_sd(100 * pd.to_numeric(part[f"intervals_levels_{name}_coverage"]), 3)
            row[f"{name}% width"] = mean_sd(part[f"intervals_levels_{name}_width"], 3)
            row[f"{name}% Winkler"] = mean_sd(part[f"intervals_levels_{name}_winkler"], 3)
        row["CRPS (log price)"] = mean_sd(part["intervals_crps"], 3) if "intervals_crps" in part else "n/a"
        rows.append(row | regimes(part, levels[-1]))
    return [
        "## Prediction intervals on the test span",
        "",
        "Empirical coverage (%) against the nominal level, mean width and Winkler score (price units, pooled over "
        "steps). Split conformal intervals are calibrated on the validation span only; adaptive and PID bands start "
        "there and learn each outcome on the day it is known; a quantile head's come from its own quantiles. CRPS: "
        "Gaussian with the validation RMS log residual (conformal) or the quantile-score approximation (quantile "
        "head), so the two methods' CRPS are not on one footing. At the widest level: the "
        "worst fold's coverage at any step (backtests), coverage on high-volatility days (trailing 21-session "
        "volatility in the top tercile of the training span's), the GARCH and EWMA Gaussian bands' coverage around "
        "the same forecasts, the best method by Winkler score at matched coverage, and the runs whose exchangeability "
        "alarm fired.",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
    ]


def regimes(part: pd.DataFrame, top: str) -> dict[str, str]:
    """Return the widest level's coverage in the worst fold and on high-volatility days, the baselines' coverage,
    the best method (most frequent over seeds) and how many runs' alarm fired, for one group of jobs."""
    level = re.escape(top)
    folds = [c for c in part.columns if re.fullmatch(rf"intervals_levels_{level}_by_step_\d+_by_fold_\d+", c)]
    folds = folds or [c for c in part.columns if re.fullmatch(rf"intervals_by_fold_\d+_{level}", c)]  # older records
    out = {}
    if folds:
        out["worst fold, any step"] = mean_sd(100 * part[folds].apply(pd.to_numeric).min(axis=1), 3)
    if f"intervals_by_tercile_high_{top}" in part:
        out["high-vol days"] = mean_sd(100 * pd.to_numeric(part[f"intervals_by_tercile_high_{top}"]), 3)
    for vol in ("garch", "ewma"):
        if f"intervals_baselines_{vol}_levels_{top}_coverage" in part:
            out[f"{vol.upper()} coverage"] = mean_sd(
                100 * pd.to_numeric(part[f"intervals_baselines_{vol}_levels_{top}_coverage"]), 3
            )
    best = part["intervals_best"].dropna() if "intervals_best" in part else pd.Series(dtype=object)
    if not best.empty:
        out["best"] = str(best.mode().iloc[0])
    if "intervals_alarm_crossed" in part:
        out["alarm fired"] = f"{int(part['intervals_alarm_crossed'].notna().sum())} of {len(part)}"
    return out
