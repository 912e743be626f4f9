"""Properties over random price series, windows, horizons and split fractions (hypothesis)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from forecast.data.dataset import WindowedData, build_windows
from forecast.data.scaling import returns_to_paths
from forecast.data.splits import split_bounds
from forecast.errors import DataError


class Problem(NamedTuple):
    frame: pd.DataFrame
    window: int
    horizon: int
    fracs: tuple[float, float, float]
    data: WindowedData


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """A random positive price series with a window, horizon and split long enough to build windows."""
    n = draw(st.integers(60, 400))
    window = draw(st.integers(2, 30))
    horizon = draw(st.integers(1, 5))
    train = draw(st.floats(0.4, 0.8))
    val = draw(st.floats(0.05, (1 - train) - 0.05))
    fracs = (train, val, 1.0 - train - val)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    price = 20 * np.exp(np.cumsum(rng.normal(0, draw(st.floats(0.001, 0.1)), n)))
    frame = pd.DataFrame({"adj_close": price}, index=pd.bdate_range("2000-01-03", periods=n, name="date"))
    try:
        data = build_windows(frame, window, horizon, fracs)
    except DataError:
        split_bounds(n * 10, fracs, window, horizon)  # too short, not malformed: more days would do
        assume(False)
    return Problem(frame, window, horizon, fracs, data)


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(problems())
def test_no_window_reaches_into_a_later_split(problem: Problem) -> None:
    data, window, horizon = problem.data, problem.window, problem.horizon
    b = data.bounds
    split_end = np.array([b.n_train, b.n_train + b.n_val, b.n_days])[data.split]
    last_input_day, last_target_day = data.origin, data.origin + horizon
    assert (last_input_day < split_end).all() and (last_target_day < split_end).all()
    assert (data.origin - window + 1 >= 1).all()  # every input row has a previous day


@PROPS
@given(problems(), st.floats(0.2, 5.0))
def test_scaler_depends_only_on_the_training_span(problem: Problem, factor: float) -> None:
    frame, window, horizon, fracs, data = problem
    later = frame.copy()
    later.iloc[data.bounds.n_train :, 0] *= factor
    moved = build_windows(later, window, horizon, fracs)
    np.testing.assert_array_equal(data.scaler.mean, moved.scaler.mean)
    np.testing.assert_array_equal(data.scaler.std, moved.scaler.std)


@PROPS
@given(problems())
def test_transforms_invert_to_the_actual_prices(problem: Problem) -> None:
    data, horizon = problem.data, problem.horizon
    recovered = returns_to_paths(data.prices[data.origin], data.targets.double().numpy(), data.scaler)[:, -1]
    np.testing.assert_allclose(recovered, data.prices[data.origin + horizon], rtol=1e-5)


@PROPS
@given(problems(), st.data())
def test_forecast_for_day_t_uses_days_before_t_only(problem: Problem, pick: st.DataObject) -> None:
    frame, window, horizon, fracs, data = problem
    k = pick.draw(st.integers(data.bounds.n_train, len(frame) - 1))  # a day after the training span
    changed = frame.copy()
    changed.iloc[k, 0] *= 1.5
    moved = build_windows(changed, window, horizon, fracs)
    before = torch.from_numpy(data.origin < k)  # samples whose inputs end before day k
    assert torch.equal(data.inputs[before], moved.inputs[before])
    forecast_day = data.origin + horizon
    untouched = torch.from_numpy(forecast_day < k)
    assert torch.equal(data.targets[untouched], moved.targets[untouched])
