"""The report's sections on global models: one model over a pool vs a model per ticker, and the pool-size curve.

Both read the global jobs of a sweep (``scope=global``; a pool of one ticker is that ticker's local model). Errors
are compared on the same ticker and test day, relative to the origin's close (as the pooled scores are), and
paired by seed; Diebold-Mariano tests run on the errors pooled over the tickers in common.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.evaluation.honesty import diebold_mariano
from forecast.reporting.plots import save, subplots
from forecast.reporting.sweep.summary import mean_sd, test_errors
from forecast.reporting.sweep.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict
from forecast.store.fields import DieboldMariano
from forecast.store.record import RunRecord

ALPHA = 0.05  # a Diebold-Mariano median p-value below this is a difference


def pools(sweep_dir: Path, done: pd.DataFrame) -> pd.DataFrame:
    """Return the completed global jobs: job, cell, seed, pool (tuple), pool_size, and each ticker's test MAE."""
    rows = []
    for job in done[done["scope"] == "global"].itertuples():
        record = RunRecord.read(sweep_dir / str(job.job)) or RunRecord()
        maes = {t: v.test.mae for t, v in record.tickers.items()}
        maes |= {f"{t} persistence": v.persistence_test.mae for t, v in record.tickers.items()}
        pool = tuple(record.pool)
        rows.append({"job": job.job, "cell": job.cell, "seed": job.seed, "pool": pool, "pool_size": len(pool), **maes})
    return pd.DataFrame(rows)


def paired_dm(sweep_dir: Path, a: pd.DataFrame, b: pd.DataFrame, tickers: set[str]) -> list[DieboldMariano]:
    """Return per seed the DM test of job ``a``'s vs job ``b``'s relative test errors on ``tickers`` (same days)."""
    out = []
    for seed in sorted(set(a["seed"]) & set(b["seed"])):
        ea = pd.concat([test_errors(sweep_dir / str(j)) for j in a.loc[a["seed"] == seed, "job"]])
        eb = pd.concat([test_errors(sweep_dir / str(j)) for j in b.loc[b["seed"] == seed, "job"]])
        keep = [k for k in ea.index if k.split(" ")[0] in tickers and k in eb.index]
        if len(keep) > 2:
            out.append(diebold_mariano(ea.loc[keep].to_numpy(), eb.loc[keep].to_numpy()))
    return out


def judge(tests: list[DieboldMariano]) -> tuple[str, float, float]:
    """Return (verdict that the first method is more accurate, mean statistic, median p) over seed pairs."""
    if not tests:
        return INCONCLUSIVE, np.nan, np.nan
    stat, p = float(np.mean([t.statistic for t in tests])), float(np.median([t.p_value for t in tests]))
    if p < ALPHA:
        return (SUPPORTED if stat < 0 else NOT_SUPPORTED), stat, p
    return INCONCLUSIVE, stat, p


def global_vs_local(sweep_dir: Path, jobs: pd.DataFrame) -> tuple[Verdict, list[str]] | None:
    """Return the verdict and table of the largest pool's model against the local models of its tickers."""
    if jobs.empty or jobs["pool_size"].max() < 2:
        return None
    largest = jobs[jobs["pool_size"] == jobs["pool_size"].max()]
    tickers = set(largest["pool"].iloc[0])
    local = jobs[(jobs["pool_size"] == 1) & jobs["pool"].map(lambda p: p[0] in tickers)]
    if local.empty:
        return None
    claim = f"One global model over {len(tickers)} tickers is more accurate than a model per ticker"
    rows, verdicts = [], []
    for cell, part in largest.groupby("cell"):
        mine = local[local["cell"] == cell]
        verdict, stat, p = judge(paired_dm(sweep_dir, part, mine, tickers))
        verdicts.append(verdict)
        row: dict[str, Any] = {"cell": cell, "seeds": len(part)}
        for t in sorted(tickers):
            row[f"{t} local"] = mean_sd(mine.loc[mine["pool"].map(lambda p, t=t: p[0] == t), t], 3)
            row[f"{t} global"] = mean_sd(part[t], 3)
        row |= {"DM statistic (global vs local)": f"{stat:.2f}", "median p": f"{p:.2g}", "verdict": verdict}
        rows.append(row)
    overall = (
        SUPPORTED
        if set(verdicts) == {SUPPORTED}
        else NOT_SUPPORTED
        if SUPPORTED not in verdicts and NOT_SUPPORTED in verdicts
        else INCONCLUSIVE
    )
    evidence = ", ".join(f"{r['cell']}: {r['verdict']} (median p {r['median p']})" for r in rows)
    body = [
        "Test MAE per ticker (price units, mean ± sd over seeds) of each ticker's own model and of the global "
        "model, and the Diebold-Mariano test of the global model against the local ones on the relative errors "
        "of all tickers' test days (statistic < 0: the global model is more accurate).",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
    ]
    return Verdict(claim, overall, evidence), body


def pool_curve(sweep_dir: Path, jobs: pd.DataFrame, plots_dir: Path) -> tuple[Verdict, list[str]] | None:
    """Return the verdict on "LSTM beats GRU as the pool grows" and the curve of the ticker every pool shares."""
    sizes = sorted(jobs["pool_size"].unique()) if not jobs.empty else []
    if len(sizes) < 2:
        return None
    counts = pd.Series([t for pool in jobs["pool"].drop_duplicates() for t in pool]).value_counts(sort=False)
    anchor = str(counts.idxmax())  # the ticker in most pools (the learning curve's common ticker), first on ties
    nested = jobs[jobs["pool"].map(lambda p: anchor in p)]
    if nested["pool_size"].nunique() < 2:
        return None
    claim = "LSTM is more accurate than GRU when trained on more data (pooled tickers)"
    curve = nested.groupby(["cell", "pool_size"])[anchor].agg(["mean", "std", "count"]).reset_index()
    fig, ax = subplots(figsize=(7, 4.2))
    for cell, part in curve.groupby("cell"):
        ax.errorbar(part["pool_size"], part["mean"], yerr=part["std"].fillna(0), marker="o", capsize=3, label=cell)
    persistence = float(nested[f"{anchor} persistence"].mean())  # the same test days in every pool
    ax.axhline(persistence, color="black", ls="--", lw=1, label=f"persistence ({persistence:.4g})")
    ax.set(xlabel="tickers in the pool", ylabel=f"{anchor} test MAE (price units)", xticks=sizes)
    ax.set_title(f"{anchor}'s test error as the pool grows (mean ± sd over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, plots_dir / "pool_size.png")
    top = nested[nested["pool_size"] == nested["pool_size"].max()]
    tickers = set(top["pool"].iloc[0])
    verdict, stat, p = judge(paired_dm(sweep_dir, top[top["cell"] == "lstm"], top[top["cell"] == "gru"], tickers))
    if top["cell"].isin(["lstm", "gru"]).sum() < 2:
        verdict = INCONCLUSIVE
    table = curve.assign(
        **{
            f"{anchor} test MAE": [
                f"{m:.4g} ± {s:.2g}" for m, s in zip(curve["mean"], curve["std"].fillna(0), strict=True)
            ]
        }
    )
    evidence = (
        f"at the largest pool ({int(top['pool_size'].max())} tickers) LSTM vs GRU on every ticker's relative test "
        f"errors: DM statistic {stat:.2f}, median p {p:.2g} over seeds (statistic < 0: LSTM more accurate)"
    )
    body = [
        "![pool size](plots/pool_size.png)",
        "",
        table[["cell", "pool_size", f"{anchor} test MAE", "count"]]
        .rename(columns={"count": "seeds"})
        .to_markdown(index=False),
    ]
    return Verdict(claim, verdict, evidence), body
