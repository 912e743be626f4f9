"""Gradient flow across lags, activation memory, Diebold-Mariano and the lag illusion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecast.diagnostics.gradient_flow import effective_memory_lag, gradient_by_lag
from forecast.diagnostics.memory import warm_up
from forecast.evaluation.honesty import diebold_mariano, lag_illusion
from forecast.models.recurrent import RecurrentForecaster


def test_gradient_vanishes_with_lag_in_a_contracting_rnn() -> None:
    torch.manual_seed(0)
    model = RecurrentForecaster(cell="rnn", n_features=1, hidden_size=8, num_layers=1, horizon=1)
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(0.1)  # strongly contracting recurrence
    before = [p.clone() for p in model.parameters()]
    norms = gradient_by_lag(model, torch.randn(32, 30, 1), torch.randn(32, 1))
    assert norms.shape == (30,)
    assert norms[0] > 100 * norms[9] > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_gradient_probe_in_chunks_equals_one_pass_and_chunks_bound_inference_memory() -> None:
    from forecast.diagnostics.gradient_flow import PROBE_CHUNK
    from forecast.models.recurrent import inference_rows

    torch.manual_seed(1)
    model = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=6, num_layers=2, horizon=2).double()
    x, y = torch.randn(2 * PROBE_CHUNK + 5, 12, 1, dtype=torch.float64), torch.randn(2 * PROBE_CHUNK + 5, 2).double()
    whole = x.clone().requires_grad_(True)  # the probe as one backward pass over all 69 windows
    (grad,) = torch.autograd.grad(torch.nn.functional.mse_loss(model(whole), y, reduction="sum"), whole)
    np.testing.assert_allclose(gradient_by_lag(model, x, y), grad.norm(dim=2).mean(dim=0).flip(0).numpy(), rtol=1e-12)
    wide = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=128, num_layers=2, horizon=1)
    small = RecurrentForecaster(cell="gru", n_features=1, hidden_size=64, num_layers=2, horizon=1)
    assert [
        inference_rows(wide, 60),
        inference_rows(small, 60),
        inference_rows(small, 1),
        inference_rows(wide, 4000),
    ] == [256, 704, 4096, 64]  # 64 MB of float32 gates a chunk (2 x 128 x 4 gates x 60 steps: 240 KB a row), x 64
    assert inference_rows(torch.nn.Linear(3, 1), 60) == 1024  # not a recurrent forecaster


def test_effective_memory_lag() -> None:
    assert effective_memory_lag(np.array([1.0, 0.5, 0.02, 0.011, 0.005])) == 4
    assert effective_memory_lag(np.array([1.0, 0.001, 0.05])) == 3  # largest lag above 1%, not the first below
    assert effective_memory_lag(np.array([0.0, 1.0])) == 0


def test_warm_up_counts_activation_memory_and_leaves_training_unchanged() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 60, 1), torch.randn(64, 1)
    sizes = {}
    for cell in ("rnn", "gru", "lstm"):
        model = RecurrentForecaster(cell=cell, n_features=1, hidden_size=64, num_layers=2, horizon=1)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        rng = torch.get_rng_state()
        sizes[cell] = warm_up(model, x, y)
        assert torch.equal(rng, torch.get_rng_state())
        assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
        assert all(p.grad is None for p in model.parameters())
    # the hidden states alone: batch x steps x units x layers x 4 bytes
    assert sizes["rnn"] >= 64 * 60 * 64 * 2 * 4
    assert sizes["rnn"] < sizes["gru"] < sizes["lstm"]


def test_diebold_mariano_matches_the_formula_and_its_limits() -> None:
    rng = np.random.default_rng(0)
    e1, e2 = rng.normal(0, 1, 200), rng.normal(0, 1.3, 200)
    out = diebold_mariano(e1, e2)
    d = e1**2 - e2**2
    n = d.size
    expected = d.mean() / np.sqrt(d.var() / n) * np.sqrt((n - 1) / n)
    assert out.statistic == pytest.approx(expected)
    assert out.statistic < 0 and out.p_value < 0.01
    same = diebold_mariano(e1, e1)
    assert (same.statistic, same.p_value) == (0.0, 1.0)
    swapped = diebold_mariano(e2, e1)
    assert swapped.statistic == pytest.approx(-out.statistic)
    assert swapped.p_value == pytest.approx(out.p_value)


def test_lag_illusion_flags_a_delayed_copy_not_a_real_forecast() -> None:
    rng = np.random.default_rng(1)
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
    last, actual = price[:-1], price[1:]
    copy = lag_illusion(actual, last * (1 + rng.normal(0, 1e-4, last.size)), last)
    assert copy.delayed_copy is True and copy.corr_lag1 > copy.corr_lag0
    oracle = lag_illusion(actual, actual + rng.normal(0, 0.01, actual.size), last)
    assert oracle.delayed_copy is False and oracle.corr_returns > 0.9


def test_a_model_that_only_predicts_the_drift_is_flagged() -> None:
    rng = np.random.default_rng(2)
    price = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, 500)))
    last, actual = price[:-1], price[1:]
    drift = lag_illusion(actual, last * np.exp(0.0005 + rng.normal(0, 1e-5, last.size)), last)
    assert drift.drift_only is True and drift.same_sign_share == 1.0
    noise = lag_illusion(actual, last * np.exp(rng.normal(0, 0.01, last.size)), last)  # moves of both signs, no skill
    assert noise.drift_only is True and noise.same_sign_share < 0.6
    oracle = lag_illusion(actual, actual + rng.normal(0, 0.01, actual.size), last)
    assert oracle.drift_only is False and oracle.same_sign_share < 0.6
