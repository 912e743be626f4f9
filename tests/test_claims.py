"""Accuracy verdicts follow the sign of the Diebold-Mariano statistic, not the MAE skill alone."""

from __future__ import annotations

import pandas as pd

from forecast.reporting.accuracy import beats_linear, beats_persistence


def done(skill: float, statistic: float, p: float, prefix: str = "dm_vs_persistence") -> pd.DataFrame:
    return pd.DataFrame(
        {"ticker": ["AAPL"], "cell": ["gru"], "skill_vs_persistence": [skill], "baselines_linear_skill": [skill],
         f"{prefix}_statistic": [statistic], f"{prefix}_p_value": [p], "backtest_folds": [12]}
    )  # fmt: skip


def test_smaller_absolute_but_larger_squared_errors_is_not_a_win() -> None:
    """The constructed case of the review: MAE skill +21%, squared errors significantly larger (DM +2.96)."""
    verdict = beats_persistence(done(0.21, 2.96, 0.003))
    assert verdict.verdict == "not supported"
    assert verdict.evidence == (
        "0 of 1 ticker/cell groups significantly better (squared error), 1 significantly worse; AAPL gru: MAE skill "
        "21%, DM statistic +2.96, p 0.003, 12 folds"
    )


def test_significantly_smaller_squared_errors_win_whatever_the_mae() -> None:
    assert beats_persistence(done(-0.01, -2.5, 0.01)).verdict == "supported"
    assert beats_persistence(done(0.05, -1.0, 0.3)).verdict == "not supported"  # not significant: no win


def test_the_linear_claim_reads_its_own_columns() -> None:
    assert beats_linear(done(0.02, -3.0, 0.001, "baselines_linear_dm")).verdict == "supported"
    assert beats_linear(done(0.02, -3.0, 0.001)).verdict == "inconclusive on this data"  # no linear DM recorded
