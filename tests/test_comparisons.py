"""Best after every comparison: the model confidence set, SPA and StepM (arch), Clark-West, the deflated Sharpe
ratio and the probability of backtest overfitting, each on a case whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecast.evaluation.comparisons import block_length, confidence_set, daily_losses, run_comparisons, superiority
from forecast.evaluation.honesty import clark_west
from forecast.evaluation.money.overfitting import backtest_overfitting, deflated_sharpe, expected_max_sharpe, moments


def test_the_block_is_the_cube_root_rule_and_never_shorter_than_the_horizon() -> None:
    assert [block_length(n) for n in (195, 1000, 4500)] == [6, 10, 17]
    assert block_length(27, horizon=5) == 5


def test_the_confidence_set_holds_a_clearly_best_model_alone_and_equal_models_all() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(500, 4)) ** 2
    losses = pd.DataFrame(noise, columns=["gru", "lstm", "rnn", "persistence"])
    losses["gru"] -= 0.6  # a loss lower by 0.6 on every day, against a daily spread of about 1.4
    best = confidence_set(losses)
    assert best.included == ["gru"] and best.p_values["gru"] == 1.0
    assert max(p for name, p in best.p_values.items() if name != "gru") < 0.1
    assert (best.level, best.models, best.days, best.block, best.reps) == (0.9, 4, 500, 8, 1000)
    alike = confidence_set(pd.DataFrame(rng.normal(size=(500, 4)) ** 2, columns=["a", "b", "c", "d"]))
    assert alike.included == ["a", "b", "c", "d"]  # four models of one expected loss
    same = np.repeat(rng.normal(size=(500, 1)) ** 2, 3, axis=1)  # the same loss every day: one model, thrice
    equal = confidence_set(pd.DataFrame(np.hstack([same, same[:, :1] + 1]), columns=["a", "b", "c", "worse"]))
    assert equal.included == ["a", "b", "c"] and equal.p_values["a"] == equal.p_values["c"] == 1.0


def test_spa_reproduces_arch_documented_example() -> None:
    """arch's multiple-comparison example: 500 noisy factor regressions against a benchmark, T = 500."""
    sm = pytest.importorskip("statsmodels.api")
    from numpy.random import randn

    np.random.seed(23456)
    seed = np.random.randint(0, 2**31 - 1)
    factors = randn(1000, 3)
    y = factors.dot(np.array([1, 0.5, 0.1]))
    randn(1000)  # the example draws an unused error term
    bm_factors = factors + randn(1000, 3)
    bm_losses = (y[500:] - bm_factors[500:].dot(sm.OLS(y[:500], bm_factors[:500]).fit().params)) ** 2
    model_losses = np.zeros((500, 500))
    for i in range(500):
        mf = factors + randn(1000, 3)
        model_losses[:, i] = (y[500:] - mf[500:].dot(sm.OLS(y[:500], mf[:500]).fit().params)) ** 2
    from forecast.evaluation import comparisons

    result = comparisons.superiority(
        pd.Series(bm_losses, name="benchmark"), pd.DataFrame(model_losses), block=22, seed=seed
    )
    # documented: lower 0.520, consistent 0.723, upper 0.733 (arch 4.x, seeded through RandomState); arch 8 seeds a
    # Generator from the same integer, so the lower p-value is equal and the other two move by half a point
    assert (result.p_lower, result.p_consistent, result.p_upper) == (0.52, 0.718, 0.729)
    assert (result.models, result.days, result.superior) == (500, 500, [])


def test_stepm_names_the_models_that_beat_the_benchmark() -> None:
    rng = np.random.default_rng(1)
    benchmark = pd.Series(rng.normal(size=400) ** 2 + 0.5, name="persistence")
    models = pd.DataFrame(rng.normal(size=(400, 3)) ** 2 + 0.5, columns=["gru seed 0", "gru seed 1", "rnn seed 0"])
    models["gru seed 1"] -= 1.0  # half the benchmark's mean loss
    result = superiority(benchmark, models)
    assert result.superior == ["gru seed 1"] and result.p_consistent < 0.01
    assert (result.benchmark, result.models, result.days, result.block, result.size) == ("persistence", 3, 400, 8, 0.05)


def test_clark_west_by_hand_on_a_small_nested_example() -> None:
    actual, nested, larger = np.array([1.0, 2, 3, 4]), np.zeros(4), np.array([1.0, 1, 2, 3])
    # f = (a - n)^2 - ((a - l)^2 - (n - l)^2) = 1 - (0 - 1), 4 - (1 - 1), 9 - (1 - 4), 16 - (1 - 9) = 2, 4, 12, 24
    f = np.array([2.0, 4, 12, 24])
    t = f.mean() / math.sqrt(((f - f.mean()) ** 2).sum() / 4 / 4)  # 10.5 / sqrt(299 / 16)
    result = clark_west(actual, nested, larger)
    assert result.statistic == pytest.approx(t) == pytest.approx(2.42892, abs=1e-5)
    assert result.p_value == pytest.approx(0.5 * math.erfc(t / math.sqrt(2)))  # one-sided: 1 - Phi(t)
    assert result.n == 4
    lagged = clark_west(actual, nested, larger, horizon=2)  # one Bartlett-weighted autocovariance, weight 1/2
    centred = f - f.mean()
    variance = (centred @ centred + 2 * 0.5 * (centred[1:] @ centred[:-1])) / 4 / 4
    assert lagged.statistic == pytest.approx(f.mean() / math.sqrt(variance))


def test_a_run_compares_its_model_with_every_baseline_by_day() -> None:
    rng = np.random.default_rng(2)
    days = np.repeat(pd.date_range("2020-01-01", periods=300).strftime("%Y-%m-%d"), 3)  # three tickers a day
    last = 1 + 0.01 * rng.normal(size=900)
    actual = last * (1 + 0.01 * rng.normal(size=900))
    test = pd.DataFrame({"date": days, "actual": actual, "persistence": last, "predicted": last, "drift": last * 1.001})
    result = run_comparisons(test, 1)
    assert list(result.confidence_set.p_values) == ["model", "persistence", "drift"]
    assert result.confidence_set.days == 300 and result.confidence_set.loss == "squared errors"
    assert result.clark_west["model"].statistic == 0.0 and result.clark_west["model"].nested == "persistence"
    assert result.clark_west["drift"].n == 300
    losses = pd.DataFrame({"a": [1.0, 2, 3, 5], "b": [0.0, 0, 1, 1]})
    assert daily_losses(losses, np.array(["d2", "d1", "d2", "d1"])).to_dict("list") == {
        "a": [3.5, 2.0],
        "b": [0.5, 0.5],
    }


def test_the_deflated_sharpe_ratio_of_bailey_and_lopez_de_prado_worked_example() -> None:
    """The paper's example: annual SR 2.5 over 5 years of daily returns (T = 1250), the best of N = 100 trials whose
    annualised Sharpe ratios vary by 0.5, skewness -3, kurtosis 10; 250 days a year."""
    sr, variance = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe(100, variance) * math.sqrt(250) == pytest.approx(1.7894, abs=1e-4)
    assert deflated_sharpe(sr, 1250, -3, 10, 100, variance) == pytest.approx(0.9004, abs=1e-4)
    assert deflated_sharpe(sr, 1250, -3, 10, 1, variance) > 0.99  # one trial: nothing to deflate
    # centred -3, -2, -1, 6: m2 = 50 / 4, m3 = 180 / 4, m4 = 1394 / 4
    assert moments(np.array([1.0, 2, 3, 10])) == pytest.approx((45 / 12.5**1.5, 348.5 / 12.5**2))


def test_the_probability_of_backtest_overfitting_on_grids_whose_answer_is_known() -> None:
    # two mirrored configurations whose in-sample winner is always the out-of-sample loser
    blocks = np.concatenate([x + np.tile([0.5, -0.5], 5) for x in (1.0, 2, 4, -7)])
    assert backtest_overfitting(np.stack([blocks, -blocks], axis=1), blocks=4) == (1.0, 6)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(800, 10))
    pbo, halves = backtest_overfitting(noise)
    assert (round(pbo, 4), halves) == (0.5605, 12870)  # no skill anywhere: about a half
    noise[:, 0] += 1  # one configuration better on every day
    assert backtest_overfitting(noise) == (0.0, 12870)
    assert backtest_overfitting(noise[:, :1]) == (pytest.approx(math.nan, nan_ok=True), 0)


def test_a_k_grid_is_deflated_by_its_own_trials() -> None:
    from forecast.evaluation.money.portfolio import selection
    from forecast.reporting.money_lines import selection_lines

    rng = np.random.default_rng(5)
    nets = 0.01 * rng.normal(size=(1000, 3))
    nets[:, 2] += 0.002  # k=100 earns 0.2% a day on top: a daily Sharpe about 0.2
    s = selection(nets, ["10", "50", "100"])
    sharpes = nets.mean(axis=0) / nets.std(axis=0, ddof=1)
    assert s.trials == 3 and s.sharpe_variance == pytest.approx(np.var(sharpes, ddof=1))
    expected = deflated_sharpe(sharpes[2], 1000, *moments(nets[:, 2]), 3, s.sharpe_variance)
    assert s.deflated_sharpe["100"] == pytest.approx(expected) and s.deflated_sharpe["100"] > 0.95
    assert (s.pbo, s.blocks, s.halves) == (0.0, 16, 12870)
    assert selection(nets, ["10", "50", "100"], trials=300).deflated_sharpe["100"] < s.deflated_sharpe["100"]
    assert selection_lines(s) == [
        f"the k grid as 3 trials: deflated Sharpe ratio after costs (probability the true Sharpe exceeds the best of 3 "
        f"unskilled trials) k=10 {s.deflated_sharpe['10']:.2f}, k=50 {s.deflated_sharpe['50']:.2f}, k=100 "
        f"{s.deflated_sharpe['100']:.2f}; probability of backtest overfitting in picking the best k 0.00 (CSCV, 16 "
        "blocks, 12,870 halves)"
    ]


def test_the_sweep_report_names_the_best_models_of_a_constructed_sweep(tmp_path) -> None:
    from forecast.reporting.sweep.best import best_section

    rng = np.random.default_rng(6)
    dates = pd.date_range("2020-01-01", periods=300).strftime("%Y-%m-%d")
    last = 100 + np.cumsum(rng.normal(size=300))
    actual = last + rng.normal(size=300)
    rows = []
    for cell, noise in (("gru", 0.2), ("rnn", 1.5)):  # gru's forecast is the outcome plus small noise
        for seed in (0, 1):
            job = f"{cell}_{seed}"
            (tmp_path / job).mkdir()
            predicted = actual + noise * rng.normal(size=300)
            pd.DataFrame(
                {"date": dates, "split": "test", "step": 1, "actual": actual, "predicted": predicted}
                | {"persistence": last, "drift": last + 0.05}
            ).to_csv(tmp_path / job / "forecasts.csv", index=False)
            rows.append({"job": job, "ticker": "AAPL", "cell": cell, "seed": seed, "horizon": 1})
    done = pd.DataFrame(rows).assign(comparisons_clark_west_model_p_value=[0.001, 0.003, 0.2, 0.4])
    lines = best_section(tmp_path, done)
    assert lines[0] == "## Best models after every comparison"
    table = lines[4].splitlines()
    assert [c.strip() for c in table[0].strip("|").split("|")] == [
        "ticker",
        "days",
        "set of best at 90%",
        "MCS p-values",
        "SPA vs persistence",
        "StepM: beat persistence",
        "Clark-West p (median)",
    ]
    cells = [c.strip() for c in table[2].strip("|").split("|")]
    assert cells[:3] == ["AAPL", "300", "gru"] and cells[3].startswith("gru 1, rnn 0")
    assert cells[4:] == ["p 0 over 4 jobs", "gru seed 0, gru seed 1", "gru 0.002, rnn 0.3"]
