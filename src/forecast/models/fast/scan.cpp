// The linear recurrence of the minimal cells (src/forecast/models/minimal.py), h_t = a_t * h_{t-1} + b_t with
// h_{-1} = 0, over batch-first (B, T, H) tensors: one fused elementwise loop forward and one backward, each row
// of the batch on one thread (rows are independent), the H units of a step vectorised. Compiled with kernels.cpp.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <vector>

using at::Tensor;

static constexpr int64_t kScanGrain = 8;

// Return h (B, T, H).
Tensor linear_scan_forward(Tensor a, Tensor b) {
  a = a.contiguous();
  b = b.contiguous();
  const int64_t B = a.size(0), T = a.size(1), H = a.size(2);
  auto h = at::empty_like(b);
  AT_DISPATCH_FLOATING_TYPES(b.scalar_type(), "linear_scan_forward", [&] {
    const scalar_t* pa = a.data_ptr<scalar_t>();
    const scalar_t* pb = b.data_ptr<scalar_t>();
    scalar_t* ph = h.data_ptr<scalar_t>();
    at::parallel_for(0, B, kScanGrain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t base = r * T * H;
        _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) ph[base + j] = pb[base + j];
        for (int64_t t = 1; t < T; ++t) {
          const int64_t o = base + t * H;
          _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) ph[o + j] = pa[o + j] * ph[o - H + j] + pb[o + j];
        }
      }
    });
  });
  return h;
}

// Given dL/dh (B, T, H), a and the forward's h, return {dL/da, dL/db}: walking back, d_t = g_t + a_{t+1} d_{t+1},
// db_t = d_t and da_t = d_t h_{t-1} (0 at t = 0).
std::vector<Tensor> linear_scan_backward(Tensor grad, Tensor a, Tensor h) {
  grad = grad.contiguous();
  a = a.contiguous();
  h = h.contiguous();
  const int64_t B = a.size(0), T = a.size(1), H = a.size(2);
  auto da = at::empty_like(a);
  auto db = at::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "linear_scan_backward", [&] {
    const scalar_t* pg = grad.data_ptr<scalar_t>();
    const scalar_t* pa = a.data_ptr<scalar_t>();
    const scalar_t* ph = h.data_ptr<scalar_t>();
    scalar_t* pda = da.data_ptr<scalar_t>();
    scalar_t* pdb = db.data_ptr<scalar_t>();
    at::parallel_for(0, B, kScanGrain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t base = r * T * H, last = base + (T - 1) * H;
        _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) pdb[last + j] = pg[last + j];
        for (int64_t t = T - 2; t >= 0; --t) {
          const int64_t o = base + t * H;
          _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) pdb[o + j] =
              pg[o + j] + pa[o + H + j] * pdb[o + H + j];
        }
        _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) pda[base + j] = scalar_t(0);
        for (int64_t t = 1; t < T; ++t) {
          const int64_t o = base + t * H;
          _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) pda[o + j] = pdb[o + j] * ph[o - H + j];
        }
      }
    });
  });
  return {da, db};
}
