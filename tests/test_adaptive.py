"""Adaptive intervals: the online update by hand, volatility forecasts, a regime switch, the exchangeability alarm."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecast.evaluation.intervals.adaptive import CAP, Control, Online, quantile
from forecast.evaluation.intervals.conformal import conformal_scale
from forecast.evaluation.intervals.coverage import AFTER_BREAK, after_breaks, path_scores
from forecast.evaluation.intervals.exchangeability import alarm
from forecast.evaluation.intervals.garch_mle import fit_garch, negative_loglik, with_gradient
from forecast.evaluation.intervals.online import online_tables, run_online
from forecast.evaluation.intervals.pid import saturation
from forecast.evaluation.intervals.volatility import Garch, VolState, ewma_variance, row_volatility, volatility_terciles
from tests.helpers import SNAPSHOT


def test_the_online_update_matches_a_worked_example() -> None:
    """Known scores 1..20, level 0.9, alpha 0.1, gamma 0.1. Day 1: q = the 19th of 20 (ceil(21 x 0.9)) = 19; its
    score 25 misses, alpha = 0.1 + 0.1 (0.1 - 1) = 0.01. Day 2: level 0.99 asks for the 22nd of 21 scores: capped
    at 2 x 25 = 50; 5 is covered, alpha = 0.02. Day 3: the 23rd of 22: capped, 50; 3 covered, alpha = 0.03."""
    q, after = run_online(
        np.array([25.0, 5.0, 3.0]), 1, 0.9, Control(gamma=0.1), Online(0.1, [float(v) for v in range(1, 21)])
    )
    assert q.tolist() == [19.0, 50.0, 50.0]
    assert after.alpha == pytest.approx(0.03, abs=1e-12)
    assert after.capped == 2
    assert after.scores == [*map(float, range(1, 21)), 25.0, 5.0, 3.0]


def test_a_two_step_band_learns_an_outcome_two_origins_later() -> None:
    """Step 2: day 2's band still knows nothing of day 1's outcome (q stays 19); day 3's does (alpha 0.01: capped)."""
    q, after = run_online(
        np.array([25.0, 5.0, 3.0]), 2, 0.9, Control(gamma=0.1), Online(0.1, [float(v) for v in range(1, 21)])
    )
    assert q.tolist() == [19.0, 19.0, 50.0]
    assert after.capped == 1
    assert after.alpha == pytest.approx(0.1 - 0.09 + 0.01 + 0.01, abs=1e-12)  # 5 < 19 and 3 < 50 were covered


def test_pid_control_matches_a_worked_example() -> None:
    """Known scores 1..20, level 0.9 (target miss 0.1), lr 0.5, ki 1, csat 1. Day 1: p starts at the conformal
    quantile, the 19th of 20 = 19; no error yet, so q = 19; 25 misses: p = 19 + 0.5 (1 - 0.1) = 19.45, E = 0.9,
    t = 2. Day 2: q = 19.45 + tan(0.9 log 2 / 2); 5 is covered: p = 19.45 - 0.05 = 19.4, E = 0.8, t = 3. Day 3:
    q = 19.4 + tan(0.8 log 3 / 3); 30 misses: p = 19.85, E = 1.7."""
    control = Control("pid", lr=0.5, ki=1.0, csat=1.0)
    q, after = run_online(
        np.array([25.0, 5.0, 3.0 * 10]), 1, 0.9, control, Online(0.1, [float(v) for v in range(1, 21)])
    )
    assert q.tolist() == pytest.approx(
        [19.0, 19.45 + math.tan(0.9 * math.log(2) / 2), 19.4 + math.tan(0.8 * math.log(3) / 3)], abs=1e-12
    )
    assert (after.p, after.errors, after.seen, after.capped) == pytest.approx((19.85, 1.7, 3, 0), abs=1e-12)
    assert after.alpha == 0.1  # the level stays at its target: PID moves the quantile
    assert saturation(400.0, 3, 1.0, 1.0) == math.inf  # the integrator saturates: the band is then capped
    q, _ = run_online(np.array([25.0]), 1, 0.9, control, Online(0.1, [1.0] * 20, p=19.0, errors=400.0, seen=3))
    assert q.tolist() == [CAP * 1.0]


def test_path_bands_joint_coverage_by_hand() -> None:
    """Two origins of three steps: origin A's steps all inside its path band, origin B's second step outside it:
    joint coverage 1/2. The per-step bands (narrower) miss A's third step too: 0/2. Bonferroni's (wider): 2/2."""
    test = pd.DataFrame({"origin_date": ["A"] * 3 + ["B"] * 3, "step": [1, 2, 3] * 2, "persistence": 100.0,
                         "actual": [100.0, 101.0, 104.0, 100.0, 108.0, 100.0]})  # fmt: skip
    test["path_lower_90"], test["path_upper_90"] = 95.0, 105.0
    test["lower_90"], test["upper_90"] = 97.0, 103.0
    test["bonferroni_lower_90"], test["bonferroni_upper_90"] = 90.0, 110.0
    scores = path_scores(test, ["90"])["90"]
    assert (scores.joint, scores.steps_joint, scores.bonferroni_joint, scores.paths) == (0.5, 0.0, 1.0, 2)
    assert (scores.width, scores.bonferroni_width) == (10.0, 20.0)


def test_the_path_walk_scores_each_origin_by_its_worst_step_once_its_last_step_is_known() -> None:
    """Rows of 2 steps: a path's score is the larger of its steps' normalised scores, and the path band of both
    steps scales that one quantile by each step's own volatility."""
    prices = garch_prices(1400, switch=10_000, scale=1.0, seed=1)
    origins = np.arange(1000, 1397)
    columns, _ = row_volatility(prices, (0, 1000), origins, 2)
    dates = pd.bdate_range("2000-01-03", periods=len(prices)).strftime("%Y-%m-%d").to_numpy()
    day = (origins[:, None] + np.array([1, 2])).ravel()
    table = pd.DataFrame({"step": np.tile([1, 2], len(origins)), "split": np.repeat(np.where(origins < 1200, "val", "test"), 2),
                          "actual": prices[day], "predicted": np.repeat(prices[origins], 2), "persistence": np.repeat(prices[origins], 2), "date": dates[day],
                          "origin_date": np.repeat(dates[origins], 2), **columns})  # fmt: skip
    (out,) = online_tables([table], [0.9], "ewma", Control(gamma=0.02), path=True).tables
    test = out[out["split"] == "test"]
    q = np.log(test["path_upper_90"] / test["predicted"]) / test["vol_ewma"]
    assert np.allclose(q.to_numpy().reshape(-1, 2)[:, 0], q.to_numpy().reshape(-1, 2)[:, 1], rtol=1e-9)
    joint = path_scores(test, ["90"])["90"]
    assert abs(joint.joint - 0.9) < 0.06 and joint.width < joint.bonferroni_width


def test_a_band_is_never_infinite() -> None:
    assert quantile([], 0.9) == (0.0, True)
    assert quantile([1.0] * 5, 0.9) == (CAP * 1.0, True)  # fewer than MIN_KNOWN scores
    assert quantile([float(v) for v in range(1, 41)], 1.2) == (CAP * 40.0, True)
    assert quantile([float(v) for v in range(1, 41)], -0.1) == (0.0, False)


def test_ewma_and_garch_filters_match_their_recursions() -> None:
    r = np.array([np.nan, 0.01, -0.02, 0.005])
    v, expected = ewma_variance(r, 0.94, 1e-4), []
    prev = 1e-4
    for x in np.nan_to_num(r):
        prev = 0.94 * prev + 0.06 * x**2
        expected.append(prev)
    assert v.tolist() == pytest.approx(expected, rel=1e-12)
    g = Garch(mu=0.05, omega=0.02, alpha=0.1, beta=0.85)
    s2 = g.variance(r, start=1.0) * 1e4
    prev, expected = 1.0, []
    for x in np.nan_to_num(100 * r):
        prev = 0.02 + 0.1 * (x - 0.05) ** 2 + 0.85 * prev
        expected.append(prev)
    assert s2.tolist() == pytest.approx(expected, rel=1e-12)
    # three days ahead from a one-day variance of 1e-4: V + 0.95^k (1e-4 - V), V = 0.02 / 0.05 / 1e4
    long_run = 0.4e-4
    daily = [long_run + 0.95**k * (1e-4 - long_run) for k in range(3)]
    assert g.horizon_variance(np.array([1e-4]), 3)[0].tolist() == pytest.approx(np.cumsum(daily).tolist(), rel=1e-12)


def test_the_volatility_state_continues_exactly_where_the_full_filter_is() -> None:
    returns = np.random.default_rng(0).standard_normal(300) * 0.01
    g = Garch(mu=0.0, omega=0.02, alpha=0.1, beta=0.85)
    start = VolState(ewma=float(ewma_variance(returns[:200], 0.94, 1e-4)[-1]), garch=g,
                     garch_variance=float(g.variance(returns[:200], 1.0)[-1]))  # fmt: skip
    later = start.then(returns[200:])
    assert later.ewma == pytest.approx(float(ewma_variance(returns, 0.94, 1e-4)[-1]), rel=1e-12)
    assert later.garch_variance == pytest.approx(float(g.variance(returns, 1.0)[-1]), rel=1e-12)


def test_garch_on_the_shipped_index_matches_the_arch_documentation() -> None:
    """arch's S&P 500 example (``arch_model(100 * pct_change)``, 1999-2018) prints omega 0.0177, alpha 0.1019,
    beta 0.8853; the shipped ^GSPC over the same days (the same prices as ``arch.data.sp500``) gives those to
    1e-3 (0.0175, 0.1022, 0.8852 with arch 8: the documented figures came from an older build)."""
    prices = pd.read_csv(SNAPSHOT / "_GSPC.csv", index_col="date")["adj_close"].loc["1999-01-01":"2018-12-31"]
    fitted = Garch.fit(prices.pct_change().dropna().to_numpy())
    assert (fitted.omega, fitted.alpha, fitted.beta) == pytest.approx((0.0177, 0.1019, 0.8853), abs=1e-3)
    assert fitted.mu == pytest.approx(0.0564, abs=1e-3)


@pytest.mark.parametrize("name", ["AAPL", "MSFT", "IBM", "GOOG", "_GSPC"])
def test_the_garch_fit_gives_archs_variance_paths(name: str) -> None:
    """``garch_mle`` takes arch's steps with the exact gradient: on every shipped series, the one-day variance
    forecasts it filters are arch's to 1e-3 relative (the likelihood is flat near its top: the parameters agree
    less closely than the variances they give)."""
    from arch import arch_model

    prices = pd.read_csv(SNAPSHOT / f"{name}.csv")["adj_close"].to_numpy()
    r = 100 * np.diff(np.log(prices))
    p = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1).fit(disp="off", show_warning=False).params
    theirs = Garch(p["mu"], p["omega"], p["alpha[1]"], p["beta[1]"]).variance(r / 100, float(np.var(r)))
    ours = Garch(*fit_garch(r)).variance(r / 100, float(np.var(r)))
    assert np.abs(ours / theirs - 1).max() < 1e-3


def test_the_garch_gradient_is_the_likelihoods_own() -> None:
    """The adjoint gradient (one backward filter) equals central differences of the negative log-likelihood on
    the shipped AAPL returns, in all four parameters, at a point away from the optimum (where it is not ~0)."""
    prices = pd.read_csv(SNAPSHOT / "AAPL.csv")["adj_close"].to_numpy()
    r = 100 * np.diff(np.log(prices))
    theta, backcast = np.array([0.05, 0.1, 0.08, 0.88]), float(np.var(r))
    value, grad = with_gradient(theta, r, backcast)
    assert value == pytest.approx(negative_loglik(theta, r, backcast), rel=1e-12)
    steps = 1e-6 * np.eye(4)
    numeric = [
        (negative_loglik(theta + d, r, backcast) - negative_loglik(theta - d, r, backcast)) / 2e-6 for d in steps
    ]
    assert grad == pytest.approx(numeric, rel=1e-5)
    assert np.abs(grad).min() > 10  # a real slope in every parameter, not a flat point


def garch_prices(n: int, switch: int, scale: float, seed: int) -> np.ndarray:
    """A GARCH(1,1) path (1% daily volatility in the long run) whose returns are ``scale`` times larger from day
    ``switch`` on: a volatility regime switch."""
    rng = np.random.default_rng(seed)
    s2, r = 1.0, np.empty(n)
    for t in range(n):
        e = rng.standard_normal() * np.sqrt(s2)
        r[t] = e * (scale if t >= switch else 1.0)
        s2 = 0.02 + 0.08 * e**2 + 0.9 * s2
    return 100 * np.exp(np.cumsum(r / 100))


def persistence_table(prices: np.ndarray, n_train: int, n_val: int) -> pd.DataFrame:
    """One-step forecasts of no move from every origin after the training span, with the volatility columns."""
    origins = np.arange(n_train - 1, len(prices) - 1)
    columns, _ = row_volatility(prices, (0, n_train), origins, 1)
    split = np.where(origins + 1 < n_train + n_val, "val", "test")
    dates = pd.bdate_range("2000-01-03", periods=len(prices)).strftime("%Y-%m-%d").to_numpy()
    return pd.DataFrame({"step": 1, "split": split, "actual": prices[origins + 1], "predicted": prices[origins],
                         "day": origins + 1, "origin_date": dates[origins], "date": dates[origins + 1],
                         **columns})  # fmt: skip


def test_after_a_volatility_switch_static_bands_under_cover_and_adaptive_ones_hold() -> None:
    prices = garch_prices(3000, switch=2000, scale=2.5, seed=0)
    table = persistence_table(prices, n_train=1000, n_val=500)
    (adaptive,) = online_tables([table], [0.9], "garch", Control(gamma=0.005)).tables
    test = adaptive[adaptive["split"] == "test"]
    after = (test["day"] >= 2000).to_numpy()
    inside = ((test["lower_90"] <= test["actual"]) & (test["actual"] <= test["upper_90"])).to_numpy()
    val = table[table["split"] == "val"]
    scale = conformal_scale(np.log(val["actual"] / val["predicted"]).to_numpy(), 0.9)
    static = (np.abs(np.log(test["actual"] / test["predicted"])) <= scale).to_numpy()
    assert static[after].mean() < 0.7  # calibrated on the calm regime: 58% after the switch
    assert abs(inside.mean() - 0.9) <= 0.03
    assert abs(inside[after].mean() - 0.9) <= 0.08
    assert (test["upper_90"] > test["lower_90"]).all() and np.isfinite(test[["lower_90", "upper_90"]]).all().all()


def test_coverage_after_a_break_is_scored_on_the_next_20_sessions_from_its_date() -> None:
    """A volatility break at day 2000 (a known date): the measure pools the 20 test sessions from that date on,
    the break day included; a break before the test span or after it is not scored."""
    prices = garch_prices(3000, switch=2000, scale=2.5, seed=0)
    table = persistence_table(prices, n_train=1000, n_val=500)
    (adaptive,) = online_tables([table], [0.9], "garch", Control(gamma=0.005)).tables
    test = adaptive[adaptive["split"] == "test"]
    day = test.loc[test["day"] == 2000, "date"].iloc[0]
    scores = after_breaks(test, ["90"], ["2000-01-03", day, "2030-01-02"])
    assert list(scores) == [day] and scores[day].sessions == AFTER_BREAK == 20
    first = test[(test["day"] >= 2000) & (test["day"] < 2020)]
    inside = (first["lower_90"] <= first["actual"]) & (first["actual"] <= first["upper_90"])
    assert scores[day].coverage["90"] == float(inside.mean())
    static = after_breaks(
        test.assign(lower_90=test["predicted"] * 0.99, upper_90=test["predicted"] * 1.01), ["90"], [day]
    )
    assert static[day].coverage["90"] < scores[day].coverage["90"]  # a fixed 1% band under-covers after the break
    late = test["date"].iloc[-5]  # 5 sessions left in the span: all of them are scored
    assert after_breaks(test, ["90"], [late])[late].sessions == 5


def test_volatility_terciles_are_cut_on_the_training_span() -> None:
    prices = garch_prices(1200, switch=800, scale=3.0, seed=1)
    origins = np.arange(600, 1199)
    before = volatility_terciles(prices, (0, 600), origins)
    moved = prices.copy()
    moved[900:] *= np.exp(np.cumsum(np.random.default_rng(2).standard_normal(300) * 0.05))
    assert (volatility_terciles(moved, (0, 600), origins)[: 900 - 600 - 21] == before[: 900 - 600 - 21]).all()
    assert (before[origins >= 850] == "high").all()  # three times the training span's volatility


def test_the_alarm_fires_after_a_break_and_not_on_a_shuffled_copy() -> None:
    rng = np.random.default_rng(0)
    scores = np.abs(np.r_[rng.standard_normal(500), 2.5 * rng.standard_normal(500)])
    fired = alarm(scores)
    assert 500 < fired.crossed < 600 and fired.peak > 1e6
    quiet = alarm(np.random.default_rng(1).permutation(scores))
    assert quiet.crossed == -1 and quiet.peak < 100


def test_a_degenerate_garch_fit_falls_back_to_riskmetrics() -> None:
    """IFF's 1999-2001 returns: arch's fit has alpha 4e-10 and beta 0.99999999, a variance that grows by omega every
    day without end (bands 2,000 times the EWMA's by 2002); such a fit is replaced by the EWMA's integrated GARCH."""
    from arch import arch_model

    from forecast.data.sources.shipped import read_universe

    close = read_universe(SNAPSHOT / "sp500_2021_04.parquet").frame("IFF")["adj_close"].loc[:"2002-12-31"]
    returns = np.diff(np.log(close.to_numpy(np.float64)))[: len(close) // 2 - 127]
    raw = arch_model(100 * returns).fit(disp="off", show_warning=False).params
    assert raw["alpha[1]"] < 1e-3 and raw["alpha[1]"] + raw["beta[1]"] > 0.999
    assert Garch.fit(returns) == Garch(0.0, 0.0, 1 - 0.94, 0.94)


def test_a_short_training_span_gets_riskmetrics_and_finite_volatility() -> None:
    prices = garch_prices(300, switch=300, scale=1.0, seed=3)
    assert Garch.fit(np.diff(np.log(prices[:50]))) == Garch(0.0, 0.0, 1 - 0.94, 0.94)  # 49 returns: not fitted
    columns, state = row_volatility(prices, (0, 1), np.arange(10, 299), 2)  # no training return at all
    assert all(np.isfinite(v).all() and (v > 0).all() for v in columns.values())
    assert state.ewma > 0 and state.garch == Garch(0.0, 0.0, 1 - 0.94, 0.94)
