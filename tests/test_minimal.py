"""minGRU and minLSTM (Feng et al. 2024): the parallel scan against a sequential float64 loop, sizes, runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config.schema import Config
from forecast.models.minimal import KINDS, MinimalRecurrent, coefficients, fused, layer_scan, parallel_scan
from forecast.models.recurrent import RecurrentForecaster, count_parameters
from forecast.pipeline.recipe import run
from forecast.predict import predict


def sequential(model: MinimalRecurrent, x: torch.Tensor) -> torch.Tensor:
    """The paper's recurrence step by step: h_t = a_t h_{t-1} + b_t per layer, h_0 = 0."""
    for layer in model.layers:
        a, b = coefficients(model.kind, layer(x))
        h, out = torch.zeros_like(a[:, 0]), []
        for t in range(x.shape[1]):
            h = a[:, t] * h + b[:, t]
            out.append(h)
        x = torch.stack(out, dim=1)
    return x


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize(("features", "layers", "window"), [(3, 1, 1), (3, 1, 7), (3, 2, 60), (3, 2, 129), (6, 2, 257)])
def test_the_scan_equals_the_sequential_loop_in_float64(kind: str, features: int, layers: int, window: int) -> None:
    """A narrow first layer (3 features: projected in the loop) and a wide one (6: its inputs' and weight's
    gradients multiplied chunk by chunk in the loop), a window over one, two and three of the backward's chunks."""
    torch.manual_seed(0)
    model = MinimalRecurrent(kind, input_size=features, hidden_size=5, num_layers=layers).double()
    x = torch.randn(4, window, features, dtype=torch.float64, requires_grad=True)
    out, _ = model(x)
    ref = sequential(model, x)
    assert (out - ref).abs().max().item() < 1e-10
    weights = torch.randn_like(out)
    grads = torch.autograd.grad((out * weights).sum(), [x, *model.parameters()])
    ref_grads = torch.autograd.grad((ref * weights).sum(), [x, *model.parameters()])
    assert max((g - r).abs().max().item() for g, r in zip(grads, ref_grads, strict=True)) < 1e-10


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize(("features", "layers", "window"), [(1, 1, 300), (1, 2, 256), (6, 2, 7), (6, 1, 1)])
def test_the_last_step_alone_gives_the_same_output_and_gradients_to_the_bit(
    kind: str, features: int, layers: int, window: int
) -> None:
    """A forecaster's head reads h[:, -1]: ``last`` returns it without the (B, T, H) of zeros in the backward;
    the top layer narrow (1 feature, 1 layer) and wide, a window over three of the backward's chunks."""
    assert fused()
    torch.manual_seed(0)
    model = MinimalRecurrent(kind, input_size=features, hidden_size=9, num_layers=layers)
    x = torch.randn(5, window, features, requires_grad=True)
    weights = torch.randn(5, 9)
    outs = [model.last(x), model(x)[0][:, -1]]
    assert outs[0].shape == (5, 9) and torch.equal(outs[0], outs[1])
    grads = [torch.autograd.grad((out * weights).sum(), [x, *model.parameters()]) for out in outs]
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize("rows", [20, 64])  # 20: two threads take 10 rows each, across a group of 8
def test_the_weight_gradients_do_not_depend_on_the_threads(kind: str, rows: int) -> None:
    """The backward sums the weight's and the bias's gradients per group of 8 rows, one thread a group, and adds
    the groups in order: one thread and two give the same bits (a narrow first layer, a wide second)."""
    assert fused()
    threads, grads = torch.get_num_threads(), []
    torch.manual_seed(rows)
    model = MinimalRecurrent(kind, input_size=1, hidden_size=16, num_layers=2)
    x, weights = torch.randn(rows, 150, 1), torch.randn(rows, 16)
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            grads.append(torch.autograd.grad((model.last(x) * weights).sum(), list(model.parameters())))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize("path", ["fused", "parallel"])
def test_a_layer_passes_gradcheck(kind: str, path: str) -> None:
    assert fused()
    projected = torch.randn(2, 11, KINDS[kind] * 3, dtype=torch.float64, requires_grad=True)
    fn = (lambda p: layer_scan(kind, p)) if path == "fused" else (lambda p: parallel_scan(*coefficients(kind, p)))
    assert torch.autograd.gradcheck(fn, (projected,))


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize("rows", [1, 8, 64])  # one batch block, and blocks split across threads
def test_the_fused_loop_and_the_parallel_scan_agree_with_the_sequential_loop(kind: str, rows: int) -> None:
    assert fused()
    torch.manual_seed(rows)
    projected = torch.randn(rows, 200, KINDS[kind] * 16, dtype=torch.float64, requires_grad=True)
    a, b = coefficients(kind, projected)
    h, out = torch.zeros(rows, 16, dtype=torch.float64), []
    for t in range(200):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    ref = torch.stack(out, dim=1)
    weights = torch.randn_like(ref)
    (ref_grad,) = torch.autograd.grad((ref * weights).sum(), [projected])
    for h_fn in (layer_scan(kind, projected), parallel_scan(*coefficients(kind, projected))):
        (grad,) = torch.autograd.grad((h_fn * weights).sum(), [projected])
        assert (h_fn - ref).abs().max().item() < 1e-10
        assert (grad - ref_grad).abs().max().item() < 1e-10


def test_minimal_cells_have_about_a_third_of_grus_parameters() -> None:
    sizes = {
        cell: count_parameters(RecurrentForecaster(cell=cell, n_features=1, hidden_size=64, num_layers=2, horizon=1))
        for cell in ("gru", "lstm", "mingru", "minlstm")
    }
    # GRU: 3H(in + H) + 6H per layer; minGRU: 2H(in + 1); LSTM 4H(in + H) + 8H; minLSTM 3H(in + 1); head H + 1
    assert sizes == {"gru": 37889, "lstm": 50497, "mingru": 8641, "minlstm": 12929}
    one = {c: count_parameters(RecurrentForecaster(cell=c, n_features=64, hidden_size=64, num_layers=1, horizon=1))
           for c in ("gru", "mingru")}  # fmt: skip
    assert (one["mingru"] - 65) / (one["gru"] - 65) == pytest.approx(1 / 3)  # input as wide as the state


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_minimal_cell_runs_end_to_end_and_predict_reproduces_it(
    quick_config: Config, tmp_path: Path, cell: str
) -> None:
    quick_config.model.cell = cell
    record = run(quick_config, tmp_path / "run")
    assert record.status == "completed" and record.model == cell and (record.impl, record.kernel) == ("scan", "cpp")
    assert (
        record.n_params == {"mingru": 41, "minlstm": 57}[cell]
    )  # hidden 8, one layer, one input: blocks x 8 x (1 + 1), head 9
    out = predict(tmp_path / "run", [])
    assert (out / "future.csv").read_bytes() == (tmp_path / "run" / "future.csv").read_bytes()


def test_the_report_judges_a_minimal_cell_by_paired_tests_per_ticker(tmp_path: Path) -> None:
    from forecast.reporting.sweep.successors import as_accurate

    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2020-01-01", periods=200).strftime("%Y-%m-%d")
    rows = []
    for ticker, scale in (("AAA", 3.0), ("BBB", 1.0), ("CCC", 1.0), ("DDD", 1.0), ("EEE", 1.0)):
        for cell in ("gru", "mingru"):
            job = f"{ticker}_{cell}"
            errors = rng.standard_normal(200) * (scale if cell == "mingru" else 1.0)
            (tmp_path / job).mkdir()
            pd.DataFrame({"date": dates, "split": "test", "step": 1, "actual": 100 + errors, "predicted": 100.0,
                          "persistence": 100.0}).to_csv(tmp_path / job / "forecasts.csv", index=False)  # fmt: skip
            rows.append({"job": job, "ticker": ticker, "cell": cell, "test_mae": float(np.abs(errors).mean())})
    verdict = as_accurate(tmp_path, pd.DataFrame(rows), "mingru", "gru")
    assert verdict is not None and verdict.verdict == "supported"  # worse on 1 of 5: within the tolerated 20%
    assert verdict.evidence.startswith(
        "paired Diebold-Mariano per ticker (squared test errors, seeds averaged), Benjamini-Hochberg at 5%: mingru "
        "significantly worse on 1 of 5 tickers (AAA), better on 0 (none)"
    )
    assert as_accurate(tmp_path, pd.DataFrame(rows), "minlstm", "lstm") is None


def test_the_gradient_flow_section_says_how_far_back_the_minimal_cells_reach() -> None:
    from forecast.reporting.sweep.claims import gates_keep_gradients

    lags = {"rnn": (5, 7), "lstm": (20, 22), "gru": (30, 34), "mingru": (40, 44), "minlstm": (9, 9)}
    done = pd.DataFrame(
        [{"cell": c, "window": 60, "forget_bias": np.nan, "effective_memory_lag": v, "effective_memory_lag_init": 3}
         for c, pair in lags.items() for v in pair]
    )  # fmt: skip
    verdict = gates_keep_gradients(done)
    assert verdict.verdict == "supported"  # LSTM and GRU against RNN only: the minimal cells are shown, not judged
    assert verdict.evidence == (
        "window 60, effective memory lag after training (largest lag whose gradient is >= 1% of lag 1): rnn 6 ± 1.4, "
        "lstm 21 ± 1.4, gru 32 ± 2.8, mingru 42 ± 2.8, minlstm 9 ± 0; at initialisation: rnn 3 ± 0, lstm 3 ± 0, "
        "gru 3 ± 0, mingru 3 ± 0, minlstm 3 ± 0"
    )


def test_a_narrow_first_layer_keeps_no_projection_and_a_wide_one_keeps_one() -> None:
    from forecast.models.minimal import NARROW

    assert fused()
    saved: list[tuple[int, ...]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(tuple(t.shape))
        return t

    for features in (NARROW, NARROW + 1):  # projected inside the loop; one GEMM before it
        model = MinimalRecurrent("mingru", input_size=features, hidden_size=6)
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(torch.randn(2, 9, features))[0].sum()
        assert max(saved, key=lambda s: s[-1] if len(s) == 3 else 0) == (
            (2, 9, 6) if features == NARROW else (2, 9, 12)
        )


def test_the_top_layer_under_a_head_keeps_its_chunk_states_not_its_window() -> None:
    assert fused()
    saved: list[tuple[int, ...]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(tuple(t.shape))
        return t

    model = MinimalRecurrent("minlstm", input_size=1, hidden_size=6, num_layers=2)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model.last(torch.randn(2, 300, 1)).sum()
    # the first layer's h (its output, the second's input) twice; the top layer's states entering its three
    # chunks of 128 steps, and its last step
    assert sorted(s for s in saved if len(s) == 3 and s[-1] == 6) == [(2, 4, 6), (2, 300, 6), (2, 300, 6)]
