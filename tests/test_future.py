"""Forecasting the future: the exchange calendar, interval maths and coverage, the inputs of the future path."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from forecast.config.schema import TrainerConfig
from forecast.data.calendar import next_sessions
from forecast.data.dataset import WindowedData, build_windows, latest_window
from forecast.errors import DataError
from forecast.evaluation.future import Bands, add_intervals, bands_for, future_path, row_sigmas
from forecast.evaluation.inference import forecast_table, predict_returns
from forecast.evaluation.intervals.adaptive import Control
from forecast.evaluation.intervals.conformal import conformal_scale, crps_gaussian, pinball, winkler
from forecast.evaluation.scores import interval_scores
from forecast.models.recurrent import RecurrentForecaster
from forecast.training.loop import fit
from forecast.training.losses import loss_for
from tests.helpers import random_walk

CPU = torch.device("cpu")
TAUS = [0.05, 0.5, 0.95]


def days(index: pd.DatetimeIndex) -> list[str]:
    return [str(d.date()) for d in index]


def test_sessions_skip_holidays_and_closures_and_keep_early_closes() -> None:
    assert days(next_sessions(pd.Timestamp("2026-11-25"), 3)) == ["2026-11-27", "2026-11-30", "2026-12-01"]
    assert days(next_sessions(pd.Timestamp("2025-01-08"), 2)) == ["2025-01-10", "2025-01-13"]  # Carter day of mourning
    assert days(next_sessions(pd.Timestamp("2026-07-02"), 1)) == ["2026-07-06"]  # 3 July observed for the 4th
    # a Friday before a Monday holiday (Martin Luther King Jr. Day, 2026-01-19)
    assert days(next_sessions(pd.Timestamp("2026-01-16"), 4)) == [
        "2026-01-20",
        "2026-01-21",
        "2026-01-22",
        "2026-01-23",
    ]
    assert days(next_sessions(pd.Timestamp("2026-11-25"), 1, "XLON")) == ["2026-11-26"]  # London trades on Thanksgiving


def test_a_last_date_that_is_not_a_session_is_named() -> None:
    with pytest.raises(DataError) as info:
        next_sessions(pd.Timestamp("2026-11-26"), 5)
    assert str(info.value) == (
        "the data's last date 2026-11-26 is not a trading session of XNYS (a weekend or holiday row?): drop that row, "
        "end the data at a session with data.end, or name the exchange with calendar=<code>"
    )


def test_interval_scores_on_a_worked_example() -> None:
    actual, lower, upper = np.array([10.0, 8.0, 13.0]), np.array([9.0, 9.0, 9.0]), np.array([11.0, 11.0, 11.0])
    # 90%: misses are penalised 2 / 0.1 = 20 per unit outside
    np.testing.assert_allclose(winkler(actual, lower, upper, 0.9), [2.0, 2.0 + 20.0, 2.0 + 40.0])
    np.testing.assert_allclose(pinball(np.array([1.0, 1.0]), np.array([0.0, 2.0]), 0.9), [0.9, 0.1])
    assert conformal_scale(np.arange(1.0, 10.0), 0.8) == 8.0  # ceil(10 * 0.8) = 8th smallest of 9
    assert conformal_scale(np.arange(1.0, 10.0), 0.95) == math.inf  # too few residuals for 95%


def test_gaussian_crps_equals_its_integral_definition() -> None:
    """CRPS(F, y) = integral of (F(x) - 1{x >= y})^2 dx, computed numerically as the reference."""
    for y, mu, sigma in ((0.3, 0.0, 1.0), (-2.0, 0.5, 0.7), (1e-3, 2e-3, 0.01)):

        def integrand(x: float, y: float = y, mu: float = mu, sigma: float = sigma) -> float:
            return float((norm.cdf(x, mu, sigma) - (x >= y)) ** 2)

        lo, hi = mu - 12 * sigma, mu + 12 * sigma
        reference = (
            integrate.quad(integrand, lo, y, epsabs=1e-13)[0] + integrate.quad(integrand, y, hi, epsabs=1e-13)[0]
        )
        got = crps_gaussian(np.array([y]), np.array([mu]), np.array([sigma]))[0]
        assert got == pytest.approx(reference, rel=1e-6)


@pytest.fixture(scope="module")
def walk() -> WindowedData:
    """A Gaussian random walk (daily sd 1%) with 2,016 test days and 924 validation days."""
    rng = np.random.default_rng(0)
    price = 50 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 4200)))
    frame = pd.DataFrame({"adj_close": price}, index=pd.bdate_range("2001-01-01", periods=4200, name="date"))
    return build_windows(frame, 10, 1, (0.3, 0.22, 0.48))


def trained(data: WindowedData, loss: str) -> tuple[RecurrentForecaster, pd.DataFrame, Bands]:
    torch.manual_seed(0)
    quantiles = len(TAUS) if loss == "quantile" else 0
    model = RecurrentForecaster(
        cell="gru", n_features=1, hidden_size=8, num_layers=1, horizon=1, impl="torch", quantiles=quantiles
    )
    settings = TrainerConfig(max_epochs=8, lr=1e-2, progress=False, patience=50)
    fit(model, data.part("train"), data.part("val"), settings, loss_fn=loss_for(loss, TAUS))
    table = forecast_table(data, predict_returns(model, data.inputs, 1, "direct", CPU), TAUS)
    bands = bands_for(loss, "conformal", [0.8, 0.9], TAUS, table, "ewma", Control())
    return model, add_intervals(table, bands), bands


def coverage(table: pd.DataFrame, bands: Bands) -> dict[str, Any]:
    test = table[table["split"] == "test"]
    scores = interval_scores(test, bands.levels(), bands.method, row_sigmas(test, bands), bands.taus)
    return {name: level.coverage for name, level in scores.levels.items()}


def test_conformal_intervals_cover_what_they_promise(walk: WindowedData) -> None:
    assert (walk.split == 2).sum() == 2016
    _, table, bands = trained(walk, "mse")
    got = coverage(table, bands)
    assert got["90"] == pytest.approx(0.90, abs=0.03) and got["80"] == pytest.approx(0.80, abs=0.03)


def test_the_quantile_head_covers_its_range_and_never_crosses(walk: WindowedData) -> None:
    model, table, bands = trained(walk, "quantile")
    assert bands.levels() == ["90"]
    assert coverage(table, bands)["90"] == pytest.approx(0.90, abs=0.04)
    out = model(walk.inputs[:500])
    assert out.shape == (500, 1, 3) and bool((out.diff(dim=-1) >= 0).all())
    assert (table["q0.05"] <= table["predicted"]).all() and (table["predicted"] <= table["q0.95"]).all()


def test_conformal_scales_read_the_validation_span_only(walk: WindowedData) -> None:
    _, table, bands = trained(walk, "mse")
    moved = table.drop(columns=[c for c in table if c.startswith(("lower_", "upper_"))])
    test = moved["split"] == "test"
    moved.loc[test, "actual"] *= np.exp(np.random.default_rng(1).normal(0, 0.2, int(test.sum())))
    again = bands_for("mse", "conformal", [0.8, 0.9], TAUS, moved, "ewma", Control())
    assert again == bands


def test_the_future_path_depends_on_the_last_window_only() -> None:
    frame = random_walk(600, seed=3, start="2012-01-02").loc[:"2014-04-16"]  # business days, to a Wednesday session
    data = build_windows(frame, 20, 3, (0.7, 0.15, 0.15))
    torch.manual_seed(0)
    model = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=8, num_layers=1, horizon=3)
    bands = Bands("conformal", scales={"90": [0.01, 0.02, 0.03]})

    def path(prices: pd.DataFrame) -> pd.DataFrame:
        latest = latest_window(prices, ("log_return",), data.scaler, 20)
        close = float(prices["adj_close"].iloc[-1])
        return future_path(model, latest, prices.index[-1], close, data.scaler, 3, "direct", bands, "XNYS", CPU)

    base = path(frame)
    returns = np.diff(np.log(frame["adj_close"].to_numpy()))[-20:, None]  # the last window's inputs
    expected = torch.from_numpy(data.scaler.transform(returns).astype(np.float32)).unsqueeze(0)
    assert torch.equal(latest_window(frame, ("log_return",), data.scaler, 20), expected)
    assert list(base["date"]) == ["2014-04-17", "2014-04-21", "2014-04-22"]  # Good Friday 2014-04-18 closed
    early = frame.copy()
    early.iloc[: len(frame) - 21, early.columns.get_loc("adj_close")] *= 3.0  # days before the last window's inputs
    pd.testing.assert_frame_equal(path(early), base)
    late = frame.copy()
    late.iloc[-1, late.columns.get_loc("adj_close")] *= 1.05
    assert not np.allclose(path(late)["predicted"], base["predicted"])
    np.testing.assert_allclose(base["upper_90"] / base["predicted"], np.exp([0.01, 0.02, 0.03]))


def test_recursive_forecasts_feed_back_their_own_returns() -> None:
    data = build_windows(random_walk(300, seed=4), 12, 3, (0.7, 0.15, 0.15))
    torch.manual_seed(0)
    model = RecurrentForecaster(cell="rnn", n_features=1, hidden_size=6, num_layers=1, horizon=1).eval()
    x = data.inputs[:5]
    got = predict_returns(model, x, 3, "recursive", CPU)
    with torch.no_grad():
        r1 = model(x)
        r2 = model(torch.cat([x[:, 1:], r1.unsqueeze(-1)], 1))
        r3 = model(torch.cat([x[:, 2:], r1.unsqueeze(-1), r2.unsqueeze(-1)], 1))
    np.testing.assert_allclose(got, torch.cat([r1, r2, r3], 1).double().numpy(), rtol=1e-6)


def test_a_quantile_head_forecasts_quantiles_of_the_move_since_the_origin() -> None:
    """Step h's quantile is that of the h-day log return: price = last * exp(std * q + h * mean)."""
    from forecast.data.scaling import Standardizer
    from forecast.evaluation.inference import price_columns
    from forecast.training.losses import pinball_loss

    scaler = Standardizer(mean=np.array([0.001]), std=np.array([0.02]))
    cumulative = np.array([[[-1.0, 0.0, 1.0], [-1.5, 0.2, 1.6]]])  # (1 origin, 2 steps, 3 quantiles), scaled
    paths = price_columns(np.array([100.0]), cumulative, scaler, TAUS)
    expected_high = 100 * np.exp(0.02 * np.array([1.0, 1.6]) + 0.001 * np.array([1, 2]))
    np.testing.assert_allclose(paths["q0.95"][0], expected_high, rtol=1e-12)
    np.testing.assert_allclose(
        paths["predicted"][0], 100 * np.exp(0.02 * np.array([0.0, 0.2]) + 0.001 * np.array([1, 2]))
    )
    target = torch.tensor([[0.5, 0.5]])  # daily scaled returns: the move to step 2 is 1.0
    exact = torch.tensor([[[0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]])
    assert float(pinball_loss(TAUS)(exact, target)) == 0.0


def test_a_level_the_validation_span_cannot_calibrate_is_refused_not_printed_infinite() -> None:
    from forecast.errors import ConfigError
    from forecast.evaluation.intervals.conformal import conformal_scales

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"split": "val", "step": 1, "actual": 100 * np.exp(rng.normal(0, 0.01, 150)),
                          "predicted": 100.0})  # fmt: skip
    assert np.isfinite(conformal_scales(table, [0.99])["99"][0])  # ceil(151 x 0.99) = 150 <= 150
    with pytest.raises(ConfigError) as err:
        conformal_scales(table, [0.9, 0.999])
    assert str(err.value) == (
        "forecast.levels=0.999 needs at least 999 validation forecasts per step for a finite band, and this run has "
        "150: the largest level they support is 0.993; lower the level or lengthen the validation span"
    )
