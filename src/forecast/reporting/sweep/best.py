"""The report's section on the best models after every comparison the sweep made: per ticker (or pool), the model
confidence set of the cells and the baselines, Hansen's SPA and Romano-Wolf's StepM of every job against
persistence, and Clark-West beside them; then the deflated Sharpe ratios of every portfolio the sweep traded, with
the sweep's true count of trials (:mod:`forecast.evaluation.comparisons`,
:mod:`forecast.evaluation.money.overfitting`)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.evaluation.comparisons import SIZE, SPA_SIZE, confidence_set, superiority
from forecast.reporting.sweep.summary import markdown_table, varying_dimensions
from forecast.store.record import RunRecord

log = logging.getLogger(__name__)
BASELINES = ("persistence", "drift", "linear")


def daily_test_losses(job: Path) -> pd.DataFrame:
    """Return a job's squared test errors at its last step, one row per day (a pool's: each day's mean over its
    tickers, on prices relative to the origin's close), one column per forecast: model and each baseline."""
    try:
        parquet = job / "forecasts.parquet"
        table = pd.read_parquet(parquet) if parquet.exists() else pd.read_csv(job / "forecasts.csv")
        if "probability" in table:  # a classifier has no price errors
            return pd.DataFrame()
        test = table[(table["split"] == "test") & (table["step"] == table["step"].max())]
        scale = test["persistence"] if "ticker" in test else 1.0
        forecasts = {"model": "predicted", **{name: name for name in BASELINES if name in test}}
        losses = pd.DataFrame({k: ((test["actual"] - test[c]) / scale) ** 2 for k, c in forecasts.items()})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s/forecasts.csv is unreadable (%s): left out of the model confidence set", job.name, exc)
        return pd.DataFrame()
    return losses.groupby(test["date"].to_numpy(), sort=True).mean()


def best_section(sweep_dir: Path, done: pd.DataFrame) -> list[str]:
    """Return the section's lines (none when no group holds two completed jobs with price forecasts)."""
    keys = [k for k in varying_dimensions(done) if k != "cell"]
    rows = []
    for group, part in done.groupby(keys, dropna=False, sort=True):
        jobs = {_label(row): daily_test_losses(sweep_dir / str(row["job"])) for row in part.to_dict("records")}
        jobs = {name: frame for name, frame in jobs.items() if not frame.empty}
        if len(jobs) < 2:
            continue
        horizon = int(pd.to_numeric(part["horizon"]).max() or 1)
        values = group if isinstance(group, tuple) else (group,)
        rows.append(dict(zip(keys, values, strict=True)) | _tests(jobs, part, horizon))
    if not rows:
        return []
    return [
        "## Best models after every comparison",
        "",
        f"Squared test errors at the last step, one observation a day (a pool's tickers of one day averaged first). "
        f"**Model confidence set** (Hansen, Lunde & Nason 2011, range statistic): the cells (each the mean of its "
        f"seeds' daily losses) and the baselines that cannot be told from the best at {100 * (1 - SIZE):.0f}%, with "
        f"each one's MCS p-value. **SPA** (Hansen 2005, consistent p-value): does any job beat persistence, with "
        f"every job counted as one model tested; **StepM** (Romano & Wolf 2005): the jobs that do, family-wise "
        f"error {100 * SPA_SIZE:.0f}%. Stationary bootstrap, 1,000 resamples, mean block max(horizon, days^(1/3)). "
        "**Clark-West** (2007): the one-sided test of each job against persistence, which it nests; median p over "
        "seeds.",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
    ]


def _label(row: dict) -> str:
    return f"{row['cell']} seed {row['seed']}"


def _tests(jobs: dict[str, pd.DataFrame], part: pd.DataFrame, horizon: int) -> dict[str, object]:
    """Return one group's MCS, SPA, StepM and Clark-West cells of the table."""
    models = pd.DataFrame({name: frame["model"] for name, frame in jobs.items()}).dropna()
    first = next(iter(jobs.values())).reindex(models.index)
    cells = models.T.groupby(lambda name: name.split(" seed ")[0]).mean().T
    mcs = confidence_set(pd.concat([cells, first[[b for b in BASELINES if b in first]]], axis=1), horizon)
    spa = superiority(first["persistence"], models, horizon)
    clark = (
        part.groupby("cell")["comparisons_clark_west_model_p_value"].median()
        if "comparisons_clark_west_model_p_value" in part
        else pd.Series(dtype=float)
    )
    return {
        "days": mcs.days,
        f"set of best at {100 * mcs.level:.0f}%": ", ".join(mcs.included),
        "MCS p-values": ", ".join(f"{name} {p:.2g}" for name, p in mcs.p_values.items()),
        "SPA vs persistence": f"p {spa.p_consistent:.2g} over {spa.models} jobs",
        "StepM: beat persistence": ", ".join(spa.superior) or "none",
        "Clark-West p (median)": ", ".join(f"{c} {p:.2g}" for c, p in clark.items() if not math.isnan(p)) or "n/a",
    }


def deflated_section(done: pd.DataFrame, records: dict[str, RunRecord]) -> list[str]:
    """Return the deflated Sharpe ratio of every job's and ``k``'s net returns, with every portfolio the sweep
    traded counted as a trial (none when fewer than two were)."""
    from forecast.evaluation.money.overfitting import deflated_sharpe

    trials = []
    for job in done["job"].astype(str):
        p = records[job].portfolio if job in records else None
        for k, ls in (p.long_short if p else {}).items():
            n, pbo = ls.net, p.selection.pbo if p and p.selection else math.nan
            trials.append({"job": job, "k": k, "sharpe": n.sharpe, "days": n.days, "skew": n.skew})
            trials[-1] |= {"kurtosis": n.kurtosis, "pbo": pbo}
    if len(trials) < 2:
        return []
    frame = pd.DataFrame(trials)
    daily = pd.to_numeric(frame["sharpe"]) / math.sqrt(252)
    variance = float(np.nanvar(daily, ddof=1))
    stats = frame[["days", "skew", "kurtosis"]].apply(pd.to_numeric).to_numpy(dtype=float)
    frame["deflated Sharpe"] = [
        deflated_sharpe(sr, int(days), skew, kurtosis, len(frame), variance)
        for sr, (days, skew, kurtosis) in zip(daily, stats, strict=True)
    ]
    frame = frame.rename(columns={"sharpe": "Sharpe after costs (annual)", "pbo": "job's PBO over its k"})
    return [
        "## Deflated Sharpe ratios",
        "",
        f"Every job and k of this sweep is one trial: {len(frame)} trials, daily net Sharpe ratios of variance "
        f"{variance:.3g}. The deflated Sharpe ratio (Bailey & Lopez de Prado 2014) is the probability that a "
        f"portfolio's true Sharpe ratio beats the best of {len(frame)} unskilled trials, after its skewness and "
        "kurtosis; a job's PBO is the probability that picking its best k by CSCV overfits (Bailey, Borwein, "
        "Lopez de Prado & Zhu 2017).",
        "",
        markdown_table(frame.drop(columns=["days", "skew", "kurtosis"])),
        "",
    ]
