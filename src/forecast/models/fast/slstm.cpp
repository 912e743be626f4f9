// The sLSTM of xLSTM (Beck et al. 2024) on the fast LSTM's technique (lstm.cpp): input terms of every step as one
// GEMM (done by the caller), one block of batch rows per thread through the whole recurrence, one small GEMM with
// the (dense or block-diagonal, expanded) recurrent matrix and one fused elementwise loop per step, an analytic
// backward pass, and an inference kernel that keeps no gates. States start at zero.
//
// Gate order (i, f, z, o), raw = x W^T + b + h R^T; the pointwise step of the official vanilla backend
// (NX-AI/xlstm, xlstm/blocks/slstm/src/vanilla/slstm.py):
//   m' = max(i~, m + logsigmoid(f~)) (m' = i~ at the first step, where c = n = 0)
//   i = exp(i~ - m'),  f = exp(m + logsigmoid(f~) - m'),  c' = f c + i tanh(z~),  n' = f n + i,  h' = sigm(o~) c'/n'
// h' does not depend on the stabiliser m (it scales c' and n' alike), so the backward pass treats m as a constant:
// the gradients are the exact ones, and m is never stored. n >= 1 at every step (one of i, f is 1), so c'/n' is safe.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"

using at::Tensor;

// log(sigmoid(x)) without overflow: min(x, 0) - log(1 + exp(-|x|)).
template <typename T> static inline T logsigm(T x) { return std::min(x, T(0)) - std::log(T(1) + std::exp(-std::abs(x))); }

// One sLSTM step over `rows` rows: a holds the pre-activations (rows, 4H), bias added here unless null; c, n, m are
// the previous states, written with the new ones (or c_out, n_out where given: the training pass keeps every
// step's). SAVE overwrites a with the gates (i, f, tanh z~, sigm o~) and writes fd = f sigm(-f~), d f / d f~.
template <typename T, bool SAVE>
static void slstm_step_forward(T* __restrict__ a, const T* __restrict__ bias, const T* c, const T* n,
                               T* __restrict__ m, T* c_out, T* n_out, T* __restrict__ h_out, T* __restrict__ fd,
                               bool first, int64_t rows, int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    T* a_b = a + b * 4 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T ir = a_b[j] + (SAVE ? T(0) : bias[j]);
      const T fr = a_b[H + j] + (SAVE ? T(0) : bias[H + j]);
      const T zr = a_b[2 * H + j] + (SAVE ? T(0) : bias[2 * H + j]);
      const T orw = a_b[3 * H + j] + (SAVE ? T(0) : bias[3 * H + j]);
      const T lf = m[o + j] + logsigm(fr);
      const T mn = first ? ir : std::max(ir, lf);
      const T ig = std::exp(ir - mn), fg = first ? T(0) : std::exp(lf - mn);
      const T z = tanh_(zr), og = sigm(orw);
      const T cn = first ? ig * z : fg * c[o + j] + ig * z;
      const T nn = first ? ig : fg * n[o + j] + ig;
      c_out[o + j] = cn;
      n_out[o + j] = nn;
      m[o + j] = mn;
      h_out[o + j] = og * cn / nn;
      if constexpr (SAVE) {
        a_b[j] = ig;
        a_b[H + j] = fg;
        a_b[2 * H + j] = z;
        a_b[3 * H + j] = og;
        fd[o + j] = fg * sigm(-fr);
      }
    }
  }
}

// sLSTM recurrence over precomputed input terms gi (T, B, 4H), bias included, which it overwrites with the gates.
// r: the recurrent matrix (4H, H). Returns outputs h (T, B, H), the gates (gi itself), the cell states c, the
// normaliser states n (T, B, H each) and fd (T, B, H), what the backward pass needs.
std::vector<Tensor> slstm_forward(Tensor gi, Tensor r) {
  TORCH_CHECK(gi.is_contiguous(), "slstm_forward: gi must be contiguous (it is overwritten with the gates)");
  r = transposed(r);  // (H, 4H)
  const int64_t T = gi.size(0), B = gi.size(1), H = gi.size(2) / 4;
  auto outs = at::empty({T, B, H}, gi.options());
  auto cells = at::empty({T, B, H}, gi.options());
  auto norms = at::empty({T, B, H}, gi.options());
  auto fd = at::empty({T, B, H}, gi.options());
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "slstm_forward", [&] {
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      std::vector<scalar_t> m(rows * H, scalar_t(0));
      const scalar_t* w = r.data_ptr<scalar_t>();
      for (int64_t t = 0; t < T; ++t) {
        const int64_t off = (t * B + b0) * H, prev = off - B * H;
        scalar_t* a = gi.data_ptr<scalar_t>() + (t * B + b0) * 4 * H;
        scalar_t* h_t = outs.data_ptr<scalar_t>() + off;
        if (t > 0) gemm<scalar_t>(rows, 4 * H, H, h_t - B * H, H, w, 4 * H, false, scalar_t(1), a, 4 * H);
        scalar_t* c = cells.data_ptr<scalar_t>();
        scalar_t* n = norms.data_ptr<scalar_t>();
        slstm_step_forward<scalar_t, true>(a, nullptr, c + (t ? prev : off), n + (t ? prev : off), m.data(), c + off,
                                           n + off, h_t, fd.data_ptr<scalar_t>() + off, t == 0, rows, H);
      }
    });
  });
  return {outs, gi, cells, norms, fd};
}

// Inference: no gates and no (T, B, 4H) tensor; each block projects its rows' inputs step by step into a buffer
// that stays in cache. Returns the outputs (T, B, H).
Tensor slstm_infer(Tensor x, Tensor w_ih, Tensor r, Tensor bias) {
  x = x.contiguous();
  const int64_t T = x.size(0), B = x.size(1), In = x.size(2), H = r.size(1);
  w_ih = transposed(w_ih);  // (In, 4H)
  r = transposed(r);  // (H, 4H)
  bias = bias.contiguous();
  auto outs = at::empty({T, B, H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "slstm_infer", [&] {
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      std::vector<scalar_t> a(rows * 4 * H), c(rows * H, scalar_t(0)), n(rows * H, scalar_t(0)), m(rows * H, scalar_t(0));
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* x_t = x.data_ptr<scalar_t>() + (t * B + b0) * In;
        scalar_t* h_t = outs.data_ptr<scalar_t>() + (t * B + b0) * H;
        gemm<scalar_t>(rows, 4 * H, In, x_t, In, w_ih.data_ptr<scalar_t>(), 4 * H, false, scalar_t(0), a.data(), 4 * H);
        if (t > 0) gemm<scalar_t>(rows, 4 * H, H, h_t - B * H, H, r.data_ptr<scalar_t>(), 4 * H, false, scalar_t(1), a.data(), 4 * H);
        slstm_step_forward<scalar_t, false>(a.data(), bias.data_ptr<scalar_t>(), c.data(), n.data(), m.data(), c.data(),
                                            n.data(), h_t, nullptr, t == 0, rows, H);
      }
    });
  });
  return outs;
}

// One reverse step: from dh (carried) + g_out and the carried dc, dn to d(pre-activations) of the step, and the
// carries for the step before. c_prev, n_prev are null at the first step (zero states).
template <typename T>
static void slstm_step_backward(const T* __restrict__ g_out, const T* __restrict__ gates, const T* __restrict__ c_,
                                const T* __restrict__ n_, const T* __restrict__ fd, const T* c_prev, const T* n_prev,
                                const T* __restrict__ dh, T* __restrict__ dc, T* __restrict__ dn, T* __restrict__ d_a,
                                int64_t rows, int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    const T* g_b = gates + b * 4 * H;
    T* da_b = d_a + b * 4 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T ig = g_b[j], fg = g_b[H + j], z = g_b[2 * H + j], og = g_b[3 * H + j];
      const T h_grad = dh[o + j] + g_out[o + j];
      const T inv = T(1) / n_[o + j], ratio = c_[o + j] * inv;
      const T c_grad = dc[o + j] + h_grad * og * inv;
      const T n_grad = dn[o + j] - h_grad * og * ratio * inv;
      da_b[j] = (c_grad * z + n_grad) * ig;
      da_b[H + j] = c_prev ? (c_grad * c_prev[o + j] + n_grad * n_prev[o + j]) * fd[o + j] : T(0);
      da_b[2 * H + j] = c_grad * ig * (T(1) - z * z);
      da_b[3 * H + j] = h_grad * ratio * og * (T(1) - og);
      dc[o + j] = c_grad * fg;
      dn[o + j] = n_grad * fg;
    }
  }
}

// Reverse sLSTM recurrence: d(pre-activations) (T, B, 4H), the same for the input and recurrent terms and the
// bias, from the outputs' gradient grad_out (T, B, H; empty: zeros, see OutGrad) and h_n's grad_h (B, H; empty:
// zeros).
Tensor slstm_backward(Tensor grad_out, Tensor grad_h, Tensor outs, Tensor gates, Tensor cells, Tensor norms, Tensor fd,
                      Tensor r) {
  grad_out = grad_out.contiguous();
  r = r.contiguous();
  const int64_t T = outs.size(0), B = outs.size(1), H = outs.size(2);
  auto d_a = at::empty({T, B, 4 * H}, outs.options());
  // each step overwrites it with d_a @ R
  auto dh = grad_h.numel() ? grad_h.contiguous().clone() : at::zeros({B, H}, outs.options());
  auto dc = at::zeros({B, H}, outs.options());
  auto dn = at::zeros({B, H}, outs.options());
  Tensor zeros;
  AT_DISPATCH_FLOATING_TYPES(outs.scalar_type(), "slstm_backward", [&] {
    const OutGrad<scalar_t> g_out = out_grad<scalar_t>(grad_out, zeros, B, H);
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      scalar_t* dh_rows = dh.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* w = r.data_ptr<scalar_t>();
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t off = (t * B + b0) * H, goff = (t * B + b0) * 4 * H;
        const scalar_t* c = cells.data_ptr<scalar_t>();
        const scalar_t* n = norms.data_ptr<scalar_t>();
        scalar_t* da_t = d_a.data_ptr<scalar_t>() + goff;
        slstm_step_backward<scalar_t>(g_out.at(t, b0), gates.data_ptr<scalar_t>() + goff, c + off,
                                      n + off, fd.data_ptr<scalar_t>() + off, t ? c + off - B * H : nullptr,
                                      t ? n + off - B * H : nullptr, dh_rows, dc.data_ptr<scalar_t>() + b0 * H,
                                      dn.data_ptr<scalar_t>() + b0 * H, da_t, rows, H);
        if (t > 0) gemm<scalar_t>(rows, H, 4 * H, da_t, 4 * H, w, H, false, scalar_t(0), dh_rows, H);
      }
    });
  });
  return d_a;
}
