// The minimal cells (src/forecast/models/minimal.py) over a layer's projected inputs, batch-first (B, T, k*H):
// the gates, the candidate and the recurrence h_t = a_t * h_{t-1} + b_t (h_{-1} = 0) in one fused loop forward,
// and the reverse walk with the gates' derivatives in one loop backward, so no (B, T, H) intermediate but h is
// written. Each row of the batch runs on one thread (rows are independent), the H units of a step vectorised
// (exp included: -ffast-math). Compiled with kernels.cpp.
//   minGRU  (k = 2, blocks z, h~):     z = sigm(Z),  h_t = h_{t-1} + z (h~ - h_{t-1})
//   minLSTM (k = 3, blocks f, i, h~):  f = sigm(F), i = sigm(I),  h_t = (f h_{t-1} + i h~) / (f + i)
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <vector>

using at::Tensor;

static constexpr int64_t kScanGrain = 8;

// -ffast-math assumes no infinities: exp's argument is clamped where the sigmoid is already 0 or 1 (to 2e-35).
template <typename T> static inline T sig(T x) { return T(1) / (T(1) + std::exp(-std::min(std::max(x, T(-80)), T(80)))); }

// Return h (B, T, H) from the projected inputs (B, T, blocks * H), blocks 2 (minGRU) or 3 (minLSTM).
Tensor minimal_forward(Tensor projected, int64_t blocks) {
  projected = projected.contiguous();
  const int64_t B = projected.size(0), T = projected.size(1), K = projected.size(2), H = K / blocks;
  auto h = at::empty({B, T, H}, projected.options());
  AT_DISPATCH_FLOATING_TYPES(projected.scalar_type(), "minimal_forward", [&] {
    const scalar_t* pp = projected.data_ptr<scalar_t>();
    scalar_t* ph = h.data_ptr<scalar_t>();
    at::parallel_for(0, B, kScanGrain, [&](int64_t r0, int64_t r1) {
      std::vector<scalar_t> zero(H, scalar_t(0));
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t t = 0; t < T; ++t) {
          const scalar_t* p = pp + (r * T + t) * K;
          scalar_t* out = ph + (r * T + t) * H;
          const scalar_t* prev = t ? out - H : zero.data();
          if (blocks == 2) {
            _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
              const scalar_t z = sig(p[j]);
              out[j] = prev[j] + z * (p[H + j] - prev[j]);
            }
          } else {
            _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
              const scalar_t f = sig(p[j]), i = sig(p[H + j]);
              out[j] = (f * prev[j] + i * p[2 * H + j]) / (f + i);
            }
          }
        }
      }
    });
  });
  return h;
}

// Given dL/dh (B, T, H), the projected inputs and the forward's h, return dL/d(projected). Walking back,
// d_t = g_t + a_{t+1} d_{t+1}; with h' = h_{t-1}:
//   minGRU:  dZ = d (h~ - h') z (1 - z),  dh~ = d z,  a = 1 - z
//   minLSTM: dF = d i (h' - h~) / s^2 f (1 - f),  dI = d f (h~ - h') / s^2 i (1 - i),  dh~ = d i / s,  a = f / s
// Memory is read and written in ascending time only (a descending walk through memory ran 3x slower here: the
// prefetchers follow ascending streams): per chunk of kChunk steps, from the last chunk back, one ascending pass
// keeps the gates and g in a small buffer, the walk back runs on that buffer alone, and one ascending pass writes
// the derivatives.
static constexpr int64_t kChunk = 32;

Tensor minimal_backward(Tensor grad, Tensor projected, Tensor h, int64_t blocks) {
  grad = grad.contiguous();
  projected = projected.contiguous();
  h = h.contiguous();
  const int64_t B = projected.size(0), T = projected.size(1), K = projected.size(2), H = K / blocks;
  auto dp = at::empty_like(projected);
  AT_DISPATCH_FLOATING_TYPES(projected.scalar_type(), "minimal_backward", [&] {
    const scalar_t* pg = grad.data_ptr<scalar_t>();
    const scalar_t* pp = projected.data_ptr<scalar_t>();
    const scalar_t* ph = h.data_ptr<scalar_t>();
    scalar_t* pdp = dp.data_ptr<scalar_t>();
    at::parallel_for(0, B, kScanGrain, [&](int64_t r0, int64_t r1) {
      // per chunk step: d (g on the way in), the first gate (z or f), the second (i, minLSTM)
      std::vector<scalar_t> buffer(3 * kChunk * H), carry(H), zero(H, scalar_t(0));
      scalar_t *c = carry.data(), *D = buffer.data(), *G1 = D + kChunk * H, *G2 = G1 + kChunk * H;
      for (int64_t r = r0; r < r1; ++r) {
        std::fill(carry.begin(), carry.end(), scalar_t(0));
        for (int64_t start = ((T - 1) / kChunk) * kChunk; start >= 0; start -= kChunk) {
          const int64_t n = std::min(kChunk, T - start);
          for (int64_t s = 0; s < n; ++s) {  // ascending: gates and g into the buffer
            const scalar_t* p = pp + (r * T + start + s) * K;
            const scalar_t* g = pg + (r * T + start + s) * H;
            scalar_t *d = D + s * H, *g1 = G1 + s * H, *g2 = G2 + s * H;
            _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
              d[j] = g[j];
              g1[j] = sig(p[j]);
              if (blocks == 3) g2[j] = sig(p[H + j]);
            }
          }
          for (int64_t s = n - 1; s >= 0; --s) {  // the walk back, on the buffer
            scalar_t *d = D + s * H, *g1 = G1 + s * H, *g2 = G2 + s * H;
            if (blocks == 2) {
              _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
                d[j] += c[j];
                c[j] = d[j] * (scalar_t(1) - g1[j]);
              }
            } else {
              _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
                d[j] += c[j];
                c[j] = d[j] * g1[j] / (g1[j] + g2[j]);
              }
            }
          }
          for (int64_t s = 0; s < n; ++s) {  // ascending: the derivatives
            const int64_t t = start + s;
            const scalar_t* p = pp + (r * T + t) * K;
            const scalar_t* prev = t ? ph + (r * T + t - 1) * H : zero.data();
            scalar_t* q = pdp + (r * T + t) * K;
            const scalar_t *d = D + s * H, *g1 = G1 + s * H, *g2 = G2 + s * H;
            if (blocks == 2) {
              _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
                const scalar_t z = g1[j];
                q[j] = d[j] * (p[H + j] - prev[j]) * z * (scalar_t(1) - z);
                q[H + j] = d[j] * z;
              }
            } else {
              _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
                const scalar_t f = g1[j], i = g2[j], inv = scalar_t(1) / (f + i);
                const scalar_t diff = (p[2 * H + j] - prev[j]) * d[j] * inv * inv;
                q[j] = -diff * i * f * (scalar_t(1) - f);
                q[H + j] = diff * f * i * (scalar_t(1) - i);
                q[2 * H + j] = d[j] * i * inv;
              }
            }
          }
        }
      }
    });
  });
  return dp;
}
