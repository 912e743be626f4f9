"""Column standardisation, validation errors, chronological windows and train-only scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config.schema import Config
from forecast.data.dataset import build_windows
from forecast.data.frames import normalise_columns
from forecast.data.scaling import Standardizer, returns_to_paths
from forecast.data.sources.load import select_dates
from forecast.data.splits import split_bounds
from forecast.data.validation import clean_prices
from forecast.errors import DataError
from tests.helpers import random_walk

FRACS = (0.7, 0.15, 0.15)


@pytest.mark.parametrize(
    ("date_col", "close_col"),
    [("Date", "Adj Close"), ("date", "adj_close"), ("timestamp", "Close"), ("Datetime", "close")],
)
def test_normalise_columns_accepts_common_column_spellings(date_col: str, close_col: str) -> None:
    raw = pd.DataFrame({date_col: ["2020-01-02", "2020-01-03"], close_col: [10.0, 11.0], "Volume": [1, 2]})
    frame = normalise_columns(raw, "t")
    assert list(frame["adj_close"]) == [10.0, 11.0]
    assert frame.index[0] == pd.Timestamp("2020-01-02")
    assert "volume" in frame.columns


def test_standardise_requires_close_and_date() -> None:
    with pytest.raises(DataError, match="no close column"):
        normalise_columns(pd.DataFrame({"Date": ["2020-01-02"], "Open": [1.0]}), "f.csv")
    with pytest.raises(DataError, match="no date column"):
        normalise_columns(pd.DataFrame({"Close": [1.0]}), "f.csv")
    with pytest.raises(DataError, match=r"1 dates could not be parsed, first 'yesterday'"):
        normalise_columns(pd.DataFrame({"Date": ["2020-01-02", "yesterday"], "Close": [1.0, 2.0]}), "f.csv")


def test_clean_prices_rejects_bad_series() -> None:
    frame = random_walk(30)
    neg = frame.copy()
    neg.iloc[5, neg.columns.get_loc("adj_close")] = -1.0
    with pytest.raises(DataError, match=r"X: 1 prices are zero, negative or infinite, first on 2001-01-08"):
        clean_prices(neg, "X", 7)
    dup = pd.concat([frame.iloc[:3], frame.iloc[2:3]])
    with pytest.raises(DataError, match="duplicated dates, first 2001-01-03"):
        clean_prices(dup, "X", 7)
    gap = frame.drop(frame.index[10:25])
    with pytest.raises(DataError, match=r"24-day gap in prices from 2001-01-12 to 2001-02-05"):
        clean_prices(gap, "X", 7)


def test_clean_prices_sorts_and_fills_short_nan_runs() -> None:
    frame = random_walk(30)
    frame.iloc[4:6, frame.columns.get_loc("adj_close")] = np.nan
    out = clean_prices(frame.iloc[::-1], "X", 7)
    assert out.index.is_monotonic_increasing
    assert out["adj_close"].iloc[4] == out["adj_close"].iloc[3] == out["adj_close"].iloc[5]


def test_select_dates_errors() -> None:
    frame = random_walk(30)
    with pytest.raises(DataError, match="data.start=2001-02-01 is after data.end=2001-01-15: swap them"):
        select_dates(frame, "2001-02-01", "2001-01-15", "X")
    with pytest.raises(DataError, match="no trading days between data.start and data.end"):
        select_dates(frame, "2001-01-06", "2001-01-07", "X")  # a weekend


def test_windows_align_inputs_targets_and_origins(aapl: pd.DataFrame) -> None:
    frame = aapl.iloc[:500]
    w, h = 10, 3
    data = build_windows(frame, w, h, FRACS)
    r = np.diff(np.log(frame["adj_close"].to_numpy()))
    scaled = (r - data.scaler.mean[0]) / data.scaler.std[0]  # scaled[k] is day k+1
    for s in (0, 123, len(data.origin) - 1):
        t = data.origin[s]
        np.testing.assert_allclose(data.inputs[s, :, 0].numpy(), scaled[t - w : t], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(data.targets[s].numpy(), scaled[t : t + h], rtol=1e-5, atol=1e-6)
    assert data.inputs.shape == (len(frame) - w - h, w, 1)
    assert data.origin[0] == w and data.origin[-1] + h == len(frame) - 1


def test_split_is_chronological_and_no_sample_reaches_a_later_split(aapl: pd.DataFrame) -> None:
    data = build_windows(aapl.iloc[:800], 20, 2, FRACS)
    b = data.bounds
    forecast_day = data.origin + 2
    assert (np.diff(data.split) >= 0).all()  # train, then val, then test
    assert (forecast_day[data.split == 0] < b.n_train).all()
    assert (forecast_day[data.split == 1] < b.n_train + b.n_val).all()
    assert (data.split == 1).sum() > 0 and (data.split == 2).sum() > 0


def test_scaler_uses_training_span_only(aapl: pd.DataFrame) -> None:
    frame = aapl.iloc[:800]
    data = build_windows(frame, 20, 1, FRACS)
    train_returns = np.diff(np.log(frame["adj_close"].to_numpy()))[: data.bounds.n_train - 1]
    assert data.scaler.mean[0] == pytest.approx(train_returns.mean())
    assert data.scaler.std[0] == pytest.approx(train_returns.std())


def test_changing_test_prices_moves_neither_scaler_nor_train_val_windows(aapl: pd.DataFrame) -> None:
    frame = aapl.iloc[:800]
    base = build_windows(frame, 20, 1, FRACS)
    future = frame.copy()
    cut = base.bounds.n_train + base.bounds.n_val
    future.iloc[cut:, future.columns.get_loc("adj_close")] *= np.linspace(1.0, 3.0, len(frame) - cut)
    moved = build_windows(future, 20, 1, FRACS)
    np.testing.assert_array_equal(base.scaler.mean, moved.scaler.mean)
    early = torch.from_numpy(base.split < 2)
    assert torch.equal(base.inputs[early], moved.inputs[early])
    assert torch.equal(base.targets[early], moved.targets[early])
    assert not torch.equal(base.targets[~early], moved.targets[~early])


def test_too_short_series_says_how_many_days_are_needed() -> None:
    with pytest.raises(DataError) as info:
        split_bounds(50, FRACS, 60, 1)
    assert str(info.value) == (
        "series too short: 50 trading days, but window=60 + horizon=1 with splits 0.7/0.15/0.15 need at least "
        "88: use a longer date range, a smaller window or larger val/test fractions"
    )
    split_bounds(88, FRACS, 60, 1)  # exactly enough
    with pytest.raises(DataError, match="need at least 88"):
        split_bounds(87, FRACS, 60, 1)


def test_a_tiny_validation_fraction_says_how_many_days_it_needs() -> None:
    """It used to raise a bare StopIteration: the search for the needed length stopped too early."""
    fracs = (0.849, 0.001, 0.15)
    with pytest.raises(DataError) as info:
        split_bounds(3000, fracs, 2, 5)
    assert str(info.value) == (
        "series too short: 3000 trading days, but window=2 + horizon=5 with splits 0.849/0.001/0.15 need at least "
        "4998: use a longer date range, a smaller window or larger val/test fractions"
    )
    split_bounds(4998, fracs, 2, 5)


def test_standardizer_round_trip_and_returns_to_paths() -> None:
    rows = np.random.default_rng(1).normal(2.0, 3.0, (100, 2))
    sc = Standardizer.fit(rows)
    np.testing.assert_allclose(sc.inverse(sc.transform(rows)[:, 0]), rows[:, 0])
    last = np.array([100.0, 50.0])
    zero_scaled = np.full((2, 2), -sc.mean[0] / sc.std[0])  # unscaled log returns of 0
    np.testing.assert_allclose(returns_to_paths(last, zero_scaled, sc)[:, -1], last)


def test_zero_volume_is_missing_not_a_value_and_far_values_are_named(caplog: pytest.LogCaptureFixture) -> None:
    from tests.helpers import random_walk

    frame = random_walk(400, seed=5)
    frame.iloc[350, frame.columns.get_loc("volume")] = 0.0  # a data gap in the test span, as NASDAQ 2015-05-12
    with caplog.at_level("WARNING", logger="forecast"):
        data = build_windows(frame, 20, 1, FRACS, ("log_return", "log_volume"))
    day = frame.index[350].date()
    assert f"1 day(s) with zero or missing volume (first {day}) treated as missing" in caplog.text
    assert float(data.inputs[:, :, 1].abs().max()) < 10  # log(1 + 0) - log(1 + ~5000) would be a move of -8.5
    frame.iloc[380, frame.columns.get_loc("adj_close")] *= 1.6  # a 60% jump: far beyond 10 training sd
    caplog.clear()
    with caplog.at_level("WARNING", logger="forecast"):
        build_windows(frame, 20, 1, FRACS)
    assert f"log_return on {frame.index[380].date()} is " in caplog.text
    assert "training standard deviations from its training mean (2 day(s) beyond 10)" in caplog.text


def test_constant_prices_and_a_too_short_test_span_are_refused_without_warnings(
    quick_config: Config, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    from forecast.data.validation import clean_prices
    from forecast.pipeline.recipe import run

    days = pd.bdate_range("2015-01-01", periods=400, name="date")
    with pytest.raises(DataError) as err:
        clean_prices(pd.DataFrame({"adj_close": 10.0}, index=days), "CONST", 7)
    assert str(err.value) == (
        "CONST: the price never changes (10 on all 400 days): a constant series has no moves to forecast; check the data"
    )
    quick_config.data.val_days, quick_config.data.test_days = 50, 1
    with pytest.raises(DataError) as err:
        run(quick_config, tmp_path)
    assert str(err.value) == (
        "the test span holds 1 forecast(s); its statistics (Diebold-Mariano test, correlations, coverage) need at "
        "least 3: raise data.test_days or data.test_frac"
    )
    assert [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)] == []
