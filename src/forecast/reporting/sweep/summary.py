"""Collect a sweep's jobs into one table: one row per job, failed jobs included with their reason."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.store.columns import DIMENSIONS, columns, dimensions, flatten
from forecast.store.folders import job_dirs
from forecast.store.record import RECORD_FILE, read_record

log = logging.getLogger(__name__)


MEASURED = {"model": str, "test": dict, "persistence_test": dict, "config": dict}  # a completed record has these
TYPED = {"window": int, "seed": int, "horizon": int}  # and these, where present, of this type


def unmeasured(record: dict[str, Any]) -> str:
    """Return what a completed record lacks (a field missing or of the wrong type, a test MAE that is not a
    number; a classifier's test accuracy), or "" when the report can read it."""
    for key, kind in (*MEASURED.items(), *TYPED.items()):
        value = record.get(key)
        if value is None and key in TYPED:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"its {key} is {'missing' if value is None else f'a {type(value).__name__}'}"
    scored = [("classifier", "accuracy_test")] if isinstance(record.get("classifier"), dict) else []
    for key, name in scored or [("test", "mae"), ("persistence_test", "mae")]:
        value = record[key].get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f"its {key}.{name} is not a number"
    return ""


def job_row(job: Path) -> dict[str, Any]:
    """Return one job's summary row, read from its ``metrics.json`` alone (the run record)."""
    record = read_record(job)
    if record is None:
        reason = (
            "metrics.json is unreadable (truncated or not a JSON object): the job's results are unknown"
            if (job / RECORD_FILE).exists()
            else "no metrics.json: the job crashed before it started"
        )
        return {"job": job.name, "status": "failed", "reason": reason}
    status = str(record.get("status") or "failed")
    if status == "completed" and (missing := unmeasured(record)):
        return {
            "job": job.name,
            "status": "failed",
            "reason": f"metrics.json says completed but {missing}: the job's results are unknown",
        }
    overrides = record.get("overrides")
    row: dict[str, Any] = {
        "job": job.name,
        "overrides": " ".join(map(str, overrides if isinstance(overrides, list) else [])),
    }
    if status == "completed":
        row.update(flatten(record))
    row.update(dimensions(record))  # the config's values (seed, window...) over the record's copies of them
    row["status"], row["reason"] = status, record.get("reason") or ""
    if status == "running":
        row["reason"] = f"no final record: still running (pid {record.get('pid')}) or killed"
    return row


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
                "skill": mean_sd(part["skill_vs_persistence"], 2),
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
                res = diebold_mariano(ea.to_numpy(), eb.to_numpy(), horizon)
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
