"""The report's verdicts on the minimal cells (Feng et al. 2024): is minGRU as accurate as GRU, and minLSTM as
LSTM? Per ticker, a Diebold-Mariano test on the squared test errors of the two cells (each averaged over seeds, on
the dates both forecast), counted after Benjamini-Hochberg control at 5%."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from forecast.evaluation.honesty import benjamini_hochberg, dm_test
from forecast.reporting.sweep.summary import mean_sd, test_errors
from forecast.reporting.sweep.verdicts import NOT_SUPPORTED, SUPPORTED, Verdict

PAIRS = {"mingru": "gru", "minlstm": "lstm"}
ALPHA = 0.05
TOLERATED = 0.2  # "as accurate" survives significant losses on at most this share of the tickers


def squared(sweep_dir: Path, jobs: pd.DataFrame) -> pd.Series:
    """Return the squared test errors per date, averaged over the jobs (a cell's seeds on one ticker)."""
    return pd.concat([test_errors(sweep_dir / str(j)) ** 2 for j in jobs["job"]], axis=1, join="inner").mean(axis=1)


def as_accurate(sweep_dir: Path, done: pd.DataFrame, small: str, full: str) -> Verdict | None:
    """Return the verdict on "``small`` is as accurate as ``full``" (None when the sweep lacks either cell)."""
    if not {small, full} <= set(done["cell"]) or "job" not in done:
        return None
    tests = {}
    for ticker, part in done[done["cell"].isin([small, full])].groupby("ticker"):
        d = (squared(sweep_dir, part[part["cell"] == small]) - squared(sweep_dir, part[part["cell"] == full])).dropna()
        if len(d) > 2:
            tests[ticker] = asdict(dm_test(d.to_numpy()))
    if not tests:
        return None
    frame = pd.DataFrame(tests).T
    significant = benjamini_hochberg(frame["p_value"].to_numpy(dtype=float), ALPHA)
    worse = significant & (frame["statistic"].to_numpy(dtype=float) > 0)
    better = significant & (frame["statistic"].to_numpy(dtype=float) < 0)
    mae = {c: mean_sd(pd.to_numeric(done.loc[done["cell"] == c, "test_mae"])) for c in (small, full)}
    losers = ", ".join(frame.index[worse]) or "none"
    evidence = (
        f"paired Diebold-Mariano per ticker (squared test errors, seeds averaged), Benjamini-Hochberg at 5%: "
        f"{small} significantly worse on {int(worse.sum())} of {len(frame)} tickers ({losers}), better on "
        f"{int(better.sum())}; test MAE {small} {mae[small]} vs {full} {mae[full]}"
    )
    verdict = SUPPORTED if worse.sum() <= TOLERATED * len(frame) else NOT_SUPPORTED
    return Verdict(f"{small} is as accurate as {full}", verdict, evidence)


def minimal_verdicts(sweep_dir: Path, done: pd.DataFrame) -> dict[str, Verdict]:
    """Return the verdicts on the minimal cells this sweep can judge, keyed ``as_accurate_<cell>``."""
    found = {f"as_accurate_{s}": as_accurate(sweep_dir, done, s, f) for s, f in PAIRS.items()}
    return {k: v for k, v in found.items() if v is not None}
