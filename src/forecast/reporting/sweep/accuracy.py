"""Accuracy against baselines: the claims (judged on the squared-error Diebold-Mariano test, pooled over the
folds of backtests) and the report's tables and paragraphs on them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.evaluation.honesty import significant_counts
from forecast.reporting.sweep.summary import markdown_table, mean_sd
from forecast.reporting.sweep.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Verdict


def _beats(done: pd.DataFrame, claim: str, skill_col: str, dm_prefix: str) -> Verdict:
    """Judge "the model beats a baseline" per ticker/cell group on the squared-error Diebold-Mariano test alone.

    A group wins when the median p < 0.05 and the mean statistic is negative (the model's squared errors are
    smaller), and loses when p < 0.05 with a positive statistic; the MAE skill is reported beside, not judged
    (the two losses can disagree). For backtests the errors are pooled over every fold's test days.
    """
    if skill_col not in done or f"{dm_prefix}_p_value" not in done or done[skill_col].isna().all():
        classifiers = "classifier_accuracy_test" in done and done["classifier_accuracy_test"].notna().all()
        why = "its runs forecast probabilities (data.target=above_median): see their accuracy against chance"
        return Verdict(
            claim, INCONCLUSIVE, why if classifiers else "this sweep's runs did not record that baseline: rerun them"
        )
    lines: list[str] = []
    ps: list[float] = []
    stats: list[float] = []
    for (ticker, cell), part in done.groupby(["ticker", "cell"]):
        skill = pd.to_numeric(part[skill_col])
        p = pd.to_numeric(part[f"{dm_prefix}_p_value"]).median()
        stat = pd.to_numeric(part[f"{dm_prefix}_statistic"]).mean()
        ps, stats = [*ps, p], [*stats, stat]
        folds = pd.to_numeric(part.get("backtest_folds", pd.Series(dtype=float))).max()
        on = f", {int(folds)} folds" if folds == folds else ""  # NaN for single splits
        lines.append(
            f"{ticker} {cell}: MAE skill {mean_sd(100 * skill, 2)}%, DM (squared errors) statistic {stat:+.2f}, "
            f"p {p:.2g}{on}"
        )
    groups = done.groupby(["ticker", "cell"]).ngroups
    n = significant_counts(np.array(ps), np.array(stats))  # the verdict counts the groups that survive BH
    verdict = SUPPORTED if n["better_bh"] == groups else NOT_SUPPORTED if n["better_bh"] == 0 else INCONCLUSIVE
    evidence = (
        f"{n['better']} of {groups} ticker/cell groups significantly better (squared error), {n['worse']} "
        f"significantly worse; after Benjamini-Hochberg at 5%: {n['better_bh']} better, {n['worse_bh']} worse"
    )
    return Verdict(claim, verdict, evidence + "; " + "; ".join(lines))


PERSISTENCE = ("The networks beat the persistence baseline (tomorrow = today)", "skill_vs_persistence")
LINEAR = ("The networks beat a linear autoregression (ridge on the same windows)", "baselines_linear_skill")


def beats_persistence(done: pd.DataFrame) -> Verdict:
    return _beats(done, *PERSISTENCE, "dm_vs_persistence")


def beats_linear(done: pd.DataFrame) -> Verdict:
    return _beats(done, *LINEAR, "baselines_linear_dm")


def baseline_table(done: pd.DataFrame) -> list[str]:
    """Return the test MAE of the model and of each baseline per ticker and cell, with the folds behind them."""
    if "baselines_linear_test_mae" not in done or done["baselines_linear_test_mae"].isna().all():
        return []
    rows = []
    for (ticker, cell), part in done.groupby(["ticker", "cell"]):
        folds = pd.to_numeric(part["backtest_folds"]).max() if "backtest_folds" in part else float("nan")
        rows.append(
            {
                "ticker": ticker,
                "cell": cell,
                "seeds": len(part),
                "folds": "1 split" if folds != folds else int(folds),
                "model MAE": mean_sd(part["test_mae"]),
                "persistence": mean_sd(part["persistence_test_mae"]),
                "drift": mean_sd(part["baselines_drift_test_mae"]),
                "linear AR": mean_sd(part["baselines_linear_test_mae"]),
                "DM p vs linear (median)": f"{pd.to_numeric(part['baselines_linear_dm_p_value']).median():.3g}",
            }
        )
    return [
        "Test MAE over the same days (pooled over folds for backtests), mean ± sd over seeds:",
        "",
        markdown_table(pd.DataFrame(rows)),
    ]


def lag_illusion_text(done: pd.DataFrame) -> str:
    """Return the report's paragraph on delayed copies: how many runs per cell, and their mean correlations."""
    delayed = done.groupby("cell")["lag_check_delayed_copy"].apply(lambda s: f"{int(s.astype(bool).sum())} of {len(s)}")

    def corr(cell: str, name: str, digits: int) -> str:
        return mean_sd(done.loc[done["cell"] == cell, f"lag_check_{name}"], digits)

    per_cell = ", ".join(
        f"{c}: forecast vs today {corr(c, 'corr_lag0', 6)}, vs yesterday {corr(c, 'corr_lag1', 6)}, "
        f"predicted vs actual moves {corr(c, 'corr_returns', 2)}"
        for c in sorted(done["cell"].unique())
    )
    return (
        "Lag illusion: runs whose price forecast tracks yesterday's price at least as closely as today's, "
        "without predicting the moves (a delayed copy of the series): "
        + ", ".join(f"{cell} {text}" for cell, text in delayed.items())
        + f". Mean correlations: {per_cell}."
    )
