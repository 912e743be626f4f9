"""A fast CPU path for GRU and tanh-RNN layers: hand-written backpropagation through time.

Why: on CPU, PyTorch runs ``nn.LSTM`` through a fused oneDNN kernel but ``nn.GRU`` and ``nn.RNN`` through a
per-time-step loop of small ATen ops, each recorded by autograd; for a 60-step window the autograd graph
has thousands of nodes per batch and its overhead, not arithmetic, dominates (GRU measured about 2x slower
than LSTM per epoch although it does 25% fewer FLOPs).

How: each layer is one ``torch.autograd.Function``. The forward pass hoists the input projection of every
time step into one matrix product (in C++, a GRU layer on at most ``NARROW`` features projects inside the step loop
instead), then runs the recurrence with a handful of ops per step and no autograd recording; it saves the gates.
The backward pass walks the steps in reverse by hand (a few ops per step, in C++ summing the bias gradients per
row as it goes) and computes the weight gradients afterwards with one large matrix product each. Without
autograd (``no_grad``, ``inference_mode``) a layer runs a separate kernel that keeps no gates and projects its
inputs step by step, so evaluation holds the outputs alone. The C++ loops give each thread its own block of the
batch's rows (rows are independent through the recurrence). The step loops run in C++ (``kernels.cpp``, compiled
by :mod:`forecast.models.fast.build`) or, where that cannot be built, in TorchScript
(:mod:`forecast.models.fast.script`); metrics.json records which (``kernel``).

The modules use ``nn.GRU``/``nn.RNN``'s parameter names, shapes, gate order (r, z, n) and initialisation, so
state dicts are interchangeable; a test checks outputs and gradients against the stock modules.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from forecast.models.fast import build
from forecast.models.fast.script import ScriptKernels

NARROW = 4  # a layer on at most this many input features is projected inside the loop (a first layer on few features)


def step_kernels() -> Any:
    """Return the compiled C++ step loops where they build, else the TorchScript ones (same results)."""
    return build.load() or ScriptKernels


def kernel_name() -> str:
    """Return which step loops the fast path runs here: ``cpp`` or ``torchscript``."""
    return "cpp" if build.load() is not None else "torchscript"


def _previous_states(outs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Return the hidden state before each step: h0, outs[0], ..., outs[T-2]."""
    return torch.cat([h0.unsqueeze(0), outs[:-1]])


def _input_terms(x: torch.Tensor, w_ih: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Return ``x @ w_ih.T + bias`` for every step at once: (steps, batch, gates x hidden), one matrix product."""
    return torch.addmm(bias, x.reshape(-1, x.size(-1)), w_ih.t()).view(x.size(0), x.size(1), -1)


def _recurrent_weight_grad(d_gates: torch.Tensor, outs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Return dW_hh = sum over steps of ``d_gates[t].T @ h[t-1]`` (h[-1] = ``h0``) as one addmm on views of the
    outputs: no (T, B, H) copy of the previous states (:func:`_previous_states`; 2.9 ms against 3.3 at the LSTM's
    1 x 25, window 240, batch 256, when the LSTM still took it), computed transposed as :func:`_weight_grad` is. The
    RNN and sLSTM take it; the fused LSTM and GRU sum the same product in their backward loops (common.h BlockSums)."""
    first = h0.t().mm(d_gates[0])
    if len(outs) > 1:
        rest = d_gates[1:].reshape(-1, d_gates.size(-1))
        first = torch.addmm(first, outs[:-1].reshape(-1, outs.size(-1)).t(), rest)
    return first.t().contiguous()


def _weight_grads(d_gates: torch.Tensor, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (dW, db) for ``gates = inputs @ W.T + b`` summed over all steps: one matrix product."""
    flat = d_gates.reshape(-1, d_gates.size(-1))
    return _weight_grad(d_gates, inputs), flat.sum(0)


def _weight_grad(d_gates: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Return dW alone (a layer whose bias gradient is another term's: no column sum over every step and row).

    Computed transposed, ``(inputs.T @ d_gates).T``: MKL runs the product with the narrow side first 1.1-1.7x
    faster for 3 and 4 gate blocks (steps x batch rows; 4.4 against 7.2 ms for the LSTM's recurrent weight at
    1 x 25, window 240, batch 512), 0.93x for the RNN's single block at 2 x 64 (0.02 ms a batch), and gives the
    same bits (float32 and float64, 21 shapes checked when it was changed)."""
    return transposed_product(d_gates.reshape(-1, d_gates.size(-1)), inputs.reshape(-1, inputs.size(-1)))


def transposed_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return ``a.T @ b`` (a sum over rows) as ``(b.T @ a).T``, contiguous: see :func:`_weight_grad`."""
    return b.t().mm(a).t().contiguous()


def _input_grad(ctx: Any, d_gates: torch.Tensor, w_ih: torch.Tensor, x: torch.Tensor) -> torch.Tensor | None:
    """Return d(inputs), or None when the inputs need none (the first layer reads data: one GEMM saved)."""
    if not ctx.needs_input_grad[0]:
        return None
    return d_gates.reshape(-1, d_gates.size(-1)).mm(w_ih).view_as(x)


def output_grad(grad_out: torch.Tensor | None, outs: torch.Tensor, compiled: bool) -> torch.Tensor:
    """Return the gradient of a layer's outputs for its backward loop. Layers leave autograd's zero-filling off
    (``set_materialize_grads(False)``): where only ``h_n`` was read (a forecaster's head on the top layer,
    :meth:`_FastRecurrent.last`), ``grad_out`` is None and the C++ loops take an empty tensor for zeros, so no
    (T, B, H) of zeros is filled, nor a batch-first gradient copied to time-major; the TorchScript loops get zeros."""
    if grad_out is not None:
        return grad_out.contiguous()
    return outs.new_empty(0) if compiled else torch.zeros_like(outs)


def state_grad(grad: torch.Tensor | None, state: torch.Tensor) -> torch.Tensor:
    """Return the gradient of a final state (``h_n`` or ``c_n``), zeros where it was not read."""
    return torch.zeros_like(state) if grad is None else grad.contiguous()


class _GRULayer(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        w_ih, w_hh, b_ih, b_hh = weights  # nn.GRU's parameters of one layer
        kernels, none = step_kernels(), x.new_empty(0)
        ctx.compiled = kernels is not ScriptKernels
        ctx.set_materialize_grads(False)
        narrow = ctx.compiled and x.size(-1) <= NARROW  # projected step by step in the loop: no (T, B, 3H) terms
        wt = w_ih.t().contiguous() if narrow else none
        terms = none if narrow else _input_terms(x, w_ih, b_ih)
        extra = (x, wt, b_ih) if ctx.compiled else ()  # the TorchScript loops take the terms alone
        outs, *gates = kernels.gru_forward(terms, h0.contiguous(), w_hh, b_hh, *extra)
        ctx.save_for_backward(x, outs, *gates, h0, w_ih, w_hh, wt)  # gates: r, z, n and hn = W_hn h + b_hn
        return outs, outs[-1]

    @staticmethod
    def infer(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward pass without autograd: no gates are kept (inference and evaluation)."""
        outs = step_kernels().gru_infer(x, h0, *weights)
        return outs, outs[-1]

    @staticmethod
    def backward(
        ctx: Any, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        x, outs, r, z, n, hn, h0, w_ih, w_hh, wt = ctx.saved_tensors
        args = (
            output_grad(grad_out, outs, ctx.compiled),
            state_grad(grad_h, h0),
            outs,
            r,
            z,
            n,
            hn,
            h0.contiguous(),
            w_hh,
        )
        if not ctx.compiled:  # the TorchScript loops: the weight and bias gradients as GEMMs and column sums
            d_gi, d_gh, dh0 = ScriptKernels.gru_backward(*args)
            dw_ih, db_ih = _weight_grads(d_gi, x)
            dw_hh, db_hh = _weight_grads(d_gh, _previous_states(outs, h0))
            return _input_grad(ctx, d_gi, w_ih, x), dh0, dw_ih, dw_hh, db_ih, db_hh
        narrow, needs_dx = wt.numel() > 0, ctx.needs_input_grad[0]
        d_gi, dw_hh_t, dh0, bi_rows, bh_rows, w_rows, dx = build.load().gru_backward(*args, x, wt, narrow and needs_dx)
        dw_hh = dw_hh_t.t().contiguous()  # summed in the loop, block by block (kernels.cpp)
        db_ih, db_hh = bi_rows.sum(0), bh_rows.sum(0)  # summed per row in the loop: no column sums over every step
        if narrow:
            return (dx if needs_dx else None), dh0, w_rows.sum(0).t(), dw_hh, db_ih, db_hh
        return _input_grad(ctx, d_gi, w_ih, x), dh0, _weight_grad(d_gi, x), dw_hh, db_ih, db_hh


class _RNNLayer(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        w_ih, w_hh, bias = weights[0], weights[1], weights[2] + weights[3]  # nn.RNN's parameters: both biases add
        kernels = step_kernels()
        outs = kernels.rnn_forward(_input_terms(x, w_ih, bias), h0.contiguous(), w_hh)
        ctx.save_for_backward(x, outs, h0, w_ih, w_hh)
        ctx.compiled = kernels is not ScriptKernels
        ctx.set_materialize_grads(False)
        return outs, outs[-1]

    @staticmethod
    def infer(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward pass without autograd (the training forward keeps nothing more than its outputs)."""
        outs = step_kernels().rnn_infer(x, h0, weights[0], weights[1], weights[2] + weights[3])
        return outs, outs[-1]

    @staticmethod
    def backward(
        ctx: Any, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        x, outs, h0, w_ih, w_hh = ctx.saved_tensors
        g_out, g_h = output_grad(grad_out, outs, ctx.compiled), state_grad(grad_h, h0)
        d_a, dh0 = step_kernels().rnn_backward(g_out, g_h, outs, w_hh)
        dw_ih, db = _weight_grads(d_a, x)
        dw_hh = _recurrent_weight_grad(d_a, outs, h0)
        return _input_grad(ctx, d_a, w_ih, x), dh0, dw_ih, dw_hh, db, db


class _FastRecurrent(nn.Module):
    """Stacked unidirectional layers with ``nn.GRU``/``nn.RNN`` parameters; ``batch_first`` input only."""

    gates = 1
    layer_fn: Any = None

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = True, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not batch_first:
            raise ValueError("the fast recurrent path takes batch_first input only")
        self.input_size, self.hidden_size, self.num_layers, self.dropout = input_size, hidden_size, num_layers, dropout
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(self.gates * hidden_size, n_in)))
            self.register_parameter(
                f"weight_hh_l{layer}", nn.Parameter(torch.empty(self.gates * hidden_size, hidden_size))
            )
            self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(self.gates * hidden_size)))
            self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(self.gates * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, in ``nn.GRU``'s parameter order."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: (batch, steps, features). Returns outputs (batch, steps, hidden) and h_n (layers, batch, hidden)."""
        seq, finals = self._layers(x, h0)
        return seq.transpose(0, 1), torch.stack(finals)

    def last(self, x: torch.Tensor) -> torch.Tensor:
        """Return the top layer's last state (batch, hidden), what a forecaster's head reads: its gradient enters
        the top layer's backward as ``h_n``'s, with no (steps, batch, hidden) of zeros (:func:`output_grad`)."""
        return self._layers(x, None)[1][-1]

    def _layers(self, x: torch.Tensor, h0: torch.Tensor | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the stack on ``x`` (batch, steps, features): the top layer's outputs (steps, batch, hidden) and
        each layer's last state."""
        seq = x.transpose(0, 1).contiguous()  # (steps, batch, features): each step is one contiguous block
        finals = []
        for layer in range(self.num_layers):
            h = seq.new_zeros(seq.size(1), self.hidden_size) if h0 is None else h0[layer]
            params = [getattr(self, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            grads = torch.is_grad_enabled() and (seq.requires_grad or any(p.requires_grad for p in params))
            seq, h_last = (self.layer_fn.apply if grads else self.layer_fn.infer)(seq, h, *params)
            finals.append(h_last)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                seq = nn.functional.dropout(seq, self.dropout, training=True)
        return seq, finals


class FastGRU(_FastRecurrent):
    """Drop-in for ``nn.GRU(batch_first=True)`` on CPU (state dicts interchangeable)."""

    gates = 3
    layer_fn = _GRULayer


class FastRNN(_FastRecurrent):
    """Drop-in for ``nn.RNN(nonlinearity='tanh', batch_first=True)`` on CPU (state dicts interchangeable)."""

    gates = 1
    layer_fn = _RNNLayer
