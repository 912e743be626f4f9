"""The sLSTM of xLSTM (Beck, Pöppel, Spanring et al. 2024), the LSTM's own successor: the LSTM's gate shape with an
exponential input gate, a normaliser state ``n`` and a stabiliser state ``m``, and optionally block-diagonal
recurrent "heads".

    raw = W x + R h + b;  i~, f~, z~, o~ = split(raw)
    m' = max(i~, m + logsigmoid(f~));  i = exp(i~ - m');  f = exp(m + logsigmoid(f~) - m')
    c' = f c + i tanh(z~);  n' = f n + i;  h' = sigmoid(o~) c' / n'

What is taken from the official code (``NX-AI/xlstm``, commit 8901ba0): the pointwise step of its vanilla backend
(``xlstm/blocks/slstm/src/vanilla/slstm.py``, with its first step ``m' = i~`` where the states are zero), the gate
order (i, f, z, o), one bias, and its cell's default initialisation (``xlstm/blocks/slstm/cell.py``): recurrent
weights zero, the forget-gate bias "powerlaw_blockdependent" (per head, from +5 down to -7 over the head's units,
the exponent ``0.3 + 1.3 * layer / (layers - 1)`` with a layer as the block), the other biases zero, and the input
weights "small init" (normal, std ``sqrt(2 / (5 * inputs))``). What is not: the sLSTM *block* around the cell (its
causal convolution, head-wise input projections, group norm and feed-forward): here the cell is stacked like the
other cells, ``num_layers`` layers with dropout between them, and a dense input projection.

Two implementations with the same parameters (state dicts load into either): :class:`FusedSLSTM`, the C++ loop
of ``models/fast/slstm.cpp`` (forward, analytic backward, an inference kernel that keeps no gates), and
:class:`SLSTM`, a PyTorch loop over time that CUDA and machines without a compiler run.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn.functional import logsigmoid

from forecast.models.fast import build
from forecast.models.fast.layers import _input_grad, _input_terms, _recurrent_weight_grad, _weight_grads, output_grad


def forget_bias(head_dim: int, layer: int, layers: int) -> torch.Tensor:
    """The official "powerlaw_blockdependent" forget-gate bias of one head: from +5 down to -7 over its units."""
    ratio = layer / (layers - 1) if layers > 1 else 0.0
    return -(-5.0 + 12.0 * torch.linspace(0.0, 1.0, head_dim) ** (0.3 + 1.3 * ratio))


def dense_recurrent(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """The recurrent matrix ``(4H, H)`` from its head blocks ``(4H, H / heads)``: block-diagonal for ``heads > 1``
    (head ``k``'s gates read the units of head ``k`` only), differentiable, so ``R``'s gradient keeps the blocks."""
    if heads == 1:
        return weight
    rows, dim = weight.shape
    blocks = weight.view(4, heads, dim, dim)
    eye = torch.eye(heads, dtype=weight.dtype, device=weight.device)
    return torch.einsum("ghjk,hl->ghjlk", blocks, eye).reshape(rows, heads * dim)


def reference_layer(seq: torch.Tensor, w_ih: torch.Tensor, r: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """One layer as a PyTorch loop over time: ``(T, B, inputs) -> (T, B, H)``, autograd through every step."""
    terms = _input_terms(seq, w_ih, bias)
    zero = seq.new_zeros(seq.size(1), r.size(1))
    h, c, n, m, outs = zero, zero, zero, zero, []
    for t in range(seq.size(0)):
        i_raw, f_raw, z_raw, o_raw = (terms[t] + h @ r.t()).chunk(4, dim=-1)
        if t == 0:  # zero states: m' = i~, so i = 1 and f meets c = n = 0 (exp(-i~) may overflow: never formed)
            m, c, n = i_raw, torch.tanh(z_raw), torch.ones_like(i_raw)
        else:
            log_f = m + logsigmoid(f_raw)
            m = torch.maximum(i_raw, log_f)
            i_gate, f_gate = torch.exp(i_raw - m), torch.exp(log_f - m)
            c = f_gate * c + i_gate * torch.tanh(z_raw)
            n = f_gate * n + i_gate
        h = torch.sigmoid(o_raw) * c / n
        outs.append(h)
    return torch.stack(outs)


class _SLSTMLayer(torch.autograd.Function):
    """One layer through the C++ loop: the forward keeps the gates, c, n and d f / d f~ for the analytic backward."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, w_ih: torch.Tensor, r: torch.Tensor, bias: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        outs, gates, cells, norms, fd = build.load().slstm_forward(_input_terms(x, w_ih, bias), r)
        ctx.save_for_backward(x, outs, gates, cells, norms, fd, w_ih, r)
        ctx.set_materialize_grads(False)  # see fast.layers.output_grad
        return outs, outs[-1]

    @staticmethod
    def backward(
        ctx: Any, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        x, outs, gates, cells, norms, fd, w_ih, r = ctx.saved_tensors
        g_h = outs.new_empty(0) if grad_h is None else grad_h.contiguous()
        d_a = build.load().slstm_backward(output_grad(grad_out, outs, True), g_h, outs, gates, cells, norms, fd, r)
        dw_ih, db = _weight_grads(d_a, x)
        dr = _recurrent_weight_grad(d_a, outs, outs.new_zeros(outs.shape[1:]))
        return _input_grad(ctx, d_a, w_ih, x), dw_ih, dr, db


def fused_layer(seq: torch.Tensor, w_ih: torch.Tensor, r: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """One layer through the C++ loop; without autograd, the inference kernel (no gates, no states kept)."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (seq, w_ih, r, bias)):
        return _SLSTMLayer.apply(seq, w_ih, r, bias)[0]
    return build.load().slstm_infer(seq, w_ih, r.contiguous(), bias)


def fused_last(seq: torch.Tensor, w_ih: torch.Tensor, r: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A top layer's last state through the C++ loop: its gradient enters as h_n's, with no (T, B, H) of zeros."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (seq, w_ih, r, bias)):
        return _SLSTMLayer.apply(seq, w_ih, r, bias)[1]
    return build.load().slstm_infer(seq, w_ih, r.contiguous(), bias)[-1]


def reference_last(seq: torch.Tensor, w_ih: torch.Tensor, r: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A top layer's last state through the PyTorch loop."""
    return reference_layer(seq, w_ih, r, bias)[-1]


class SLSTM(nn.Module):
    """A stack of sLSTM layers, ``(batch, time, input_size) -> ((batch, time, hidden_size), h_n)``, the interface of
    ``nn.GRU(batch_first=True)``; ``heads`` divides ``hidden_size`` (1: a dense recurrent matrix)."""

    layer = staticmethod(reference_layer)
    final = staticmethod(reference_last)  # a top layer's last state alone: what a forecaster's head reads

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = True,
        dropout: float = 0.0,
        heads: int = 1,
    ) -> None:
        super().__init__()
        if not batch_first:
            raise ValueError("sLSTM takes batch_first inputs")
        if heads < 1 or hidden_size % heads:
            raise ValueError(f"heads={heads} must divide hidden_size={hidden_size}")
        self.hidden_size, self.num_layers, self.heads, self.dropout = hidden_size, num_layers, heads, dropout
        for k in range(num_layers):
            n_in = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(4 * hidden_size, n_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(4 * hidden_size, hidden_size // heads)))
            self.register_parameter(f"bias_l{k}", nn.Parameter(torch.empty(4 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official cell's defaults (see the module's docstring)."""
        with torch.no_grad():
            for k in range(self.num_layers):
                w_ih = getattr(self, f"weight_ih_l{k}")
                nn.init.normal_(w_ih, 0.0, math.sqrt(2.0 / (5.0 * w_ih.shape[1])))
                nn.init.zeros_(getattr(self, f"weight_hh_l{k}"))
                bias = getattr(self, f"bias_l{k}")
                nn.init.zeros_(bias)
                size = self.hidden_size
                bias[size : 2 * size] = forget_bias(size // self.heads, k, self.num_layers).repeat(self.heads)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq, finals = x.transpose(0, 1).contiguous(), []
        for k in range(self.num_layers):
            seq = self.layer(*self._inputs(seq, k))
            finals.append(seq[-1])
        return seq.transpose(0, 1), torch.stack(finals)

    def last(self, x: torch.Tensor) -> torch.Tensor:
        """Return the top layer's last state (batch, hidden_size) alone: see ``fast.layers.output_grad``."""
        seq = x.transpose(0, 1).contiguous()
        for k in range(self.num_layers - 1):
            seq = self.layer(*self._inputs(seq, k))
        return self.final(*self._inputs(seq, self.num_layers - 1))

    def _inputs(self, seq: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return layer k's input (dropout after the first layer, in training) and its weights, recurrent matrix
        dense."""
        if k and self.dropout > 0 and self.training:
            seq = nn.functional.dropout(seq, self.dropout, training=True)
        r = dense_recurrent(getattr(self, f"weight_hh_l{k}"), self.heads)
        return seq, getattr(self, f"weight_ih_l{k}"), r, getattr(self, f"bias_l{k}")


class FusedSLSTM(SLSTM):
    """:class:`SLSTM` on the C++ loop (CPU; needs the C++ build)."""

    layer = staticmethod(fused_layer)
    final = staticmethod(fused_last)
