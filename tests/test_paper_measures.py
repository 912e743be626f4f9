"""Fischer & Krauss like for like, by hand on a 6-ticker panel: accuracy on the selections and over all stocks, the
paper's fixed cost, the breakeven cost, the eras, and short-term reversal's ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecast.config.checks import validate
from forecast.config.portfolio import PortfolioConfig
from forecast.config.schema import Config
from forecast.data.dataset import WindowedData, pooled_scaler, windows_for
from forecast.data.labels import above_median
from forecast.data.splits import split_bounds
from forecast.errors import ConfigError
from forecast.evaluation.money.paper_measures import accuracy_all, selection_accuracy
from forecast.evaluation.money.portfolio import daily_panel, evaluate, positions, short_term_reversal
from forecast.models.classic import ClassicSettings, classic_columns, fit_classic, lagged_returns

TICKERS = list("ABCDEF")
# realised returns: one validation day, then three test days (one per era)
RETURNS = np.array(
    [
        [0.03, -0.01, 0.00, 0.02, -0.02, 0.01],  # 2009-12-30, validation
        [0.01, 0.02, -0.01, 0.00, 0.03, -0.02],  # 2009-12-31
        [-0.01, 0.00, 0.02, 0.01, -0.03, 0.04],  # 2015-12-31
        [0.02, -0.02, 0.01, -0.01, 0.00, 0.03],  # 2016-01-04
    ]
)
SCORES = np.array(
    [
        [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
        [0.9, 0.1, 0.5, 0.4, 0.3, 0.2],
        [0.2, 0.8, 0.3, 0.6, 0.1, 0.5],
        [0.7, 0.2, 0.6, 0.1, 0.5, 0.9],
    ]
)
DATES = pd.to_datetime(["2009-12-30", "2009-12-31", "2015-12-31", "2016-01-04"])


def _table() -> pd.DataFrame:
    prices = 100 * np.cumprod(np.vstack([np.ones(6), 1 + RETURNS]), axis=0)
    rows = [
        {
            "ticker": t,
            "date": str(DATES[d].date()),
            "step": 1,
            "split": "val" if d == 0 else "test",
            "fold": 0,
            "persistence": prices[d, j],
            "actual": prices[d + 1, j],
            "probability": SCORES[d, j],
        }
        for d in range(4)
        for j, t in enumerate(TICKERS)
    ]
    return pd.DataFrame(rows)


def test_accuracy_on_the_selections_and_over_all_stocks_by_hand() -> None:
    realised, scores = RETURNS[1:], SCORES[1:]
    weights = positions(scores, 1)
    # day 1: long A (above its median, right), short B (above, wrong); day 2: long B (wrong), short E (right);
    # day 3: long F (right), short D (right): 4 of 6 picks
    assert selection_accuracy(weights, realised) == pytest.approx(4 / 6)
    # same side of the day's median, forecast and return: 2, 4 and 6 of the 6 stocks
    assert accuracy_all(scores, realised) == pytest.approx(12 / 18)


def test_fixed_cost_breakeven_and_eras_by_hand() -> None:
    record, _ = evaluate(_table(), PortfolioConfig(k=[1], cost_bps=5.0, draws=0), seed=0)
    ls = record.long_short["1"]
    # gross -0.01, 0.03, 0.04; turnover 2, 4, 4 half-turns; the paper's 4 x 5 bp every day
    assert ls.gross.mean_pct == pytest.approx(2.0)
    assert ls.net.mean_pct == pytest.approx(100 * (0.02 - 0.0005 * 10 / 3))
    assert ls.net_fixed_pct == pytest.approx(2.0 - 0.2)
    assert ls.breakeven_bps == pytest.approx(60.0)  # 1e4 x 0.02 / (10 / 3)
    assert ls.selection_accuracy == pytest.approx(4 / 6)
    assert record.accuracy_all == pytest.approx(2 / 3)
    assert list(ls.by_era) == ["..2009", "2010..2015", "2016.."]
    eras = {name: (e.first_date, e.days, e.gross_pct, e.net_fixed_pct) for name, e in ls.by_era.items()}
    assert eras["..2009"] == ("2009-12-31", 1, pytest.approx(-1.0), pytest.approx(-1.2))
    assert eras["2010..2015"] == ("2015-12-31", 1, pytest.approx(3.0), pytest.approx(2.8))
    assert eras["2016.."] == ("2016-01-04", 1, pytest.approx(4.0), pytest.approx(3.8))
    assert math.isnan(ls.by_era["2016.."].gross_t)  # one day: no t
    assert ls.by_period["0"]["net_fixed_pct"] == pytest.approx(1.8)


def test_short_term_reversal_ranks_by_the_previous_days_return_reversed() -> None:
    panel = daily_panel(_table())
    np.testing.assert_allclose(short_term_reversal(panel), -RETURNS[:3], atol=1e-12)  # test day t: minus day t-1's
    record, _ = evaluate(_table(), PortfolioConfig(k=[1], cost_bps=5.0, draws=0), seed=0)
    str_ = record.baselines["str"]["1"]
    # long the previous day's loser, short its winner: E-A 0.02, F-E 0.07, E-F -0.03; turnover 2, 4, 4
    assert str_.gross.mean_pct == pytest.approx(2.0)
    assert str_.breakeven_bps == pytest.approx(60.0)
    assert list(record.baselines) == ["str"]  # no logistic or forest columns in the table


def _frames(n: int = 700, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2010-01-04", periods=n)
    return {t: pd.DataFrame({"adj_close": 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))}, index=days) for t in "ABCD"}


def _fit(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, object], list[WindowedData]]:
    labels = above_median(frames)
    bounds = split_bounds(len(next(iter(frames.values()))), (0.6, 0.2, 0.2), 240, 1)
    datas = [windows_for(f, 240, 1, bounds) for f in frames.values()]
    settings = ClassicSettings(("logistic", "forest"), trees=4, depth=3, seed=0)
    spans = [(d.prices, d.origin[d.split == 0], labels[t]) for d, t in zip(datas, frames, strict=True)]
    return fit_classic(settings, spans, threads=1), datas


def _after(frames: dict[str, pd.DataFrame], day: int, factor: float) -> dict[str, pd.DataFrame]:
    out = {}
    for t, f in frames.items():
        moved = f.copy()
        moved.iloc[day + 1 :, 0] *= factor
        out[t] = moved
    return out


def test_the_comparison_models_see_only_the_training_span_and_the_days_before() -> None:
    frames = _frames()
    fitted, datas = _fit(frames)
    n_train, test_start = datas[0].bounds.n_train, datas[0].bounds.n_train + datas[0].bounds.n_val
    day = test_start + 40
    moved, moved_datas = _fit(_after(frames, day, 1.5))  # every price after a test day moves
    logistic, again = fitted["logistic"][-1], moved["logistic"][-1]  # type: ignore[index]
    np.testing.assert_array_equal(logistic.coef_, again.coef_)
    for a, b in zip(fitted["forest"].estimators_, moved["forest"].estimators_, strict=True):  # type: ignore[attr-defined]
        np.testing.assert_array_equal(a.tree_.threshold, b.tree_.threshold)
    rows = np.flatnonzero(datas[0].split >= 1)
    up_to = datas[0].origin[rows] + 1 <= day  # forecasts for days up to the moved day's
    assert 0 < up_to.sum() < len(rows) and datas[0].origin[rows][0] + 1 == n_train  # validation, then test
    for data, data_moved in zip(datas, moved_datas, strict=True):
        before = classic_columns(fitted, data.prices, data.origin[rows], 1)
        after = classic_columns(moved, data_moved.prices, data_moved.origin[rows], 1)
        for column in ("probability_logistic", "probability_forest"):
            np.testing.assert_array_equal(before[column][up_to], after[column][up_to])
            assert not np.isnan(before[column]).any()
        assert not np.array_equal(before["probability_logistic"], after["probability_logistic"])


def test_lagged_returns_are_krauss_do_and_huck_s_31_from_the_origins_closes() -> None:
    prices = np.arange(1.0, 302.0)  # p[t] = t + 1
    x = lagged_returns(prices, np.array([240, 300]))
    assert x.shape == (2, 31)
    assert x[1, 0] == pytest.approx(301 / 300 - 1) and x[1, 19] == pytest.approx(301 / 281 - 1)
    assert x[1, 20] == pytest.approx(301 / 261 - 1) and x[1, 30] == pytest.approx(301 / 61 - 1)
    assert x[0, 30] == pytest.approx(241 / 1 - 1)
    assert np.isnan(lagged_returns(prices, np.array([239]))[0, 30])


def test_pooled_scaling_is_fitted_on_every_tickers_training_rows_only() -> None:
    frames = _frames()
    bounds = split_bounds(700, (0.6, 0.2, 0.2), 240, 1)
    pooled = pooled_scaler(list(frames.values()), [bounds] * 4, ("log_return",))
    rows = np.concatenate([np.diff(np.log(f["adj_close"].to_numpy()))[: bounds.n_train - 1] for f in frames.values()])
    assert pooled.mean[0] == pytest.approx(rows.mean(), rel=1e-12) and pooled.std[0] == pytest.approx(rows.std())
    moved = pooled_scaler(list(_after(frames, bounds.n_train - 1, 2.0).values()), [bounds] * 4, ("log_return",))
    assert (moved.mean, moved.std) == (pooled.mean, pooled.std)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("data.scaling", "global", "data.scaling='global' is unknown: choose data.scaling=per_ticker|pooled"),
        ("model.io_dropout", 1.0, "model.io_dropout must be in [0, 1), the share of inputs and last states dropped "
         "in training (got 1.0): e.g. model.io_dropout=0.1"),
        ("portfolio.baselines", ["svm"], "portfolio.baselines must hold distinct names from logistic|forest (got "
         "['svm']): short-term reversal is always traded beside the model"),
        ("portfolio.baselines", ["forest", "forest"], "portfolio.baselines must hold distinct names from "
         "logistic|forest (got ['forest', 'forest']): short-term reversal is always traded beside the model"),
        ("portfolio.baselines", ["logistic"], "portfolio.baselines=['logistic'] needs portfolio.k: the baselines are "
         "traded by its rule"),
        ("portfolio.forest_trees", 0, "portfolio.forest_trees must be >= 1 (got 0): e.g. 100"),
        ("portfolio.forest_depth", 0, "portfolio.forest_depth must be >= 1 (got 0): e.g. 20"),
        ("horizon", 5, "portfolio.baselines=['forest'] forecast the next day only: they need horizon=1 (got "
         "horizon=5)"),
        ("trainer.samples_per_epoch", -1, "trainer.samples_per_epoch must be >= 0, 0 = every training window each "
         "epoch (got -1)"),
        ("trainer.patience", 0, "trainer.patience must be >= 1 epoch (got 0)"),
        ("trainer.max_epochs", 0, "trainer.max_epochs must be >= 1 (got 0)"),
        ("trainer.batch_size", 0, "trainer.batch_size must be >= 1 (got 0): e.g. trainer.batch_size=64"),
    ],
)  # fmt: skip
def test_bad_like_for_like_switches_fail_in_one_line(key: str, value: object, message: str) -> None:
    cfg = Config()
    if key == "horizon":
        cfg.scope, cfg.tickers, cfg.portfolio.k, cfg.portfolio.baselines = "global", list("ABCD"), [1], ["forest"]
    section, _, name = key.rpartition(".")
    setattr(getattr(cfg, section) if section else cfg, name, value)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == message


def test_io_dropout_drops_in_training_only_and_zero_leaves_the_model_as_it_was() -> None:
    import torch

    from forecast.models.recurrent import RecurrentForecaster

    x = torch.randn(4, 10, 1)
    torch.manual_seed(0)
    plain = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=5, num_layers=1, horizon=1)
    torch.manual_seed(0)
    dropped = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=5, num_layers=1, horizon=1, io_dropout=0.5)
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    plain.eval(), dropped.eval()
    torch.testing.assert_close(plain(x), dropped(x), rtol=0, atol=0)  # evaluation: nothing dropped
    dropped.train()
    torch.manual_seed(1)
    assert not torch.equal(dropped(x), plain(x))
