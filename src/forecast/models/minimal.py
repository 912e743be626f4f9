"""The minimal recurrent cells of Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024 ("Were RNNs All We Needed?"):
gates that read the input only, so the recurrence is linear in the state and runs as a parallel scan.

    minGRU:  z = sigmoid(W_z x),  h~ = W_h x,  h_t = (1 - z) h_{t-1} + z h~
    minLSTM: f = sigmoid(W_f x),  i = sigmoid(W_i x),  h~ = W_h x,  h_t = f / (f + i) h_{t-1} + i / (f + i) h~

Every step is ``h_t = a_t h_{t-1} + b_t`` with ``0 < a_t < 1``: the input projections of all steps are one GEMM
per layer (for a first layer on at most ``NARROW`` features, a product inside the loop), and the gates, the bias and
the recurrence either one fused C++ loop forward and one backward on CPU (``models/fast/scan.cpp``, built with the
fast GRU's kernels: O(time) work, no autograd graph per step and no intermediate tensor but ``h``) or, on CUDA and
where no compiler is
at hand, a Hillis-Steele scan over time (``log2(window)`` vectorised rounds of ``(a, b) o (a', b') = (a a', a b' +
b)``: products of gates and sums only, so no log space and no division). ``h_0 = 0``. Linear layers keep
PyTorch's default init (uniform in ``+-1/sqrt(fan_in)``). Stacked like ``nn.GRU``: ``num_layers`` layers, dropout
between them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from forecast.models.fast import build
from forecast.models.fast.layers import NARROW

KINDS = {"mingru": 2, "minlstm": 3}  # weight blocks per layer: (z, h~) and (f, i, h~)


class _FusedLayer(torch.autograd.Function):
    """A whole layer on CPU (``models/fast/scan.cpp``): the gates and the recurrence as one fused C++ loop forward
    and one backward, which also sums the bias gradient. A wide input is projected in the loop a chunk of 128 steps
    of a row at a time (its bias added there: no broadcast copy, no column sum), the projection kept for the
    backward, and the backward multiplies each chunk of the projection's gradient into the inputs' and the
    weight's gradients while it is in cache, so that gradient is never written whole; a narrow input (``NARROW``
    features or fewer) is projected step by step inside the loop, so its ``(batch, time, blocks * H)`` projection
    and that projection's gradient are never written or kept. With
    ``last``, the output is the last step's ``h`` alone ``(batch, H)``: the loop keeps only the states entering
    each of the backward's chunks of steps (which recomputes the steps between them), so the layer's
    ``(batch, time, H)`` is never written, kept or read, nor a gradient of zeros filled for it."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, blocks: int, last: bool
    ) -> torch.Tensor:
        narrow, empty = x.shape[-1] <= NARROW, weight.new_empty(0)
        if narrow:  # projected step by step in the loop
            h, _ = build.load().minimal_forward(x, weight, bias, blocks, last, empty, empty)
            source = x
        else:  # projected a chunk of steps at a time in the loop, the projection kept for the backward
            h, source = build.load().minimal_forward(empty, empty, bias, blocks, last, x, weight)
        # h: with last, the (batch, chunks + 1, H) states
        ctx.save_for_backward(x, weight, bias, source, h)
        ctx.blocks, ctx.narrow = blocks, narrow
        return h[:, -1].clone() if last else h

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight, bias, source, h = ctx.saved_tensors
        needs_dx = ctx.needs_input_grad[0]
        empty = weight.new_empty(0)
        if ctx.narrow:  # the loop projects x itself
            args = (grad, x, weight, bias, h, ctx.blocks, needs_dx, empty, empty)
        else:  # the loop reads the projection and multiplies each chunk's derivatives by x and the weight
            args = (grad, source, empty, bias, h, ctx.blocks, needs_dx, x, weight)
        dx, weight_t, bias_grad = build.load().minimal_backward(*args)  # the weight's gradient transposed (I, K)
        return dx if needs_dx else None, weight_t.t(), bias_grad, None, None


class _FusedScan(torch.autograd.Function):
    """The fused loop over given projected inputs (no bias): what :func:`layer_scan` runs on CPU."""

    @staticmethod
    def forward(ctx: Any, projected: torch.Tensor, blocks: int) -> torch.Tensor:
        zero, empty = projected.new_zeros(projected.shape[-1]), projected.new_empty(0)
        h = build.load().minimal_forward(projected, empty, zero, blocks, False, empty, empty)[0]
        ctx.save_for_backward(projected, zero, h)
        ctx.blocks = blocks
        return h

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        projected, zero, h = ctx.saved_tensors
        empty = projected.new_empty(0)
        return build.load().minimal_backward(grad, projected, empty, zero, h, ctx.blocks, False, empty, empty)[0], None


def fused() -> bool:
    """Return whether the compiled loop is available here (the CPU kernels of ``forecast.models.fast``)."""
    return build.load() is not None


def layer_scan(kind: str, projected: torch.Tensor) -> torch.Tensor:
    """Return a layer's ``h`` from its projected inputs ``(batch, time, blocks * H)``: the fused C++ loop on CPU
    where it is built, else the coefficients and the parallel scan."""
    if projected.device.type == "cpu" and fused():
        return _FusedScan.apply(projected, KINDS[kind])
    return parallel_scan(*coefficients(kind, projected))


def run_layer(kind: str, layer: nn.Module, x: torch.Tensor, last: bool = False) -> torch.Tensor:
    """Return a layer's ``h`` from its inputs ``x`` (with ``last``, its last step alone): projection and loop fused
    on CPU where the kernels are built (:class:`_FusedLayer`), else ``layer(x)`` through :func:`layer_scan`."""
    if x.device.type == "cpu" and fused() and isinstance(layer, nn.Linear):
        return _FusedLayer.apply(x, layer.weight, layer.bias, KINDS[kind], last)
    h = layer_scan(kind, layer(x))
    return h[:, -1] if last else h


def parallel_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The recurrence as a Hillis-Steele scan in PyTorch: ``log2(time)`` vectorised rounds (CUDA, no compiler)."""
    step, steps = 1, a.shape[1]
    while step < steps:
        b = torch.cat([b[:, :step], torch.addcmul(b[:, step:], a[:, step:], b[:, :-step])], dim=1)
        if step * 2 < steps:  # the last round needs no products of gates
            a = torch.cat([a[:, :step], a[:, step:] * a[:, :-step]], dim=1)
        step *= 2
    return b


def coefficients(kind: str, projected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(a, b)`` of the recurrence from a layer's projected inputs ``(batch, time, blocks * H)``."""
    if kind == "mingru":
        gate, candidate = projected.chunk(2, dim=-1)
        z = torch.sigmoid(gate)
        return 1 - z, z * candidate
    f_gate, i_gate, candidate = projected.chunk(3, dim=-1)
    f, i = torch.sigmoid(f_gate), torch.sigmoid(i_gate)
    total = f + i
    return f / total, i / total * candidate


class MinimalRecurrent(nn.Module):
    """A stack of minGRU or minLSTM layers: ``(batch, time, input_size) -> ((batch, time, hidden_size), None)``,
    the interface of ``nn.GRU(batch_first=True)``."""

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not batch_first:
            raise ValueError("minimal cells take batch_first inputs")
        self.kind, self.hidden_size = kind, hidden_size
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, KINDS[kind] * hidden_size) for n in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self._run(x, last=False), None

    def last(self, x: torch.Tensor) -> torch.Tensor:
        """Return the top layer's last step alone ``(batch, hidden_size)``: what a forecaster's head reads."""
        return self._run(x, last=True)

    def _run(self, x: torch.Tensor, last: bool) -> torch.Tensor:
        for k, layer in enumerate(self.layers):
            if k:
                x = self.dropout(x)
            x = run_layer(self.kind, layer, x, last and k == len(self.layers) - 1)
        return x
