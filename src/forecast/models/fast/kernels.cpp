// The step loops of forecast's fast GRU/RNN CPU path (src/forecast/models/fast/), compiled once with
// torch.utils.cpp_extension.load by forecast.models.fast.build. In TorchScript the same loops pay about 3 us of
// interpreter overhead per operation, which for 64x64 tensors is more than the arithmetic; here each ATen call
// costs well under one.
//
// Rows of a batch are independent through the whole recurrence, so every loop splits the batch into one block
// of rows per thread (at::parallel_for, at least kGrain rows a block) and runs all its time steps on that block:
// the threads never wait for each other, and each small GEMM runs single-threaded inside its block (a small
// GEMM split across threads costs more in synchronisation than it saves; measured, one GEMM stream on two
// cores ran no faster than on one). Built with -fopenmp, at::parallel_for runs on the libgomp that torch loaded.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <vector>

#include "common.h"
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

using at::Tensor;

// Flush denormal floats to zero (FTZ and DAZ) on every thread of torch's OpenMP pool. torch.set_flush_denormal sets
// the calling thread alone, and the pool's threads that already exist keep their own mode, so half of a two-thread
// kernel's work stayed subnormal-slow. Returns the threads set (0 where the CPU has no such mode here).
int64_t flush_denormals_all() {
  int64_t threads = 0;
#if defined(__SSE__)
#pragma omp parallel num_threads(at::get_num_threads()) reduction(+ : threads)
  {
    _mm_setcsr(_mm_getcsr() | 0x8040);  // flush-to-zero (bit 15) and denormals-are-zero (bit 6), as torch sets them
    threads += 1;
  }
#endif
  return threads;
}

// One GRU step over `rows` rows. SAVE keeps r, z, n and hn for the backward pass; inference leaves them out.
template <typename T, bool SAVE>
static void gru_step_forward(const T* __restrict__ gi, const T* __restrict__ gh, const T* __restrict__ b_hh,
                             const T* __restrict__ h_prev, T* __restrict__ h_out, T* __restrict__ r_out,
                             T* __restrict__ z_out, T* __restrict__ n_out, T* __restrict__ hn_out, int64_t rows,
                             int64_t H) {
  for (int64_t b = 0; b < rows; ++b) {
    const T* gi_b = gi + b * 3 * H;
    const T* gh_b = gh + b * 3 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T r = sigm(gi_b[j] + gh_b[j] + b_hh[j]);
      const T z = sigm(gi_b[H + j] + gh_b[H + j] + b_hh[H + j]);
      const T hn = gh_b[2 * H + j] + b_hh[2 * H + j];
      const T n = tanh_(gi_b[2 * H + j] + r * hn);
      h_out[o + j] = n + z * (h_prev[o + j] - n);
      if constexpr (SAVE) {
        r_out[o + j] = r;
        z_out[o + j] = z;
        n_out[o + j] = n;
        hn_out[o + j] = hn;
      }
    }
  }
}

// GRU recurrence, gate order (r, z, n). A wide layer passes its input gates gi (T, B, 3H), input biases included;
// a narrow one an empty gi and its inputs x (T, B, I), transposed weight wt (I, 3H) and b_ih, projected step by step
// into a buffer of the block's rows (project_narrow). Returns outputs (T, B, H) and, for the backward pass, r, z, n
// and hn = W_hn h + b_hn, each (T, B, H).
std::vector<Tensor> gru_forward(Tensor gi, Tensor h0, Tensor w_hh, Tensor b_hh, Tensor x, Tensor wt, Tensor b_ih) {
  const bool narrow = wt.numel() > 0;
  gi = gi.contiguous();
  x = x.contiguous();
  h0 = h0.contiguous();
  b_hh = b_hh.contiguous();
  b_ih = b_ih.contiguous();
  const int64_t T = narrow ? x.size(0) : gi.size(0), B = h0.size(0), H = h0.size(1), I = narrow ? x.size(2) : 0;
  auto outs = at::empty({T, B, H}, h0.options());
  std::vector<Tensor> result{outs};
  for (int k = 0; k < 4; ++k) result.push_back(at::empty_like(outs));
  auto gh = at::empty({B, 3 * H}, h0.options());
  w_hh = transposed(w_hh);  // (H, 3H)
  AT_DISPATCH_FLOATING_TYPES(h0.scalar_type(), "gru_forward", [&] {
    scalar_t* saved[4];
    for (int k = 0; k < 4; ++k) saved[k] = result[k + 1].data_ptr<scalar_t>();
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      std::vector<scalar_t> projected(narrow ? rows * 3 * H : 0);
      scalar_t* gh_rows = gh.data_ptr<scalar_t>() + b0 * 3 * H;
      const scalar_t* w = w_hh.data_ptr<scalar_t>();
      const scalar_t* bias = b_hh.data_ptr<scalar_t>();
      const scalar_t* h = h0.data_ptr<scalar_t>() + b0 * H;
      for (int64_t t = 0; t < T; ++t) {
        gemm<scalar_t>(rows, 3 * H, H, h, H, w, 3 * H, false, scalar_t(0), gh_rows, 3 * H);
        const int64_t off = (t * B + b0) * H;
        const scalar_t* gi_t = projected.data();
        if (narrow)
          project_narrow<scalar_t, false>(projected.data(), x.data_ptr<scalar_t>() + (t * B + b0) * I,
                                          wt.data_ptr<scalar_t>(), b_ih.data_ptr<scalar_t>(), rows, I, 3 * H);
        else
          gi_t = gi.data_ptr<scalar_t>() + (t * B + b0) * 3 * H;
        scalar_t* out_t = outs.data_ptr<scalar_t>() + off;
        gru_step_forward<scalar_t, true>(gi_t, gh_rows, bias, h, out_t, saved[0] + off, saved[1] + off,
                                         saved[2] + off, saved[3] + off, rows, H);
        h = out_t;
      }
    });
  });
  return result;
}

// Inference: no gates kept and no (T, B, 3H) input-gate tensor either. Each block projects its rows' inputs
// step by step into a buffer that stays in cache, so memory is the outputs alone (evaluation runs thousands of
// windows at once). Returns the outputs (T, B, H) of x (T, B, In).
Tensor gru_infer(Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, Tensor b_ih, Tensor b_hh) {
  x = x.contiguous();
  h0 = h0.contiguous();
  w_ih = transposed(w_ih);  // (In, 3H)
  w_hh = transposed(w_hh);  // (H, 3H)
  const int64_t T = x.size(0), B = h0.size(0), H = h0.size(1), In = x.size(2);
  auto outs = at::empty({T, B, H}, h0.options());
  b_ih = b_ih.contiguous();
  b_hh = b_hh.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "gru_infer", [&] {
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      std::vector<scalar_t> gi(rows * 3 * H), gh(rows * 3 * H);
      const scalar_t* h = h0.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* bi = b_ih.data_ptr<scalar_t>();
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* x_t = x.data_ptr<scalar_t>() + (t * B + b0) * In;
        gemm<scalar_t>(rows, 3 * H, In, x_t, In, w_ih.data_ptr<scalar_t>(), 3 * H, false, scalar_t(0), gi.data(), 3 * H);
        for (int64_t b = 0; b < rows; ++b) {
          scalar_t* g = gi.data() + b * 3 * H;
          _Pragma("omp simd") for (int64_t j = 0; j < 3 * H; ++j) g[j] += bi[j];
        }
        gemm<scalar_t>(rows, 3 * H, H, h, H, w_hh.data_ptr<scalar_t>(), 3 * H, false, scalar_t(0), gh.data(), 3 * H);
        scalar_t* out_t = outs.data_ptr<scalar_t>() + (t * B + b0) * H;
        gru_step_forward<scalar_t, false>(gi.data(), gh.data(), b_hh.data_ptr<scalar_t>(), h, out_t, nullptr,
                                          nullptr, nullptr, nullptr, rows, H);
        h = out_t;
      }
    });
  });
  return outs;
}

template <typename T>
static void gru_step_backward(const T* dh_in, const T* __restrict__ g_out, const T* __restrict__ r_,
                              const T* __restrict__ z_, const T* __restrict__ n_, const T* __restrict__ hn_,
                              const T* __restrict__ prev, T* __restrict__ d_gi, T* __restrict__ d_gh,
                              T* dh_direct, int64_t rows, int64_t H) {  // dh_direct may be dh_in (same index)
  for (int64_t b = 0; b < rows; ++b) {
    T* dgi_b = d_gi + b * 3 * H;
    T* dgh_b = d_gh + b * 3 * H;
    const int64_t o = b * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T dh = dh_in[o + j] + g_out[o + j];
      const T r = r_[o + j], z = z_[o + j], n = n_[o + j];
      const T da_n = dh * (T(1) - z) * (T(1) - n * n);
      const T da_z = dh * (prev[o + j] - n) * z * (T(1) - z);
      const T da_r = da_n * hn_[o + j] * r * (T(1) - r);
      dgi_b[j] = da_r;
      dgi_b[H + j] = da_z;
      dgi_b[2 * H + j] = da_n;
      dgh_b[j] = da_r;
      dgh_b[H + j] = da_z;
      dgh_b[2 * H + j] = da_n * r;
      dh_direct[o + j] = dh * z;
    }
  }
}

// Reverse GRU recurrence. Returns d(input gates) (T, B, 3H; empty for a narrow layer, whose x and wt come as
// gru_forward took them), the recurrent weight's gradient transposed (H, 3H; summed in the loop, BlockSums: no
// (T, B, 3H) of hidden-gate gradients is written), d(h0), the two biases' gradient rows (B, 3H) each, and for a
// narrow layer the input weight's gradient rows (B, I, 3H) and d(x) (T, B, I; empty unless input_grad).
std::vector<Tensor> gru_backward(Tensor grad_out, Tensor grad_h, Tensor outs, Tensor r, Tensor z, Tensor n,
                                 Tensor hn, Tensor h0, Tensor w_hh, Tensor x, Tensor wt, bool input_grad) {
  grad_out = grad_out.contiguous();
  h0 = h0.contiguous();
  x = x.contiguous();
  const bool narrow = wt.numel() > 0;
  const int64_t T = outs.size(0), B = outs.size(1), H = outs.size(2), I = narrow ? x.size(2) : 0;
  auto d_gi = at::empty({narrow ? 0 : T, B, 3 * H}, outs.options());
  auto d_gh = at::empty({B, 3 * H}, outs.options());  // one step's, a block of rows each
  BlockSums dw(H, 3 * H, outs.options());
  auto dh = grad_h.contiguous().clone();  // each step overwrites it with dh * z, then adds d_gh @ W_hh
  auto bi_rows = at::zeros({B, 3 * H}, outs.options());
  auto bh_rows = at::zeros({B, 3 * H}, outs.options());
  auto wrows = at::zeros({B, I, 3 * H}, outs.options());
  auto dx = at::empty({narrow && input_grad ? T : 0, B, I}, outs.options());
  w_hh = w_hh.contiguous();
  Tensor zeros;
  AT_DISPATCH_FLOATING_TYPES(outs.scalar_type(), "gru_backward", [&] {
    const OutGrad<scalar_t> g_out = out_grad<scalar_t>(grad_out, zeros, B, H);
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      std::vector<scalar_t> d_gi_rows(narrow ? rows * 3 * H : 0);
      scalar_t* dh_rows = dh.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* w = w_hh.data_ptr<scalar_t>();
      Tensor dw_rows = dw.block();
      scalar_t* d_gh_t = d_gh.data_ptr<scalar_t>() + b0 * 3 * H;
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t off = (t * B + b0) * H, goff = (t * B + b0) * 3 * H, xoff = (t * B + b0) * I;
        const scalar_t* prev = t > 0 ? outs.data_ptr<scalar_t>() + off - B * H : h0.data_ptr<scalar_t>() + b0 * H;
        scalar_t* d_gi_t = narrow ? d_gi_rows.data() : d_gi.data_ptr<scalar_t>() + goff;
        gru_step_backward<scalar_t>(dh_rows, g_out.at(t, b0), r.data_ptr<scalar_t>() + off,
                                    z.data_ptr<scalar_t>() + off, n.data_ptr<scalar_t>() + off,
                                    hn.data_ptr<scalar_t>() + off, prev, d_gi_t, d_gh_t, dh_rows, rows, H);
        sum_rows<scalar_t>(d_gi_t, bi_rows.data_ptr<scalar_t>() + b0 * 3 * H,
                           narrow ? x.data_ptr<scalar_t>() + xoff : nullptr, narrow ? wt.data_ptr<scalar_t>() : nullptr,
                           wrows.data_ptr<scalar_t>() + b0 * I * 3 * H,
                           dx.numel() ? dx.data_ptr<scalar_t>() + xoff : nullptr, rows, I, 3 * H);
        sum_rows<scalar_t>(d_gh_t, bh_rows.data_ptr<scalar_t>() + b0 * 3 * H, nullptr, nullptr, nullptr, nullptr,
                           rows, 0, 3 * H);
        gemm_at<scalar_t>(H, 3 * H, rows, prev, d_gh_t, dw_rows.data_ptr<scalar_t>());     // dW_hh^T += h^T d_gh
        gemm<scalar_t>(rows, H, 3 * H, d_gh_t, 3 * H, w, H, false, scalar_t(1), dh_rows, H);  // += d_gh @ W_hh
      }
      dw.add(b0, dw_rows);
    });
  });
  return {d_gi, dw.total(), dh, bi_rows, bh_rows, wrows, dx};
}

// tanh RNN recurrence over precomputed input terms gi (T, B, H), both biases included.
Tensor rnn_forward(Tensor gi, Tensor h0, Tensor w_hh) {
  gi = gi.contiguous();
  h0 = h0.contiguous();
  const int64_t T = gi.size(0), B = h0.size(0), H = h0.size(1);
  auto outs = at::empty({T, B, H}, h0.options());
  w_hh = transposed(w_hh);
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "rnn_forward", [&] {
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      const scalar_t* h = h0.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* w = w_hh.data_ptr<scalar_t>();
      for (int64_t t = 0; t < T; ++t) {
        const int64_t off = (t * B + b0) * H;
        scalar_t* y = outs.data_ptr<scalar_t>() + off;
        const scalar_t* g = gi.data_ptr<scalar_t>() + off;
        gemm<scalar_t>(rows, H, H, h, H, w, H, false, scalar_t(0), y, H);
        _Pragma("omp simd") for (int64_t i = 0; i < rows * H; ++i) y[i] = tanh_(y[i] + g[i]);
        h = y;
      }
    });
  });
  return outs;
}

// Inference: the input terms x_t @ W_ih^T are computed step by step per block (see gru_infer). bias is b_ih + b_hh.
Tensor rnn_infer(Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, Tensor bias) {
  x = x.contiguous();
  h0 = h0.contiguous();
  w_ih = transposed(w_ih);  // (In, H)
  w_hh = transposed(w_hh);
  bias = bias.contiguous();
  const int64_t T = x.size(0), B = h0.size(0), H = h0.size(1), In = x.size(2);
  auto outs = at::empty({T, B, H}, h0.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rnn_infer", [&] {
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      const scalar_t* h = h0.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* c = bias.data_ptr<scalar_t>();
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* x_t = x.data_ptr<scalar_t>() + (t * B + b0) * In;
        scalar_t* y = outs.data_ptr<scalar_t>() + (t * B + b0) * H;
        gemm<scalar_t>(rows, H, In, x_t, In, w_ih.data_ptr<scalar_t>(), H, false, scalar_t(0), y, H);
        gemm<scalar_t>(rows, H, H, h, H, w_hh.data_ptr<scalar_t>(), H, false, scalar_t(1), y, H);
        for (int64_t b = 0; b < rows; ++b) {
          scalar_t* yb = y + b * H;
          _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) yb[j] = tanh_(yb[j] + c[j]);
        }
        h = y;
      }
    });
  });
  return outs;
}

// Reverse tanh recurrence. Returns d(pre-activations) (T, B, H) and d(h0).
std::vector<Tensor> rnn_backward(Tensor grad_out, Tensor grad_h, Tensor outs, Tensor w_hh) {
  grad_out = grad_out.contiguous();
  const int64_t T = outs.size(0), B = outs.size(1), H = outs.size(2);
  auto d_a = at::empty_like(outs);
  auto dh = grad_h.contiguous().clone();
  w_hh = w_hh.contiguous();
  Tensor zeros;
  AT_DISPATCH_FLOATING_TYPES(outs.scalar_type(), "rnn_backward", [&] {
    const OutGrad<scalar_t> g_out = out_grad<scalar_t>(grad_out, zeros, B, H);
    const bool caller = c10::InferenceMode::is_enabled();
    at::parallel_for(0, B, kGrain, [&](int64_t b0, int64_t b1) {
      const ThreadState state(caller);
      const int64_t rows = b1 - b0;
      scalar_t* d = dh.data_ptr<scalar_t>() + b0 * H;
      const scalar_t* w = w_hh.data_ptr<scalar_t>();
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t off = (t * B + b0) * H;
        const scalar_t* y = outs.data_ptr<scalar_t>() + off;
        const scalar_t* g = g_out.at(t, b0);
        scalar_t* da = d_a.data_ptr<scalar_t>() + off;
        _Pragma("omp simd") for (int64_t i = 0; i < rows * H; ++i) da[i] =
            (d[i] + g[i]) * (scalar_t(1) - y[i] * y[i]);
        gemm<scalar_t>(rows, H, H, da, H, w, H, false, scalar_t(0), d, H);  // dh = d_a @ W_hh
      }
    });
  });
  return {d_a, dh};
}

// scan.cpp: the minimal cells' gates and recurrence.
std::vector<Tensor> minimal_forward(Tensor input, Tensor weight, Tensor bias, int64_t blocks, bool last,
                                    Tensor wide_x, Tensor wide_w);
std::vector<Tensor> minimal_backward(Tensor grad, Tensor input, Tensor weight, Tensor bias, Tensor h, int64_t blocks,
                                     bool input_grad, Tensor wide_x, Tensor wide_w);
// lstm.cpp: the LSTM's recurrence.
std::vector<Tensor> lstm_forward(Tensor gi, Tensor h0, Tensor c0, Tensor w_hh, Tensor x, Tensor wt, Tensor bias);
std::vector<Tensor> lstm_infer(Tensor x, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh, Tensor bias);
std::vector<Tensor> lstm_backward(Tensor grad_out, Tensor grad_h, Tensor grad_c, Tensor outs, Tensor gates,
                                  Tensor cells, Tensor h0, Tensor c0, Tensor w_hh, Tensor x, Tensor wt, bool input_grad);
// slstm.cpp: the sLSTM's recurrence.
std::vector<Tensor> slstm_forward(Tensor gi, Tensor r);
Tensor slstm_infer(Tensor x, Tensor w_ih, Tensor r, Tensor bias);
Tensor slstm_backward(Tensor grad_out, Tensor grad_h, Tensor outs, Tensor gates, Tensor cells, Tensor norms, Tensor fd,
                      Tensor r);

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("flush_denormals_all", &flush_denormals_all, "flush denormals on every thread of torch's OpenMP pool");
  m.def("gru_forward", &gru_forward, "GRU recurrence over precomputed input gates, or narrow inputs projected step by step");
  m.def("gru_backward", &gru_backward, "reverse GRU recurrence");
  m.def("rnn_forward", &rnn_forward, "tanh RNN recurrence over precomputed input terms");
  m.def("rnn_backward", &rnn_backward, "reverse tanh RNN recurrence");
  m.def("gru_infer", &gru_infer, "GRU layer forward for inference: no gates kept");
  m.def("rnn_infer", &rnn_infer, "tanh RNN layer forward for inference");
  m.def("minimal_forward", &minimal_forward, "minGRU/minLSTM layer over its projection (B, T, k H), or its narrow inputs and weight, and its bias");
  m.def("lstm_forward", &lstm_forward, "LSTM recurrence over precomputed input terms, or narrow inputs projected step by step");
  m.def("lstm_infer", &lstm_infer, "LSTM layer forward for inference: no gates kept");
  m.def("lstm_backward", &lstm_backward, "reverse LSTM recurrence");
  m.def("minimal_backward", &minimal_backward, "its reverse walk: the inputs' gradient and the weight and bias gradients of each batch row");
  m.def("slstm_forward", &slstm_forward, "sLSTM recurrence over precomputed input terms");
  m.def("slstm_infer", &slstm_infer, "sLSTM layer forward for inference: no gates kept");
  m.def("slstm_backward", &slstm_backward, "reverse sLSTM recurrence");
}
