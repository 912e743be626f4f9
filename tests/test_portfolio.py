"""The long-short portfolio of a global run's forecasts: arithmetic by hand, no look-ahead, the random band, checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.config.checks import validate
from forecast.config.schema import Config, PortfolioConfig
from forecast.errors import ConfigError
from forecast.evaluation.money.daily_returns import newey_west_t
from forecast.evaluation.money.portfolio import daily_panel, evaluate, long_short, positions
from forecast.pipeline.recipe import run
from tests.helpers import move_prices, read_back

# three days, four tickers: each origin's close is 100, so forecasts and returns read off directly
FORECASTS = {"A": [1.0, 2.0, -1.0], "B": [-1.0, 0.5, 0.0], "C": [0.5, -2.0, -0.5], "D": [0.0, 0.0, 3.0]}
RETURNS = {"A": [0.02, -0.01, 0.01], "B": [-0.01, 0.0, 0.02], "C": [0.0, 0.03, -0.02], "D": [0.01, 0.0, 0.005]}
DATES = ["2009-12-30", "2009-12-31", "2010-01-04"]


def hand_table() -> pd.DataFrame:
    rows = [
        {"ticker": t, "date": d, "split": "test", "step": 1, "persistence": 100.0,
         "predicted": 100.0 + FORECASTS[t][i], "actual": 100.0 * (1 + RETURNS[t][i])}
        for t in FORECASTS for i, d in enumerate(DATES)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_returns_turnover_and_costs_are_as_computed_by_hand() -> None:
    panel = daily_panel(hand_table())
    gross, turnover, net = long_short(panel.forecast.to_numpy(), panel.realised.to_numpy(), 1, 5e-4)
    # day 1: long A (+2%), short B (-1%); day 2: long A (-1%), short C (+3%); day 3: long D (+0.5%), short A (+1%)
    np.testing.assert_allclose(gross, [0.03, -0.04, -0.005], rtol=0, atol=1e-15)
    # opening both legs: 2 half-turns; B out and C in: 2; A from long to short (2), C out, D in: 4
    np.testing.assert_array_equal(turnover, [2.0, 2.0, 4.0])
    np.testing.assert_allclose(net, [0.029, -0.041, -0.007], rtol=0, atol=1e-15)
    record, _ = evaluate(hand_table(), PortfolioConfig(k=[1], cost_bps=5.0, draws=0), seed=0)
    k1 = record.long_short["1"]
    assert k1.gross.mean_pct == pytest.approx(100 * (0.03 - 0.04 - 0.005) / 3, abs=1e-12)
    assert k1.net_before_2010_pct == pytest.approx(100 * (0.029 - 0.041) / 2, abs=1e-12)
    assert k1.net_from_2010_pct == pytest.approx(-0.7, abs=1e-12)
    assert k1.net.max_drawdown_pct == pytest.approx(100 * (1 - 1.029 * 0.959 * 0.993 / 1.029), abs=1e-12)
    assert (k1.net.turnover, k1.net.positive_share, k1.net.days) == (pytest.approx(8 / 3), pytest.approx(1 / 3), 3)
    pool = np.mean([[RETURNS[t][i] for t in RETURNS] for i in range(3)], axis=1)
    assert record.pool.mean_pct == pytest.approx(100 * pool.mean(), abs=1e-12)


def test_a_ticker_without_a_return_that_day_is_not_ranked() -> None:
    scores = np.array([[3.0, np.nan, 1.0, 2.0, 0.0]])
    np.testing.assert_array_equal(positions(scores, 2), [[0.5, 0.0, -0.5, 0.5, -0.5]])
    np.testing.assert_array_equal(positions(scores, 3), [[0.0] * 5])  # 4 ranked: too few for two legs of 3


def test_newey_west_equals_the_plain_t_statistic_for_white_noise_in_large_samples() -> None:
    r = np.random.default_rng(0).normal(0.001, 0.01, 20000)
    plain = r.mean() / (r.std(ddof=0) / np.sqrt(len(r)))
    assert newey_west_t(r) == pytest.approx(plain, rel=0.03)


def test_random_rankings_earn_the_pools_long_minus_short_mean_that_is_nothing() -> None:
    """Property: a random long-short ranking's expected return is the pool's mean minus the pool's mean, 0; over
    many draws its mean daily return stays within noise of it whatever the pool does."""
    rng = np.random.default_rng(1)
    for trial in range(5):
        realised = rng.normal(rng.normal(0, 0.001), 0.02, size=(250, 40))
        means = [long_short(rng.random(realised.shape), realised, 5, 0.0)[0].mean() for _ in range(200)]
        standard_error = np.std(means, ddof=1) / np.sqrt(len(means))
        assert abs(np.mean(means)) < 4 * standard_error, trial


def test_k_larger_than_half_the_pool_is_refused_in_one_line() -> None:
    cfg = Config(scope="global", tickers=["AAPL", "MSFT", "IBM", "GOOG", "SP500"])
    cfg.portfolio.k = [2, 3]
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == (
        "portfolio.k=3 is more than half the pool of 5 tickers: each leg takes k stocks, so k <= 2"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k": [10]}, "portfolio.k=[10] needs scope=global: a portfolio ranks the tickers of a pool"),
        ({"k": [0, 1]}, "portfolio.k must hold distinct whole numbers >= 1, stocks per leg (got [0, 1]): e.g. "
         "portfolio.k=[10,50]"),
        ({"cost_bps": float("nan")}, "portfolio.cost_bps must be a finite number >= 0, basis points per half-turn "
         "(got nan): e.g. portfolio.cost_bps=5"),
        ({"cost_bps": -1.0}, "portfolio.cost_bps must be a finite number >= 0, basis points per half-turn (got -1.0): "
         "e.g. portfolio.cost_bps=5"),
        ({"draws": -1}, "portfolio.draws must be between 0 and 10000 random rankings (got -1): e.g. "
         "portfolio.draws=100"),
    ],
)  # fmt: skip
def test_bad_portfolio_options_fail_in_one_line(changes: dict[str, object], message: str) -> None:
    cfg = Config()
    for key, value in changes.items():
        setattr(cfg.portfolio, key, value)
    if changes.get("k") == [0, 1]:
        cfg.scope, cfg.tickers = "global", ["AAPL", "MSFT", "IBM", "GOOG"]
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value) == message


def test_positions_for_a_day_use_the_forecasts_of_the_day_before_only(quick_config: Config, tmp_path: Path) -> None:
    """Perturb every ticker's prices on one test day t: the forecasts ranked for t (made at t-1), and so the
    positions, do not move; t's returns do."""
    cfg = quick_config
    cfg.scope, cfg.tickers, cfg.forecast.intervals = "global", ["AAPL", "MSFT", "IBM", "GOOG"], "none"
    cfg.portfolio.k, cfg.portfolio.draws = [1, 2], 20
    cfg.portfolio.baselines, cfg.portfolio.forest_trees, cfg.portfolio.forest_depth = ["logistic", "forest"], 5, 3
    day = "2012-09-04"
    records, panels = [], []
    for name in ("base", "moved"):
        if name == "moved":
            move_prices(cfg.data.snapshot_dir, cfg.tickers, day)
        records.append(run(validate(cfg), tmp_path / name))
        panels.append(daily_panel(pd.read_csv(tmp_path / name / "forecasts.csv")))
    (a, b), t = panels, pd.Timestamp(day)
    typed = read_back(tmp_path / "base").portfolio
    assert (
        typed is not None
        and typed.baselines["forest"]["2"].net.days == records[0].portfolio.baselines["forest"]["2"].net.days
    )
    assert t in a.forecast.index and a.forecast.index[0] < t  # a test day, not the first
    earlier = a.forecast.index <= t
    pd.testing.assert_frame_equal(a.forecast[earlier], b.forecast[earlier], check_exact=True)
    pd.testing.assert_frame_equal(a.previous[earlier], b.previous[earlier], check_exact=True)  # short-term reversal
    assert list(a.baselines) == ["logistic", "forest"] and a.baselines["forest"].notna().all().all()
    for name in ("logistic", "forest"):  # fitted on the training span, fed returns up to the day before
        pd.testing.assert_frame_equal(a.baselines[name][earlier], b.baselines[name][earlier], check_exact=True)
    for k in (1, 2):
        np.testing.assert_array_equal(positions(a.forecast.loc[[t]].to_numpy(), k),
                                      positions(b.forecast.loc[[t]].to_numpy(), k))  # fmt: skip
    assert not np.allclose(a.realised.loc[t], b.realised.loc[t])
    base, moved = (r.portfolio for r in records)
    assert base is not None and moved is not None and base.long_short["1"].gross.days > 100
    assert base.long_short["1"].gross.mean_pct != moved.long_short["1"].gross.mean_pct
    assert list(base.baselines) == ["str", "logistic", "forest"] and list(base.baselines["str"]) == ["1", "2"]
    assert (tmp_path / "base" / "plots" / "portfolio.png").exists()


def test_the_headline_gives_each_k_before_and_after_costs_beside_the_random_band() -> None:
    from forecast.reporting.money_lines import portfolio_lines
    from forecast.store.record import RunRecord

    record, _ = evaluate(hand_table(), PortfolioConfig(k=[1], draws=10), seed=0)
    assert portfolio_lines(RunRecord(portfolio=record)) == [
        "long-short k=1: -0.500% a day before costs, -0.633% after 5 bp per half-turn (Newey-West t -0.54, Sharpe "
        "-2.87, max drawdown 4.8%); random rankings 5-95%: -1.392..+1.717% after costs",
        "equal-weight pool held long: +0.458% a day (Sharpe 100.82)",
        "like Fischer & Krauss, k=1: 33.33% of the picks on the right side of the day's median (all stocks 41.67%); "
        "-0.700% a day after 4 half-turns a day; no breakeven cost (it loses before costs); before costs by era: "
        "..2009 -0.500% (t n/a), 2010..2015 -0.500% (t n/a)",
        "short-term reversal k=1: +1.333% a day before costs (Newey-West t 1.87); +1.233% after costs; breakeven "
        "66.7 bp per half-turn",
    ]
    assert portfolio_lines(RunRecord()) == []


def test_the_report_sets_each_jobs_portfolios_beside_the_papers_row(tmp_path: Path) -> None:
    from forecast.reporting.sweep.money import money_section
    from forecast.store.record import RunRecord

    record, _ = evaluate(hand_table(), PortfolioConfig(k=[1], draws=10), seed=0)
    config = {"model": {"num_layers": 1, "hidden_size": 25}}
    RunRecord(status="completed", model="lstm", portfolio=record, config=config).write(tmp_path / "0_lstm")
    RunRecord(status="completed", model="gru").write(tmp_path / "1_gru")  # no portfolio: no row
    lines = money_section(tmp_path, pd.DataFrame({"job": ["0_lstm", "1_gru"]}))
    assert lines[0] == "## Forecasts in money: long-short portfolios"
    table = [line for line in "\n".join(lines).splitlines() if line.startswith("|")]
    assert len(table) == 4  # header, rule, the job's k=1, the paper's k=10
    cells = [[c.strip() for c in row.split("|")[1:-1]] for row in table[2:]]
    assert cells[0][:6] == ["0_lstm", "lstm 1x25", "1", "-0.500", "-0.633", "-0.538"]  # Newey-West t after costs
    assert cells[1][:7] == ["Fischer & Krauss 2018", "lstm 1x25 classifier", "10", "0.460", "0.260", "", "5.800"]
    header = [c.strip() for c in table[0].split("|")[1:-1]]
    assert header[13:] == ["picks right %", "after 4 half-turns %/day", "breakeven bp", "before costs ..2009",
                           "before costs 2010..2015"]  # fmt: skip
    assert cells[1][13:] == ["", "0.260", "11.500", "", ""]  # the paper's cost convention; its breakeven, derived
    assert money_section(tmp_path, pd.DataFrame({"job": ["1_gru"]})) == []


def test_random_rankings_sorted_once_equal_the_rule_run_on_each_draw() -> None:
    """The random band sorts each draw once for every k and trades the chosen tickers alone: the same positions as
    long_short on it, so the same returns up to the order of a sum's terms."""
    from forecast.evaluation.money.portfolio import random_rankings

    rng = np.random.default_rng(2)
    realised = rng.normal(0, 0.02, size=(60, 12))
    realised[rng.random(realised.shape) < 0.2] = np.nan  # missing returns: fewer ranked tickers some days
    fast = random_rankings(realised, [1, 3, 5], 5e-4, 4, seed=7)
    for k in (1, 3, 5):
        draws = np.random.default_rng(7)
        for gross, net in fast[k]:
            g, _, n = long_short(draws.random(realised.shape), realised, k, 5e-4)
            np.testing.assert_allclose(gross, g, rtol=0, atol=1e-16)
            np.testing.assert_allclose(net, n, rtol=0, atol=1e-16)


def test_a_k_that_no_day_can_hold_says_so_instead_of_a_zero_return(caplog: pytest.LogCaptureFixture) -> None:
    """Two of four tickers dropped out: k=2 needs 4 ranked stocks a day and the pool has 2, so nothing trades."""
    from forecast.reporting.money_lines import portfolio_lines
    from forecast.store.record import RunRecord

    table = hand_table()
    record, _ = evaluate(table[table["ticker"].isin(["A", "B"])], PortfolioConfig(k=[1, 2], draws=0), seed=0)
    assert (record.long_short["1"].days_traded, record.long_short["2"].days_traded, record.most_ranked) == (3, 0, 2)
    idle = (
        "long-short k=2: never traded: no test day had 4 ranked stocks (at most 2); lower portfolio.k or widen the pool"
    )
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [idle]
    assert portfolio_lines(RunRecord(portfolio=record))[1] == idle
