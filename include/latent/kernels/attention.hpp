// Attention on raw memory: a blocked kernel with an online softmax (flash-attention style),
// its backward, and a row-at-a-time path for a few queries (decoding against a key/value
// cache). For each (batch, head) pair, with queries Q [L, d], keys K [S, d], values V [S, dv]:
//
//   s_ij = scale * q_i . k_j          for the keys j that query i sees (all, or causal)
//   lse_i = log sum_j exp(s_ij),   p_ij = exp(s_ij - lse_i),   o_i = sum_j p_ij v_j
//
// Causal: query i sees key j when j <= i + causal_offset. Offset 0 aligns the triangle to
// the top left (scaled_dot_product_attention's is_causal); S - L to the bottom right (L new
// queries at the end of S cached positions). A query that sees no key gets NaN, lse -inf.
//
// Forward, the online softmax. The keys are visited in blocks; each query row keeps a
// running maximum m, a running sum l and an unnormalised output a. A block of scores s_j:
//
//   m' = max(m, max_j s_j),   c = exp(m - m'),
//   l' = c l + sum_j exp(s_j - m'),   a' = c a + sum_j exp(s_j - m') v_j
//
// Rescaling by c keeps every term relative to the latest maximum, so at the end
// o = a / l and lse = m + log l exactly as with the whole row at once, yet only one block
// of Br x Bc scores exists at a time, never the L x S matrix. lse is saved for the backward.
//
// Backward, given dO (the gradient of o) and lse, recomputing p block by block:
//
//   D_i = dO_i . o_i  (= sum_j p_ij dP_ij),    dP_ij = dO_i . v_j,    dS_ij = p_ij (dP_ij - D_i)
//   dv_j = sum_i p_ij dO_i,    dq_i = scale sum_j dS_ij k_j,    dk_j = scale sum_i dS_ij q_i
//
// The block products go through kernels::gemm; the row path and the row updates use the
// dot / axpy helpers below, whose SIMD twins (AVX-512, AVX2, NEON) sit beside the scalar
// loops. attention_forward_reference / attention_backward_reference are the plain scalar
// versions, one query and one key at a time: the readable definition, and the tests'.
//
// Threads: the forward splits (batch, head, query block) work items, the backward (batch,
// head) pairs, in fixed chunks; every item is computed the same way on any thread, so the
// results are bitwise identical for any thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "gemm.hpp"
#include "gemm_pack.hpp"
#include "reduce.hpp"
#include "transcendental.hpp"

#if defined(LATENT_SIMD_AVX512) || defined(LATENT_SIMD_AVX2)
#include <immintrin.h>
#elif defined(LATENT_SIMD_NEON)
#include <arm_neon.h>
#endif

namespace latent::kernels {

// Rows of one operand for every (batch, head) pair: element c of row r of pair (b, h) is
// data[b * batch_stride + h * head_stride + r * row_stride + c] (each row contiguous).
// A stride of 0 shares one matrix across batches or heads (broadcasting).
template <class T>
struct AttentionMatrix {
  T* data = nullptr;
  std::int64_t batch_stride = 0, head_stride = 0, row_stride = 0;

  T* rows(std::int64_t b, std::int64_t h) const { return data + b * batch_stride + h * head_stride; }
};

// One attention call: batch x heads independent pairs of Q [queries, dim],
// K [keys, dim], V [keys, value_dim]. lse arrays are contiguous [batch, heads, queries].
template <class T>
struct AttentionProblem {
  std::int64_t batch = 1, heads = 1;
  std::int64_t queries = 0, keys = 0, dim = 0, value_dim = 0;
  T scale = T(1);
  bool causal = false;
  std::int64_t causal_offset = 0;  // query i sees key j when j <= i + causal_offset
  AttentionMatrix<const T> q, k, v;

  // How many keys (a prefix) query i sees.
  std::int64_t visible_keys(std::int64_t i) const {
    if (!causal) return keys;
    return std::clamp<std::int64_t>(i + causal_offset + 1, 0, keys);
  }
  std::int64_t pairs() const { return batch * heads; }
};

namespace attention_detail {

inline void check(const char* op, std::int64_t batch, std::int64_t heads, std::int64_t queries, std::int64_t keys,
                  std::int64_t dim, std::int64_t value_dim) {
  LATENT_CHECK(batch >= 0 && heads >= 0 && queries >= 0 && keys >= 0 && dim >= 0 && value_dim >= 0, op,
               ": negative size: batch ", batch, ", heads ", heads, ", queries ", queries, ", keys ", keys, ", dim ",
               dim, ", value_dim ", value_dim);
}

// ---- SIMD registers: the few operations the row helpers need ---------------------------

#if defined(LATENT_SIMD_AVX512)
#define LATENT_ATTENTION_LANES 1
// The lanes of a register added as a tree, through memory (GCC 12 warns, wrongly, about
// the shuffle intrinsics a register-only reduction would use).
template <class T, int N, class Reg>
T fold(Reg x) {
  alignas(64) T lanes[N];
  std::memcpy(lanes, &x, sizeof(lanes));
  for (int width = N / 2; width >= 1; width /= 2)
    for (int i = 0; i < width; ++i) lanes[i] += lanes[i + width];
  return lanes[0];
}
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  using Reg = __m512;
  static constexpr int width = 16;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg splat(float x) { return _mm512_set1_ps(x); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Reg x) { _mm512_storeu_ps(p, x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static float sum(Reg x) { return fold<float, 16>(x); }
};
template <>
struct Lanes<double> {
  using Reg = __m512d;
  static constexpr int width = 8;
  static Reg zero() { return _mm512_setzero_pd(); }
  static Reg splat(double x) { return _mm512_set1_pd(x); }
  static Reg load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, Reg x) { _mm512_storeu_pd(p, x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_pd(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_pd(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_pd(a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_max_pd(a, b); }
  static double sum(Reg x) { return fold<double, 8>(x); }
};
#elif defined(LATENT_SIMD_AVX2)
#define LATENT_ATTENTION_LANES 1
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  using Reg = __m256;
  static constexpr int width = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg splat(float x) { return _mm256_set1_ps(x); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Reg x) { _mm256_storeu_ps(p, x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static float sum(Reg x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
  }
};
template <>
struct Lanes<double> {
  using Reg = __m256d;
  static constexpr int width = 4;
  static Reg zero() { return _mm256_setzero_pd(); }
  static Reg splat(double x) { return _mm256_set1_pd(x); }
  static Reg load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, Reg x) { _mm256_storeu_pd(p, x); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_pd(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm256_add_pd(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_pd(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_pd(a, b); }
  static double sum(Reg x) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};
#elif defined(LATENT_SIMD_NEON)
#define LATENT_ATTENTION_LANES 1
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  using Reg = float32x4_t;
  static constexpr int width = 4;
  static Reg zero() { return vdupq_n_f32(0.0f); }
  static Reg splat(float x) { return vdupq_n_f32(x); }
  static Reg load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, Reg x) { vst1q_f32(p, x); }
  static Reg fma(Reg a, Reg b, Reg c) { return vfmaq_f32(c, a, b); }
  static Reg add(Reg a, Reg b) { return vaddq_f32(a, b); }
  static Reg mul(Reg a, Reg b) { return vmulq_f32(a, b); }
  static Reg max(Reg a, Reg b) { return vmaxq_f32(a, b); }
  static float sum(Reg x) { return vaddvq_f32(x); }
};
template <>
struct Lanes<double> {
  using Reg = float64x2_t;
  static constexpr int width = 2;
  static Reg zero() { return vdupq_n_f64(0.0); }
  static Reg splat(double x) { return vdupq_n_f64(x); }
  static Reg load(const double* p) { return vld1q_f64(p); }
  static void store(double* p, Reg x) { vst1q_f64(p, x); }
  static Reg fma(Reg a, Reg b, Reg c) { return vfmaq_f64(c, a, b); }
  static Reg add(Reg a, Reg b) { return vaddq_f64(a, b); }
  static Reg mul(Reg a, Reg b) { return vmulq_f64(a, b); }
  static Reg max(Reg a, Reg b) { return vmaxq_f64(a, b); }
  static double sum(Reg x) { return vaddvq_f64(x); }
};
#endif

// ---- row helpers: the scalar loop is the definition, the SIMD loop runs first ----------

// a . b over n values.
template <class T>
T dot(const T* LATENT_RESTRICT a, const T* LATENT_RESTRICT b, std::int64_t n) {
  std::int64_t i = 0;
  T total = T(0);
#if defined(LATENT_ATTENTION_LANES)
  using L = Lanes<T>;
  constexpr int W = L::width;
  if (n >= W) {
    typename L::Reg acc0 = L::zero(), acc1 = L::zero();
    for (; i + 2 * W <= n; i += 2 * W) {
      acc0 = L::fma(L::load(a + i), L::load(b + i), acc0);
      acc1 = L::fma(L::load(a + i + W), L::load(b + i + W), acc1);
    }
    if (i + W <= n) {
      acc0 = L::fma(L::load(a + i), L::load(b + i), acc0);
      i += W;
    }
    total = L::sum(L::add(acc0, acc1));
  }
#endif
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

// out[j] = scale * (x . row j) for j < count: a matrix-vector product, four rows at a time
// so that four independent sums hide the latency of the adds.
template <class T>
void scaled_dots(const T* LATENT_RESTRICT x, const T* LATENT_RESTRICT rows, std::int64_t count,
                 std::int64_t row_stride, std::int64_t n, T scale, T* LATENT_RESTRICT out) {
  std::int64_t j = 0;
#if defined(LATENT_ATTENTION_LANES)
  using L = Lanes<T>;
  const std::int64_t whole = n / L::width * L::width;
  for (; whole > 0 && j + 4 <= count; j += 4) {
    const T* r0 = rows + j * row_stride;
    const T* r1 = r0 + row_stride;
    const T* r2 = r1 + row_stride;
    const T* r3 = r2 + row_stride;
    typename L::Reg a0 = L::zero(), a1 = L::zero(), a2 = L::zero(), a3 = L::zero();
    for (std::int64_t c = 0; c < whole; c += L::width) {
      const typename L::Reg xc = L::load(x + c);
      a0 = L::fma(xc, L::load(r0 + c), a0);
      a1 = L::fma(xc, L::load(r1 + c), a1);
      a2 = L::fma(xc, L::load(r2 + c), a2);
      a3 = L::fma(xc, L::load(r3 + c), a3);
    }
    T t0 = L::sum(a0), t1 = L::sum(a1), t2 = L::sum(a2), t3 = L::sum(a3);
    for (std::int64_t c = whole; c < n; ++c) {
      t0 += x[c] * r0[c], t1 += x[c] * r1[c], t2 += x[c] * r2[c], t3 += x[c] * r3[c];
    }
    out[j] = scale * t0, out[j + 1] = scale * t1, out[j + 2] = scale * t2, out[j + 3] = scale * t3;
  }
#endif
  for (; j < count; ++j) out[j] = scale * dot(x, rows + j * row_stride, n);
}

// The largest of n values (-inf for none; a NaN may be missed, as in softmax_row_max: it
// reaches the result anyway through the exponentials).
template <class T>
T row_max(const T* x, std::int64_t n) {
  std::int64_t i = 0;
  T m = -std::numeric_limits<T>::infinity();
#if defined(LATENT_ATTENTION_LANES)
  using L = Lanes<T>;
  if (n >= L::width) {
    typename L::Reg acc = L::load(x);
    for (i = L::width; i + L::width <= n; i += L::width) acc = L::max(acc, L::load(x + i));
    alignas(64) T lanes[L::width];
    L::store(lanes, acc);
    for (T v : lanes) m = v > m ? v : m;
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// y += alpha over n values.
template <class T>
void shift_row(T* y, T alpha, std::int64_t n) {
  std::int64_t i = 0;
#if defined(LATENT_ATTENTION_LANES)
  using L = Lanes<T>;
  const typename L::Reg a = L::splat(alpha);
  for (; i + L::width <= n; i += L::width) L::store(y + i, L::add(a, L::load(y + i)));
#endif
  for (; i < n; ++i) y[i] += alpha;
}

// ds[j] = p[j] * (ds[j] - delta) over n values: the softmax's backward, dS = P (dP - D).
template <class T>
void softmax_backward_row(const T* LATENT_RESTRICT p, T* LATENT_RESTRICT ds, T delta, std::int64_t n) {
  std::int64_t i = 0;
#if defined(LATENT_ATTENTION_LANES)
  using L = Lanes<T>;
  const typename L::Reg minus_delta = L::splat(-delta);
  for (; i + L::width <= n; i += L::width)
    L::store(ds + i, L::mul(L::load(p + i), L::add(L::load(ds + i), minus_delta)));
#endif
  for (; i < n; ++i) ds[i] = p[i] * (ds[i] - delta);
}

// y *= alpha over n values.
template <class T>
void scale_row(T* y, T alpha, std::int64_t n) {
  std::int64_t i = 0;
#if defined(LATENT_ATTENTION_LANES)
  using L = Lanes<T>;
  const typename L::Reg a = L::splat(alpha);
  for (; i + L::width <= n; i += L::width) L::store(y + i, L::mul(a, L::load(y + i)));
#endif
  for (; i < n; ++i) y[i] *= alpha;
}

// out[c] += sum_{j < rows} w[j] * x[j * row_stride + c] for c < n: a weighted sum of rows
// (the axpy of each row, with a block of out kept in registers across the rows).
template <class T>
void add_weighted_rows(const T* LATENT_RESTRICT w, const T* LATENT_RESTRICT x, std::int64_t rows,
                       std::int64_t row_stride, std::int64_t n, T* LATENT_RESTRICT out) {
  std::int64_t c = 0;
#if defined(LATENT_ATTENTION_LANES)
  using L = Lanes<T>;
  constexpr int W = L::width;
  for (; c + 4 * W <= n; c += 4 * W) {
    typename L::Reg o0 = L::load(out + c), o1 = L::load(out + c + W);
    typename L::Reg o2 = L::load(out + c + 2 * W), o3 = L::load(out + c + 3 * W);
    for (std::int64_t j = 0; j < rows; ++j) {
      const T* row = x + j * row_stride + c;
      const typename L::Reg wj = L::splat(w[j]);
      o0 = L::fma(wj, L::load(row), o0);
      o1 = L::fma(wj, L::load(row + W), o1);
      o2 = L::fma(wj, L::load(row + 2 * W), o2);
      o3 = L::fma(wj, L::load(row + 3 * W), o3);
    }
    L::store(out + c, o0);
    L::store(out + c + W, o1);
    L::store(out + c + 2 * W, o2);
    L::store(out + c + 3 * W, o3);
  }
  for (; c + W <= n; c += W) {
    typename L::Reg o = L::load(out + c);
    for (std::int64_t j = 0; j < rows; ++j) o = L::fma(L::splat(w[j]), L::load(x + j * row_stride + c), o);
    L::store(out + c, o);
  }
#endif
  for (; c < n; ++c) {
    T total = out[c];
    for (std::int64_t j = 0; j < rows; ++j) total += w[j] * x[j * row_stride + c];
    out[c] = total;
  }
}

// ---- per-thread scratch -----------------------------------------------------------------

inline gemm_detail::AlignedScratch& attention_scratch() {
  thread_local gemm_detail::AlignedScratch scratch;
  return scratch;
}

// Work items per parallel chunk: about 2^16 multiply-adds, so that tiny items (a decoding
// step) do not pay for waking threads. Depends on the sizes alone, never on the threads.
inline std::int64_t grain_for(double work_per_item) {
  const double items = 65536.0 / std::max(1.0, work_per_item);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(items));
}

constexpr std::int64_t block_queries = 64;  // Br
constexpr std::int64_t block_keys = 64;     // Bc

// ---- forward, one row at a time (few queries: decoding) --------------------------------

// Query i of pair (b, h): scores of the keys it sees, their softmax, the weighted values.
// `scores` has room for p.keys values.
template <class T>
void forward_row(const AttentionProblem<T>& p, std::int64_t b, std::int64_t h, std::int64_t i,
                 const AttentionMatrix<T>& out, T* lse, T* scores) {
  const std::int64_t visible = p.visible_keys(i);
  const T* q = p.q.rows(b, h) + i * p.q.row_stride;
  const T* k = p.k.rows(b, h);
  T* o = out.rows(b, h) + i * out.row_stride;
  scaled_dots(q, k, visible, p.k.row_stride, p.dim, p.scale, scores);
  const T m = row_max(scores, visible);
  shift_row(scores, -m, visible);
  kernels::exp(scores, scores, visible);
  const T l = kernels::sum(scores, visible);
  std::fill(o, o + p.value_dim, T(0));
  add_weighted_rows(scores, p.v.rows(b, h), visible, p.v.row_stride, p.value_dim, o);
  scale_row(o, T(1) / l, p.value_dim);  // l = 0 (no key seen): 0 * inf = NaN
  if (lse) lse[(b * p.heads + h) * p.queries + i] = m + std::log(l);
}

// ---- forward, blocked ----------------------------------------------------------------------

// One online-softmax step for a row of a score block: s[0, visible) becomes
// exp(s - m'), s[visible, n) becomes 0, m and l are updated; returns c = exp(m - m').
template <class T>
T online_softmax_step(T* s, std::int64_t visible, std::int64_t n, T& m, T& l) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  const T m_new = std::max(m, row_max(s, visible));
  if (m_new == -inf) {  // nothing seen yet: no weight, nothing to rescale
    std::fill(s, s + n, T(0));
    return T(1);
  }
  const T c = std::exp(m - m_new);  // 0 on the first block (m = -inf)
  shift_row(s, -m_new, visible);
  kernels::exp(s, s, visible);
  std::fill(s + visible, s + n, T(0));
  l = l * c + kernels::sum(s, visible);
  m = m_new;
  return c;
}

// Rows [i0, i0 + rows) of pair (b, h), rows <= Br. Scratch: Br * Bc + 2 * Br values.
template <class T>
void forward_query_block(const AttentionProblem<T>& p, std::int64_t b, std::int64_t h, std::int64_t i0,
                         std::int64_t rows, const AttentionMatrix<T>& out, T* lse, T* scratch) {
  constexpr std::int64_t Bc = block_keys;
  const T* q = p.q.rows(b, h) + i0 * p.q.row_stride;
  const T* k = p.k.rows(b, h);
  const T* v = p.v.rows(b, h);
  T* o = out.rows(b, h) + i0 * out.row_stride;
  T* s = scratch;
  T* m = s + block_queries * Bc;
  T* l = m + block_queries;
  std::fill(m, m + rows, -std::numeric_limits<T>::infinity());
  std::fill(l, l + rows, T(0));
  for (std::int64_t r = 0; r < rows; ++r) std::fill(o + r * out.row_stride, o + r * out.row_stride + p.value_dim, T(0));

  const std::int64_t key_end = p.visible_keys(i0 + rows - 1);  // the last row sees the most
  for (std::int64_t j0 = 0; j0 < key_end; j0 += Bc) {
    const std::int64_t n = std::min(Bc, key_end - j0);
    // s = scale * Q_block K_block^T   [rows x n]
    gemm<T>(rows, n, p.dim, p.scale, q, p.q.row_stride, 1, k + j0 * p.k.row_stride, 1, p.k.row_stride, T(0), s, Bc,
            1);
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t visible = std::clamp<std::int64_t>(p.visible_keys(i0 + r) - j0, 0, n);
      const T c = online_softmax_step(s + r * Bc, visible, n, m[r], l[r]);
      if (c != T(1)) scale_row(o + r * out.row_stride, c, p.value_dim);
    }
    // a += P_block V_block   [rows x dv]
    gemm<T>(rows, p.value_dim, n, T(1), s, Bc, 1, v + j0 * p.v.row_stride, p.v.row_stride, 1, T(1), o,
            out.row_stride, 1);
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    scale_row(o + r * out.row_stride, T(1) / l[r], p.value_dim);
    if (lse) lse[(b * p.heads + h) * p.queries + i0 + r] = m[r] + std::log(l[r]);
  }
}

// Up to this many queries, rows run one at a time (no block products worth packing).
constexpr std::int64_t row_path_max_queries = 4;

}  // namespace attention_detail

// out [batch, heads, queries, value_dim] (through its strides) = attention of p; lse, when
// not null, receives the log-sum-exp of each query's scores, [batch, heads, queries].
template <class T>
void attention_forward(const AttentionProblem<T>& p, const AttentionMatrix<T>& out, T* lse) {
  namespace ad = attention_detail;
  ad::check("attention_forward", p.batch, p.heads, p.queries, p.keys, p.dim, p.value_dim);
  if (p.pairs() == 0 || p.queries == 0) return;
  const double work_per_row = double(p.keys) * double(p.dim + p.value_dim);
  if (p.queries <= ad::row_path_max_queries) {
    const std::int64_t rows = p.pairs() * p.queries;
    parallel_for(0, rows, ad::grain_for(work_per_row), [&](std::int64_t first, std::int64_t last) {
      T* scores = ad::attention_scratch().get<T>(std::max<std::int64_t>(1, p.keys));
      for (std::int64_t item = first; item < last; ++item) {
        const std::int64_t pair = item / p.queries;
        ad::forward_row(p, pair / p.heads, pair % p.heads, item % p.queries, out, lse, scores);
      }
    });
    return;
  }
  const std::int64_t blocks = (p.queries + ad::block_queries - 1) / ad::block_queries;
  const double work_per_block = work_per_row * double(std::min(p.queries, ad::block_queries));
  parallel_for(0, p.pairs() * blocks, ad::grain_for(work_per_block), [&](std::int64_t first, std::int64_t last) {
    T* scratch = ad::attention_scratch().get<T>(ad::block_queries * (ad::block_keys + 2));
    for (std::int64_t item = first; item < last; ++item) {
      const std::int64_t pair = item / blocks, i0 = (item % blocks) * ad::block_queries;
      ad::forward_query_block(p, pair / p.heads, pair % p.heads, i0, std::min(ad::block_queries, p.queries - i0),
                              out, lse, scratch);
    }
  });
}

// One query per (batch, head) against a key/value cache of p.keys positions: the decoding
// step. The same as attention_forward with p.queries == 1 (which takes this path).
template <class T>
void attention_decode(const AttentionProblem<T>& p, const AttentionMatrix<T>& out, T* lse) {
  LATENT_CHECK(p.queries == 1, "attention_decode: expects one query per (batch, head), got ", p.queries);
  attention_forward(p, out, lse);
}

namespace attention_detail {

// ---- backward, blocked -----------------------------------------------------------------

// The gradients of pair (b, h). Scratch: 2 * Br * Bc + queries values.
template <class T>
void backward_pair(const AttentionProblem<T>& p, std::int64_t b, std::int64_t h, const AttentionMatrix<const T>& out,
                   const T* lse, const AttentionMatrix<const T>& dout, const AttentionMatrix<T>& dq,
                   const AttentionMatrix<T>& dk, const AttentionMatrix<T>& dv, T* scratch) {
  constexpr std::int64_t Br = block_queries, Bc = block_keys;
  const T* q = p.q.rows(b, h);
  const T* k = p.k.rows(b, h);
  const T* v = p.v.rows(b, h);
  const T* o = out.rows(b, h);
  const T* g = dout.rows(b, h);
  const T* row_lse = lse + (b * p.heads + h) * p.queries;
  T* gq = dq.rows(b, h);
  T* gk = dk.rows(b, h);
  T* gv = dv.rows(b, h);
  T* prob = scratch;           // P block   [Br x Bc]
  T* dscore = prob + Br * Bc;  // dP, then dS, block [Br x Bc]
  T* delta = dscore + Br * Bc; // D_i        [queries]

  for (std::int64_t i = 0; i < p.queries; ++i) {
    delta[i] = dot(g + i * dout.row_stride, o + i * out.row_stride, p.value_dim);
    std::fill(gq + i * dq.row_stride, gq + i * dq.row_stride + p.dim, T(0));
  }
  for (std::int64_t j = 0; j < p.keys; ++j) {
    std::fill(gk + j * dk.row_stride, gk + j * dk.row_stride + p.dim, T(0));
    std::fill(gv + j * dv.row_stride, gv + j * dv.row_stride + p.value_dim, T(0));
  }

  for (std::int64_t j0 = 0; j0 < p.keys; j0 += Bc) {
    const std::int64_t n = std::min(Bc, p.keys - j0);
    const T* kb = k + j0 * p.k.row_stride;
    const T* vb = v + j0 * p.v.row_stride;
    T* gkb = gk + j0 * dk.row_stride;
    T* gvb = gv + j0 * dv.row_stride;
    // Causal: the first query that sees key j0 is j0 - offset.
    const std::int64_t first_query = p.causal ? std::max<std::int64_t>(0, j0 - p.causal_offset) : 0;
    for (std::int64_t i0 = first_query / Br * Br; i0 < p.queries; i0 += Br) {
      const std::int64_t rows = std::min(Br, p.queries - i0);
      const T* qb = q + i0 * p.q.row_stride;
      const T* gb = g + i0 * dout.row_stride;
      // P = exp(scale * Q K^T - lse), 0 where a key is not seen
      gemm<T>(rows, n, p.dim, p.scale, qb, p.q.row_stride, 1, kb, 1, p.k.row_stride, T(0), prob, Bc, 1);
      for (std::int64_t r = 0; r < rows; ++r) {
        T* row = prob + r * Bc;
        const std::int64_t visible = std::clamp<std::int64_t>(p.visible_keys(i0 + r) - j0, 0, n);
        shift_row(row, -row_lse[i0 + r], visible);
        kernels::exp(row, row, visible);
        std::fill(row + visible, row + n, T(0));
      }
      // dV_block += P^T dO_block
      gemm<T>(n, p.value_dim, rows, T(1), prob, 1, Bc, gb, dout.row_stride, 1, T(1), gvb, dv.row_stride, 1);
      // dP = dO_block V_block^T, then dS = P (dP - D)
      gemm<T>(rows, n, p.value_dim, T(1), gb, dout.row_stride, 1, vb, 1, p.v.row_stride, T(0), dscore, Bc, 1);
      for (std::int64_t r = 0; r < rows; ++r) softmax_backward_row(prob + r * Bc, dscore + r * Bc, delta[i0 + r], n);
      // dQ_block += scale dS K_block;  dK_block += scale dS^T Q_block
      gemm<T>(rows, p.dim, n, p.scale, dscore, Bc, 1, kb, p.k.row_stride, 1, T(1), gq + i0 * dq.row_stride,
              dq.row_stride, 1);
      gemm<T>(n, p.dim, rows, p.scale, dscore, 1, Bc, qb, p.q.row_stride, 1, T(1), gkb, dk.row_stride, 1);
    }
  }
}

}  // namespace attention_detail

// Gradients of attention_forward: given its output `out`, the saved lse and dout (the
// gradient of out), writes dq, dk, dv (shaped as q, k, v; every (batch, head) pair needs
// rows of its own: no zero strides). A query that saw no key contributes nothing.
template <class T>
void attention_backward(const AttentionProblem<T>& p, const AttentionMatrix<const T>& out, const T* lse,
                        const AttentionMatrix<const T>& dout, const AttentionMatrix<T>& dq,
                        const AttentionMatrix<T>& dk, const AttentionMatrix<T>& dv) {
  namespace ad = attention_detail;
  ad::check("attention_backward", p.batch, p.heads, p.queries, p.keys, p.dim, p.value_dim);
  const double work = double(p.queries) * double(p.keys) * double(2 * p.dim + 3 * p.value_dim);
  parallel_for(0, p.pairs(), ad::grain_for(work), [&](std::int64_t first, std::int64_t last) {
    T* scratch = ad::attention_scratch().get<T>(2 * ad::block_queries * ad::block_keys + p.queries);
    for (std::int64_t pair = first; pair < last; ++pair)
      ad::backward_pair(p, pair / p.heads, pair % p.heads, out, lse, dout, dq, dk, dv, scratch);
  });
}

// ---- the scalar reference: one query, one key at a time ---------------------------------

// The forward as the maths reads: for each query, an online softmax over its keys one by
// one (m, l, a as in the comment at the top, with blocks of one key).
template <class T>
void attention_forward_reference(const AttentionProblem<T>& p, const AttentionMatrix<T>& out, T* lse) {
  attention_detail::check("attention_forward_reference", p.batch, p.heads, p.queries, p.keys, p.dim, p.value_dim);
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t h = 0; h < p.heads; ++h) {
      for (std::int64_t i = 0; i < p.queries; ++i) {
        const T* q = p.q.rows(b, h) + i * p.q.row_stride;
        T* o = out.rows(b, h) + i * out.row_stride;
        T m = -std::numeric_limits<T>::infinity(), l = T(0);
        for (std::int64_t c = 0; c < p.value_dim; ++c) o[c] = T(0);
        for (std::int64_t j = 0; j < p.visible_keys(i); ++j) {
          const T* k = p.k.rows(b, h) + j * p.k.row_stride;
          const T* v = p.v.rows(b, h) + j * p.v.row_stride;
          T s = T(0);
          for (std::int64_t c = 0; c < p.dim; ++c) s += q[c] * k[c];
          s *= p.scale;
          const T m_new = std::max(m, s);
          const T rescale = std::exp(m - m_new), weight = std::exp(s - m_new);
          l = l * rescale + weight;
          for (std::int64_t c = 0; c < p.value_dim; ++c) o[c] = o[c] * rescale + weight * v[c];
          m = m_new;
        }
        for (std::int64_t c = 0; c < p.value_dim; ++c) o[c] /= l;
        if (lse) lse[(b * p.heads + h) * p.queries + i] = m + std::log(l);
      }
    }
  }
}

// The backward as the maths reads, one (query, key) pair at a time.
template <class T>
void attention_backward_reference(const AttentionProblem<T>& p, const AttentionMatrix<const T>& out, const T* lse,
                                  const AttentionMatrix<const T>& dout, const AttentionMatrix<T>& dq,
                                  const AttentionMatrix<T>& dk, const AttentionMatrix<T>& dv) {
  attention_detail::check("attention_backward_reference", p.batch, p.heads, p.queries, p.keys, p.dim, p.value_dim);
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t h = 0; h < p.heads; ++h) {
      for (std::int64_t i = 0; i < p.queries; ++i)
        for (std::int64_t c = 0; c < p.dim; ++c) dq.rows(b, h)[i * dq.row_stride + c] = T(0);
      for (std::int64_t j = 0; j < p.keys; ++j) {
        for (std::int64_t c = 0; c < p.dim; ++c) dk.rows(b, h)[j * dk.row_stride + c] = T(0);
        for (std::int64_t c = 0; c < p.value_dim; ++c) dv.rows(b, h)[j * dv.row_stride + c] = T(0);
      }
      for (std::int64_t i = 0; i < p.queries; ++i) {
        const T* q = p.q.rows(b, h) + i * p.q.row_stride;
        const T* o = out.rows(b, h) + i * out.row_stride;
        const T* g = dout.rows(b, h) + i * dout.row_stride;
        T* gq = dq.rows(b, h) + i * dq.row_stride;
        const T row_lse = lse[(b * p.heads + h) * p.queries + i];
        T delta = T(0);  // D_i = dO_i . o_i
        for (std::int64_t c = 0; c < p.value_dim; ++c) delta += g[c] * o[c];
        for (std::int64_t j = 0; j < p.visible_keys(i); ++j) {
          const T* k = p.k.rows(b, h) + j * p.k.row_stride;
          const T* v = p.v.rows(b, h) + j * p.v.row_stride;
          T* gk = dk.rows(b, h) + j * dk.row_stride;
          T* gv = dv.rows(b, h) + j * dv.row_stride;
          T s = T(0), dp = T(0);
          for (std::int64_t c = 0; c < p.dim; ++c) s += q[c] * k[c];
          for (std::int64_t c = 0; c < p.value_dim; ++c) dp += g[c] * v[c];
          const T prob = std::exp(p.scale * s - row_lse);
          const T ds = prob * (dp - delta);
          for (std::int64_t c = 0; c < p.value_dim; ++c) gv[c] += prob * g[c];
          for (std::int64_t c = 0; c < p.dim; ++c) {
            gq[c] += p.scale * ds * k[c];
            gk[c] += p.scale * ds * q[c];
          }
        }
      }
    }
  }
}

}  // namespace latent::kernels
