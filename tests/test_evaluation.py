"""Metrics on hand-computed numbers, and the persistence skill."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from forecast.evaluation.metrics import error_metrics, skill


def test_error_metrics_by_hand() -> None:
    actual = np.array([101.0, 99.0, 100.0, 102.0])
    last = np.array([100.0, 101.0, 99.0, 100.0])
    pred = np.array([102.0, 100.0, 98.0, 101.0])
    m = asdict(error_metrics(actual, pred, last))
    assert m["mae"] == pytest.approx(1.25)  # |-1|,|-1|,|2|,|1|
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 1 + 4 + 1) / 4))
    assert m["mape"] == pytest.approx(100 * np.mean([1 / 101, 1 / 99, 2 / 100, 1 / 102]))
    assert m["directional_accuracy"] == pytest.approx(0.75)  # moves +1,-2,+1,+2 vs +2,-1,-1,+1
    assert m["n"] == 4


def test_persistence_has_no_direction_and_zero_skill_against_itself() -> None:
    actual, last = np.array([101.0, 100.0, 100.0]), np.array([100.0, 101.0, 100.0])
    m = asdict(error_metrics(actual, last, last))
    assert m["directional_accuracy"] == pytest.approx(1 / 3)  # only the unmoved day matches
    assert skill(m["mae"], m["mae"]) == 0.0
    assert skill(0.5, 1.0) == pytest.approx(0.5)
    assert np.isnan(skill(1.0, 0.0))


def test_benjamini_hochberg_rejects_the_smallest_p_values_under_the_step_up_line() -> None:
    from forecast.evaluation.honesty import benjamini_hochberg

    # m = 5 finite p-values; sorted 0.005, 0.01, 0.03, 0.04, 0.2 against 0.01, 0.02, 0.03, 0.04, 0.05 x k / 5:
    # the largest k with p_(k) <= 0.05 k / 5 is 4, so the four smallest are significant; NaN never is
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.2])
    assert benjamini_hochberg(p).tolist() == [True, True, True, True, False, False]
    assert benjamini_hochberg(np.array([0.02, 0.03])).tolist() == [True, True]  # 0.03 <= 0.05, then 0.02 too
    assert benjamini_hochberg(np.array([0.04, 0.045, 0.3])).tolist() == [False, False, False]  # raw: two below 5%
    rng = np.random.default_rng(0)
    null = rng.uniform(size=500)  # 500 tickers with no signal: about 25 raw "discoveries", none after BH
    assert (null < 0.05).sum() == 20 and benjamini_hochberg(null).sum() == 0


def test_the_dm_test_of_a_differential_is_the_dm_test_of_its_errors() -> None:
    from forecast.evaluation.honesty import diebold_mariano, dm_test

    rng = np.random.default_rng(1)
    e1, e2 = rng.normal(size=200), rng.normal(scale=1.2, size=200)
    assert dm_test(e1**2 - e2**2, 2) == diebold_mariano(e1, e2, 2)
    assert asdict(dm_test(np.array([1.0, 2.0]))) == {
        "statistic": pytest.approx(np.nan, nan_ok=True),
        "p_value": pytest.approx(np.nan, nan_ok=True),
        "n": 2,
        "per_day": 1.0,
    }


def test_a_pooled_dm_test_counts_days_not_ticker_days() -> None:
    """Thirty tickers that share each day's news are one observation a day, not thirty."""
    from forecast.evaluation.honesty import diebold_mariano, dm_test

    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(250), 30)
    e1, e2 = rng.normal(size=250), rng.normal(scale=1.1, size=250)
    same = asdict(diebold_mariano(np.repeat(e1, 30), np.repeat(e2, 30), 1, days))
    assert same == pytest.approx(asdict(diebold_mariano(e1, e2, 1)) | {"per_day": 30.0})  # 30 copies of one ticker
    assert same["n"] == 250
    rng = np.random.default_rng(4)
    news = rng.normal(size=250).repeat(30)  # the day's news, which every ticker's forecast misses
    luck = rng.normal(scale=0.3, size=250).repeat(30)  # how well the model happens to read that day's news
    model = news * (1 + luck) + rng.normal(scale=0.5, size=7500)
    persistence = news + rng.normal(scale=0.5, size=7500)
    pooled = asdict(diebold_mariano(model, persistence, 1, days))
    naive = asdict(diebold_mariano(model, persistence, 1))  # ticker-days as if independent
    daily = (model**2 - persistence**2).reshape(250, 30).mean(axis=1)
    assert pooled == pytest.approx(asdict(dm_test(daily, 1)) | {"per_day": 30.0})
    assert (pooled["n"], naive["n"]) == (250, 7500)
    assert (round(naive["p_value"], 4), round(pooled["p_value"], 4)) == (0.0153, 0.4673)  # a false win, then none
