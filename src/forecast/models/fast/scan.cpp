// The minimal cells (src/forecast/models/minimal.py), batch-first: the gates, the candidate and the recurrence
// h_t = a_t * h_{t-1} + b_t (h_{-1} = 0) in one fused loop forward, and the reverse walk with the gates' derivatives
// in one loop backward, so no (B, T, H) intermediate but h is written. A layer's pre-activations come either from
// its projection (B, T, k*H), computed here a chunk of steps of a row at a time (one GEMM each, read while in cache)
// and kept for the backward, or, for a narrow input (a first layer on a few features), from the inputs (B, T, I)
// and the weight, projected here step by step: then neither the (B, T, k*H) projection nor its gradient is ever
// written (the weight's and the inputs' gradients are summed in the loop). The bias (k*H) is added
// here either way, not broadcast into a copy of the projection, and its gradient summed here. Each row of the batch
// runs on one thread (rows are independent), the H units of a step vectorised (exp included: -ffast-math); the
// weight's and the bias's gradients are summed per group of kScanGrain rows (a group runs on one thread) and the
// groups added in a fixed order after the loop, so the result does not depend on how rows fall to threads (per
// row, zeroing and adding up a wide layer's (B, I, K) sums in ATen took 0.2 ms of minGRU's 2 ms step at window
// 60). Compiled with kernels.cpp.
//   minGRU  (k = 2, blocks z, h~):     z = sigm(Z),  h_t = h_{t-1} + z (h~ - h_{t-1})
//   minLSTM (k = 3, blocks f, i, h~):  f = sigm(F), i = sigm(I),  h_t = (f h_{t-1} + i h~) / (f + i)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <vector>

#include "common.h"

using at::Tensor;

static constexpr int64_t kScanGrain = 8;


// Where a step's pre-activations come from: the projection (B, T, K), or the inputs (B, T, I) and the transposed
// weight (I, K) of a narrow layer; plus the bias (K).
template <typename scalar_t> struct Source {
  const scalar_t* data;
  const scalar_t* wt;  // (I, K), or nullptr: data is the projection
  const scalar_t* bias;
  int64_t T, K, I;

  // Fill out[0..K) with row r's pre-activations at step t; a narrow layer's projection fills out[lo..hi) alone
  // (the backward's passes each project the gates they need: half the work of minGRU's), a wide layer's copy all
  // K (copying half of each step's row gained nothing: a wide layer's backward at window 1024 took 7.8-8.7 ms
  // reading half, 7.0-7.7 ms reading all, paired runs).
  inline void at(int64_t r, int64_t t, scalar_t* out, int64_t lo = 0, int64_t hi = -1) const {
    if (wt) {
      if (hi < 0) hi = K;
      project_narrow<scalar_t, false>(out + lo, data + (r * T + t) * I, wt + lo, bias + lo, 1, I, hi - lo, K);
    } else {
      const scalar_t* p = data + (r * T + t) * K;
      _Pragma("omp simd") for (int64_t j = 0; j < K; ++j) out[j] = p[j] + bias[j];
    }
  }
};

// The inputs of a layer as a Source: a narrow layer passes its weight (K, I), a wide one an empty tensor.
template <typename scalar_t>
static Source<scalar_t> source(const Tensor& input, const Tensor& wt, const Tensor& bias) {
  const bool narrow = wt.numel() > 0;
  return {input.data_ptr<scalar_t>(), narrow ? wt.data_ptr<scalar_t>() : nullptr, bias.data_ptr<scalar_t>(),
          input.size(1), bias.size(0), narrow ? input.size(2) : 0};
}

// The backward walks chunks of kChunk steps from the last back (see minimal_backward).
static constexpr int64_t kChunk = 128;

// One unit's step from its pre-activations p (blocks of H): h_t from h_{t-1}, and the gates in g1 (z or f) and g2
// (i). The forward and the backward's recomputation (last-step mode) inline these same lines, so both give the
// same h to the bit (-ffast-math may rewrite an expression differently where its gates come from memory).
template <typename T, int BLOCKS>
static inline T advance(const T* p, int64_t j, int64_t H, T prev, T& g1, T& g2) {
  if constexpr (BLOCKS == 2) {
    g1 = sigm(p[j]);
    return prev + g1 * (p[H + j] - prev);
  } else {
    g1 = sigm(p[j]);
    g2 = sigm(p[H + j]);
    return (g1 * prev + g2 * p[2 * H + j]) / (g1 + g2);
  }
}

// Steps h over one step: out = advance(p, prev) for every unit (out may be prev: the update is in place).
template <typename T, int BLOCKS> static inline void advance_all(const T* p, const T* prev, T* out, int64_t H) {
  T g1, g2;
  _Pragma("omp simd private(g1, g2)") for (int64_t j = 0; j < H; ++j) out[j] = advance<T, BLOCKS>(p, j, H, prev[j], g1, g2);
}

// Return {h, projection}: h (B, T, H) from a layer's projection (B, T, blocks * H) and an empty weight, or from its
// inputs (B, T, I) and its weight (blocks * H, I) (narrow); blocks 2 (minGRU) or 3 (minLSTM). A wide layer may pass
// an empty projection and its inputs and weight instead (wide_x, wide_w): each row's projection is then computed
// here a chunk of kChunk steps at a time (one GEMM of the chunk's inputs), read by the loop while it is in cache, and
// returned for the backward; otherwise the projection returned is empty. With last (the top layer under a
// forecaster's head, which reads h_T alone), no (B, T, H) is written: the states (B, C + 1, H) hold the h entering
// each of the backward's C chunks (zeros, h_{kChunk - 1}, ...) and, last, h_T; the backward recomputes the steps
// between them.
std::vector<Tensor> minimal_forward(Tensor input, Tensor weight, Tensor bias, int64_t blocks, bool last,
                                    Tensor wide_x, Tensor wide_w) {
  const bool fused = wide_x.numel() > 0;
  wide_x = wide_x.contiguous();
  bias = bias.contiguous();
  const Tensor wxt = fused ? wide_w.t().contiguous() : wide_w;  // (I, K): the chunk's product as MKL's NN
  const int64_t B = (fused ? wide_x : input).size(0), T = (fused ? wide_x : input).size(1), K = bias.size(0);
  const int64_t H = K / blocks, C = (T + kChunk - 1) / kChunk, I = fused ? wide_x.size(2) : 0;
  input = fused ? at::empty({B, T, K}, wide_x.options()) : input.contiguous();  // fused: the projection, filled here
  const Tensor wt = weight.numel() ? weight.t().contiguous() : weight;
  auto h = last ? at::empty({B, C + 1, H}, input.options()) : at::empty({B, T, H}, input.options());
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "minimal_forward", [&] {
    const Source<scalar_t> src = source<scalar_t>(input, wt, bias);
    scalar_t* ph = h.data_ptr<scalar_t>();
    at::parallel_for(0, B, kScanGrain, [&](int64_t r0, int64_t r1) {
      std::vector<scalar_t> zero(H, scalar_t(0)), step(K), state(H);
      scalar_t *p = step.data(), *cur = state.data();
      for (int64_t r = r0; r < r1; ++r) {
        std::fill(state.begin(), state.end(), scalar_t(0));
        scalar_t* states = last ? ph + r * (C + 1) * H : nullptr;
        for (int64_t t = 0; t < T; ++t) {
          if (fused && t % kChunk == 0)  // the chunk's projection, read step by step below while in cache
            gemm<scalar_t>(std::min(kChunk, T - t), K, I, wide_x.data_ptr<scalar_t>() + (r * T + t) * I, I,
                           wxt.data_ptr<scalar_t>(), K, false, scalar_t(0),
                           input.data_ptr<scalar_t>() + (r * T + t) * K, K);
          if (last && t % kChunk == 0) std::copy(cur, cur + H, states + (t / kChunk) * H);
          src.at(r, t, p);
          scalar_t* out = last ? cur : ph + (r * T + t) * H;  // last: h updated in place, one step kept
          const scalar_t* prev = last ? cur : t ? out - H : zero.data();
          if (blocks == 2) advance_all<scalar_t, 2>(p, prev, out, H);
          else advance_all<scalar_t, 3>(p, prev, out, H);
        }
        if (last) std::copy(cur, cur + H, states + C * H);
      }
    });
  });
  return {h, fused ? input : wide_w.new_empty({0})};
}

// Given dL/dh (B, T, H) and h, or in last-step mode dL/dh_T (B, H) and the states minimal_forward kept (the top
// layer under a forecaster's head: no (B, T, H) of zeros filled and read), and the forward's inputs (as
// minimal_forward took them), return the pre-activations' gradient: for a wide layer given its projection alone
// {dL/d(projection) (B, T, K), the bias's gradient (K)}; for a narrow one, or a wide one given its inputs and
// weight (wide_x, wide_w), {dL/d(inputs) (B, T, I; empty unless input_grad), the weight's gradient transposed
// (I, K), the bias's (K)}. Walking back, d_t = g_t + a_{t+1} d_{t+1}; with h' = h_{t-1}:
//   minGRU:  dZ = d (h~ - h') z (1 - z),  dh~ = d z,  a = 1 - z
//   minLSTM: dF = d i (h' - h~) / s^2 f (1 - f),  dI = d f (h~ - h') / s^2 i (1 - i),  dh~ = d i / s,  a = f / s
// Memory is read and written in ascending time only (a descending walk through memory ran 3x slower here: the
// prefetchers follow ascending streams): per chunk of kChunk steps, from the last chunk back, one ascending pass
// keeps the gates and g in a small buffer, the walk back runs on that buffer alone, and one ascending pass writes
// the derivatives. Longer chunks are longer streams: at window 1024 (batch 64, 2 x 64 units, 2 threads) a wide
// layer's backward took 7.75 ms in chunks of 32 steps, 7.41 in 64, 7.08 in 128, a narrow one's 4.88, 4.57 and
// 4.40 (medians of 7 alternating runs; no change at window 60; software prefetch of the next chunk gained nothing).
// A chunk's buffer (3 x 128 x H values: 96 KB at 64 units; 4 x in last-step mode) stays in L2. In last-step mode
// the ascending pass recomputes the chunk's h from the state entering it (minimal_forward) into the buffer, and
// the h_{t-1} of the derivatives come from there: the top layer's (B, T, H) is neither written nor read.

// Where the backward writes: the projection's gradient (wide, projection alone) or the inputs' (narrow, or a wide
// layer given its inputs and weight; may be null), the groups' sums of the weight's gradient (G, I, K; narrow, or
// wide with its inputs) and of the bias's (G, K). A wide layer given its inputs x (B, T, I) and weight w (K, I)
// multiplies each chunk's derivatives Q (kChunk, K), still in cache, into the inputs' gradient (Q w) and its group's
// sum of the weight's (x^T Q): no (B, T, K) gradient is written and read back by two GEMMs after the loop.
template <typename scalar_t> struct Grads {
  scalar_t *dp, *wrows, *rows;
  const scalar_t *x = nullptr, *w = nullptr;  // a wide layer's inputs (B, T, I) and weight (K, I), or null
  int64_t I = 0;
};

// The backward of batch rows [r0, r1) (one thread), for BLOCKS 2 (minGRU) or 3 (minLSTM): the gates' count is a
// template argument, so each pass computes the gates it needs and no others (a runtime count left a masked second
// sigmoid in minGRU's vector loop); a narrow layer's passes project only the blocks they read (Source::at).
template <typename scalar_t, int BLOCKS>
static void minimal_rows(const Source<scalar_t>& src, const scalar_t* pg, bool last, const scalar_t* ph,
                         Grads<scalar_t> out, int64_t H, int64_t r0, int64_t r1) {
  const int64_t T = src.T, K = src.K, I = src.I;
  const bool narrow = src.wt != nullptr;
  // per chunk step: d (g on the way in), the first gate (z or f), the second (i, minLSTM); last: h from the
  // chunk's entering state on (kChunk + 1 steps)
  const bool fused = out.x != nullptr;  // a wide layer's products in the loop: the chunk's derivatives in Q
  std::vector<scalar_t> buffer((last ? 4 * kChunk + 1 : 3 * kChunk) * H), carry(H), zero(H, scalar_t(0)), step(K),
      local(fused ? kChunk * K : K);
  scalar_t *c = carry.data(), *D = buffer.data(), *G1 = D + kChunk * H, *G2 = G1 + kChunk * H, *Hs = G2 + kChunk * H;
  const int64_t C = (T + kChunk - 1) / kChunk;
  scalar_t *p = step.data(), *q0 = local.data();
  const scalar_t* cand = p + (BLOCKS - 1) * H;  // the candidate h~: the last block
  for (int64_t r = r0; r < r1; ++r) {
    std::fill(carry.begin(), carry.end(), scalar_t(0));
    scalar_t* sum = out.rows + (r / kScanGrain) * K;  // the row's group's sums, zeroed by its first row's thread
    if (r % kScanGrain == 0) {
      const int64_t span = (narrow ? I : out.I) * K;  // the group's weight sums
      std::fill_n(sum, K, scalar_t(0));
      if (out.wrows) std::fill_n(out.wrows + (r / kScanGrain) * span, span, scalar_t(0));
    }
    for (int64_t start = ((T - 1) / kChunk) * kChunk; start >= 0; start -= kChunk) {
      const int64_t n = std::min(kChunk, T - start);
      if (last) std::copy_n(ph + (r * (C + 1) + start / kChunk) * H, H, Hs);
      for (int64_t s = 0; s < n; ++s) {  // ascending: gates and g into the buffer
        src.at(r, start + s, p, 0, last ? K : (BLOCKS - 1) * H);
        const int64_t t = start + s;
        const scalar_t* g = !last ? pg + (r * T + t) * H : t == T - 1 ? pg + r * H : zero.data();
        scalar_t *d = D + s * H, *g1 = G1 + s * H, *g2 = G2 + s * H;
        if (last) {  // the gates and h_t from h_{t-1}, as the forward computed them
          const scalar_t* prev = Hs + s * H;
          scalar_t* out = Hs + (s + 1) * H;
          _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
            d[j] = g[j];
            out[j] = advance<scalar_t, BLOCKS>(p, j, H, prev[j], g1[j], g2[j]);
          }
          continue;
        }
        _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
          d[j] = g[j];
          g1[j] = sigm(p[j]);
          if constexpr (BLOCKS == 3) g2[j] = sigm(p[H + j]);
        }
      }
      for (int64_t s = n - 1; s >= 0; --s) {  // the walk back, on the buffer
        scalar_t *d = D + s * H, *g1 = G1 + s * H, *g2 = G2 + s * H;
        if constexpr (BLOCKS == 2) {
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
        src.at(r, t, p, (BLOCKS - 1) * H, K);
        const scalar_t* prev = last ? Hs + s * H : t ? ph + (r * T + t - 1) * H : zero.data();
        scalar_t* q = narrow ? q0 : fused ? q0 + s * K : out.dp + (r * T + t) * K;
        const scalar_t *d = D + s * H, *g1 = G1 + s * H, *g2 = G2 + s * H;
        if constexpr (BLOCKS == 2) {
          _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
            const scalar_t z = g1[j];
            q[j] = d[j] * (cand[j] - prev[j]) * z * (scalar_t(1) - z);
            q[H + j] = d[j] * z;
          }
        } else {
          _Pragma("omp simd") for (int64_t j = 0; j < H; ++j) {
            const scalar_t f = g1[j], i = g2[j], inv = scalar_t(1) / (f + i);
            const scalar_t diff = (cand[j] - prev[j]) * d[j] * inv * inv;
            q[j] = -diff * i * f * (scalar_t(1) - f);
            q[H + j] = diff * f * i * (scalar_t(1) - i);
            q[2 * H + j] = d[j] * i * inv;
          }
        }
        // the group's bias sums and, narrow, its weight sums and the inputs' gradient: no (B, T, K) gradient written
        sum_rows<scalar_t>(q, sum, narrow ? src.data + (r * T + t) * I : nullptr, src.wt,
                           narrow ? out.wrows + (r / kScanGrain) * I * K : nullptr,
                           narrow && out.dp ? out.dp + (r * T + t) * I : nullptr, 1, I, K);
      }
      if (fused) {  // the chunk's products while its derivatives are in cache: x^T Q into the group's weight sum
        const scalar_t* xc = out.x + (r * T + start) * out.I;
        gemm_at<scalar_t>(out.I, K, n, xc, q0, out.wrows + (r / kScanGrain) * out.I * K);
        if (out.dp)
          gemm<scalar_t>(n, out.I, K, q0, K, out.w, out.I, false, scalar_t(0), out.dp + (r * T + start) * out.I, out.I);
      }
    }
  }
}

// Return the sum over the first dimension of groups (G, ...), the groups added in order on this thread.
static Tensor group_total(const Tensor& groups) {
  Tensor total = groups[0].clone();
  AT_DISPATCH_FLOATING_TYPES(groups.scalar_type(), "group_total", [&] {
    scalar_t* acc = total.data_ptr<scalar_t>();
    const int64_t n = total.numel();
    for (int64_t g = 1; g < groups.size(0); ++g) {
      const scalar_t* part = groups.data_ptr<scalar_t>() + g * n;
      _Pragma("omp simd") for (int64_t j = 0; j < n; ++j) acc[j] += part[j];
    }
  });
  return total;
}

std::vector<Tensor> minimal_backward(Tensor grad, Tensor input, Tensor weight, Tensor bias, Tensor h, int64_t blocks,
                                     bool input_grad, Tensor wide_x, Tensor wide_w) {
  grad = grad.contiguous();
  const bool last = grad.dim() == 2;
  TORCH_CHECK(!last || h.size(1) == (input.size(1) + kChunk - 1) / kChunk + 1, "last-step mode takes the states");
  input = input.contiguous();
  bias = bias.contiguous();
  h = h.contiguous();
  const bool narrow = weight.numel() > 0, fused = !narrow && wide_x.numel() > 0;
  TORCH_CHECK(!fused || wide_w.size(0) == bias.size(0), "a wide layer's weight is (blocks * H, I)");
  wide_x = wide_x.contiguous();
  wide_w = wide_w.contiguous();
  const Tensor wt = narrow ? weight.t().contiguous() : weight;
  const int64_t B = input.size(0), K = bias.size(0), H = K / blocks;
  const int64_t I = narrow ? input.size(2) : fused ? wide_x.size(2) : 0;
  const Tensor& inputs = narrow ? input : wide_x;  // whose gradient a narrow or fused layer returns
  auto dp = narrow || fused ? (input_grad ? at::empty_like(inputs) : at::empty({0}, input.options()))
                            : at::empty_like(input);
  const int64_t G = (B + kScanGrain - 1) / kScanGrain;  // groups of kScanGrain rows, each summed by one thread
  auto wrows = at::empty({narrow || fused ? G : 0, I, K}, input.options());  // zeroed in the loop, group by group
  auto rows = at::empty({G, K}, input.options());
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "minimal_backward", [&] {
    const Source<scalar_t> src = source<scalar_t>(input, wt, bias);
    const scalar_t* pg = grad.data_ptr<scalar_t>();
    const scalar_t* ph = h.data_ptr<scalar_t>();
    Grads<scalar_t> out{dp.numel() ? dp.data_ptr<scalar_t>() : nullptr,
                        wrows.numel() ? wrows.data_ptr<scalar_t>() : nullptr, rows.data_ptr<scalar_t>()};
    if (fused) out.x = wide_x.data_ptr<scalar_t>(), out.w = wide_w.data_ptr<scalar_t>(), out.I = I;
    at::parallel_for(0, G, 1, [&](int64_t g0, int64_t g1) {
      const int64_t r0 = g0 * kScanGrain, r1 = std::min(B, g1 * kScanGrain);
      if (blocks == 2) minimal_rows<scalar_t, 2>(src, pg, last, ph, out, H, r0, r1);
      else minimal_rows<scalar_t, 3>(src, pg, last, ph, out, H, r0, r1);
    });
  });
  // the groups added in order here: the weight's gradient (I, K) and the bias's (K), one serial pass (a parallel
  // ATen sum woke the pool's other thread for 65,536 numbers)
  const Tensor wsum = narrow || fused ? group_total(wrows) : wrows;
  if (narrow || fused) return {dp, wsum, group_total(rows)};
  return {dp, group_total(rows)};
}
