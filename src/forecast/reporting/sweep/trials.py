"""The report's section on a search after every trial it tried (an Optuna search, or every search of
``python -m forecast.tuned``): Hansen's SPA and Romano-Wolf's StepM of every completed trial against persistence on
the test span, with the true count of trials tested, and the probability of backtest overfitting (CSCV) of picking
one trial of them. The searches read validation losses only; this section is their first look at the test span."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from forecast.evaluation.comparisons import SPA_SIZE, superiority
from forecast.evaluation.money.overfitting import BLOCKS, backtest_overfitting
from forecast.reporting.sweep.best import daily_test_losses
from forecast.store.decode import RecordError
from forecast.store.folders import job_dirs
from forecast.store.record import RunRecord

SEARCH_MARK = "forecast_optuna"  # in a search sweep's multirun.yaml: the sweeper's module


def is_search(sweep_dir: Path) -> bool:
    """Return whether ``sweep_dir`` holds an Optuna search (its ``multirun.yaml`` names our Optuna sweeper)."""
    path = sweep_dir / "multirun.yaml"
    return path.is_file() and SEARCH_MARK in path.read_text()


def searches_of(sweep_dir: Path) -> dict[str, Path]:
    """Return the searches a sweep's report covers: the sweep itself when it is a search; the searches of a
    ``python -m forecast.tuned`` comparison (its ``tuned.json``), by cell; else none."""
    if is_search(sweep_dir):
        return {"": sweep_dir}
    path = sweep_dir / "tuned.json"
    if not path.is_file():
        return {}
    cells = json.loads(path.read_text()).get("cells", {})
    return {cell: Path(v["search_dir"]) for cell, v in cells.items() if isinstance(v, dict) and "search_dir" in v}


def trial_losses(searches: dict[str, Path]) -> tuple[dict[str, pd.DataFrame], int]:
    """Return the daily test losses of every completed trial of each search (``label -> folder``), keyed
    ``<label> trial <n>``, and the largest horizon among them."""
    losses, horizon = {}, 1
    for label, folder in searches.items():
        for job in job_dirs(folder) if folder.is_dir() else []:
            try:
                record = RunRecord.read(job)
            except RecordError:  # a damaged record: not a result
                continue
            if record is None or record.status != "completed":
                continue
            frame = daily_test_losses(job)
            if not frame.empty:
                losses[f"{label} trial {job.name.split('_', 1)[0]}".strip()] = frame
                horizon = max(horizon, record.horizon or 1)
    return losses, horizon


def trials_section(searches: dict[str, Path]) -> list[str]:
    """Return the section's lines (none with fewer than two completed trials with price forecasts)."""
    losses, horizon = trial_losses(searches)
    if len(losses) < 2:
        return []
    models = pd.DataFrame({name: frame["model"] for name, frame in losses.items()}).dropna()
    persistence = next(iter(losses.values()))["persistence"].reindex(models.index)
    spa = superiority(persistence, models, horizon)
    gains = persistence.to_numpy()[:, None] - models.to_numpy()  # each day's loss below persistence's, per trial
    pbo, halves = backtest_overfitting(gains)
    names = ", ".join(f"{k}'s search" for k in searches if k)
    names = f" ({names})" if names else ""

    def p(value: float) -> str:  # a bootstrap p-value of 0 is below one resample in spa.reps
        return f"{value:.2g}" if value > 0 else f"< {1 / spa.reps:.2g}"

    pbo_text = f"{pbo:.2f} ({BLOCKS} blocks, {halves:,} halves)" if not math.isnan(pbo) else "n/a (too few days)"
    return [
        "## Every trial against persistence",
        "",
        f"{spa.models} trials tested{names} on {spa.days} test days, squared errors at the last step. **SPA** "
        f"(Hansen 2005) that some trial beats persistence: consistent p {p(spa.p_consistent)} (lower "
        f"{p(spa.p_lower)}, upper {p(spa.p_upper)}; stationary bootstrap, mean block {spa.block}, {spa.reps:,} "
        f"resamples). **StepM** (Romano & Wolf 2005) at family-wise error {100 * SPA_SIZE:.0f}%: "
        f"{', '.join(spa.superior) or 'no trial'} beats it. **Probability of backtest overfitting** (Bailey, "
        f"Borwein, López de Prado & Zhu 2017, CSCV on each day's squared-error gain over persistence): {pbo_text}, "
        "the share of splits of the days where the trial best on one half ranks below the median on the other.",
        "",
    ]
