"""The report's learning curve over a universe, and the verdict on "LSTM is more accurate than GRU when trained on
more data" decided with power.

The jobs are global models trained on nested pools of one universe (``train_tickers``: its first 1, 5, 25...
tickers) and scored on every ticker of the universe over the same test days, so every pool size faces the same
test. The curve is the pooled test error relative to persistence's against the training windows. LSTM and GRU are
compared at each size on each test ticker by a Diebold-Mariano test of their squared errors (each cell's averaged
over seeds), and the count of tickers where one cell is better is given after Benjamini-Hochberg control at 5%;
the verdict rests on the pooled test of the daily cross-sectional mean differential, which allows for the tickers'
common moves.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from forecast.evaluation.honesty import benjamini_hochberg, dm_test
from forecast.reporting.plots import save, subplots
from forecast.reporting.sweep.summary import mean_sd, test_errors
from forecast.reporting.sweep.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict

CLAIM = "LSTM is more accurate than GRU when trained on more data (nested pools of one universe, same test tickers)"
ALPHA = 0.05


def curve_jobs(done: pd.DataFrame) -> pd.DataFrame:
    """Return the completed global jobs of a learning curve: pool size, training windows and the error ratio."""
    if "train_pool_size" not in done:
        return pd.DataFrame()
    jobs = done[(done["scope"] == "global") & done["train_pool_size"].notna()].copy()
    if jobs["train_pool_size"].nunique() < 2:
        return pd.DataFrame()
    jobs["size"] = pd.to_numeric(jobs["train_pool_size"]).astype(int)
    jobs["windows"] = pd.to_numeric(jobs["n_windows_train"])
    jobs["ratio"] = pd.to_numeric(jobs["test_mae"]) / pd.to_numeric(jobs["persistence_test_mae"])
    return jobs


def squared_errors(sweep_dir: Path, jobs: pd.DataFrame) -> pd.Series:
    """Return the squared relative test errors per ``ticker date``, averaged over the jobs (a cell's seeds)."""
    errors = [test_errors(sweep_dir / str(job)) ** 2 for job in jobs["job"]]
    return pd.concat(errors, axis=1, join="inner").mean(axis=1)


def compare(sweep_dir: Path, jobs: pd.DataFrame) -> dict[str, Any]:
    """Return LSTM vs GRU on one pool size: the pooled DM test and the per-ticker counts (raw and after BH)."""
    d = squared_errors(sweep_dir, jobs[jobs["cell"] == "lstm"]) - squared_errors(sweep_dir, jobs[jobs["cell"] == "gru"])
    d = d.dropna()
    ticker, date = d.index.str.split(" ", n=1).str[0], d.index.str.split(" ", n=1).str[1]
    pooled = dm_test(d.groupby(date).mean().sort_index().to_numpy())
    tests = pd.DataFrame([asdict(dm_test(part.to_numpy())) for _, part in d.groupby(ticker)])
    significant = benjamini_hochberg(tests["p_value"].to_numpy(), ALPHA)
    lstm_better, raw = tests["statistic"] < 0, tests["p_value"] < ALPHA
    return {
        "tickers": len(tests),
        "statistic": pooled.statistic,
        "p": pooled.p_value,
        "lstm_bh": int((significant & lstm_better).sum()),
        "gru_bh": int((significant & ~lstm_better).sum()),
        "lstm_raw": int((raw & lstm_better).sum()),
        "gru_raw": int((raw & ~lstm_better).sum()),
    }


def learning_section(sweep_dir: Path, done: pd.DataFrame, plots_dir: Path) -> tuple[Verdict, list[str]] | None:
    """Return the verdict and body of the learning-curve section (None when the sweep has no such curve)."""
    jobs = curve_jobs(done)
    if jobs.empty:
        return None
    plot_curve(jobs, plots_dir / "learning_curve.png")
    rows = []
    for (cell, size), part in jobs.groupby(["cell", "size"]):
        windows = int(part["windows"].median())
        rows.append(
            {
                "cell": cell,
                "pool": size,
                "training windows": windows,
                "seeds": len(part),
                "test MAE / persistence": mean_sd(part["ratio"], 4),
            }
        )
    body = ["![learning curve](plots/learning_curve.png)", "", pd.DataFrame(rows).to_markdown(index=False), ""]
    if not {"lstm", "gru"} <= set(jobs["cell"]):
        return Verdict(CLAIM, INCONCLUSIVE, "this sweep lacks lstm or gru"), body
    per_size = {int(str(size)): compare(sweep_dir, part) for size, part in jobs.groupby("size")}
    body += [
        "LSTM against GRU at each pool size, on every test ticker's test days (squared relative errors, each cell "
        f"averaged over its seeds): the pooled Diebold-Mariano test of the daily mean differential (statistic < 0: "
        f"LSTM more accurate), and the tickers where one cell is significantly better, after Benjamini-Hochberg "
        f"control at {ALPHA:.0%} (raw p < {ALPHA:g} in brackets: about {ALPHA:.0%} of the tickers by chance alone).",
        "",
        pd.DataFrame(
            [
                {
                    "pool": s,
                    "test tickers": c["tickers"],
                    "DM statistic": f"{c['statistic']:+.2f}",
                    "p": f"{c['p']:.2g}",
                    "LSTM better (BH)": f"{c['lstm_bh']} ({c['lstm_raw']})",
                    "GRU better (BH)": f"{c['gru_bh']} ({c['gru_raw']})",
                }
                for s, c in per_size.items()
            ]
        ).to_markdown(index=False),
    ]
    largest = max(per_size)
    top = per_size[largest]
    verdict = INCONCLUSIVE
    if top["p"] < ALPHA:
        verdict = SUPPORTED if top["statistic"] < 0 else NOT_SUPPORTED
    evidence = (
        f"at the largest pool ({largest} tickers, {int(jobs.loc[jobs['size'] == largest, 'windows'].median()):,} "
        f"training windows) LSTM vs GRU over {top['tickers']} test tickers: DM statistic {top['statistic']:+.2f}, "
        f"p {top['p']:.2g}; significantly better after Benjamini-Hochberg: LSTM on {top['lstm_bh']}, GRU on "
        f"{top['gru_bh']} tickers (raw p < {ALPHA:g}: {top['lstm_raw']} and {top['gru_raw']})"
    )
    return Verdict(CLAIM, verdict, evidence), body


def plot_curve(jobs: pd.DataFrame, path: Path) -> Path:
    """Test error relative to persistence against training windows (log axis), per cell, mean ± sd over seeds."""
    fig, ax = subplots(figsize=(7.5, 4.4))
    for cell, part in jobs.groupby("cell"):
        curve = part.groupby("size").agg(windows=("windows", "median"), mean=("ratio", "mean"), sd=("ratio", "std"))
        ax.errorbar(curve["windows"], curve["mean"], yerr=curve["sd"].fillna(0), marker="o", capsize=3, label=cell)
    ax.axhline(1.0, color="black", ls="--", lw=1, label="persistence")
    ax.set_xscale("log")
    ax.set(xlabel="training windows (log scale)", ylabel="test MAE / persistence MAE (below 1: better)")
    ax.set_title("Learning curve: one global model per pool size, same test tickers and days", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return save(fig, path)
