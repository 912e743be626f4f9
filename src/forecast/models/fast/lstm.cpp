// The step loops of forecast's fast LSTM CPU path, on the same technique as the GRU loops in kernels.cpp: input
// projections of every step as one GEMM (done by the caller; a narrow first layer's step by step here), one block
// of batch rows per thread through the whole recurrence, one small GEMM and one fused elementwise loop per step, an
// analytic backward pass that keeps the four activated gates and the cell states and sums the bias gradient (and a
// narrow layer's weight gradient) per row and the recurrent weight's gradient per block of rows as it goes, and an
// inference kernel that keeps neither.
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

// Where one step's operands lie: a row of gates `ga` apart, the four gates `gs` apart within a row, a row of states
// (c, h and their gradients) `sa` apart. A block's rows run as H / lanes full vectors a row (strides 4H, H, H), and
// the H % lanes columns left over (one at 25 units) of every row are gathered into one row of their own (strides
// 0, n, 0 for n = rows x (H % lanes)) and run as full vectors too, instead of one scalar remainder a row: the gate
// loop of the Fischer & Krauss shape (25 units, 256 rows a thread) spent as long on each row's 25th column as on
// its first 24.
struct Strides {
  int64_t ga, gs, sa;
};
template <typename T> static constexpr int64_t kLanes = 32 / int64_t(sizeof(T));  // an AVX2 vector

// The LSTM's cells over `width` columns of `rows` rows: a holds the pre-activations, biases included; SAVE keeps
// the activated gates (in place of a) for the backward pass.
template <typename T, bool SAVE>
static void lstm_cells(T* __restrict__ a, const T* __restrict__ c_prev, T* __restrict__ c_out, T* __restrict__ h_out,
                       int64_t rows, int64_t width, Strides s) {
  for (int64_t b = 0; b < rows; ++b) {
    T* a_b = a + b * s.ga;
    const int64_t o = b * s.sa, G = s.gs;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) {
      const T i = sigm(a_b[j]), f = sigm(a_b[G + j]), g = tanh_(a_b[2 * G + j]), og = sigm(a_b[3 * G + j]);
      const T c = f * c_prev[o + j] + i * g;
      c_out[o + j] = c;
      h_out[o + j] = og * tanh_(c);
      if constexpr (SAVE) {
        a_b[j] = i;
        a_b[G + j] = f;
        a_b[2 * G + j] = g;
        a_b[3 * G + j] = og;
      }
    }
  }
}

// One LSTM step over `rows` rows of H units (a: pre-activations (rows, 4H); SAVE keeps the activated gates in place
// of a); tail is scratch of 7 x rows x (H % lanes) values.
template <typename T, bool SAVE>
static void lstm_step_forward(T* a, const T* c_prev, T* c_out, T* h_out, int64_t rows, int64_t H, T* tail) {
  const int64_t main = H - H % kLanes<T>, left = H - main, n = rows * left;
  lstm_cells<T, SAVE>(a, c_prev, c_out, h_out, rows, main, {4 * H, H, H});
  if (!n) return;
  T *cp = tail + 4 * n, *co = cp + n, *ho = co + n;
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t u = 0; u < left; ++u) {
      const int64_t e = b * left + u, j = main + u;
      for (int64_t k = 0; k < 4; ++k) tail[k * n + e] = a[b * 4 * H + k * H + j];
      cp[e] = c_prev[b * H + j];
    }
  lstm_cells<T, SAVE>(tail, cp, co, ho, 1, n, {0, n, 0});
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t u = 0; u < left; ++u) {
      const int64_t e = b * left + u, j = main + u;
      c_out[b * H + j] = co[e];
      h_out[b * H + j] = ho[e];
      if constexpr (SAVE)
        for (int64_t k = 0; k < 4; ++k) a[b * 4 * H + k * H + j] = tail[k * n + e];
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
      std::vector<scalar_t> tail(7 * rows * (H % kLanes<scalar_t>));
      for (int64_t t = 0; t < T; ++t) {
        const int64_t off = (t * B + b0) * H;
        scalar_t* a = gates.data_ptr<scalar_t>() + (t * B + b0) * 4 * H;
        if (narrow)  // first, so that the GEMM adds to it: no pass of MKL's that zeroes a fresh block of gates
          project_narrow<scalar_t, false>(a, x.data_ptr<scalar_t>() + (t * B + b0) * I, wt.data_ptr<scalar_t>(),
                                          bias.data_ptr<scalar_t>(), rows, I, 4 * H);
        gemm<scalar_t>(rows, 4 * H, H, h, H, w, 4 * H, false, scalar_t(1), a, 4 * H);
        scalar_t* c_t = cells.data_ptr<scalar_t>() + off;
        scalar_t* h_t = outs.data_ptr<scalar_t>() + off;
        lstm_step_forward<scalar_t, true>(a, c, c_t, h_t, rows, H, tail.data());
        h = h_t;
        c = c_t;
      }
    });
  });
  return {outs, gates, cells};
}

// Inference: no gates and no (T, B, 4H) tensor; each block projects its rows' inputs step by step into a buffer
// that stays in cache, starting from the bias (b_ih + b_hh). Returns the outputs (T, B, H) and the last cell state
// (B, H).
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
      std::vector<scalar_t> a(rows * 4 * H), spare(rows * H), tail(7 * rows * (H % kLanes<scalar_t>));
      scalar_t* c = c_last.data_ptr<scalar_t>() + b0 * H;  // the cell state alternates between c and spare
      scalar_t* c_prev = c;
      scalar_t* c_next = spare.data();
      const scalar_t* h = h0.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* wi = w_ih.data_ptr<scalar_t>();
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* x_t = x.data_ptr<scalar_t>() + (t * B + b0) * In;
        project_narrow<scalar_t, false>(a.data(), x_t, wi, bias.data_ptr<scalar_t>(), rows, 0, 4 * H);  // the bias
        gemm<scalar_t>(rows, 4 * H, In, x_t, In, wi, 4 * H, false, scalar_t(1), a.data(), 4 * H);
        gemm<scalar_t>(rows, 4 * H, H, h, H, w_hh.data_ptr<scalar_t>(), 4 * H, false, scalar_t(1), a.data(), 4 * H);
        scalar_t* h_t = outs.data_ptr<scalar_t>() + (t * B + b0) * H;
        lstm_step_forward<scalar_t, false>(a.data(), c_prev, c_next, h_t, rows, H, tail.data());
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
// both biases; empty for a narrow layer, whose loop sums every gradient that needs them), d(h0), d(c0), the bias
// gradient's rows (B, 4H), for a narrow layer (x and wt as lstm_forward took them) the weight gradient's rows
// (B, I, 4H) and d(x) (T, B, I; empty unless input_grad), and the recurrent weight's gradient transposed (H, 4H):
// each step adds h_{t-1}^T d_a_t into its block's sum while both are in cache, so no (T, B, 4H) is read back by a
// GEMM over every step afterwards (common.h's BlockSums).
std::vector<Tensor> lstm_backward(Tensor grad_out, Tensor grad_h, Tensor grad_c, Tensor outs, Tensor gates,
                                  Tensor cells, Tensor h0, Tensor c0, Tensor w_hh, Tensor x, Tensor wt, bool input_grad) {
  grad_out = grad_out.contiguous();
  h0 = h0.contiguous();
  c0 = c0.contiguous();
  w_hh = w_hh.contiguous();
  x = x.contiguous();
  const bool narrow = wt.numel() > 0;
  const int64_t T = outs.size(0), B = outs.size(1), H = outs.size(2), I = narrow ? x.size(2) : 0;
  auto d_a = at::empty({narrow ? 0 : T, B, 4 * H}, outs.options());
  auto dh = grad_h.contiguous().clone();  // each step overwrites it with d_a @ W_hh
  auto dc = grad_c.contiguous().clone();
  auto brows = at::zeros({B, 4 * H}, outs.options());
  auto wrows = at::zeros({B, I, 4 * H}, outs.options());
  auto dx = at::empty({narrow && input_grad ? T : 0, B, I}, outs.options());
  BlockSums dw(H, 4 * H, outs.options());
  // A narrow layer's d_a of one step, a block of rows each (its rows of this one (B, 4H) buffer).
  auto scratch = at::empty({narrow ? B : 0, 4 * H}, outs.options());
  Tensor zeros;
  AT_DISPATCH_FLOATING_TYPES(outs.scalar_type(), "lstm_backward", [&] {
    const OutGrad<scalar_t> g_out = out_grad<scalar_t>(grad_out, zeros, B, H);
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      scalar_t* dh_rows = dh.data_ptr<scalar_t>() + b0 * H;
      scalar_t* dc_rows = dc.data_ptr<scalar_t>() + b0 * H;
      Tensor dw_rows = dw.block();
      scalar_t* dw_block = dw_rows.data_ptr<scalar_t>();
      const scalar_t* w = w_hh.data_ptr<scalar_t>();
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t off = (t * B + b0) * H, goff = (t * B + b0) * 4 * H;
        const scalar_t* c_prev = t > 0 ? cells.data_ptr<scalar_t>() + off - B * H : c0.data_ptr<scalar_t>() + b0 * H;
        const scalar_t* h_prev = t > 0 ? outs.data_ptr<scalar_t>() + off - B * H : h0.data_ptr<scalar_t>() + b0 * H;
        scalar_t* da_t = narrow ? scratch.data_ptr<scalar_t>() + b0 * 4 * H : d_a.data_ptr<scalar_t>() + goff;
        lstm_step_backward<scalar_t>(g_out.at(t, b0), gates.data_ptr<scalar_t>() + goff,
                                     cells.data_ptr<scalar_t>() + off, c_prev, dh_rows, dc_rows, da_t, rows, H);
        const int64_t xoff = (t * B + b0) * I;
        sum_rows<scalar_t>(da_t, brows.data_ptr<scalar_t>() + b0 * 4 * H, narrow ? x.data_ptr<scalar_t>() + xoff : nullptr,
                           narrow ? wt.data_ptr<scalar_t>() : nullptr, wrows.data_ptr<scalar_t>() + b0 * I * 4 * H,
                           dx.numel() ? dx.data_ptr<scalar_t>() + xoff : nullptr, rows, I, 4 * H);
        gemm_at<scalar_t>(H, 4 * H, rows, h_prev, da_t, dw_block);                        // dW_hh^T += h_{t-1}^T d_a
        gemm<scalar_t>(rows, H, 4 * H, da_t, 4 * H, w, H, false, scalar_t(0), dh_rows, H);  // dh = d_a @ W_hh
      }
      dw.add(b0, dw_rows);
    });
  });
  return {d_a, dh, dc, brows, wrows, dx, dw.total()};
}
