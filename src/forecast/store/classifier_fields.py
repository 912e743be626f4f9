"""The record's scores of a classifier run (``data.target=above_median``): one definition of their names."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClassifierScores:
    """Accuracy and log loss of the probabilities a classifier run forecast; chance is 50% and a log loss of
    ``ln 2`` (0.6931), what a constant 0.5 scores on a balanced target."""

    accuracy_val: float | None = None  # share of validation rows whose probability lies on the label's side of 0.5
    accuracy_test: float | None = None
    log_loss_val: float | None = None
    log_loss_test: float | None = None
    brier_test: float | None = None  # mean squared error of the test probabilities
    base_rate_test: float | None = None  # share of test labels that are 1 (just under 0.5 on days with an odd pool)
    n_test: int | None = None  # test forecasts (ticker-days)
    days_test: int | None = None
    accuracy_t: float | None = None  # Newey-West t of the daily accuracy's excess over 50% (days, not ticker-days)
    accuracy_p_value: float | None = None  # two-sided, normal approximation of that t
    accuracy_before_2010: float | None = None  # test accuracy of the days before 2010 (None: no such day)
    accuracy_from_2010: float | None = None
    by_fold: dict[str, float] = field(default_factory=dict)  # test accuracy per backtest fold ('1'..)
