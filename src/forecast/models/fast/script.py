"""The TorchScript step loops: the fallback of the fast path where the C++ kernels cannot be built.

Same interface and results as ``kernels.cpp``; slower (about 3 us of interpreter overhead per operation).
"""

from __future__ import annotations

import warnings

import torch

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # TorchScript deprecation notices: scripting still works for the fallback

    @torch.jit.script
    def _gru_forward(
        gi: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor, save: bool
    ) -> list[torch.Tensor]:
        """Recurrence over precomputed input gates ``gi`` (T, B, 3H). Returns outputs (T, B, H) and, with
        ``save``, r, z, n (T, B, H) each and hn = W_hn h + b_hn (T, B, H)."""
        hidden = h.size(1)
        outs, rzs, ns, hns = [], [], [], []
        for t in range(gi.size(0)):
            gh = torch.addmm(b_hh, h, w_hh.t())
            g = gi[t]
            rz = torch.sigmoid(g[:, : 2 * hidden] + gh[:, : 2 * hidden])
            hn = gh[:, 2 * hidden :]
            n = torch.tanh(torch.addcmul(g[:, 2 * hidden :], rz[:, :hidden], hn))
            h = torch.addcmul(n, rz[:, hidden:], h - n)
            outs.append(h)
            rzs.append(rz)
            ns.append(n)
            hns.append(hn)
        if not save:
            return [torch.stack(outs)]
        rz_all = torch.stack(rzs)
        return [torch.stack(outs), rz_all[..., :hidden], rz_all[..., hidden:], torch.stack(ns), torch.stack(hns)]

    @torch.jit.script
    def _gru_backward(
        grad_out: torch.Tensor,
        grad_h: torch.Tensor,
        outs: torch.Tensor,
        r_all: torch.Tensor,
        z_all: torch.Tensor,
        n: torch.Tensor,
        hn: torch.Tensor,
        h0: torch.Tensor,
        w_hh: torch.Tensor,
    ) -> list[torch.Tensor]:
        """Reverse recurrence. Returns d(input gates) (T, B, 3H), d(hidden gates) (T, B, 3H), d(h0) (B, H)."""
        steps = outs.size(0)
        d_gi, d_gh = [torch.empty(0)] * steps, [torch.empty(0)] * steps
        dh = grad_h
        for t in range(steps - 1, -1, -1):
            dh = dh + grad_out[t]
            r, z, n_t = r_all[t], z_all[t], n[t]
            prev = outs[t - 1] if t > 0 else h0
            da_n = dh * (1 - z) * (1 - n_t * n_t)
            da_z = dh * (prev - n_t) * z * (1 - z)
            da_r = da_n * hn[t] * r * (1 - r)
            d_gi[t] = torch.cat([da_r, da_z, da_n], 1)
            d_gh[t] = torch.cat([da_r, da_z, da_n * r], 1)
            dh = torch.addmm(dh * z, d_gh[t], w_hh)
        return [torch.stack(d_gi), torch.stack(d_gh), dh]

    @torch.jit.script
    def _rnn_forward(gi: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        """tanh recurrence over precomputed input terms ``gi`` (T, B, H) (both biases included)."""
        outs = []
        for t in range(gi.size(0)):
            h = torch.tanh(torch.addmm(gi[t], h, w_hh.t()))
            outs.append(h)
        return torch.stack(outs)

    @torch.jit.script
    def _rnn_backward(
        grad_out: torch.Tensor, grad_h: torch.Tensor, outs: torch.Tensor, w_hh: torch.Tensor
    ) -> list[torch.Tensor]:
        """Reverse tanh recurrence. Returns d(pre-activations) (T, B, H) and d(h0)."""
        steps = outs.size(0)
        d_a = [torch.empty(0)] * steps
        dh = grad_h
        for t in range(steps - 1, -1, -1):
            dh = dh + grad_out[t]
            y = outs[t]
            d_a[t] = dh * (1 - y * y)
            dh = torch.mm(d_a[t], w_hh)
        return [torch.stack(d_a), dh]


def _gru_train_forward(
    gi: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor
) -> list[torch.Tensor]:
    return _gru_forward(gi, h0, w_hh, b_hh, True)  # outputs and the gates the backward pass needs


def _gru_infer(x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
    w_ih, w_hh, b_ih, b_hh = weights  # nn.GRU's parameter order
    gi = torch.addmm(b_ih, x.reshape(-1, x.size(-1)), w_ih.t()).view(x.size(0), x.size(1), -1)
    return _gru_forward(gi, h0, w_hh, b_hh, False)[0]


def _rnn_infer(
    x: torch.Tensor, h0: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    gi = torch.addmm(bias, x.reshape(-1, x.size(-1)), w_ih.t()).view(x.size(0), x.size(1), -1)
    return _rnn_forward(gi, h0, w_hh)


class ScriptKernels:
    """The TorchScript loops, with the compiled extension's interface."""

    gru_forward = staticmethod(_gru_train_forward)
    gru_backward = staticmethod(_gru_backward)
    rnn_forward = staticmethod(_rnn_forward)
    rnn_backward = staticmethod(_rnn_backward)
    gru_infer = staticmethod(_gru_infer)
    rnn_infer = staticmethod(_rnn_infer)
