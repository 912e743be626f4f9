// Shared by the fast path's step loops (kernels.cpp, lstm.cpp, scan.cpp, slstm.cpp): the thread state of a parallel
// block, a direct BLAS GEMM and the activations. Header-only: every function is static or inline.
//
// ATen's headers alone, not <torch/extension.h> (which pulls in pybind11, Python and torch's C++ API): only
// kernels.cpp, which binds the module, needs that. A file of loops compiles in 9 s instead of 28 on this VM, and a
// fresh build of the kernels (what CI and a user's first run pay) took 36 s instead of 81 (ninja's log, 2 cores).
#pragma once
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

static constexpr int64_t kGrain = 16;

// at::parallel_for's worker threads start with autograd's defaults: grad mode on (the weights require grad, so
// an out= GEMM would refuse to run) and inference mode off (inference-mode outputs could not be written). Each
// block sets both as the calling thread has them.
struct ThreadState {
  c10::InferenceMode inference;
  at::NoGradGuard no_grad;
  explicit ThreadState(bool inference_mode) : inference(inference_mode) {}
};

// The BLAS that torch links (MKL on x86 wheels) exports the Fortran GEMMs; calling them directly skips ATen's
// dispatcher and the tensor views of every step (about 10 us a step, a third of a 32-row step at 64 units).
// Weak: where a build of torch does not export them, the pointers are null and the steps use ATen's mm.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
            const float*, const int*, const float*, float*, const int*) __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*, const int*,
            const double*, const int*, const double*, double*, const int*) __attribute__((weak));
}

// Row-major C (m x n) = beta * C + A (m x k) @ op(B), with op(B) = B^T for B stored (n x k) when b_t, else B
// stored (k x n). Leading dimensions are row strides. beta is 0 or 1.
template <typename T>
static void gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, bool b_t,
                 T beta, T* c, int64_t ldc) {
  const int M = int(n), N = int(m), K = int(k), LA = int(ldb), LB = int(lda), LC = int(ldc);
  const T one = T(1);
  const char* ta = b_t ? "T" : "N";
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_ != nullptr) return sgemm_(ta, "N", &M, &N, &K, &one, b, &LA, a, &LB, &beta, c, &LC);
  } else if constexpr (std::is_same_v<T, double>) {
    if (dgemm_ != nullptr) return dgemm_(ta, "N", &M, &N, &K, &one, b, &LA, a, &LB, &beta, c, &LC);
  }
  const auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  auto A = at::from_blob(const_cast<T*>(a), {m, k}, {lda, 1}, opts);
  auto B = b_t ? at::from_blob(const_cast<T*>(b), {n, k}, {ldb, 1}, opts).t()
               : at::from_blob(const_cast<T*>(b), {k, n}, {ldb, 1}, opts);
  auto C = at::from_blob(c, {m, n}, {ldc, 1}, opts);
  if (beta == T(0)) {
    at::mm_out(C, A, B);
  } else {
    C.addmm_(A, B);
  }
}

// Row-major C (m x n) += A^T @ B for A stored (k x m) and B stored (k x n): a weight's gradient summed over a
// block's rows (k) inside a step loop, while both operands are still in cache.
template <typename T>
static void gemm_at(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  const int M = int(n), N = int(m), K = int(k);
  const T one = T(1);
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_ != nullptr) return sgemm_("N", "T", &M, &N, &K, &one, b, &M, a, &N, &one, c, &M);
  } else if constexpr (std::is_same_v<T, double>) {
    if (dgemm_ != nullptr) return dgemm_("N", "T", &M, &N, &K, &one, b, &M, a, &N, &one, c, &M);
  }
  const auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  auto C = at::from_blob(c, {m, n}, opts);
  C.addmm_(at::from_blob(const_cast<T*>(a), {k, m}, opts).t(), at::from_blob(const_cast<T*>(b), {k, n}, opts));
}

// A recurrent weight's gradient summed in a step loop: each block of rows sums its share (rows, m, n) with gemm_at
// while the step's operands are in cache, and the shares are added in the order of the blocks' first rows, not of
// the threads finishing: the same bits from call to call. (ATen may cut a batch into blocks of fewer than kGrain
// rows, so a block is named by its first row: two blocks of 10 rows once shared one sum and raced.)
class BlockSums {
 public:
  BlockSums(int64_t m, int64_t n, at::TensorOptions options) : m_(m), n_(n), options_(options) {}
  at::Tensor block() const { return at::zeros({m_, n_}, options_); }  // a block's own sum, zeroed
  void add(int64_t first_row, at::Tensor sum) {
    const std::lock_guard<std::mutex> lock(mutex_);
    blocks_.emplace_back(first_row, std::move(sum));
  }
  at::Tensor total() {  // after the parallel loop
    if (blocks_.empty()) return block();
    std::sort(blocks_.begin(), blocks_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    at::Tensor sum = blocks_.front().second;
    for (size_t k = 1; k < blocks_.size(); ++k) sum.add_(blocks_[k].second);
    return sum;
  }

 private:
  int64_t m_, n_;
  at::TensorOptions options_;
  std::mutex mutex_;
  std::vector<std::pair<int64_t, at::Tensor>> blocks_;
};

// A weight W (n, k) as torch stores it, transposed once per call into (k, n): a step's h W^T then runs as MKL's NN
// product, which at a block of 32 rows and 64 units takes a quarter less time than its TN product on W itself
// (6.0 against 8.0 us for the LSTM's 32 x 256 x 64 on one thread). The sums are MKL's same, to the bit, from 6 rows
// a block up (its few-row path adds in another order).
static inline at::Tensor transposed(const at::Tensor& w) { return w.t().contiguous(); }

// A layer's output gradient at step t for rows [b0, ...): grad_out (T, B, H) there, or, where grad_out is empty
// (only the layer's h_n was read: a forecaster's head on its top layer), a block of zeros (B, H): no (T, B, H) of
// zeros is filled for the backward to read.
template <typename T> struct OutGrad {
  const T* data;
  const T* zeros;
  int64_t B, H;
  const T* at(int64_t t, int64_t b0) const { return data ? data + (t * B + b0) * H : zeros + b0 * H; }
};

// Return the OutGrad of grad_out for outputs (T, B, H); zeros holds the block it may need (kept by the caller).
template <typename T> static OutGrad<T> out_grad(const at::Tensor& grad_out, at::Tensor& zeros, int64_t B, int64_t H) {
  if (grad_out.numel()) return {grad_out.data_ptr<T>(), nullptr, B, H};
  zeros = at::zeros({B, H}, grad_out.options());
  return {nullptr, zeros.data_ptr<T>(), B, H};
}

// Elementwise work of one step runs as one fused loop over rows x hidden (compiled with -O3 -ffast-math, so
// exp is vectorised); the hidden-to-hidden matrix product of the step goes to ATen's GEMM. -ffast-math assumes no
// infinities, so exp must never overflow: the arguments are clamped where the result is already its limit (tanh
// of 20 is 1 to 4e-18, sigmoid of -80 is 0 to 2e-35), which an unclamped float32 exp past 88 would turn into NaN.
template <typename T> static inline T clamp_(T x, T bound) { return std::min(std::max(x, -bound), bound); }
//
// In float32, exp is computed inline (exp_): Cephes' expf, a rounding to n = round(x / ln 2), a degree-5 polynomial
// on the remainder and 2^n built in the exponent's bits, 3e-7 from the true value at most (checked on 2 M points of
// [-87, 88]). It inlines into the loop around it, where libmvec's expf was a call per vector (and a scalar call for
// a row's leftover column): a training step of the fused LSTM at the Fischer & Krauss shape took 0.93 of its time
// (paired medians, 9 alternations, 2026-12-07, AMD EPYC VM). Valid for |x| <= 87 (the clamps above keep every
// argument within 80); double keeps std::exp.
template <typename T> static inline T exp_(T x) {
  if constexpr (std::is_same_v<T, float>) {
    const float n = std::nearbyint(x * 1.44269504088896341f);
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // x - n ln 2, ln 2 in two parts
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (int32_t(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
  } else {
    return std::exp(x);
  }
}
template <typename T> static inline T sigm(T x) { return T(1) / (T(1) + exp_(-clamp_(x, T(80)))); }
template <typename T> static inline T tanh_(T x) { return T(1) - T(2) / (exp_(T(2) * clamp_(x, T(20))) + T(1)); }


// A narrow layer's input terms (a first layer on at most NARROW features, models/fast/layers.py), step by step:
// out (rows, K) = bias + x_t W_ih^T from x_t (rows, I) and the transposed weight wt (I, K), added to what out holds
// when ADD (the step's h W_hh^T). No (T, B, K) projection is computed beforehand, and no copy of the bias is
// broadcast into one.
template <typename T, bool ADD>
static void project_narrow(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ wt,
                           const T* __restrict__ bias, int64_t rows, int64_t I, int64_t K, int64_t ldw = 0) {
  if (!ldw) ldw = K;  // the weight's row stride: a block of columns [j0, j0 + K) passes wt + j0 and the full K
  for (int64_t b = 0; b < rows; ++b) {
    T* o = out + b * K;
#pragma omp simd
    for (int64_t j = 0; j < K; ++j) o[j] = (ADD ? o[j] : T(0)) + bias[j];
    for (int64_t i = 0; i < I; ++i) {
      const T xi = x[b * I + i];
      const T* w = wt + i * ldw;
#pragma omp simd
      for (int64_t j = 0; j < K; ++j) o[j] += xi * w[j];
    }
  }
}

// Per batch row, the sums over time of one step's pre-activation gradients d (rows, K): into brows (the bias's
// gradient rows), and for a narrow layer (I > 0) x_t^T d into wrows (rows, I, K; the weight's) and d W_ih into dx
// (rows, I) when dx is given. Summed per row, the caller adds the rows in a fixed order: the result does not depend
// on how rows fall to threads.
template <typename T>
static void sum_rows(const T* __restrict__ d, T* __restrict__ brows, const T* __restrict__ x, const T* __restrict__ wt,
                     T* __restrict__ wrows, T* __restrict__ dx, int64_t rows, int64_t I, int64_t K) {
  for (int64_t b = 0; b < rows; ++b) {
    const T* d_b = d + b * K;
    T* sum = brows + b * K;
#pragma omp simd
    for (int64_t j = 0; j < K; ++j) sum[j] += d_b[j];
    for (int64_t i = 0; i < I; ++i) {
      const T xi = x[b * I + i];
      T* wr = wrows + (b * I + i) * K;
      const T* w = wt + i * K;
      if (!dx) {  // the weight's rows alone: no dot product nobody reads
#pragma omp simd
        for (int64_t j = 0; j < K; ++j) wr[j] += xi * d_b[j];
        continue;
      }
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < K; ++j) {
        wr[j] += xi * d_b[j];
        acc += d_b[j] * w[j];
      }
      dx[b * I + i] = acc;
    }
  }
}
