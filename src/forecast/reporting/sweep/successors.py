"""The report's verdicts on the newer cells against the cells they stand beside: is minGRU as accurate as GRU, minLSTM
as LSTM (Feng et al. 2024), and is sLSTM (Beck et al. 2024) more accurate than LSTM? Per ticker, a Diebold-Mariano
test on the squared test errors of the two cells (each averaged over seeds, on the dates both forecast), counted after
Benjamini-Hochberg control at 5% over the tickers of the claim."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.evaluation.honesty import benjamini_hochberg, dm_test
from forecast.reporting.sweep.summary import mean_sd, test_errors
from forecast.reporting.sweep.verdicts import NOT_SUPPORTED, SUPPORTED, Verdict

PAIRS = {"mingru": "gru", "minlstm": "lstm"}  # "as accurate as"
BETTER = {"slstm": "lstm"}  # "more accurate than"
ALPHA = 0.05
TOLERATED = 0.2  # "as accurate" survives significant losses on at most this share of the tickers


@dataclass(frozen=True)
class Paired:
    """Per-ticker DM tests of ``new`` against ``old``: where ``new`` is significantly worse and better (after BH)."""

    tickers: list[str]
    worse: np.ndarray
    better: np.ndarray
    evidence: str


def squared(sweep_dir: Path, jobs: pd.DataFrame) -> pd.Series:
    """Return the squared test errors per date, averaged over the jobs (a cell's seeds on one ticker)."""
    return pd.concat([test_errors(sweep_dir / str(j)) ** 2 for j in jobs["job"]], axis=1, join="inner").mean(axis=1)


def paired(sweep_dir: Path, done: pd.DataFrame, new: str, old: str) -> Paired | None:
    """Return the paired tests of ``new`` against ``old`` (None when the sweep lacks either cell)."""
    if not {new, old} <= set(done["cell"]) or "job" not in done:
        return None
    tests = {}
    for ticker, part in done[done["cell"].isin([new, old])].groupby("ticker"):
        d = (squared(sweep_dir, part[part["cell"] == new]) - squared(sweep_dir, part[part["cell"] == old])).dropna()
        if len(d) > 2:
            tests[ticker] = asdict(dm_test(d.to_numpy()))
    if not tests:
        return None
    frame = pd.DataFrame(tests).T
    significant = benjamini_hochberg(frame["p_value"].to_numpy(dtype=float), ALPHA)
    worse = significant & (frame["statistic"].to_numpy(dtype=float) > 0)
    better = significant & (frame["statistic"].to_numpy(dtype=float) < 0)
    mae = {c: mean_sd(pd.to_numeric(done.loc[done["cell"] == c, "test_mae"])) for c in (new, old)}
    losers, winners = ", ".join(frame.index[worse]) or "none", ", ".join(frame.index[better]) or "none"
    evidence = (
        f"paired Diebold-Mariano per ticker (squared test errors, seeds averaged), Benjamini-Hochberg at 5%: "
        f"{new} significantly worse on {int(worse.sum())} of {len(frame)} tickers ({losers}), better on "
        f"{int(better.sum())} ({winners}); test MAE {new} {mae[new]} vs {old} {mae[old]}"
    )
    return Paired(list(frame.index), worse, better, evidence)


def as_accurate(sweep_dir: Path, done: pd.DataFrame, small: str, full: str) -> Verdict | None:
    """Return the verdict on "``small`` is as accurate as ``full``": significantly worse on at most 20% of tickers."""
    tests = paired(sweep_dir, done, small, full)
    if tests is None:
        return None
    verdict = SUPPORTED if tests.worse.sum() <= TOLERATED * len(tests.tickers) else NOT_SUPPORTED
    return Verdict(f"{small} is as accurate as {full}", verdict, tests.evidence)


def more_accurate(sweep_dir: Path, done: pd.DataFrame, new: str, old: str) -> Verdict | None:
    """Return the verdict on "``new`` is more accurate than ``old``": significantly better on at least half the
    tickers and significantly worse on none."""
    tests = paired(sweep_dir, done, new, old)
    if tests is None:
        return None
    won = tests.better.sum() >= len(tests.tickers) / 2 and not tests.worse.any()
    return Verdict(f"{new} is more accurate than {old}", SUPPORTED if won else NOT_SUPPORTED, tests.evidence)


def successor_verdicts(sweep_dir: Path, done: pd.DataFrame) -> dict[str, Verdict]:
    """Return the verdicts on the newer cells this sweep can judge, keyed ``as_accurate_<cell>`` and
    ``more_accurate_<cell>``."""
    found = {f"as_accurate_{s}": as_accurate(sweep_dir, done, s, f) for s, f in PAIRS.items()}
    found |= {f"more_accurate_{n}": more_accurate(sweep_dir, done, n, o) for n, o in BETTER.items()}
    return {k: v for k, v in found.items() if v is not None}
