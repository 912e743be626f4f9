"""A fast CPU path for LSTM layers, on the fast GRU's technique (:mod:`forecast.models.fast.layers`).

Why: the GRU-vs-LSTM speed verdict should compare cells, not kernels. ``nn.LSTM`` runs on oneDNN's fused kernel
and ``nn.GRU`` on a per-step loop of small ATen ops, so stock against stock measures PyTorch's kernels, and the
fast GRU against oneDNN's LSTM measures ours against theirs. With this module both cells run on the same
technique: every step's input projection in one GEMM (a first layer on at most ``NARROW`` features: inside the
loop, no projection written), one block of batch rows per thread, one small GEMM and one fused elementwise loop per
step, an analytic backward pass that sums the bias gradient per row as it goes (``lstm.cpp``).

Only the C++ build runs it (a TorchScript LSTM loop would be slower than oneDNN): where the extension does not
build, ``model.impl=auto`` keeps ``nn.LSTM``. Parameter names, shapes, gate order (i, f, g, o) and
initialisation are ``nn.LSTM``'s, so state dicts are interchangeable; a test checks outputs and gradients
against it in float64.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from forecast.models.fast import build
from forecast.models.fast.layers import (
    NARROW,
    _FastRecurrent,
    _input_grad,
    _input_terms,
    _weight_grad,
    output_grad,
    state_grad,
)


def _kernels() -> Any:
    kernels = build.load()
    if kernels is None:
        raise RuntimeError("the fast LSTM needs the C++ kernels (python -m forecast.models.fast.build)")
    return kernels


class _LSTMLayer(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, *weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w_ih, w_hh, b_ih, b_hh = weights  # nn.LSTM's parameters of one layer
        bias, none = b_ih + b_hh, x.new_empty(0)
        narrow = x.size(-1) <= NARROW  # projected step by step in the loop, else one GEMM overwritten with the gates
        wt = w_ih.t().contiguous() if narrow else none
        terms = none if narrow else _input_terms(x, w_ih, bias)
        outs, gates, cells = _kernels().lstm_forward(terms, h0, c0, w_hh, x, wt, bias)
        ctx.set_materialize_grads(False)  # a gradient nobody sent arrives as None: see layers.output_grad
        ctx.save_for_backward(x, outs, gates, cells, h0, c0, w_ih, w_hh, wt)  # gates: i, f, g, o after activation
        return outs, outs[-1], cells[-1]

    @staticmethod
    def infer(
        x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, *weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The forward pass without autograd: no gates and no cell states are kept (inference and evaluation)."""
        w_ih, w_hh, b_ih, b_hh = weights
        outs, c_last = _kernels().lstm_infer(x, h0, c0, w_ih, w_hh, b_ih + b_hh)
        return outs, outs[-1], c_last

    @staticmethod
    def backward(
        ctx: Any, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None, grad_c: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        x, outs, gates, cells, h0, c0, w_ih, w_hh, wt = ctx.saved_tensors
        narrow = wt.numel() > 0
        d_a, dh0, dc0, bias_rows, weight_rows, dx, dw_hh_t = _kernels().lstm_backward(
            output_grad(grad_out, outs, True),
            state_grad(grad_h, h0),
            state_grad(grad_c, c0),
            outs,
            gates,
            cells,
            h0,
            c0,
            w_hh,
            x,
            wt,
            narrow and ctx.needs_input_grad[0],
        )
        db = bias_rows.sum(0)  # one pre-activation: both biases get the same gradient
        dw_hh = dw_hh_t.t().contiguous()  # summed in the loop, block by block (lstm.cpp)
        if narrow:
            return (dx if ctx.needs_input_grad[0] else None), dh0, dc0, weight_rows.sum(0).t(), dw_hh, db, db
        return _input_grad(ctx, d_a, w_ih, x), dh0, dc0, _weight_grad(d_a, x), dw_hh, db, db


class FastLSTM(_FastRecurrent):
    """Drop-in for ``nn.LSTM(batch_first=True)`` on CPU (state dicts interchangeable); needs the C++ build."""

    gates = 4

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``x``: (batch, steps, features). Returns outputs (batch, steps, hidden) and (h_n, c_n), each (layers,
        batch, hidden), as ``nn.LSTM`` does."""
        seq, finals_h, finals_c = self._lstm_layers(x, state)
        return seq.transpose(0, 1), (torch.stack(finals_h), torch.stack(finals_c))

    def last(self, x: torch.Tensor) -> torch.Tensor:
        """Return the top layer's last state (batch, hidden): see :meth:`_FastRecurrent.last`."""
        return self._lstm_layers(x, None)[1][-1]

    def _lstm_layers(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Run the stack: the top layer's outputs (steps, batch, hidden) and each layer's last h and c."""
        seq = x.transpose(0, 1).contiguous()
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            zero = seq.new_zeros(seq.size(1), self.hidden_size)
            h, c = (zero, zero) if state is None else (state[0][layer].contiguous(), state[1][layer].contiguous())
            params = [getattr(self, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            grads = torch.is_grad_enabled() and (seq.requires_grad or any(p.requires_grad for p in params))
            seq, h_last, c_last = (_LSTMLayer.apply if grads else _LSTMLayer.infer)(seq, h, c, *params)
            finals_h.append(h_last)
            finals_c.append(c_last)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                seq = nn.functional.dropout(seq, self.dropout, training=True)
        return seq, finals_h, finals_c
