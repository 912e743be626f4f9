"""Properties over random price series, windows, horizons and split fractions (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.data.dataset import build_windows, returns_to_prices, split_bounds
from forecast.errors import DataError


@st.composite
def problems(draw: st.DrawFn) -> tuple[pd.DataFrame, int, int, tuple[float, float, float]]:
    n = draw(st.integers(60, 400))
    window = draw(st.integers(2, 30))
    horizon = draw(st.integers(1, 5))
    train = draw(st.floats(0.4, 0.8))
    val = draw(st.floats(0.05, (1 - train) - 0.05))
    fracs = (train, val, 1.0 - train - val)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    price = 20 * np.exp(np.cumsum(rng.normal(0, draw(st.floats(0.001, 0.1)), n)))
    frame = pd.DataFrame({"adj_close": price}, index=pd.bdate_range("2000-01-03", periods=n, name="date"))
    return frame, window, horizon, fracs


def build_or_none(frame: pd.DataFrame, window: int, horizon: int, fracs: tuple[float, float, float]):  # type: ignore[no-untyped-def]
    try:
        return build_windows(frame, window, horizon, fracs)
    except DataError:
        split_bounds(len(frame) * 10, fracs, window, horizon)  # too short, not malformed: more days would do
        return None


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(problems())
def test_no_window_reaches_into_a_later_split(problem: tuple) -> None:  # type: ignore[type-arg]
    frame, window, horizon, fracs = problem
    data = build_or_none(frame, window, horizon, fracs)
    if data is None:
        return
    b = data.bounds
    split_end = np.array([b.n_train, b.n_train + b.n_val, b.n_days])[data.split]
    last_input_day, last_target_day = data.origin, data.origin + horizon
    assert (last_input_day < split_end).all() and (last_target_day < split_end).all()
    assert (data.origin - window + 1 >= 1).all()  # every input row has a previous day


@PROPS
@given(problems(), st.floats(0.2, 5.0))
def test_scaler_depends_only_on_the_training_span(problem: tuple, factor: float) -> None:  # type: ignore[type-arg]
    frame, window, horizon, fracs = problem
    data = build_or_none(frame, window, horizon, fracs)
    if data is None:
        return
    later = frame.copy()
    later.iloc[data.bounds.n_train :, 0] *= factor
    moved = build_windows(later, window, horizon, fracs)
    np.testing.assert_array_equal(data.scaler.mean, moved.scaler.mean)
    np.testing.assert_array_equal(data.scaler.std, moved.scaler.std)


@PROPS
@given(problems())
def test_transforms_invert_to_the_actual_prices(problem: tuple) -> None:  # type: ignore[type-arg]
    frame, window, horizon, fracs = problem
    data = build_or_none(frame, window, horizon, fracs)
    if data is None:
        return
    recovered = returns_to_prices(data.prices[data.origin], data.targets.double().numpy(), data.scaler)
    np.testing.assert_allclose(recovered, data.prices[data.origin + horizon], rtol=1e-5)


@PROPS
@given(problems(), st.data())
def test_forecast_for_day_t_uses_days_before_t_only(problem: tuple, pick: st.DataObject) -> None:  # type: ignore[type-arg]
    frame, window, horizon, fracs = problem
    data = build_or_none(frame, window, horizon, fracs)
    if data is None:
        return
    k = pick.draw(st.integers(data.bounds.n_train, len(frame) - 1))  # a day after the training span
    changed = frame.copy()
    changed.iloc[k, 0] *= 1.5
    moved = build_windows(changed, window, horizon, fracs)
    before = torch.from_numpy(data.origin < k)  # samples whose inputs end before day k
    assert torch.equal(data.inputs[before], moved.inputs[before])
    forecast_day = data.origin + horizon
    untouched = torch.from_numpy(forecast_day < k)
    assert torch.equal(data.targets[untouched], moved.targets[untouched])
