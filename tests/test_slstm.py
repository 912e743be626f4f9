"""sLSTM (xLSTM, Beck et al. 2024): the C++ loop and the PyTorch loop against the official pointwise step, the
stabiliser on long sequences, the initialisation, sizes and a run that predict reproduces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn.functional import logsigmoid

from forecast.config.schema import Config
from forecast.models.fast import build
from forecast.models.recurrent import RecurrentForecaster, count_parameters
from forecast.models.registry import kernel_of, resolve_impl
from forecast.models.slstm import SLSTM, FusedSLSTM, _SLSTMLayer
from forecast.pipeline.recipe import run
from forecast.predict import predict

needs_cpp = pytest.mark.skipif(build.load() is None, reason="the C++ kernels did not build here")


def official_step(wx: torch.Tensor, ry: torch.Tensor, b: torch.Tensor, states: torch.Tensor) -> tuple:
    """``slstm_forward_pointwise`` of NX-AI/xlstm, xlstm/blocks/slstm/src/vanilla/slstm.py at commit 8901ba0,
    transcribed: states (y, c, n, m) stacked on the first axis, gates in the order (i, f, z, o)."""
    raw = wx + ry + b
    _, c, n, m = torch.unbind(states, dim=0)
    iraw, fraw, zraw, oraw = torch.unbind(raw.view(raw.shape[0], 4, -1), dim=1)
    logfplusm = m + logsigmoid(fraw)
    mnew = iraw if torch.all(n == 0.0) else torch.max(iraw, logfplusm)
    ogate = torch.sigmoid(oraw)
    igate = torch.exp(iraw - mnew)
    fgate = torch.exp(logfplusm - mnew)
    cnew = fgate * c + igate * torch.tanh(zraw)
    nnew = fgate * n + igate
    return torch.stack((ogate * cnew / nnew, cnew, nnew, mnew))


def official(model: SLSTM, x: torch.Tensor) -> torch.Tensor:
    """The stack through the official step, its head-wise recurrent product written out per head (as the vanilla
    backend's ``slstm_forward`` does), not through ``dense_recurrent``."""
    heads = model.heads
    for k in range(model.num_layers):
        w_ih, w_hh, bias = (getattr(model, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias"))
        size, dim = model.hidden_size, model.hidden_size // heads
        states, outs = x.new_zeros(4, x.shape[0], size), []
        for t in range(x.shape[1]):
            y = states[0].view(-1, heads, dim)
            ry = torch.einsum("bhk,ghjk->bghj", y, w_hh.view(4, heads, dim, dim)).reshape(x.shape[0], 4 * size)
            states = official_step(x[:, t] @ w_ih.t(), ry, bias, states)
            outs.append(states[0])
        x = torch.stack(outs, dim=1)
    return x


def perturbed(model: SLSTM) -> SLSTM:
    """The model with every weight moved off its init (zero recurrent weights would hide the recurrence)."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


@needs_cpp
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("steps", [1, 7, 60])
@pytest.mark.parametrize("heads", [1, 2])
def test_both_loops_match_the_official_step(layers: int, steps: int, heads: int) -> None:
    torch.manual_seed(steps)
    reference = perturbed(SLSTM(3, 8, layers, heads=heads).double())
    x = torch.randn(5, steps, 3, dtype=torch.float64, requires_grad=True)
    expected = official(reference, x)
    weights = torch.randn_like(expected)
    params = list(reference.parameters())
    grads = torch.autograd.grad((expected * weights).sum(), [x, *params])
    for cls in (SLSTM, FusedSLSTM):
        model = cls(3, 8, layers, heads=heads).double()
        model.load_state_dict(reference.state_dict())
        out, h_n = model(x)
        assert (out - expected).abs().max().item() < 1e-10
        assert torch.equal(h_n[-1], out[:, -1])
        got = torch.autograd.grad((out * weights).sum(), [x, *model.parameters()])
        assert max((g - e).abs().max().item() for g, e in zip(got, grads, strict=True)) < 1e-10
        with torch.no_grad():  # the inference kernel keeps no gates and gives the same outputs
            assert (model(x)[0] - expected).abs().max().item() < 1e-10


@needs_cpp
def test_the_fused_layer_passes_gradcheck() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)  # (time, batch, inputs)
    w_ih, r, bias = (
        torch.randn(*shape, dtype=torch.float64, requires_grad=True) for shape in ((12, 2), (12, 3), (12,))
    )
    assert torch.autograd.gradcheck(_SLSTMLayer.apply, (x, w_ih, r, bias))


@needs_cpp
@pytest.mark.parametrize("rows", [1, 8, 64])
def test_the_fused_loop_splits_rows_across_threads_exactly(rows: int) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(rows)
        reference = perturbed(SLSTM(2, 16, 2, heads=4).double())
        fused = FusedSLSTM(2, 16, 2, heads=4).double()
        fused.load_state_dict(reference.state_dict())
        x = torch.randn(rows, 30, 2, dtype=torch.float64)
        assert (fused(x)[0] - reference(x)[0]).abs().max().item() < 1e-12
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("cls", [SLSTM, FusedSLSTM])
def test_the_stabiliser_keeps_two_thousand_steps_finite(cls: type[SLSTM]) -> None:
    if cls is FusedSLSTM and build.load() is None:
        pytest.skip("the C++ kernels did not build here")
    torch.manual_seed(0)
    model = cls(1, 8, 1)
    with torch.no_grad():
        model.bias_l0[:8] = 80.0  # input-gate pre-activations near 80 and above: exp(80) overflows float32
        model.weight_ih_l0[:8] = 40.0
    x = torch.randn(4, 2000, 1).abs().requires_grad_()
    out, _ = model(x)
    out[:, -1].sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_the_official_initialisation() -> None:
    model = SLSTM(3, 8, 2, heads=2)
    forget = model.bias_l0[8:16]
    assert forget.tolist()[:1] == [5.0] and forget[3].item() == pytest.approx(-7.0) and forget[4].item() == 5.0
    assert model.bias_l1[8:16][1].item() == pytest.approx(5.0 - 12.0 * (1 / 3) ** 1.6)  # the last block's exponent
    assert not model.bias_l0[:8].any() and not model.bias_l0[16:].any()
    assert not model.weight_hh_l0.any() and not model.weight_hh_l1.any()
    assert model.weight_ih_l0.std().item() == pytest.approx((2 / 15) ** 0.5, rel=0.5)  # small init: sqrt(2 / 5 in)


def test_sizes_are_exact() -> None:
    def size(heads: int) -> int:
        return count_parameters(
            RecurrentForecaster(
                cell="slstm", n_features=1, hidden_size=64, num_layers=2, horizon=1, options={"heads": heads}
            )
        )

    # per layer 4H(in + H / heads + 1); head H + 1: the LSTM has 4H(in + H + 2) per layer (50497 in all)
    assert (size(1), size(4)) == (49985, 25409)
    with pytest.raises(ValueError, match="heads=3 must divide hidden_size=64"):
        SLSTM(1, 64, heads=3)


def test_auto_runs_the_fused_loop_on_cpu_and_the_pytorch_loop_on_cuda() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_impl("slstm", "auto", cpu) == ("fast" if build.load() is not None else "torch")
    assert resolve_impl("slstm", "auto", cuda) == "torch"
    assert kernel_of("torch", cuda, "slstm") == "torch"  # its own loop, never cuDNN


@needs_cpp
def test_slstm_runs_end_to_end_and_predict_reproduces_it(quick_config: Config, tmp_path: Path) -> None:
    quick_config.model.cell = "slstm"
    quick_config.model.heads = 2
    record = run(quick_config, tmp_path / "run")
    assert record.status == "completed" and record.model == "slstm" and (record.impl, record.kernel) == ("fast", "cpp")
    assert record.n_params == 4 * 8 * (1 + 4 + 1) + 9  # hidden 8 in 2 heads of 4, one layer, one input; head 9
    out = predict(tmp_path / "run", [])
    assert (out / "future.csv").read_bytes() == (tmp_path / "run" / "future.csv").read_bytes()


def test_the_report_judges_slstm_against_lstm_by_paired_tests_per_ticker(tmp_path: Path) -> None:
    from forecast.reporting.sweep.successors import successor_verdicts

    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2020-01-01", periods=200).strftime("%Y-%m-%d")
    rows = []
    for ticker, scale in (("AAA", 0.5), ("BBB", 0.5), ("CCC", 1.0), ("DDD", 1.0)):
        for cell in ("lstm", "slstm"):
            job = f"{ticker}_{cell}"
            errors = rng.standard_normal(200) * (scale if cell == "slstm" else 1.0)
            (tmp_path / job).mkdir()
            pd.DataFrame({"date": dates, "split": "test", "step": 1, "actual": 100 + errors, "predicted": 100.0,
                          "persistence": 100.0}).to_csv(tmp_path / job / "forecasts.csv", index=False)  # fmt: skip
            rows.append({"job": job, "ticker": ticker, "cell": cell, "test_mae": float(np.abs(errors).mean())})
    verdicts = successor_verdicts(tmp_path, pd.DataFrame(rows))
    assert list(verdicts) == ["more_accurate_slstm"]  # no minimal cell in this sweep
    verdict = verdicts["more_accurate_slstm"]
    assert (verdict.claim, verdict.verdict) == ("slstm is more accurate than lstm", "supported")  # 2 of 4, none worse
    assert verdict.evidence.startswith(
        "paired Diebold-Mariano per ticker (squared test errors, seeds averaged), Benjamini-Hochberg at 5%: slstm "
        "significantly worse on 0 of 4 tickers (none), better on 2 (AAA, BBB)"
    )
    one = pd.DataFrame(rows)
    one = one[one["ticker"] != "BBB"]  # better on 1 of 3: not half
    assert successor_verdicts(tmp_path, one)["more_accurate_slstm"].verdict == "not supported"
