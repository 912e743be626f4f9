"""The report's "Fischer & Krauss, step by step" section (``experiment=fischer_krauss_ablation``): the model's
portfolio at the smallest ``k`` per era at every step of the ablation, the paired difference of each step's daily
returns to the step before with its Newey-West t, and the comparison models' rows and the model's ratios to them.

Each job's ``portfolio.csv`` holds its test days' returns (:mod:`forecast.evaluation.money.portfolio`); the steps are
the jobs whose overrides name ``ablation=``, in job order. A day counts in a paired difference when both steps
trade it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.evaluation.money.daily_returns import newey_west_t
from forecast.evaluation.money.paper_measures import era_masks
from forecast.reporting.sweep.money import shown
from forecast.store.record import RunRecord

STEP_KEY = "ablation="
COMPARISONS = ("str", "logistic", "forest")  # short-term reversal, logistic regression, random forest


def steps_of(sweep_dir: Path, done: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """Return ``(job, step, daily returns)`` of each completed ablation job with a ``portfolio.csv``, in order."""
    out = []
    for job in done["job"]:
        record = RunRecord.read(sweep_dir / str(job)) or RunRecord()
        step = next((o.split("=", 1)[1] for o in record.overrides if o.startswith(STEP_KEY)), None)
        daily = sweep_dir / str(job) / "portfolio.csv"
        if step is not None and daily.is_file():
            out.append((str(job), step, pd.read_csv(daily, index_col="date", parse_dates=["date"])))
    return out


def era_rows(name: str, daily: pd.DataFrame, prefix: str, k: int, before: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Return one row per era (and all days) of ``prefix``'s returns at ``k``: gross and net means (percent a day)
    and their Newey-West t, and with ``before`` the paired difference of the gross returns to it."""
    rows = []
    dates = pd.DatetimeIndex(daily.index)
    for era, mask in {"all": np.ones(len(dates), dtype=bool), **era_masks(dates)}.items():
        gross = daily[f"{prefix}_gross_{k}"].to_numpy(float)[mask]
        net = daily[f"{prefix}_net_{k}"].to_numpy(float)[mask]
        fixed = daily[f"{prefix}_net_fixed_{k}"].to_numpy(float)[mask]
        row: dict[str, Any] = {
            "step": name,
            "era": era,
            "days": int(mask.sum()),
            "gross %/day": 100 * gross.mean(),
            "t gross": newey_west_t(gross),
            "net %/day": 100 * net.mean(),
            "net, 4 half-turns %/day": 100 * fixed.mean(),
        }
        if before is not None:
            other = before[f"model_gross_{k}"].reindex(dates[mask]).to_numpy(float)
            diff = gross - other
            diff = diff[~np.isnan(diff)]
            row |= {"gross change %/day": 100 * diff.mean() if len(diff) else np.nan, "t change": newey_west_t(diff)}
        rows.append(row)
    return rows


def ablation_section(sweep_dir: Path, done: pd.DataFrame) -> list[str]:
    """Return the section's lines (none without two or more ablation steps)."""
    steps = steps_of(sweep_dir, done)
    if len(steps) < 2:
        return []
    first = steps[0][2]
    k = min(int(c.rsplit("_", 1)[1]) for c in first.columns if c.startswith("model_gross_"))
    rows: list[dict[str, Any]] = []
    for i, (job, step, daily) in enumerate(steps):
        rows += era_rows(f"{job} ({step})", daily, "model", k, steps[i - 1][2] if i else None)
    base = [(name, first) for name in COMPARISONS if f"{name}_gross_{k}" in first]
    comparisons = [row for name, daily in base for row in era_rows(name, daily, name, k, None)]
    ratio = ratios(rows, comparisons, steps[0][0], steps[-1][0])
    table = pd.DataFrame(rows + comparisons).map(shown)
    return [
        "## Fischer & Krauss, step by step",
        "",
        f"k = {k}: the model's long-short portfolio at each step of the ablation (each step keeps the ones before), "
        "mean daily returns in percent before costs, after the actual turnover's costs and after the paper's fixed "
        "4 half-turns a day, per era; the change is the mean paired difference of the step's daily gross returns "
        "to the step before, with its Newey-West t. Below the steps, the comparison models of the first step on the "
        "same days (str: short-term reversal). docs/portfolio.md sets these beside the paper's table.",
        "",
        table.to_markdown(index=False, disable_numparse=True),
        "",
        *ratio,
    ]


def ratios(rows: list[dict[str, Any]], comparisons: list[dict[str, Any]], first: str, last: str) -> list[str]:
    """Return the line of the model's gross mean over each comparison model's, at the first and the last step."""
    parts = []
    for step in (first, last):
        mine = next(r["gross %/day"] for r in rows if r["step"].startswith(step) and r["era"] == "all")
        each = [f"{c['step']} {_ratio(mine, c['gross %/day'])}" for c in comparisons if c["era"] == "all"]
        parts.append(f"{step}: " + ", ".join(each))
    return [f"Gross mean of the model over each comparison model's, all days: {'; '.join(parts)}.", ""]


def _ratio(mine: float, theirs: float) -> str:
    """Return ``mine / theirs``, or why not: a ratio to a comparison that earned nothing says nothing."""
    return f"{mine / theirs:.2f}" if theirs > 0 else f"n/a (it earned {theirs:+.3f}%)"
