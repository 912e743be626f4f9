// The step loops of forecast's fast LSTM CPU path, on the same technique as the GRU loops in kernels.cpp: input
// projections of every step as one GEMM (done by the caller; a narrow first layer's step by step here), one block
// of batch rows per thread through the whole recurrence, one small GEMM and one fused elementwise loop per step, an
// analytic backward pass that keeps the four activated gates and the cell states and sums the bias gradient (and a
// narrow layer's weight gradient) per row as it goes, and an inference kernel that keeps neither.
//
// Gate order and parameters are nn.LSTM's: (i, f, g, o), gates = x W_ih^T + b_ih + h W_hh^T + b_hh,
// c' = f c + i g, h' = o tanh(c').
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "common.h"

using at::Tensor;

// One LSTM step over `rows` rows: a holds the pre-activations (rows, 4H), bias added here unless null; SAVE keeps
// the activated gates (in place of a) for the backward pass.
template <typename T, bool SAVE>
static void lstm_step_forward(T* __restrict__ a, const T* __restrict__ bias, const T* __restrict__ c_prev,
                              T* __restrict__ c_out, T* __restrict__ h_out, int64_t rows, int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    T* a_b = a + b * 4 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T i = sigm(a_b[j] + (SAVE ? T(0) : bias[j]));
      const T f = sigm(a_b[H + j] + (SAVE ? T(0) : bias[H + j]));
      const T g = tanh_(a_b[2 * H + j] + (SAVE ? T(0) : bias[2 * H + j]));
      const T og = sigm(a_b[3 * H + j] + (SAVE ? T(0) : bias[3 * H + j]));
      const T c = f * c_prev[o + j] + i * g;
      c_out[o + j] = c;
      h_out[o + j] = og * tanh_(c);
      if constexpr (SAVE) {
        a_b[j] = i;
        a_b[H + j] = f;
        a_b[2 * H + j] = g;
        a_b[3 * H + j] = og;
      }
    }
  }
}

// LSTM recurrence. A wide layer passes its input terms gi (T, B, 4H), both biases included, which are overwritten:
// each step adds h W_hh^T into its slice and activates it in place (no copy). A narrow layer passes an empty gi and
// its inputs x (T, B, I), transposed weight wt (I, 4H) and bias (4H), projected step by step (project_narrow).
// Returns outputs h (T, B, H), the activated gates (T, B, 4H) and the cell states (T, B, H).
std::vector<Tensor> lstm_forward(Tensor gi, Tensor h0, Tensor c0, Tensor w_hh, Tensor x, Tensor wt, Tensor bias) {
  const bool narrow = wt.numel() > 0;
  TORCH_CHECK(narrow || gi.is_contiguous(), "lstm_forward: gi must be contiguous (it is overwritten with the gates)");
  h0 = h0.contiguous();
  c0 = c0.contiguous();
  w_hh = transposed(w_hh);  // (H, 4H)
  x = x.contiguous();
  bias = bias.contiguous();
  const int64_t T = narrow ? x.size(0) : gi.size(0), B = h0.size(0), H = h0.size(1), I = narrow ? x.size(2) : 0;
  auto gates = narrow ? at::empty({T, B, 4 * H}, h0.options()) : gi;
  auto outs = at::empty({T, B, H}, h0.options());
  auto cells = at::empty({T, B, H}, h0.options());
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_forward", [&] {
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      const scalar_t* w = w_hh.data_ptr<scalar_t>();
      const scalar_t* h = h0.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* c = c0.data_ptr<scalar_t>() + b0 * H;
      for (int64_t t = 0; t < T; ++t) {
        const int64_t off = (t * B + b0) * H;
        scalar_t* a = gates.data_ptr<scalar_t>() + (t * B + b0) * 4 * H;
        gemm<scalar_t>(rows, 4 * H, H, h, H, w, 4 * H, false, scalar_t(narrow ? 0 : 1), a, 4 * H);
        if (narrow)
          project_narrow<scalar_t, true>(a, x.data_ptr<scalar_t>() + (t * B + b0) * I, wt.data_ptr<scalar_t>(),
                                         bias.data_ptr<scalar_t>(), rows, I, 4 * H);
        scalar_t* c_t = cells.data_ptr<scalar_t>() + off;
        scalar_t* h_t = outs.data_ptr<scalar_t>() + off;
        lstm_step_forward<scalar_t, true>(a, nullptr, c, c_t, h_t, rows, H);
        h = h_t;
        c = c_t;
      }
    });
  });
  return {outs, gates, cells};
}

// Inference: no gates and no (T, B, 4H) tensor; each block projects its rows' inputs step by step into a buffer
// that stays in cache. bias is b_ih + b_hh. Returns the outputs (T, B, H) and the last cell state (B, H).
std::vector<Tensor> lstm_infer(Tensor x, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh, Tensor bias) {
  x = x.contiguous();
  h0 = h0.contiguous();
  w_ih = transposed(w_ih);  // (In, 4H)
  w_hh = transposed(w_hh);  // (H, 4H)
  bias = bias.contiguous();
  const int64_t T = x.size(0), B = h0.size(0), H = h0.size(1), In = x.size(2);
  auto outs = at::empty({T, B, H}, h0.options());
  auto c_last = c0.contiguous().clone();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lstm_infer", [&] {
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      std::vector<scalar_t> a(rows * 4 * H), spare(rows * H);
      scalar_t* c = c_last.data_ptr<scalar_t>() + b0 * H;  // the cell state alternates between c and spare
      scalar_t* c_prev = c;
      scalar_t* c_next = spare.data();
      const scalar_t* h = h0.data_ptr<scalar_t>() + b0 * H;
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* x_t = x.data_ptr<scalar_t>() + (t * B + b0) * In;
        gemm<scalar_t>(rows, 4 * H, In, x_t, In, w_ih.data_ptr<scalar_t>(), 4 * H, false, scalar_t(0), a.data(), 4 * H);
        gemm<scalar_t>(rows, 4 * H, H, h, H, w_hh.data_ptr<scalar_t>(), 4 * H, false, scalar_t(1), a.data(), 4 * H);
        scalar_t* h_t = outs.data_ptr<scalar_t>() + (t * B + b0) * H;
        lstm_step_forward<scalar_t, false>(a.data(), bias.data_ptr<scalar_t>(), c_prev, c_next, h_t, rows, H);
        std::swap(c_prev, c_next);
        h = h_t;
      }
      if (c_prev != c) std::copy(c_prev, c_prev + rows * H, c);
    });
  });
  return {outs, c_last};
}

template <typename T>
static void lstm_step_backward(const T* __restrict__ g_out, const T* __restrict__ gates, const T* __restrict__ c_,
                               const T* __restrict__ c_prev, T* __restrict__ dh, T* __restrict__ dc,
                               T* __restrict__ d_a, int64_t rows, int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    const T* g_b = gates + b * 4 * H;
    T* da_b = d_a + b * 4 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T i = g_b[j], f = g_b[H + j], g = g_b[2 * H + j], og = g_b[3 * H + j];
      const T h_grad = dh[o + j] + g_out[o + j];
      const T tc = tanh_(c_[o + j]);
      const T c_grad = dc[o + j] + h_grad * og * (T(1) - tc * tc);
      da_b[j] = c_grad * g * i * (T(1) - i);
      da_b[H + j] = c_grad * c_prev[o + j] * f * (T(1) - f);
      da_b[2 * H + j] = c_grad * i * (T(1) - g * g);
      da_b[3 * H + j] = h_grad * tc * og * (T(1) - og);
      dc[o + j] = c_grad * f;
    }
  }
}

// Reverse LSTM recurrence. Returns d(pre-activations) (T, B, 4H) (the same for the input and hidden terms and
// both biases), d(h0), d(c0), the bias gradient's rows (B, 4H) and, for a narrow layer (x and wt as lstm_forward
// took them), the weight gradient's rows (B, I, 4H) and d(x) (T, B, I; empty unless input_grad).
std::vector<Tensor> lstm_backward(Tensor grad_out, Tensor grad_h, Tensor grad_c, Tensor outs, Tensor gates,
                                  Tensor cells, Tensor c0, Tensor w_hh, Tensor x, Tensor wt, bool input_grad) {
  grad_out = grad_out.contiguous();
  c0 = c0.contiguous();
  w_hh = w_hh.contiguous();
  x = x.contiguous();
  const bool narrow = wt.numel() > 0;
  const int64_t T = outs.size(0), B = outs.size(1), H = outs.size(2), I = narrow ? x.size(2) : 0;
  auto d_a = at::empty({T, B, 4 * H}, outs.options());
  auto dh = grad_h.contiguous().clone();  // each step overwrites it with d_a @ W_hh
  auto dc = grad_c.contiguous().clone();
  auto brows = at::zeros({B, 4 * H}, outs.options());
  auto wrows = at::zeros({B, I, 4 * H}, outs.options());
  auto dx = at::empty({narrow && input_grad ? T : 0, B, I}, outs.options());
  Tensor zeros;
  AT_DISPATCH_FLOATING_TYPES(outs.scalar_type(), "lstm_backward", [&] {
    const OutGrad<scalar_t> g_out = out_grad<scalar_t>(grad_out, zeros, B, H);
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      scalar_t* dh_rows = dh.data_ptr<scalar_t>() + b0 * H;
      scalar_t* dc_rows = dc.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* w = w_hh.data_ptr<scalar_t>();
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t off = (t * B + b0) * H, goff = (t * B + b0) * 4 * H;
        const scalar_t* c_prev = t > 0 ? cells.data_ptr<scalar_t>() + off - B * H : c0.data_ptr<scalar_t>() + b0 * H;
        scalar_t* da_t = d_a.data_ptr<scalar_t>() + goff;
        lstm_step_backward<scalar_t>(g_out.at(t, b0), gates.data_ptr<scalar_t>() + goff,
                                     cells.data_ptr<scalar_t>() + off, c_prev, dh_rows, dc_rows, da_t, rows, H);
        const int64_t xoff = (t * B + b0) * I;
        sum_rows<scalar_t>(da_t, brows.data_ptr<scalar_t>() + b0 * 4 * H, narrow ? x.data_ptr<scalar_t>() + xoff : nullptr,
                           narrow ? wt.data_ptr<scalar_t>() : nullptr, wrows.data_ptr<scalar_t>() + b0 * I * 4 * H,
                           dx.numel() ? dx.data_ptr<scalar_t>() + xoff : nullptr, rows, I, 4 * H);
        gemm<scalar_t>(rows, H, 4 * H, da_t, 4 * H, w, H, false, scalar_t(0), dh_rows, H);  // dh = d_a @ W_hh
      }
    });
  });
  return {d_a, dh, dc, brows, wrows, dx};
}
