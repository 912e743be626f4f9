"""data.target=above_median (Fischer & Krauss 2018): the cross-sectional labels by hand, the refusals, the scores,
the forecast table and no look-ahead, end to end on a pool."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config.checks import validate
from forecast.config.schema import Config
from forecast.data.labels import above_median
from forecast.data.windows import Windows
from forecast.errors import ConfigError
from forecast.evaluation.classifier import classifier_scores, log_loss
from forecast.evaluation.money.portfolio import daily_panel
from forecast.pipeline.recipe import run
from tests.helpers import move_prices, read_back

DAYS = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"])


def frame(closes: list[float], days: pd.DatetimeIndex = DAYS) -> pd.DataFrame:
    return pd.DataFrame({"adj_close": closes}, index=days)


def test_labels_are_above_the_median_of_the_days_available_tickers_only() -> None:
    frames = {
        "A": frame([100, 101, 100, 103]),  # returns +1.0%, -1.0%, +3.0%
        "B": frame([100, 102, 101, 101]),  # +2.0%, -1.0%, 0
        "C": frame([100, 99, 103, 100]),  # -1.0%, +4.0%, -2.9%
        "D": frame([50, 51, 50.5], DAYS[[0, 1, 3]]),  # +2.0%, none on 01-06, -1.0% (over two sessions) on 01-07
    }
    labels = above_median(frames)
    # 01-03: returns A 1.0, B 2.0, C -1.0, D 2.0 -> median 1.5: B and D above
    # 01-06: A -1.0, B -1.0, C 4.0 (D missing, not in the median) -> median -1.0: C alone
    # 01-07: A 3.0, B 0, C -2.9, D -1.0 -> median -0.5: A and B
    np.testing.assert_array_equal(labels["A"], [0, 0, 1])
    np.testing.assert_array_equal(labels["B"], [1, 0, 1])
    np.testing.assert_array_equal(labels["C"], [0, 1, 0])
    np.testing.assert_array_equal(labels["D"], [1, 0])  # its own rows: 01-03 and 01-07
    assert labels["A"].dtype == np.float32 and labels["A"].flags.writeable


def test_labels_of_a_day_do_not_move_when_later_prices_do() -> None:
    base = {"A": frame([100, 101, 100, 103]), "B": frame([100, 102, 101, 101]), "C": frame([100, 99, 103, 100])}
    moved = {t: f.copy() for t, f in base.items()}
    moved["C"].iloc[3] = 200.0
    a, b = above_median(base), above_median(moved)
    for t in base:
        np.testing.assert_array_equal(a[t][:2], b[t][:2])
    assert a["C"][2] == 0 and b["C"][2] == 1


def test_windows_with_labels_target_the_label_of_the_day_after_the_window() -> None:
    rows = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    windows = Windows(rows, torch.tensor([0, 2, 3]), window=2, steps=1, labels=labels)
    x, y = windows.take(torch.tensor([0, 1, 2]))
    torch.testing.assert_close(x[1], rows[2:4])
    torch.testing.assert_close(y, torch.tensor([[1.0], [1.0], [0.0]]))  # rows 2, 4 and 5
    joined = Windows.concat([windows, windows.select(torch.tensor([2]))])
    torch.testing.assert_close(joined.take(torch.tensor([3]))[1], torch.tensor([[0.0]]))  # second block's row 5


def test_scores_are_as_computed_by_hand() -> None:
    table = pd.DataFrame(
        {
            "date": ["2009-12-31", "2009-12-31", "2010-01-04", "2010-01-04", "2009-12-30"],
            "split": ["test", "test", "test", "test", "val"],
            "probability": [0.6, 0.3, 0.8, 0.45, 0.7],
            "above_median": [1, 1, 0, 0, 1],
        }
    )
    c = classifier_scores(table)
    assert (c.accuracy_test, c.accuracy_val, c.n_test, c.days_test) == (0.5, 1.0, 4, 2)
    assert (c.accuracy_before_2010, c.accuracy_from_2010, c.base_rate_test) == (0.5, 0.5, 0.5)
    hand = -(math.log(0.6) + math.log(0.3) + math.log(0.2) + math.log(0.55)) / 4
    assert c.log_loss_test == pytest.approx(hand, abs=1e-12)
    assert c.brier_test == pytest.approx((0.16 + 0.49 + 0.64 + 0.2025) / 4, abs=1e-12)
    assert c.accuracy_t is None or math.isnan(c.accuracy_t)  # two days: too few for a t-statistic
    assert log_loss(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == pytest.approx(-math.log(1e-7), rel=1e-9)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scope": "local"}, "data.target=above_median ranks each day's stocks against each other: it needs "
         "scope=global and a pool (got scope=local)"),
        ({"horizon": 5}, "data.target=above_median forecasts the next day only: set horizon=1 (got 5)"),
        ({"loss": "quantile"}, "data.target=above_median is learnt with binary cross-entropy: leave model.loss at "
         "its default (got quantile)"),
        ({"intervals": "conformal"}, "data.target=above_median forecasts a probability, not a price, so it has no "
         "price intervals: set forecast.intervals=none (got conformal)"),
        ({"target": "log_return", "loss": "bce"}, "model.loss=bce needs data.target=above_median (a 0/1 target; "
         "got log_return)"),
    ],
)  # fmt: skip
def test_bad_classifier_settings_fail_in_one_line(changes: dict[str, object], message: str) -> None:
    cfg = Config(scope="global", tickers=["AAPL", "MSFT", "IBM", "GOOG"])
    cfg.data.target, cfg.forecast.intervals = "above_median", "none"
    for key, value in changes.items():
        target = cfg.model if key == "loss" else cfg.forecast if key == "intervals" else cfg.data
        setattr(cfg if key in ("scope", "horizon") else target, key, value)
    if changes.get("scope") == "local":
        cfg.tickers = Config().tickers  # a pool without scope=global is refused on its own
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == message


def test_a_classifier_run_forecasts_probabilities_that_see_no_later_price(quick_config: Config, tmp_path: Path) -> None:
    """End to end on four tickers: the loss becomes binary cross-entropy, the table holds probabilities and labels,
    the record a classifier's scores; perturbing every ticker's prices on a test day t leaves every probability up
    to t (made at t-1 or earlier) as it was."""
    cfg = quick_config
    cfg.scope, cfg.tickers, cfg.forecast.intervals = "global", ["AAPL", "MSFT", "IBM", "GOOG"], "none"
    cfg.data.target, cfg.portfolio.k, cfg.portfolio.draws = "above_median", [1], 10
    day, tables, records = "2012-09-04", [], []
    for name in ("base", "moved"):
        if name == "moved":
            move_prices(cfg.data.snapshot_dir, cfg.tickers, day)
        records.append(run(validate(cfg), tmp_path / name))
        tables.append(pd.read_csv(tmp_path / name / "forecasts.csv"))
    base, moved = tables
    assert records[0].loss == "bce" and records[0].target == "above_median"
    assert read_back(tmp_path / "base").classifier == records[0].classifier
    assert list(base.columns) == [
        "ticker", "date", "split", "actual", "persistence", "origin_date", "step", "probability", "above_median"
    ]  # fmt: skip
    assert base["probability"].between(0, 1).all() and set(base["above_median"]) == {0, 1}
    per_day = base.groupby("date")["above_median"].sum()
    assert (per_day == 2).all()  # four tickers every day: exactly two above the median
    c = records[0].classifier
    assert c is not None and c.n_test == int((base["split"] == "test").sum())
    assert c.accuracy_test == pytest.approx(
        ((base["probability"] > 0.5) == (base["above_median"] == 1))[base["split"] == "test"].mean()
    )
    earlier = base["date"] <= day
    pd.testing.assert_series_equal(base.loc[earlier, "probability"], moved.loc[earlier, "probability"])
    assert not base.loc[base["date"] > day, "probability"].equals(moved.loc[moved["date"] > day, "probability"])
    assert daily_panel(base).forecast.loc[pd.Timestamp(day)].tolist() == pytest.approx(
        base[base["date"] == day].set_index("ticker")["probability"].sort_index().tolist()
    )  # the portfolio ranks by the probabilities
    future = pd.read_csv(tmp_path / "base" / "future.csv")
    assert list(future.columns) == ["ticker", "date", "step", "probability", "last_date", "last_close"]
    assert records[0].future is not None and set(records[0].future.by_ticker) == set(cfg.tickers)
    assert (tmp_path / "base" / "plots" / "portfolio.png").exists()
    from forecast.predict import predict

    out = predict(tmp_path / "base", [])  # the stored model gives tomorrow's probabilities again, bit for bit
    assert (out / "future.csv").read_bytes() == (tmp_path / "base" / "future.csv").read_bytes()


def test_the_closing_lines_and_the_reports_table_give_accuracy_against_chance(tmp_path: Path) -> None:
    from forecast.reporting.classifier_lines import classifier_lines
    from forecast.reporting.sweep.money import money_section
    from forecast.store.classifier_fields import ClassifierScores
    from forecast.store.fields import FuturePath
    from forecast.store.record import RunRecord

    scores = ClassifierScores(
        accuracy_test=0.50512, log_loss_test=0.693051, n_test=1999476, days_test=4500, accuracy_t=7.654,
        accuracy_p_value=2.1e-14, accuracy_before_2010=0.5061, accuracy_from_2010=0.5047,
    )  # fmt: skip
    future = FuturePath("2021-04-21", by_ticker={t: [{"date": "2021-04-22", "probability": q}] for t, q in
                                                 (("A", 0.51), ("B", 0.47), ("C", 0.5))})  # fmt: skip
    record = RunRecord(
        ticker="global3", model="lstm", pool=["A", "B", "C"], classifier=scores, future=future, status="completed",
        target="above_median", config={"model": {"num_layers": 1, "hidden_size": 25}},
    )  # fmt: skip
    assert classifier_lines(record, shown=2) == [
        "global3 lstm (one model over 3 tickers) forecasts whether each stock's next-day return is above the day's "
        "median: test accuracy 50.51% over 1,999,476 forecasts on 4500 days (chance 50%; Newey-West t 7.65 on the "
        "daily accuracy, p 2.1e-14), log loss 0.69305 against 0.69315 for a coin",
        "accuracy before 2010 50.61%, from 2010 50.47%",
        "2021-04-22, most likely above the median: A 0.510, C 0.500",
        "2021-04-22, least likely: B 0.470, C 0.500 (future.csv: all)",
    ]
    record.write(tmp_path / "0_lstm")
    lines = money_section(tmp_path, pd.DataFrame({"job": ["0_lstm"]}))
    assert lines[0] == "## Classifiers: above the day's median"
    row = next(line for line in "\n".join(lines).splitlines() if line.startswith("| 0_lstm"))
    assert [c.strip() for c in row.split("|")[1:-1]] == [
        "0_lstm", "lstm 1x25 classifier", "50.51", "7.65", "2.1e-14", "0.69305", "50.61", "50.47",
        "1,999,476 on 4,500 days",
    ]  # fmt: skip
