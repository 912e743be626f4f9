"""The fast LSTM matches nn.LSTM in float64: outputs, final states, every gradient, inference, state dicts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from forecast.models.fast import build
from forecast.models.fast.lstm import FastLSTM
from forecast.models.recurrent import RecurrentForecaster, set_forget_bias

pytestmark = pytest.mark.skipif(build.load() is None, reason="the fast LSTM needs the C++ kernels (make install)")


@pytest.fixture(autouse=True)
def two_threads() -> object:
    """Two threads: a batch of 32 rows or more splits into two blocks, one per thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("layers", "batch", "given_state", "features"),
    [(1, 5, False, 3), (2, 37, False, 3), (2, 37, True, 3), (2, 37, False, 6)],  # 3: projected in the loop (narrow)
)
def test_outputs_states_and_gradients_match_nn_lstm(layers: int, batch: int, given_state: bool, features: int) -> None:
    torch.manual_seed(0)
    stock = nn.LSTM(features, 16, layers, batch_first=True).double()
    fast = FastLSTM(features, 16, layers).double()
    fast.load_state_dict(stock.state_dict())  # same names and shapes: interchangeable
    x = torch.randn(batch, 12, features, dtype=torch.double, requires_grad=True)
    state = tuple(torch.randn(layers, batch, 16, dtype=torch.double) for _ in range(2)) if given_state else None
    (out_s, (h_s, c_s)), (out_f, (h_f, c_f)) = stock(x, state), fast(x, state)
    for got, want in ((out_f, out_s), (h_f, h_s), (c_f, c_s)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    weights = torch.randn_like(out_s)

    def loss(out: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (out * weights).sum() + h.sum() + (c**2).sum()  # every output carries a gradient

    grads_s = torch.autograd.grad(loss(out_s, h_s, c_s), [x, *stock.parameters()])
    grads_f = torch.autograd.grad(loss(out_f, h_f, c_f), [x, *fast.parameters()])
    for gs, gf in zip(grads_s, grads_f, strict=True):
        torch.testing.assert_close(gf, gs, rtol=0, atol=1e-10)


def test_inference_keeps_no_gates_and_matches() -> None:
    torch.manual_seed(3)
    stock = nn.LSTM(3, 16, 2, batch_first=True).double()
    fast = FastLSTM(3, 16, 2).double()
    fast.load_state_dict(stock.state_dict())
    x = torch.randn(37, 12, 3, dtype=torch.double)
    with torch.inference_mode():
        (out_s, (h_s, c_s)), (out_f, (h_f, c_f)) = stock(x), fast(x)
    assert not out_f.requires_grad
    for got, want in ((out_f, out_s), (h_f, h_s), (c_f, c_s)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_gradcheck_and_the_forecaster_on_the_fast_lstm() -> None:
    torch.manual_seed(2)
    lstm = FastLSTM(2, 4, 1).double()
    x = torch.randn(3, 5, 2, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: lstm(inp)[0], (x,))
    stock = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=8, num_layers=2, horizon=1, impl="torch")
    fast = RecurrentForecaster(cell="lstm", n_features=1, hidden_size=8, num_layers=2, horizon=1, impl="fast")
    assert isinstance(fast.rnn, FastLSTM)
    fast.load_state_dict(stock.state_dict())
    set_forget_bias(fast.rnn, 1.0)  # nn.LSTM's parameter names: the forget-gate bias lands where nn.LSTM has it
    set_forget_bias(stock.rnn, 1.0)
    x32 = torch.randn(40, 10, 1)
    torch.testing.assert_close(fast(x32), stock(x32), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layers", [1, 2])
def test_leftover_columns_and_small_blocks_match_nn_lstm(layers: int) -> None:
    """25 units leave a column over every vector of 4 doubles and 8 floats (run as one gathered row of their own,
    lstm.cpp), and 20 rows split into two blocks of 10, fewer than kGrain: each block sums its own share of the
    recurrent weight's gradient."""
    torch.manual_seed(5)
    stock = nn.LSTM(1, 25, layers, batch_first=True).double()
    fast = FastLSTM(1, 25, layers).double()
    fast.load_state_dict(stock.state_dict())
    x = torch.randn(20, 30, 1, dtype=torch.double, requires_grad=True)
    (out_s, (h_s, _)), (out_f, (h_f, _)) = stock(x), fast(x)
    torch.testing.assert_close(out_f, out_s, rtol=0, atol=1e-12)
    grads_s = torch.autograd.grad(out_s.sum() + h_s.sum(), [x, *stock.parameters()])
    grads_f = torch.autograd.grad(out_f.sum() + h_f.sum(), [x, *fast.parameters()])
    for gs, gf in zip(grads_s, grads_f, strict=True):
        torch.testing.assert_close(gf, gs, rtol=0, atol=1e-10)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x.detach())[0], out_s.detach(), rtol=0, atol=1e-12)
    stock.float(), fast.float()  # float32: the inline exp of common.h against torch's
    with torch.inference_mode():
        torch.testing.assert_close(fast(x.detach().float())[0], stock(x.detach().float())[0], rtol=0, atol=2e-6)


def test_the_recurrent_weight_gradient_is_the_same_every_call() -> None:
    """Blocks of rows sum their shares of dW_hh in the loop and add them in the order of their first rows: two
    blocks of 10 rows once wrote into one shared sum, and 26 of 30 identical calls gave 26 different gradients."""
    torch.manual_seed(6)
    fast = FastLSTM(1, 8, 1)
    x = torch.randn(20, 20, 1)
    grads = set()
    for _ in range(10):
        fast.zero_grad()
        fast(x)[0][:, -1].sum().backward()
        grads.add(fast.weight_hh_l0.grad.numpy().tobytes())
    assert len(grads) == 1
