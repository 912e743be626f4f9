"""Honesty, round three: every summary line says what its number is for (issue 27), each in its exact words."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from forecast.config.checks import validate
from forecast.config.schema import Config
from forecast.data.dataset import build_windows
from forecast.evaluation.backtest import fold_scores, sign_test
from forecast.evaluation.baselines import ALPHAS, at_edge, linear_returns
from forecast.evaluation.future import cqr_widening
from forecast.evaluation.pooled import ticker_tests
from forecast.reporting.headline import comparison_lines, headline, interval_lines, path_lines, pool_lines
from forecast.store.fields import (
    BacktestScores,
    BaselineScores,
    DieboldMariano,
    FoldScores,
    FuturePath,
    IntervalScores,
    LagCheck,
    LevelScores,
    Scores,
    StepCoverage,
    TickerScores,
)
from forecast.store.record import RunRecord
from forecast.store.ticker_tests import TickerTests
from tests.helpers import random_walk

PATH = [{"date": "2019-01-02", "step": 1, "predicted": 101.0, "lower_90": 95.0, "upper_90": 107.0, "last_close": 100.0}]


def backtest_record() -> RunRecord:
    """A backtest whose pooled 90% coverage reads well and whose last fold (the bands a path shows) does not."""
    folds = {"1": FoldScores("2018-01-02", "2018-06-29"), "2": FoldScores("2018-07-02", "2018-12-31")}
    return RunRecord(
        ticker="^GSPC",
        model="gru",
        price_column="adj_close",
        intervals=IntervalScores(
            method="conformal",
            span="2018-01-02..2018-12-31",
            levels={"90": LevelScores(coverage=0.868, by_step={"1": StepCoverage(by_fold={"1": 0.95, "2": 0.524})})},
            by_fold={"1": {"90": 0.95}, "2": {"90": 0.524}},
        ),
        backtest=BacktestScores(folds=2, won=1, by_fold=folds, sign_test_p=1.0),
        future=FuturePath("2018-12-31", path=PATH),
    )


def test_coverage_lines_say_which_span_and_the_path_quotes_the_bands_it_shows() -> None:
    record = backtest_record()
    assert interval_lines(record) == [
        "90% intervals (conformal): test coverage 86.8% over 2018-01-02..2018-12-31, worst fold 52.4% (fold 2 of 2, "
        "2018-07-02..2018-12-31)"
    ]
    assert headline(record)[-2:] == [
        "^GSPC gru forecast from the close of 2018-12-31 (100.00, adjusted close), 90% intervals (these bands covered "
        "52.4% in the last fold, 2018-07-02..2018-12-31):",
        "  2019-01-02    101.00  [95.00, 107.00]",
    ]
    record.backtest, record.intervals.by_fold = None, {}  # a single split: the test span's bands are those shown
    assert headline(record)[-2].endswith(
        "90% intervals (these bands covered 86.8% on the test span, 2018-01-02..2018-12-31):"
    )


def test_the_worst_fold_is_the_worst_over_steps_for_every_level() -> None:
    """Pooled over steps fold 2 covers 0.75 at 90%; step 2 alone covers 0.60 there (the worse), and 80% bands' worst
    cell is fold 1 at step 1. Each level names its own worst fold and step."""
    record = backtest_record()
    assert record.intervals is not None
    record.intervals.levels = {
        "90": LevelScores(coverage=0.85, by_step={"1": StepCoverage(by_fold={"1": 0.95, "2": 0.9}),
                                                  "2": StepCoverage(by_fold={"1": 0.9, "2": 0.6})}),
        "80": LevelScores(coverage=0.78, by_step={"1": StepCoverage(by_fold={"1": 0.7, "2": 0.8}),
                                                  "2": StepCoverage(by_fold={"1": 0.75, "2": 0.9})}),
    }  # fmt: skip
    record.intervals.by_fold = {"1": {"90": 0.925, "80": 0.725}, "2": {"90": 0.75, "80": 0.85}}
    assert interval_lines(record) == [
        "90% intervals (conformal): test coverage 85.0% over 2018-01-02..2018-12-31, worst fold 60.0% (step 2, fold 2 "
        "of 2, 2018-07-02..2018-12-31), 80% bands' worst fold 70.0% (step 1, fold 1 of 2, 2018-01-02..2018-06-29)"
    ]


def test_a_close_only_series_is_called_unadjusted_in_the_path() -> None:
    line = path_lines("RAW", "gru", "2011-02-25", PATH, {"90": 0.9}, "on the test span, a..b", "unadjusted close")[0]
    assert line.startswith("RAW gru forecast from the close of 2011-02-25 (100.00, unadjusted close), 90% intervals")


def test_fold_wins_come_with_their_tests_and_noise_wins_none_significantly() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for fold in (1, 2, 3, 4):
        actual = 100 + rng.normal(0, 1, 60)
        for i in range(60):
            rows.append(
                {
                    "fold": fold,
                    "step": 1,
                    "date": f"2018-{fold:02d}-{i % 28 + 1:02d}",
                    "actual": actual[i],
                    "predicted": 100 + rng.normal(0, 1),
                    "persistence": 100 + rng.normal(0, 1),
                }
            )
    scores = fold_scores(pd.DataFrame(rows), 1)
    assert (scores.folds, scores.won, scores.won_significantly, scores.lost_significantly) == (4, 3, 0, 0)
    assert scores.sign_test_p == pytest.approx(0.625) == sign_test(3, 4)  # 2 x (1 + 4) / 16
    line = comparison_lines(RunRecord(backtest=scores))[0]
    assert line == (
        "walk-forward backtest: 4 folds from 2018-01-01 to 2018-04-28 (scores above pooled over them); ahead of "
        "persistence in 3 of 4 folds (sign test p 0.62), significantly ahead in 0 and behind in 0 (Diebold-Mariano "
        f"at 5% per fold); skill per fold {100 * scores.skill_mean:+.1f}% ± {100 * scores.skill_sd:.1f}"
    )


def test_the_baseline_line_says_which_way_its_test_points() -> None:
    drift = BaselineScores(Scores(mae=0.8474), skill=0.01, dm=DieboldMariano(statistic=0.4, p_value=0.24))
    line = comparison_lines(RunRecord(baselines={"drift": drift}))
    assert line == [
        "baselines on the same days: drift MAE 0.8474 (model skill +1.0% on absolute errors; DM on squared errors: model "
        "worse, p 0.24)"
    ]


def test_per_ticker_counts_stand_beside_their_benjamini_hochberg_counts() -> None:
    """200 tickers with no signal: a few p-values fall under 5% by chance; none survives the correction."""
    p = np.random.default_rng(0).uniform(size=200)
    stat = np.random.default_rng(1).choice([-1.0, 1.0], size=200)
    tickers = {
        f"T{i}": TickerScores(
            skill_vs_persistence=-stat[i] * 0.01,
            dm_vs_persistence=DieboldMariano(statistic=stat[i], p_value=p[i]),
            drift_only=bool(i % 2),
        )
        for i in range(200)
    }
    tests = ticker_tests(tickers)
    raw = int((p < 0.05).sum())
    assert raw == 12 and tests.better + tests.worse == raw and (tests.better_bh, tests.worse_bh) == (0, 0)
    assert (tests.tickers, tests.ahead, tests.drift_only) == (200, int((stat < 0).sum()), 100)


def test_a_global_headline_prints_its_counts_and_the_drift_only_warning() -> None:
    tickers = {"AAA": TickerScores(skill_vs_persistence=0.01), "BBB": TickerScores(skill_vs_persistence=-0.02)}
    record = RunRecord(
        ticker="AAA+BBB",
        scope="global",
        model="gru",
        pool=["AAA", "BBB"],
        tickers=tickers,
        test=Scores(mae=0.01),
        persistence_test=Scores(mae=0.0101),
        skill_vs_persistence=0.0099,
        dm_vs_persistence=DieboldMariano(statistic=-0.5, p_value=0.6, n=250, per_day=2.0),
        lag_check=LagCheck(same_sign_share=0.97, corr_returns=0.01, drift_only=True),
        ticker_tests=TickerTests(tickers=2, ahead=1, better=0, worse=1, better_bh=0, worse_bh=0, drift_only=2),
    )
    assert pool_lines(record)[:2] == [
        "AAA+BBB gru (one model over 2 tickers) pooled test MAE 0.01000 of the last close vs persistence 0.01010: "
        "skill +1.0% on absolute errors (DM on squared errors of each day's mean over its 2 tickers: model better, "
        "p 0.6, 250 days); ahead of persistence on 1 of 2 tickers (skill -2.0% BBB .. +1.0% AAA), significantly "
        "better on 0 and worse on 1 (Diebold-Mariano on squared errors at 5%; 0 and 0 after Benjamini-Hochberg)",
        "warning: the model predicts the average drift, not the moves, on 2 of 2 tickers (pooled: predicted moves "
        "of one sign on 97% of test days, correlation with the actual moves 0.01)",
    ]
    path = {"date": "2013-03-04", "predicted": 10.5, "last_close": 10.0}
    record.future = FuturePath("2013-03-01", by_ticker={"AAA": [path], "BBB": [path]})
    assert pool_lines(record)[-3:] == [
        "AAA+BBB gru forecasts from the close of 2013-03-01, the next session of each ticker (every step in "
        "future.csv):",
        "  AAA    2013-03-04       10.50  (last close 10.00)",
        "  BBB    2013-03-04       10.50  (last close 10.00)",
    ]


@pytest.mark.parametrize(("later", "edge"), [(0.5, False), (-0.5, True)])
def test_the_ridge_penalty_is_chosen_on_a_wide_grid_and_an_edge_is_flagged(later: float, edge: bool) -> None:
    """Returns follow an AR(1) with coefficient 0.5 in the training span and ``later`` after it: the same rule on
    validation gives an interior penalty; the reversed one makes any fit worse than none (the top of the grid)."""
    rng = np.random.default_rng(0)
    r = np.zeros(3000)
    for t in range(1, 3000):
        r[t] = (0.5 if t < 1800 else later) * r[t - 1] + rng.normal(0, 0.01)
    frame = pd.DataFrame({"adj_close": 100 * np.exp(np.cumsum(r))}, index=pd.bdate_range("2001-01-01", periods=3000))
    frame.index.name = "date"
    data = build_windows(frame, 10, 1, (0.6, 0.2, 0.2))
    _, alpha = linear_returns(data)
    assert len(ALPHAS) == 41 and (ALPHAS[0], ALPHAS[-1]) == pytest.approx((1e-3, 1e7))
    assert at_edge(alpha) is edge and (alpha == ALPHAS[-1]) is edge


def test_a_quantile_head_learns_every_levels_pair_and_is_conformalised_on_validation() -> None:
    cfg = Config()
    cfg.model.loss = "quantile"
    assert validate(cfg).model.quantiles == [0.05, 0.1, 0.5, 0.9, 0.95]  # 80% and 90% both kept
    rng = np.random.default_rng(0)
    n = 99
    actual = 100 * np.exp(rng.normal(0, 0.01, n))
    table = pd.DataFrame(
        {"split": "val", "step": 1, "actual": actual, "q0.05": 100 * np.exp(-0.01), "q0.95": 100 * np.exp(0.01)}
    )
    widening = cqr_widening(pd.concat([table, table.assign(split="test", actual=1e9)]), [(0.05, 0.95)])
    scores = np.maximum(-0.01 - np.log(actual / 100), np.log(actual / 100) - 0.01)
    assert list(widening) == ["90"]  # ceil(100 x 0.9) = the 90th smallest score of 99
    assert widening["90"][0] == pytest.approx(float(np.sort(scores)[89]), rel=1e-12, abs=0)


def test_predict_says_how_old_the_model_is_and_warns_past_a_year(caplog: pytest.LogCaptureFixture) -> None:
    from forecast.evaluation.staleness import warn_if_stale

    frame = random_walk(900, start="2016-01-01")
    trained, scored = str(frame.index[199].date()), str(frame.index[399].date())
    with caplog.at_level(logging.INFO, logger="forecast"):
        warn_if_stale("AAPL", frame, trained, scored)
        warn_if_stale("AAPL", frame.iloc[:600], trained, scored)  # 200 sessions on: said, not warned
    assert [r.getMessage() for r in caplog.records] == [
        f"AAPL: the model was trained on prices up to {trained} and scored up to {scored}; the newest price here, "
        f"{frame.index[-1].date()}, is 700 sessions after its training data and 500 sessions after the run's data",
        f"AAPL: these prices run 500 sessions (2.0 years) past the run's data (to {scored}): its test scores and "
        f"coverage describe another market, and its model was trained on prices up to {trained}; retrain on newer "
        "prices",
        f"AAPL: the model was trained on prices up to {trained} and scored up to {scored}; the newest price here, "
        f"{frame.index[599].date()}, is 400 sessions after its training data and 200 sessions after the run's data",
    ]
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING", "INFO"]


def test_an_old_origin_is_said_in_one_line_and_a_recent_one_not_at_all() -> None:
    from datetime import date

    from forecast.reporting.headline import origin_age

    assert origin_age("2013-03-01", date(2026, 12, 6)) == [
        "note: this forecast starts from the close of 2013-03-01, 13.8 years before today (2026-12-06), and dates "
        "the sessions after it; newer prices (yfinance, the cache, or data.source=csv) forecast from a recent close"
    ]
    assert origin_age("2026-07-01", date(2026, 12, 6))[0].startswith(
        "note: this forecast starts from the close of 2026-07-01, 5 months before today (2026-12-06)"
    )
    assert origin_age("2026-11-05", date(2026, 12, 6)) == [] and origin_age("", date(2026, 12, 6)) == []
