"""Interval calibration through regimes: the choice of the adaptive defaults, and the targets table.

``python bench/intervals.py choose`` picks ``forecast.vol`` and ``forecast.gamma`` on validation data only: every
ticker of the shipped S&P 500 universe and ^GSPC before 2003-01-01 (the targets' test spans start in 2003). Each
series' first half fits GARCH and starts the EWMA; its second half is walked with one-day forecasts of no move
(persistence: the choice must not depend on one model's errors) and 90% bands. Per setting: pooled coverage, the
share of 63-session blocks within +-5 points, the 5th percentile of block coverage, coverage on high-volatility
days, and the median width (% of price), over all series.

``python bench/intervals.py targets FOLDER...`` prints the targets table from finished backtest runs (their
``metrics.json`` and ``forecasts.csv``): pooled coverage, the worst fold, the share of folds within +-5 points, the
median width and the coverage per volatility tercile, for the run's own method and the GARCH and EWMA baselines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from forecast.evaluation.intervals.adaptive import Control  # noqa: E402
from forecast.evaluation.intervals.conformal import conformal_scale, winkler  # noqa: E402
from forecast.evaluation.intervals.coverage import after_breaks, covered, gaussian_bands  # noqa: E402
from forecast.evaluation.intervals.online import online_tables  # noqa: E402
from forecast.evaluation.intervals.volatility import row_volatility, volatility_terciles  # noqa: E402

END = "2002-12-31"  # validation data end here; every target's test span starts later
GAMMAS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1)


def series() -> dict[str, np.ndarray]:
    """Return the closes up to :data:`END` of every universe ticker with at least 600 sessions there, and ^GSPC."""
    from forecast.data.sources.shipped import read_universe

    universe = read_universe(ROOT / "data" / "snapshot" / "sp500_2021_04.parquet")
    out = {}
    for ticker in universe.rows:
        close = universe.frame(ticker)["adj_close"].loc[:END].to_numpy(np.float64)
        if len(close) >= 600:
            out[ticker] = close
    gspc = pd.read_csv(ROOT / "data" / "snapshot" / "_GSPC.csv", index_col="date")["adj_close"].loc[:END]
    out["^GSPC"] = gspc.to_numpy(np.float64)
    return out


def table_of(close: np.ndarray) -> pd.DataFrame:
    """Persistence forecasts from every origin of the second half, the first half's last 126 days validating."""
    n_train = len(close) // 2
    origins = np.arange(n_train - 127, len(close) - 1)
    columns, _ = row_volatility(close, (0, n_train - 126), origins, 1)
    split = np.where(origins < n_train - 1, "val", "test")
    terciles = volatility_terciles(close, (0, n_train - 126), origins)
    return pd.DataFrame({"date": origins + 1, "step": 1, "split": split, "actual": close[origins + 1],
                         "predicted": close[origins], "vol_tercile": terciles, **columns})  # fmt: skip


def summary(tests: list[pd.DataFrame]) -> dict[str, float]:
    """Return the pooled figures of 90% bands over every series' test rows (blocks of 63 sessions per series)."""
    hits, blocks, high, width, wink = [], [], [], [], []
    for t in tests:
        inside = covered(t, "90").to_numpy()
        hits.append(inside)
        blocks += [inside[i : i + 63].mean() for i in range(0, len(inside) - 62, 63)]
        high.append(inside[(t["vol_tercile"] == "high").to_numpy()])
        width.append(((t["upper_90"] - t["lower_90"]) / t["predicted"]).to_numpy())
        actual, lower, upper = (t[c].to_numpy() / t["predicted"].to_numpy() for c in ("actual", "lower_90", "upper_90"))
        wink.append(winkler(actual, lower, upper, 0.9))
    blocks_ = np.asarray(blocks)
    return {
        "pooled": 100 * np.concatenate(hits).mean(),
        "blocks within 5": 100 * np.mean(np.abs(blocks_ - 0.9) <= 0.05),
        "block p5": 100 * np.quantile(blocks_, 0.05),
        "high vol": 100 * np.concatenate(high).mean(),
        "median width": 100 * np.median(np.concatenate(width)),
        "winkler": 100 * np.mean(np.concatenate(wink)),
    }


def choose() -> None:
    tables = [table_of(c) for c in series().values()]
    print(f"{len(tables)} series, validation days before {END}; 90% one-day bands around persistence")
    rows = {}
    static = []
    for t in tables:
        val, test = t[t["split"] == "val"], t[t["split"] == "test"].copy()
        scale = conformal_scale(np.log(val["actual"].to_numpy() / val["predicted"].to_numpy()), 0.9)
        test["lower_90"], test["upper_90"] = test["predicted"] * np.exp(-scale), test["predicted"] * np.exp(scale)
        static.append(test)
    rows["split conformal (126-day calibration)"] = summary(static)
    for vol in ("ewma", "garch"):
        tests = [t[t["split"] == "test"] for t in tables]
        rows[f"{vol.upper()} Gaussian"] = summary([gaussian_bands(t, vol, ["90"]) for t in tests])
        for gamma in GAMMAS:
            walked = [online_tables([t], [0.9], vol, Control(gamma=gamma)).tables[0] for t in tables]
            rows[f"adaptive, {vol}, gamma {gamma}"] = summary([w[w["split"] == "test"] for w in walked])
    print(pd.DataFrame(rows).T.round(1).to_markdown())


def width(part: pd.DataFrame) -> pd.Series:
    """Return each row's 90% band width as a fraction of the origin's close."""
    return (part["upper_90"] - part["lower_90"]) / part["persistence"]


def targets(folders: list[Path]) -> None:
    rows = {}
    for folder in folders:
        record = json.loads((folder / "metrics.json").read_text())
        if record.get("status") != "completed":
            continue
        table = pd.read_csv(folder / "forecasts.csv")
        test = table[table["split"] == "test"]
        iv = record["intervals"]
        name = f"{record['ticker']} h{record['horizon']}"
        methods = {iv["method"]: test}
        if iv["method"] != "quantile":
            methods |= {v: gaussian_bands(test, v, ["90"]) for v in ("garch", "ewma")}
        for method, rows_ in methods.items():
            for step, part in rows_.groupby("step"):
                inside = covered(part, "90")
                folds = inside.groupby(part["fold"]).mean()
                terc: dict[str, float] = {}
                if "vol_tercile" in part:
                    terc = {str(k): float(v) for k, v in inside.groupby(part["vol_tercile"]).mean().items()}
                lehman = after_breaks(part, ["90"], ["2008-09-15"]).get("2008-09-15")
                rows[(name, str(step), method)] = {
                    "pooled": 100 * inside.mean(),
                    "after 2008-09-15": 100 * lehman.coverage["90"] if lehman else np.nan,
                    "worst fold": 100 * folds.min(),
                    "folds within 5": 100 * np.mean(np.abs(folds - 0.9) <= 0.05),
                    "median width %": 100 * float(np.median(width(part))),
                    "low/mid/high": " / ".join(f"{100 * terc.get(k, np.nan):.1f}" for k in ("low", "mid", "high")),
                }
    frame = pd.DataFrame(rows).T
    frame.index.names = ["run", "step", "method"]
    order = {"conformal": 0, "adaptive": 1, "pid": 2, "garch": 3, "ewma": 4, "quantile": 5}
    frame = frame.reset_index().sort_values(
        ["run", "step", "method"], key=lambda c: c.map(order) if c.name == "method" else c
    )
    frame = frame.drop_duplicates(["run", "step", "method"])  # each run scores the same baselines
    numbers = ["pooled", "after 2008-09-15", "worst fold", "folds within 5", "median width %"]
    frame[numbers] = frame[numbers].astype(float).round(2)
    print(frame.to_markdown(index=False))
    paths(folders)


def paths(folders: list[Path]) -> None:
    """Print the path bands' joint coverage and median width beside Bonferroni's, for runs with path bands."""
    rows = []
    for folder in folders:
        record = json.loads((folder / "metrics.json").read_text())
        for level, p in (
            (record.get("intervals") or {}).get("path", {}).items() if record.get("status") == "completed" else []
        ):
            rows.append(
                {
                    "run": f"{record['ticker']} h{record['horizon']}",
                    "method": record["intervals"]["method"],
                    "level": level,
                    "paths": p["paths"],
                    "joint (path bands)": 100 * p["joint"],
                    "median width %": p["width"],
                    "joint (Bonferroni)": 100 * p["bonferroni_joint"],
                    "Bonferroni width %": p["bonferroni_width"],
                    "joint (per-step bands)": 100 * p["steps_joint"],
                }
            )
    if rows:
        print()
        print(pd.DataFrame(rows).round(2).to_markdown(index=False))


if __name__ == "__main__":
    if sys.argv[1:2] == ["choose"]:
        choose()
    elif sys.argv[1:2] == ["targets"]:
        targets([Path(p) for p in sys.argv[2:]])
    else:
        sys.exit("usage: python bench/intervals.py choose | targets RUN_FOLDER...")
