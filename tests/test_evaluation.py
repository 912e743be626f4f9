"""Metrics on hand-computed numbers, and the persistence skill."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.evaluation.metrics import error_metrics, skill


def test_error_metrics_by_hand() -> None:
    actual = np.array([101.0, 99.0, 100.0, 102.0])
    last = np.array([100.0, 101.0, 99.0, 100.0])
    pred = np.array([102.0, 100.0, 98.0, 101.0])
    m = error_metrics(actual, pred, last)
    assert m["mae"] == pytest.approx(1.25)  # |-1|,|-1|,|2|,|1|
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 1 + 4 + 1) / 4))
    assert m["mape"] == pytest.approx(100 * np.mean([1 / 101, 1 / 99, 2 / 100, 1 / 102]))
    assert m["directional_accuracy"] == pytest.approx(0.75)  # moves +1,-2,+1,+2 vs +2,-1,-1,+1
    assert m["n"] == 4


def test_persistence_has_no_direction_and_zero_skill_against_itself() -> None:
    actual, last = np.array([101.0, 100.0, 100.0]), np.array([100.0, 101.0, 100.0])
    m = error_metrics(actual, last, last)
    assert m["directional_accuracy"] == pytest.approx(1 / 3)  # only the unmoved day matches
    assert skill(m["mae"], m["mae"]) == 0.0
    assert skill(0.5, 1.0) == pytest.approx(0.5)
    assert np.isnan(skill(1.0, 0.0))
