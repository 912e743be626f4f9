// The step loops of forecast's fast GRU/RNN CPU path (src/forecast/models/fast/), compiled once with
// torch.utils.cpp_extension.load by forecast.models.fast.build. In TorchScript the same loops pay about 3 us of
// interpreter overhead per operation, which for 64x64 tensors is more than the arithmetic; here each ATen call
// costs well under one.
#include <torch/extension.h>
#include <cmath>
#include <vector>

using at::Tensor;

// Elementwise work of one step runs as one fused loop over batch x hidden (compiled with -O3 -ffast-math, so
// exp is vectorised); the hidden-to-hidden matrix product of the step goes to ATen's GEMM.
template <typename T> static inline T sigm(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <typename T> static inline T tanh_(T x) { return T(1) - T(2) / (std::exp(T(2) * x) + T(1)); }

template <typename T>
static void gru_step_forward(const T* __restrict__ gi, const T* __restrict__ gh, const T* __restrict__ b_hh,
                             const T* __restrict__ h_prev, T* __restrict__ h_out, T* __restrict__ r_out,
                             T* __restrict__ z_out, T* __restrict__ n_out, T* __restrict__ hn_out, int64_t B,
                             int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
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
      r_out[o + j] = r;
      z_out[o + j] = z;
      n_out[o + j] = n;
      hn_out[o + j] = hn;
    }
  }
}

// GRU recurrence over precomputed input gates gi (T, B, 3H) (input biases included), gate order (r, z, n).
// Returns outputs, r, z, n and hn = W_hn h + b_hn, each (T, B, H).
std::vector<Tensor> gru_forward(Tensor gi, Tensor h0, Tensor w_hh, Tensor b_hh) {
  gi = gi.contiguous();
  h0 = h0.contiguous();
  b_hh = b_hh.contiguous();
  const int64_t T = gi.size(0), B = h0.size(0), H = h0.size(1);
  auto outs = at::empty({T, B, H}, h0.options());
  auto r = at::empty_like(outs), z = at::empty_like(outs), n = at::empty_like(outs), hn = at::empty_like(outs);
  auto gh = at::empty({B, 3 * H}, h0.options());
  auto w_t = w_hh.t();
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "gru_forward", [&] {
    Tensor h = h0;
    for (int64_t t = 0; t < T; ++t) {
      at::mm_out(gh, h, w_t);
      const int64_t off = t * B * H;
      gru_step_forward<scalar_t>(gi.data_ptr<scalar_t>() + t * B * 3 * H, gh.data_ptr<scalar_t>(),
                                 b_hh.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), outs.data_ptr<scalar_t>() + off,
                                 r.data_ptr<scalar_t>() + off, z.data_ptr<scalar_t>() + off,
                                 n.data_ptr<scalar_t>() + off, hn.data_ptr<scalar_t>() + off, B, H);
      h = outs[t];
    }
  });
  return {outs, r, z, n, hn};
}

template <typename T>
static void gru_step_backward(const T* __restrict__ dh_in, const T* __restrict__ g_out, const T* __restrict__ r_,
                              const T* __restrict__ z_, const T* __restrict__ n_, const T* __restrict__ hn_,
                              const T* __restrict__ prev, T* __restrict__ d_gi, T* __restrict__ d_gh,
                              T* __restrict__ dh_direct, int64_t B, int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
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

// Reverse GRU recurrence. Returns d(input gates) (T, B, 3H), d(hidden gates incl. b_hh) (T, B, 3H), d(h0).
std::vector<Tensor> gru_backward(Tensor grad_out, Tensor grad_h, Tensor outs, Tensor r, Tensor z, Tensor n,
                                 Tensor hn, Tensor h0, Tensor w_hh) {
  grad_out = grad_out.contiguous();
  h0 = h0.contiguous();
  const int64_t T = outs.size(0), B = outs.size(1), H = outs.size(2);
  auto d_gi = at::empty({T, B, 3 * H}, outs.options());
  auto d_gh = at::empty({T, B, 3 * H}, outs.options());
  auto dh = grad_h.contiguous().clone();
  auto direct = at::empty({B, H}, outs.options());
  AT_DISPATCH_FLOATING_TYPES(outs.scalar_type(), "gru_backward", [&] {
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t off = t * B * H;
      const scalar_t* prev = t > 0 ? outs.data_ptr<scalar_t>() + off - B * H : h0.data_ptr<scalar_t>();
      gru_step_backward<scalar_t>(dh.data_ptr<scalar_t>(), grad_out.data_ptr<scalar_t>() + off,
                                  r.data_ptr<scalar_t>() + off, z.data_ptr<scalar_t>() + off,
                                  n.data_ptr<scalar_t>() + off, hn.data_ptr<scalar_t>() + off, prev,
                                  d_gi.data_ptr<scalar_t>() + t * B * 3 * H, d_gh.data_ptr<scalar_t>() + t * B * 3 * H,
                                  direct.data_ptr<scalar_t>(), B, H);
      at::addmm_out(dh, direct, d_gh[t], w_hh);  // dh_prev = dh * z + d_gh @ W_hh
    }
  });
  return {d_gi, d_gh, dh};
}

// tanh RNN recurrence over precomputed input terms gi (T, B, H), both biases included.
Tensor rnn_forward(Tensor gi, Tensor h0, Tensor w_hh) {
  gi = gi.contiguous();
  const int64_t T = gi.size(0), B = h0.size(0), H = h0.size(1);
  auto outs = at::empty({T, B, H}, h0.options());
  auto w_t = w_hh.t();
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "rnn_forward", [&] {
    Tensor h = h0.contiguous();
    for (int64_t t = 0; t < T; ++t) {
      auto out_t = outs[t];
      at::addmm_out(out_t, gi[t], h, w_t);
      scalar_t* y = out_t.data_ptr<scalar_t>();
      _Pragma("omp simd") for (int64_t i = 0; i < B * H; ++i) y[i] = tanh_(y[i]);
      h = out_t;
    }
  });
  return outs;
}

// Reverse tanh recurrence. Returns d(pre-activations) (T, B, H) and d(h0).
std::vector<Tensor> rnn_backward(Tensor grad_out, Tensor grad_h, Tensor outs, Tensor w_hh) {
  grad_out = grad_out.contiguous();
  const int64_t T = outs.size(0), B = outs.size(1), H = outs.size(2);
  auto d_a = at::empty_like(outs);
  auto dh = grad_h.contiguous().clone();
  AT_DISPATCH_FLOATING_TYPES(outs.scalar_type(), "rnn_backward", [&] {
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t off = t * B * H;
      const scalar_t* y = outs.data_ptr<scalar_t>() + off;
      const scalar_t* g = grad_out.data_ptr<scalar_t>() + off;
      const scalar_t* d = dh.data_ptr<scalar_t>();
      scalar_t* da = d_a.data_ptr<scalar_t>() + off;
      _Pragma("omp simd") for (int64_t i = 0; i < B * H; ++i) da[i] = (d[i] + g[i]) * (scalar_t(1) - y[i] * y[i]);
      at::mm_out(dh, d_a[t], w_hh);
    }
  });
  return {d_a, dh};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("gru_forward", &gru_forward, "GRU recurrence over precomputed input gates");
  m.def("gru_backward", &gru_backward, "reverse GRU recurrence");
  m.def("rnn_forward", &rnn_forward, "tanh RNN recurrence over precomputed input terms");
  m.def("rnn_backward", &rnn_backward, "reverse tanh RNN recurrence");
}
