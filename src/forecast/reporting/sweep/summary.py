"""Collect a sweep's jobs into one table: one row per job, failed jobs included with their reason."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.store.columns import DIMENSIONS, columns, dimensions, flatten
from forecast.store.decode import RecordError
from forecast.store.folders import job_dirs
from forecast.store.record import RECORD_FILE, RunRecord

log = logging.getLogger(__name__)


def unmeasured(record: RunRecord) -> str:
    """Return what a completed record lacks (its cell, its config, a test MAE or a classifier's test accuracy
    that is a number), or "" when the report can read it."""
    if record.model is None:
        return "its model is missing"
    if not record.config:
        return "its config is missing"
    if record.classifier is not None:
        scored = {"classifier.accuracy_test": record.classifier.accuracy_test}
    else:
        scored = {"test.mae": record.test.mae, "persistence_test.mae": record.persistence_test.mae}
    return next((f"its {name} is not a number" for name, v in scored.items() if v is None or math.isnan(v)), "")


def job_row(job: Path) -> dict[str, Any]:
    """Return one job's summary row, read from its ``metrics.json`` alone (the run record)."""
    try:
        record = RunRecord.read(job)
    except RecordError as exc:
        said = f"says {exc.status} but {exc}" if exc.status else f"is damaged ({exc})"
        return {"job": job.name, "status": "failed", "reason": f"metrics.json {said}: the job's results are unknown"}
    if record is None:
        reason = (
            "metrics.json is unreadable (truncated or not a JSON object): the job's results are unknown"
            if (job / RECORD_FILE).exists()
            else "no metrics.json: the job crashed before it started"
        )
        return {"job": job.name, "status": "failed", "reason": reason}
    status = record.status
    if status == "completed" and (missing := unmeasured(record)):
        return {
            "job": job.name,
            "status": "failed",
            "reason": f"metrics.json says completed but {missing}: the job's results are unknown",
        }
    row: dict[str, Any] = {"job": job.name, "overrides": " ".join(record.overrides)}
    if status == "completed":
        row.update(flatten(asdict(record)))
    row.update(dimensions(record))  # the config's values (seed, window...) over the record's copies of them
    row["status"], row["reason"] = status, record.reason
    if status == "running":
        row["reason"] = f"no final record: still running (pid {record.pid}) or killed"
    return row


def completed_records(sweep_dir: Path, done: pd.DataFrame) -> dict[str, RunRecord]:
    """Return the typed record of each completed job of ``done`` (job name -> record), as the summary read it."""
    records = {str(job): RunRecord.read(sweep_dir / str(job)) for job in done["job"]}
    return {job: record for job, record in records.items() if record is not None}


def collect_jobs(sweep_dir: Path) -> pd.DataFrame:
    """Return one row per job: swept overrides, sweep dimensions, status (and reason), every recorded measurement."""
    frame = pd.DataFrame([job_row(job) for job in job_dirs(sweep_dir)])
    missing = [c for c in ["overrides", *DIMENSIONS, "seed", *columns()] if c not in frame.columns]
    return pd.concat([frame, pd.DataFrame(index=frame.index, columns=missing, dtype=object)], axis=1)


def varying_dimensions(jobs: pd.DataFrame) -> list[str]:
    """Return the grouping keys: ticker and cell always, other dimensions when they vary in the sweep."""
    keys = ["ticker", "cell"]
    for key in list(DIMENSIONS)[2:]:
        if key in jobs.columns and jobs[key].astype(str).nunique() > 1:
            keys.append(key)
    return keys


def mean_sd(values: pd.Series, digits: int = 4) -> str:
    """Return ``mean ± sd`` over seeds (sd with n-1; a single value shows alone)."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "n/a"
    if len(v) == 1:
        return f"{v.iloc[0]:.{digits}g}"
    return f"{v.mean():.{digits}g} ± {v.std(ddof=1):.2g}"


def percent(fractions: pd.Series) -> str:
    """Return a skill (a fraction) as ``mean ± sd`` in percent, as the report's text gives it."""
    return mean_sd(100 * pd.to_numeric(fractions, errors="coerce"), 2)


def grouped_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Return the completed jobs grouped by the varying dimensions: mean ± sd over seeds, persistence beside."""
    done = jobs[jobs["status"] == "completed"]
    if done.empty:
        return pd.DataFrame()
    keys = varying_dimensions(done)
    rows = []
    for group, part in done.groupby(keys, dropna=False, sort=True):
        values = group if isinstance(group, tuple) else (group,)
        row = dict(zip(keys, values, strict=True))
        row.update(
            {
                "kernel": str(part["kernel"].iloc[0]),
                "seeds": len(part),
                "test MAE": mean_sd(part["test_mae"]),
                "persistence MAE": mean_sd(part["persistence_test_mae"]),
                "skill % (MAE)": percent(part["skill_vs_persistence"]),
                "directional acc.": mean_sd(part["test_directional_accuracy"], 3),
                "DM p vs persistence (median)": f"{pd.to_numeric(part['dm_vs_persistence_p_value']).median():.3g}",
                "params": int(part["n_params"].iloc[0]),
                "s/epoch (median pass)": mean_sd(part["epoch_seconds_median"], 3),
                "memory lag": mean_sd(part["effective_memory_lag"], 3),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def test_errors(job: Path) -> pd.Series:
    """Return the job's test-period forecast errors (actual - predicted) at its last step, indexed by date."""
    try:
        parquet = job / "forecasts.parquet"
        table = pd.read_parquet(parquet) if parquet.exists() else pd.read_csv(job / "forecasts.csv")
        if "probability" in table:  # a classifier (data.target=above_median) has no price errors
            return pd.Series(dtype=float)
        test = table[(table["split"] == "test") & (table["step"] == table["step"].max())]  # the headline step
        test["actual"] - test["predicted"] - test["persistence"]
    except (OSError, ValueError, KeyError, TypeError) as exc:  # truncated or garbage: the job's errors are unknown
        log.warning("%s/forecasts.csv is unreadable (%s): left out of the Diebold-Mariano tests", job.name, exc)
        return pd.Series(dtype=float)
    if "ticker" in test:  # a global run: errors relative to the last close, as its pooled scores, by ticker and date
        errors = (test["actual"] - test["predicted"]) / test["persistence"]
        return pd.Series(errors.to_numpy(), index=(test["ticker"] + " " + test["date"]).to_numpy())
    return pd.Series((test["actual"] - test["predicted"]).to_numpy(), index=test["date"].to_numpy())


def pairwise_dm(sweep_dir: Path, jobs: pd.DataFrame) -> pd.DataFrame:
    """Return Diebold-Mariano tests between cells on the same ticker, seed and other settings.

    One row per pair of cells and group: the number of seed pairs, the mean statistic (negative: the
    first cell is more accurate) and the median p-value.
    """
    from forecast.evaluation.honesty import diebold_mariano

    done = jobs[jobs["status"] == "completed"]
    if done.empty or done["cell"].nunique() < 2:
        return pd.DataFrame()
    keys = [k for k in varying_dimensions(done) if k != "cell"]
    rows = []
    for group, part in done.groupby([*keys, "seed"], dropna=False, sort=True):
        by_cell = {str(row["cell"]): test_errors(sweep_dir / str(row["job"])) for row in part.to_dict("records")}
        cells = sorted(by_cell)
        for i, a in enumerate(cells):
            for b in cells[i + 1 :]:
                ea, eb = by_cell[a].align(by_cell[b], join="inner")
                if len(ea) < 3:
                    continue
                horizon = int(part["horizon"].iloc[0] or 1)
                res = asdict(diebold_mariano(ea.to_numpy(), eb.to_numpy(), horizon))
                values = group if isinstance(group, tuple) else (group,)
                rows.append({**dict(zip([*keys, "seed"], values, strict=True)), "pair": f"{a} vs {b}", **res})
    raw = pd.DataFrame(rows)
    if raw.empty:
        return raw
    agg = raw.groupby([*keys, "pair"], dropna=False).agg(
        seeds=("seed", "count"), mean_statistic=("statistic", "mean"), median_p=("p_value", "median")
    )
    return agg.reset_index()


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """Return ``frame`` as a markdown table (``_(none)_`` when empty)."""
    if frame.empty:
        return "_(none)_"
    return frame.to_markdown(index=False, floatfmt=floatfmt)
