"""Collect a sweep's jobs into one table: one row per job, failed jobs included with their reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

# what varies between jobs of a sweep, besides the seed (grouping keys of the summary)
DIMENSIONS = ("ticker", "cell", "window", "horizon", "train_days", "forget_bias", "hidden_size")
METRIC_COLUMNS = (
    "n_params", "epochs_run", "best_epoch", "seconds_per_epoch", "peak_memory_mb", "activation_memory_mb",
    "val_mae", "val_rmse", "val_mape", "val_directional_accuracy",
    "test_mae", "test_rmse", "test_mape", "test_directional_accuracy",
    "persistence_val_mae", "persistence_test_mae", "persistence_test_rmse", "skill_vs_persistence",
    "dm_stat_vs_persistence", "dm_p_vs_persistence", "effective_memory_lag", "effective_memory_lag_init",
    "corr_lag0", "corr_lag1", "corr_returns", "delayed_copy", "n_train_windows", "data_source",
)  # fmt: skip


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Return the job folders of a sweep (those with a ``.hydra`` record), in job-number order."""

    def number(path: Path) -> tuple[int, str]:
        head = path.name.split("_", 1)[0]
        return (int(head) if head.isdigit() else 10**9, path.name)

    return sorted((p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()), key=number)


def _config_fields(job: Path) -> dict[str, Any]:
    cfg_path = job / ".hydra" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text()) if cfg_path.exists() else {}
    model, data = cfg.get("model", {}) or {}, cfg.get("data", {}) or {}
    return {
        "ticker": cfg.get("ticker"), "cell": model.get("cell"), "seed": cfg.get("seed"),
        "window": cfg.get("window"), "horizon": cfg.get("horizon"), "train_days": data.get("train_days"),
        "forget_bias": model.get("forget_bias"), "hidden_size": model.get("hidden_size"),
    }  # fmt: skip


def _metric_fields(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: m.get(k) for k in ("n_params", "epochs_run", "best_epoch", "seconds_per_epoch",
                                                 "peak_memory_mb", "activation_memory_mb", "skill_vs_persistence",
                                                 "effective_memory_lag", "effective_memory_lag_init", "data_source",
                                                 "impl")}  # fmt: skip
    for split in ("val", "test", "persistence_val", "persistence_test"):
        for key in ("mae", "rmse", "mape", "directional_accuracy"):
            out[f"{split}_{key}"] = (m.get(split) or {}).get(key)
    dm, lag = m.get("dm_vs_persistence") or {}, m.get("lag_check") or {}
    out.update({"dm_stat_vs_persistence": dm.get("statistic"), "dm_p_vs_persistence": dm.get("p_value")})
    out.update({k: lag.get(k) for k in ("corr_lag0", "corr_lag1", "corr_returns", "delayed_copy")})
    out["n_train_windows"] = (m.get("n_windows") or {}).get("train")
    return out


def collect_jobs(sweep_dir: Path) -> pd.DataFrame:
    """Return one row per job: swept overrides, config dimensions, status (and reason), every metric.

    A job without ``metrics.json`` is listed as ``failed`` ("no metrics.json: the job crashed or is running").
    """
    rows = []
    for job in job_dirs(sweep_dir):
        overrides_path = job / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_path.read_text()) if overrides_path.exists() else []
        row: dict[str, Any] = {"job": job.name, "overrides": " ".join(overrides or []), **_config_fields(job)}
        metrics_path = job / "metrics.json"
        if metrics_path.exists():
            m = json.loads(metrics_path.read_text())
            row["status"], row["reason"] = m.get("status", "failed"), m.get("reason", "")
            if row["status"] == "completed":
                row.update(_metric_fields(m))
        else:
            row["status"], row["reason"] = "failed", "no metrics.json: the job crashed or is still running"
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in METRIC_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    return frame


def varying_dimensions(jobs: pd.DataFrame) -> list[str]:
    """Return the grouping keys: ticker and cell always, other dimensions when they vary in the sweep."""
    keys = ["ticker", "cell"]
    for key in DIMENSIONS[2:]:
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
        row.update({
            "impl": str(part["impl"].iloc[0]),
            "seeds": len(part),
            "test MAE": mean_sd(part["test_mae"]),
            "persistence MAE": mean_sd(part["persistence_test_mae"]),
            "skill": mean_sd(part["skill_vs_persistence"], 2),
            "directional acc.": mean_sd(part["test_directional_accuracy"], 3),
            "DM p vs persistence (median)": f"{pd.to_numeric(part['dm_p_vs_persistence']).median():.3g}",
            "params": int(part["n_params"].iloc[0]),
            "s/epoch": mean_sd(part["seconds_per_epoch"], 3),
            "memory lag": mean_sd(part["effective_memory_lag"], 3),
        })  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def test_errors(job: Path) -> pd.Series:
    """Return the job's test-period forecast errors (actual - predicted) indexed by date."""
    table = pd.read_csv(job / "forecasts.csv")
    test = table[table["split"] == "test"]
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
