"""The fast CPU recurrent path matches nn.GRU / nn.RNN: outputs, gradients, state dicts, implementation choice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from forecast.errors import ConfigError
from forecast.models.fast import build
from forecast.models.fast import layers as fast_layers
from forecast.models.fast.layers import FastGRU, FastRNN
from forecast.models.fast.script import ScriptKernels
from forecast.models.recurrent import RecurrentForecaster
from forecast.models.registry import kernel_of, resolve_impl


@pytest.fixture(params=["compiled", "torchscript"])
def step_loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the compiled C++ step loops and again with the TorchScript fallback."""
    if request.param == "compiled":
        if build.load() is None:  # make install builds them; without a compiler the fallback is what runs
            pytest.skip("the C++ kernels are unavailable here (no compiler or ninja): only the TorchScript loops run")
    else:
        monkeypatch.setattr(fast_layers, "step_kernels", lambda: ScriptKernels)
    return str(request.param)


@pytest.fixture
def two_threads() -> Iterator[None]:
    """Run with two threads, so that a batch of 32 rows or more splits into two blocks (one per thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("fast_cls", "stock_cls"), [(FastGRU, nn.GRU), (FastRNN, nn.RNN)])
@pytest.mark.parametrize(("layers", "batch", "features"), [(1, 5, 3), (2, 5, 3), (2, 37, 3), (2, 37, 6)])
def test_outputs_and_gradients_match_the_stock_module(
    fast_cls: type, stock_cls: type, layers: int, batch: int, features: int, step_loops: str, two_threads: None
) -> None:
    torch.manual_seed(0)  # 3 features: a GRU's first layer is projected inside the C++ loop (narrow); 6: one GEMM
    stock = stock_cls(features, 16, layers, batch_first=True).double()
    fast = fast_cls(features, 16, layers).double()
    fast.load_state_dict(stock.state_dict())  # same names and shapes: interchangeable
    x = torch.randn(batch, 12, features, dtype=torch.double, requires_grad=True)  # 37 rows: blocks of 19 and 18
    (out_s, h_s), (out_f, h_f) = stock(x), fast(x)
    torch.testing.assert_close(out_f, out_s, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_f, h_s, rtol=0, atol=1e-12)
    weights = torch.randn_like(out_s)
    grads_s = torch.autograd.grad((out_s * weights).sum() + h_s.sum(), [x, *stock.parameters()])
    grads_f = torch.autograd.grad((out_f * weights).sum() + h_f.sum(), [x, *fast.parameters()])
    for gs, gf in zip(grads_s, grads_f, strict=True):
        torch.testing.assert_close(gf, gs, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("fast_cls", "stock_cls"), [(FastGRU, nn.GRU), (FastRNN, nn.RNN)])
@pytest.mark.parametrize("mode", ["inference_mode", "no_grad"])
def test_inference_runs_the_gate_free_kernel_and_matches(
    fast_cls: type, stock_cls: type, mode: str, step_loops: str, two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(3)
    stock = stock_cls(3, 16, 2, batch_first=True).double()
    fast = fast_cls(3, 16, 2).double()
    fast.load_state_dict(stock.state_dict())
    x = torch.randn(37, 12, 3, dtype=torch.double)
    calls: list[str] = []
    monkeypatch.setattr(fast.layer_fn, "apply", lambda *a: calls.append("apply"))  # the training path: not taken
    with getattr(torch, mode)():
        (out_s, h_s), (out_f, h_f) = stock(x), fast(x)
    assert calls == [] and not out_f.requires_grad
    torch.testing.assert_close(out_f, out_s, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_f, h_s, rtol=0, atol=1e-12)


def test_float32_forecaster_matches_and_initialises_like_the_stock_one(step_loops: str) -> None:
    torch.manual_seed(1)
    stock = RecurrentForecaster(cell="gru", n_features=1, hidden_size=64, num_layers=2, horizon=1, impl="torch")
    fast = RecurrentForecaster(cell="gru", n_features=1, hidden_size=64, num_layers=2, horizon=1, impl="fast")
    assert [(k, v.shape) for k, v in fast.state_dict().items()] == [(k, v.shape) for k, v in stock.state_dict().items()]
    bound = 1 / 64**0.5
    assert all(p.abs().max() <= bound for p in fast.rnn.parameters())
    fast.load_state_dict(stock.state_dict())
    x, y = torch.randn(64, 60, 1), torch.randn(64, 1)
    torch.testing.assert_close(fast(x), stock(x), rtol=1e-5, atol=1e-6)
    grads = [torch.autograd.grad(nn.functional.mse_loss(m(x), y), list(m.parameters())) for m in (stock, fast)]
    for gs, gf in zip(*grads, strict=True):
        torch.testing.assert_close(gf, gs, rtol=1e-4, atol=1e-6)


def test_gradcheck_in_double_precision(step_loops: str) -> None:
    torch.manual_seed(2)
    gru = FastGRU(2, 4, 1).double()
    x = torch.randn(3, 5, 2, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: gru(inp)[0], (x,))


def test_impl_resolution() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_impl("gru", "auto", cpu) == "fast" and resolve_impl("rnn", "auto", cpu) == "fast"
    built = build.load() is not None  # the fused C++ LSTM (0.75-0.89 of oneDNN's epoch) where it built
    assert resolve_impl("lstm", "auto", cpu) == ("fast" if built else "torch")
    assert resolve_impl("lstm", "auto", cuda) == "torch" and resolve_impl("lstm", "torch", cpu) == "torch"
    assert resolve_impl("gru", "auto", cuda) == "torch"  # cuDNN on GPUs
    assert resolve_impl("gru", "torch", cpu) == "torch"
    assert resolve_impl("lstm", "fast", cpu) == "fast"  # the same-technique reference for the speed claim


def test_the_fast_lstm_needs_the_cpp_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "_loaded", {"module": None})  # as where the build is unavailable
    with pytest.raises(ConfigError) as err:
        resolve_impl("lstm", "fast", torch.device("cpu"))
    assert str(err.value) == (
        "model.impl=fast for lstm needs the C++ kernels, which did not build here (python -m "
        "forecast.models.fast.build says why): use model.impl=auto or torch"
    )
    assert resolve_impl("lstm", "auto", torch.device("cpu")) == "torch"


def test_the_kernel_that_ran_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    assert kernel_of("torch", cpu) == "torch"
    monkeypatch.setattr(build, "_loaded", {"module": None})  # as where the build is unavailable
    assert kernel_of("fast", cpu) == "torchscript"
    monkeypatch.setattr(build, "_loaded", {"module": object()})
    assert kernel_of("fast", cpu) == "cpp"


def test_the_build_name_changes_with_the_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name, flags, folder = build.extension()
    assert folder.name == name and name.startswith("forecast_rnn_kernels_") and "-O3" in flags
    copy = tmp_path / "common.h"
    copy.write_text(build.HEADERS[0].read_text() + "// edited\n")
    monkeypatch.setattr(build, "HEADERS", [copy])
    assert build.extension()[0] != name


def test_no_extension_means_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORECAST_NO_EXTENSION", "1")
    monkeypatch.setattr(build, "_loaded", {})
    assert build.load() is None and fast_layers.step_kernels() is ScriptKernels


def test_the_wheel_ships_every_kernel_source() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["forecast.models.fast"]
    assert sorted(shipped) == sorted(p.name for p in (*build.SOURCES, *build.HEADERS))  # slstm.cpp was once left out


def test_a_job_start_never_compiles_the_kernels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(build, "_loaded", {})
    monkeypatch.setenv("FORECAST_KERNEL_DIR", str(tmp_path))  # nothing built here
    monkeypatch.setattr(build, "_build_in_child", lambda: pytest.fail("compiled"))
    build.flush_pool()  # what every job's start calls: nothing to flush through, nothing compiled or remembered
    assert build._loaded == {"flush": True}
    monkeypatch.setattr(build, "_build_in_child", lambda: "no compiler here")
    assert build.load() is None and build._loaded == {"flush": True, "module": None}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mingru", "slstm"])
def test_huge_pre_activations_stay_finite_in_every_fused_kernel(cell: str) -> None:
    """-ffast-math assumes exp never overflows: a float32 pre-activation past 44 (tanh) or -88 (sigmoid) once gave
    NaN in the fused loops (found on the universe's 29-sd returns at window 240). Saturated gates must give what the
    stock modules (or sLSTM's PyTorch loop) give."""
    if build.load() is None:
        pytest.skip("the C++ kernels are unavailable here")
    impl = {"mingru": "scan", "lstm": "fast"}.get(cell, "fast")
    torch.manual_seed(0)
    fused = RecurrentForecaster(cell=cell, n_features=1, hidden_size=8, num_layers=1, horizon=1, impl=impl)
    with torch.no_grad():
        for p in fused.rnn.parameters():
            p.mul_(300.0)  # pre-activations in the hundreds, of both signs
    stock = RecurrentForecaster(cell=cell, n_features=1, hidden_size=8, num_layers=1, horizon=1, impl="torch")
    stock.load_state_dict(fused.state_dict())
    x = torch.randn(40, 30, 1) * 10
    ours, theirs = fused(x), stock(x)
    assert torch.isfinite(ours).all() and (ours - theirs).abs().max().item() < 1e-4


@pytest.mark.parametrize("cell", ["gru", "rnn", "lstm", "slstm", "slstm-loop"])
@pytest.mark.parametrize(("layers", "features"), [(1, 1), (2, 1), (2, 6)])
def test_the_last_state_alone_gives_the_same_output_and_gradients_to_the_bit(
    cell: str, layers: int, features: int, step_loops: str, two_threads: None
) -> None:
    """A forecaster's head reads the top layer's last state: ``last`` hands its gradient in as h_n's, with no
    (steps, batch, hidden) of zeros filled; the result is the one through ``out[:, -1]``, bit for bit."""
    from forecast.models.fast.lstm import FastLSTM
    from forecast.models.slstm import SLSTM, FusedSLSTM

    if cell in ("lstm", "slstm", "slstm-loop") and step_loops == "torchscript":
        pytest.skip("the fast LSTM and sLSTM run on the C++ kernels alone")
    torch.manual_seed(0)
    classes = {"gru": FastGRU, "rnn": FastRNN, "lstm": FastLSTM, "slstm": FusedSLSTM, "slstm-loop": SLSTM}
    module = classes[cell](features, 16, layers)
    x = torch.randn(37, 30, features, requires_grad=True)
    weights = torch.randn(37, 16)
    outs = [module.last(x), module(x)[0][:, -1]]
    assert outs[0].shape == (37, 16) and torch.equal(outs[0], outs[1])
    grads = [torch.autograd.grad((out * weights).sum(), [x, *module.parameters()]) for out in outs]
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


def test_small_blocks_sum_the_gru_recurrent_gradient_alike_every_call(two_threads: None) -> None:
    """20 rows split into two blocks of 10 (fewer than kGrain), each summing its share of dW_hh in the loop
    (common.h's BlockSums): the gradient matches nn.GRU's in float64, and in float32 ten calls give one set of bits."""
    if build.load() is None:
        pytest.skip("the C++ kernels are unavailable here: only the TorchScript loops run")
    torch.manual_seed(7)
    stock = nn.GRU(1, 25, 1, batch_first=True).double()
    fast = FastGRU(1, 25, 1).double()
    fast.load_state_dict(stock.state_dict())
    x = torch.randn(20, 30, 1, dtype=torch.double)
    grad_s = torch.autograd.grad(stock(x)[0].sum(), stock.weight_hh_l0)[0]
    grad_f = torch.autograd.grad(fast(x)[0].sum(), fast.weight_hh_l0)[0]
    torch.testing.assert_close(grad_f, grad_s, rtol=0, atol=1e-10)
    fast.float()
    grads = {torch.autograd.grad(fast(x.float())[0].sum(), fast.weight_hh_l0)[0].numpy().tobytes() for _ in range(10)}
    assert len(grads) == 1
