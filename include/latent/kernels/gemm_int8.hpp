// Int8 matrix products for inference: a weight matrix stored as int8 with one scale per
// output channel ("weight-only int8"), multiplied by float activations, or by activations
// quantised to int8 too.
//
// Quantisation, symmetric, one scale per row (a row of W [N, K] is an output channel):
//
//   s_n = max_k |W[n,k]| / 127,   Q[n,k] = round(W[n,k] / s_n)  in [-127, 127]
//   W[n,k] ~ s_n Q[n,k],          |W[n,k] - s_n Q[n,k]| <= s_n / 2
//
// (an all-zero row gets s_n = 0 and Q = 0; -128 is never used, which keeps the code
// symmetric and lets the integer kernels below negate any weight.)
//
// gemm_int8 (float activations), y [M, N] from x [M, K]:
//
//   y[m,n] = s_n * sum_k x[m,k] Q[n,k] + b[n]
//   |y[m,n] - (x W^T + b)[m,n]| <= (s_n / 2) * sum_k |x[m,k]|        (+ float rounding)
//
// The int8 weights are widened to float in registers inside the dot products, so they
// travel from memory at one byte each, a quarter of float's traffic: what decoding one
// token at a time (M = 1, a matrix-vector product) is limited by. For M >= 16 rows (a
// prompt, an evaluation batch) the weights are instead dequantised 64 rows at a time and
// multiplied by the blocked float gemm, which reuses each of them M times.
//
// gemm_int8_int8 (int8 activations): each row of x is quantised as the weights are, with
// t_m = max_k |x[m,k]| / 127 and P = round(x / t_m), and the dot products are exact
// integer sums:
//
//   y[m,n] = (t_m s_n) * sum_k P[m,k] Q[n,k] + b[n]
//   |y[m,n] - (x W^T + b)[m,n]| <= (s_n / 2) sum_k |x[m,k]| + (t_m / 2) sum_k |W[n,k]|
//                                  + (t_m s_n / 4) K                   (+ float rounding)
//
// More error (the activations' rounding), but 32 to 64 multiply-adds per instruction
// instead of 8 to 16. Since integer sums are exact, every instruction set gives bitwise
// the same result as the scalar reference.
//
// Kernels: the scalar reference (read first), then AVX2, AVX-512 (VNNI's vpdpbusd when
// compiled with -mavx512vnni) and NEON (sdot with the dot-product extension) dot
// products of one activation row against four weight rows. SIMD paths are for float; double
// uses the scalar dot products. The integer kernels multiply |P| (unsigned) by Q with P's
// sign moved onto it (x86 has only unsigned-by-signed byte products): |P| Q sign(P) = P Q.
//
// Threads: the output channels (rows of W) are shared out in fixed chunks; every y[m,n]
// is one dot product computed the same way wherever its row falls, so the result is
// bitwise identical for any thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "gemm.hpp"
#include "gemm_pack.hpp"

// The instruction sets this build uses here (AVX-512 builds keep the AVX2 integer kernel
// when the compiler lacks AVX512BW).
#if defined(LATENT_SIMD_AVX512) && defined(__AVX512F__)
#define LATENT_GEMM_INT8_AVX512 1
#endif
#if (defined(LATENT_SIMD_AVX2) || defined(LATENT_SIMD_AVX512)) && defined(__AVX2__)
#define LATENT_GEMM_INT8_AVX2 1
#endif
#if defined(LATENT_GEMM_INT8_AVX512) || defined(LATENT_GEMM_INT8_AVX2)
#include <immintrin.h>
#endif
#if defined(LATENT_SIMD_NEON)
#include <arm_neon.h>
#endif

namespace latent::kernels {

// The largest K for which an int32 sum of K products of two values in [-127, 127] cannot
// overflow: K * 127 * 127 < 2^31.
inline constexpr std::int64_t int8_max_depth = 133143;

// ---- quantisation ----------------------------------------------------------------------

// Rows of src [rows, cols] (row stride in elements) to q [rows, cols] and scale [rows]:
// scale[r] = max |src[r,:]| / 127, q = round(src / scale) (ties to even), in [-127, 127].
template <class T>
void quantize_rows_int8(std::int64_t rows, std::int64_t cols, const T* src, std::int64_t src_row_stride,
                        std::int8_t* q, std::int64_t q_row_stride, T* scale) {
  LATENT_CHECK(rows >= 0 && cols >= 0, "quantize_rows_int8: negative size rows=", rows, " cols=", cols);
  LATENT_CHECK(rows <= 1 || (src_row_stride >= cols && q_row_stride >= cols),
               "quantize_rows_int8: row strides ", src_row_stride, " and ", q_row_stride,
               " are shorter than a row of ", cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* row = src + r * src_row_stride;
    T largest = T(0);
    for (std::int64_t c = 0; c < cols; ++c) {
      LATENT_CHECK(std::isfinite(row[c]), "quantize_rows_int8: row ", r, " column ", c, " holds ", row[c],
                   "; only finite values can be quantised");
      largest = std::max(largest, T(std::fabs(row[c])));
    }
    const T s = largest / T(127);
    scale[r] = s;
    std::int8_t* out = q + r * q_row_stride;
    for (std::int64_t c = 0; c < cols; ++c) {
      const T level = s == T(0) ? T(0) : std::nearbyint(row[c] / s);
      out[c] = static_cast<std::int8_t>(std::min(T(127), std::max(T(-127), level)));
    }
  }
}

// dst [rows, cols] = scale[r] * q[r, c].
template <class T>
void dequantize_rows_int8(std::int64_t rows, std::int64_t cols, const std::int8_t* q, std::int64_t q_row_stride,
                          const T* scale, T* dst, std::int64_t dst_row_stride) {
  LATENT_CHECK(rows >= 0 && cols >= 0, "dequantize_rows_int8: negative size rows=", rows, " cols=", cols);
  LATENT_CHECK(rows <= 1 || (q_row_stride >= cols && dst_row_stride >= cols),
               "dequantize_rows_int8: row strides ", q_row_stride, " and ", dst_row_stride,
               " are shorter than a row of ", cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) dst[r * dst_row_stride + c] = scale[r] * T(q[r * q_row_stride + c]);
}

// ---- the scalar reference --------------------------------------------------------------

namespace int8_detail {

template <class T>
LATENT_ALWAYS_INLINE T finish(T sum, T scale, const T* bias, std::int64_t n) {
  return bias != nullptr ? scale * sum + bias[n] : scale * sum;
}

inline void check_product(const char* op, std::int64_t M, std::int64_t N, std::int64_t K, std::int64_t x_row_stride,
                          std::int64_t w_row_stride, std::int64_t y_row_stride) {
  LATENT_CHECK(M >= 0 && N >= 0 && K >= 0, op, ": negative size M=", M, " N=", N, " K=", K);
  LATENT_CHECK(M <= 1 || x_row_stride >= K, op, ": x row stride ", x_row_stride, " is shorter than K=", K);
  LATENT_CHECK(N <= 1 || w_row_stride >= K, op, ": weight row stride ", w_row_stride, " is shorter than K=", K);
  LATENT_CHECK(M <= 1 || y_row_stride >= N, op, ": y row stride ", y_row_stride, " is shorter than N=", N);
}

}  // namespace int8_detail

// y[m,n] = w_scale[n] * sum_k x[m,k] w[n,k] + bias[n]   (bias may be null).
template <class T>
void gemm_int8_reference(std::int64_t M, std::int64_t N, std::int64_t K, const T* x, std::int64_t x_row_stride,
                         const std::int8_t* w, std::int64_t w_row_stride, const T* w_scale, const T* bias, T* y,
                         std::int64_t y_row_stride) {
  int8_detail::check_product("gemm_int8_reference", M, N, K, x_row_stride, w_row_stride, y_row_stride);
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      T sum = T(0);
      for (std::int64_t k = 0; k < K; ++k) sum += x[m * x_row_stride + k] * T(w[n * w_row_stride + k]);
      y[m * y_row_stride + n] = int8_detail::finish(sum, w_scale[n], bias, n);
    }
}

// y[m,n] = (x_scale[m] w_scale[n]) * sum_k xq[m,k] w[n,k] + bias[n], the sum in int32.
template <class T>
void gemm_int8_int8_reference(std::int64_t M, std::int64_t N, std::int64_t K, const std::int8_t* xq,
                              std::int64_t xq_row_stride, const T* x_scale, const std::int8_t* w,
                              std::int64_t w_row_stride, const T* w_scale, const T* bias, T* y,
                              std::int64_t y_row_stride) {
  int8_detail::check_product("gemm_int8_int8_reference", M, N, K, xq_row_stride, w_row_stride, y_row_stride);
  LATENT_CHECK(K <= int8_max_depth, "gemm_int8_int8_reference: K=", K, " could overflow the int32 sums (at most ",
               int8_max_depth, ")");
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      std::int32_t sum = 0;
      for (std::int64_t k = 0; k < K; ++k)
        sum += std::int32_t(xq[m * xq_row_stride + k]) * std::int32_t(w[n * w_row_stride + k]);
      y[m * y_row_stride + n] = int8_detail::finish(T(sum), x_scale[m] * w_scale[n], bias, n);
    }
}

// ---- dot products of one activation row with four weight rows --------------------------
// out[r] = sum_k x[k] w[r][k] for r < 4. Each row is summed the same way whatever the other
// three are, so a tile may repeat a row to fill its four places.

namespace int8_detail {

template <class T>
void dot4_scalar(std::int64_t K, const T* x, const std::int8_t* const* w, T* out) {
  for (int r = 0; r < 4; ++r) {
    T sum = T(0);
    for (std::int64_t k = 0; k < K; ++k) sum += x[k] * T(w[r][k]);
    out[r] = sum;
  }
}

inline void dot4_scalar_int(std::int64_t K, std::int64_t k, const std::int8_t* x, const std::int8_t* const* w,
                            std::int32_t* out) {
  for (; k < K; ++k)
    for (int r = 0; r < 4; ++r) out[r] += std::int32_t(x[k]) * std::int32_t(w[r][k]);
}

#if defined(LATENT_GEMM_INT8_AVX2)

// Eight int8 weights widened to eight floats.
LATENT_ALWAYS_INLINE __m256 widen8_avx2(const std::int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

LATENT_ALWAYS_INLINE float sum8_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LATENT_ALWAYS_INLINE std::int32_t sum8_avx2(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Eight lanes per row, k in steps of 8; the lanes are added, then the last K % 8 terms.
inline void dot4_avx2(std::int64_t K, const float* x, const std::int8_t* const* w, float* out) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    acc0 = _mm256_fmadd_ps(xv, widen8_avx2(w[0] + k), acc0);
    acc1 = _mm256_fmadd_ps(xv, widen8_avx2(w[1] + k), acc1);
    acc2 = _mm256_fmadd_ps(xv, widen8_avx2(w[2] + k), acc2);
    acc3 = _mm256_fmadd_ps(xv, widen8_avx2(w[3] + k), acc3);
  }
  out[0] = sum8_avx2(acc0), out[1] = sum8_avx2(acc1), out[2] = sum8_avx2(acc2), out[3] = sum8_avx2(acc3);
  for (; k < K; ++k)
    for (int r = 0; r < 4; ++r) out[r] += x[k] * float(w[r][k]);
}

// 32 bytes a step: maddubs multiplies |x| (unsigned) by w with x's sign (at most
// 2 * 127 * 127 per pair of bytes, so its 16-bit sums never saturate); madd by ones widens
// the pairs to 32 bits.
inline void dot4_avx2_int(std::int64_t K, const std::int8_t* x, const std::int8_t* const* w, std::int32_t* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  std::int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k));
    const __m256i magnitude = _mm256_abs_epi8(xv);
    for (int r = 0; r < 4; ++r) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + k));
      const __m256i pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(wv, xv));
      acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(pairs, ones));
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = sum8_avx2(acc[r]);
  dot4_scalar_int(K, k, x, w, out);
}

#endif  // AVX2

#if defined(LATENT_GEMM_INT8_AVX512)

// GCC 12.1-12.2 warn that the _mm512_undefined_*() inside some AVX-512 intrinsics "is" or
// "may be" used uninitialised once inlined (GCC bug 105593, fixed in 12.3): a false
// positive, silenced for the AVX-512 code below.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

LATENT_ALWAYS_INLINE __m512 widen16_avx512(const std::int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// Sixteen lanes per row, k in steps of 16; the lanes are added, then the last K % 16 terms.
inline void dot4_avx512(std::int64_t K, const float* x, const std::int8_t* const* w, float* out) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 xv = _mm512_loadu_ps(x + k);
    acc0 = _mm512_fmadd_ps(xv, widen16_avx512(w[0] + k), acc0);
    acc1 = _mm512_fmadd_ps(xv, widen16_avx512(w[1] + k), acc1);
    acc2 = _mm512_fmadd_ps(xv, widen16_avx512(w[2] + k), acc2);
    acc3 = _mm512_fmadd_ps(xv, widen16_avx512(w[3] + k), acc3);
  }
  out[0] = _mm512_reduce_add_ps(acc0), out[1] = _mm512_reduce_add_ps(acc1);
  out[2] = _mm512_reduce_add_ps(acc2), out[3] = _mm512_reduce_add_ps(acc3);
  for (; k < K; ++k)
    for (int r = 0; r < 4; ++r) out[r] += x[k] * float(w[r][k]);
}

#if defined(__AVX512BW__)
// 64 bytes a step. The weights take x's sign (negated where x < 0, a masked subtraction
// from zero) and meet |x|: VNNI's vpdpbusd adds groups of four unsigned-by-signed byte
// products straight into 32-bit lanes; without it, maddubs and madd as in AVX2.
inline void dot4_avx512_int(std::int64_t K, const std::int8_t* x, const std::int8_t* const* w, std::int32_t* out) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i acc[4] = {zero, zero, zero, zero};
  std::int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    const __m512i xv = _mm512_loadu_si512(x + k);
    const __m512i magnitude = _mm512_abs_epi8(xv);
    const __mmask64 negative = _mm512_movepi8_mask(xv);
    for (int r = 0; r < 4; ++r) {
      const __m512i wv = _mm512_loadu_si512(w[r] + k);
      const __m512i signed_w = _mm512_mask_sub_epi8(wv, negative, zero, wv);
#if defined(__AVX512VNNI__)
      acc[r] = _mm512_dpbusd_epi32(acc[r], magnitude, signed_w);
#else
      const __m512i pairs = _mm512_maddubs_epi16(magnitude, signed_w);
      acc[r] = _mm512_add_epi32(acc[r], _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
#endif
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = _mm512_reduce_add_epi32(acc[r]);
  dot4_scalar_int(K, k, x, w, out);
}
#endif  // AVX512BW

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // AVX512

#if defined(LATENT_SIMD_NEON)

// Four lanes per row, k in steps of 8 (two fused multiply-adds a step); the lanes are
// added, then the last K % 8 terms.
inline void dot4_neon(std::int64_t K, const float* x, const std::int8_t* const* w, float* out) {
  float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  std::int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const float32x4_t x_low = vld1q_f32(x + k), x_high = vld1q_f32(x + k + 4);
    for (int r = 0; r < 4; ++r) {
      const int16x8_t wide = vmovl_s8(vld1_s8(w[r] + k));
      acc[r] = vfmaq_f32(acc[r], x_low, vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide))));
      acc[r] = vfmaq_f32(acc[r], x_high, vcvtq_f32_s32(vmovl_high_s16(wide)));
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = vaddvq_f32(acc[r]);
  for (; k < K; ++k)
    for (int r = 0; r < 4; ++r) out[r] += x[k] * float(w[r][k]);
}

// 16 bytes a step: sdot (four byte products into each 32-bit lane) with the dot-product
// extension; otherwise widening multiplies to 16 bits (two products, at most 2 * 127 * 127,
// fit) and a pairwise add into 32 bits.
inline void dot4_neon_int(std::int64_t K, const std::int8_t* x, const std::int8_t* const* w, std::int32_t* out) {
  int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
  std::int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const int8x16_t xv = vld1q_s8(x + k);
    for (int r = 0; r < 4; ++r) {
      const int8x16_t wv = vld1q_s8(w[r] + k);
#if defined(__ARM_FEATURE_DOTPROD)
      acc[r] = vdotq_s32(acc[r], xv, wv);
#else
      const int16x8_t products = vmlal_high_s8(vmull_s8(vget_low_s8(xv), vget_low_s8(wv)), xv, wv);
      acc[r] = vpadalq_s16(acc[r], products);
#endif
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = vaddvq_s32(acc[r]);
  dot4_scalar_int(K, k, x, w, out);
}

#endif  // NEON

// The dot products this build uses: SIMD for float, the scalar loop for double.
template <class T>
LATENT_ALWAYS_INLINE void dot4(std::int64_t K, const T* x, const std::int8_t* const* w, T* out) {
  if constexpr (std::is_same_v<T, float>) {
#if defined(LATENT_GEMM_INT8_AVX512)
    dot4_avx512(K, x, w, out);
#elif defined(LATENT_GEMM_INT8_AVX2)
    dot4_avx2(K, x, w, out);
#elif defined(LATENT_SIMD_NEON)
    dot4_neon(K, x, w, out);
#else
    dot4_scalar(K, x, w, out);
#endif
  } else {
    dot4_scalar(K, x, w, out);
  }
}

LATENT_ALWAYS_INLINE void dot4_int(std::int64_t K, const std::int8_t* x, const std::int8_t* const* w,
                                   std::int32_t* out) {
#if defined(LATENT_GEMM_INT8_AVX512) && defined(__AVX512BW__)
  dot4_avx512_int(K, x, w, out);
#elif defined(LATENT_GEMM_INT8_AVX2)
  dot4_avx2_int(K, x, w, out);
#elif defined(LATENT_SIMD_NEON)
  dot4_neon_int(K, x, w, out);
#else
  out[0] = out[1] = out[2] = out[3] = 0;
  dot4_scalar_int(K, 0, x, w, out);
#endif
}

// ---- the drivers -----------------------------------------------------------------------

// Calls tile(n, count) for the weight rows [n, n + count), count <= 4, in fixed chunks of
// whole tiles spread over the threads; small products stay on the calling thread.
template <class Tile>
void for_each_row_tile(std::int64_t M, std::int64_t N, std::int64_t K, Tile tile) {
  const std::int64_t tiles = (N + 3) / 4;
  const std::int64_t work_per_tile = std::max<std::int64_t>(1, 4 * M * K);
  const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t(1) << 17) / work_per_tile);
  parallel_for(0, tiles, grain, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t t = first; t < last; ++t) tile(4 * t, static_cast<int>(std::min<std::int64_t>(4, N - 4 * t)));
  });
}

// The four row pointers of a tile, the last row repeated where the tile is short.
LATENT_ALWAYS_INLINE void tile_rows(const std::int8_t* w, std::int64_t w_row_stride, std::int64_t n, int count,
                                    const std::int8_t** rows) {
  for (int r = 0; r < 4; ++r) rows[r] = w + (n + std::min(r, count - 1)) * w_row_stride;
}

inline gemm_detail::AlignedScratch& dequantized_weights_scratch() {
  thread_local gemm_detail::AlignedScratch scratch;
  return scratch;
}

// Rows of x from which gemm_int8 dequantises the weights and calls the float gemm, and the
// weight rows it dequantises at a time.
inline constexpr std::int64_t dequantize_min_rows = 16;
inline constexpr std::int64_t dequantize_block = 64;

}  // namespace int8_detail

// ---- the products ----------------------------------------------------------------------

// y[m,n] = w_scale[n] * sum_k x[m,k] w[n,k] + bias[n] (bias may be null), y [M, N] with
// row stride y_row_stride. Agrees with gemm_int8_reference to float rounding.
template <class T>
void gemm_int8(std::int64_t M, std::int64_t N, std::int64_t K, const T* x, std::int64_t x_row_stride,
               const std::int8_t* w, std::int64_t w_row_stride, const T* w_scale, const T* bias, T* y,
               std::int64_t y_row_stride) {
  int8_detail::check_product("gemm_int8", M, N, K, x_row_stride, w_row_stride, y_row_stride);
  if (M == 0 || N == 0) return;
  if (M >= int8_detail::dequantize_min_rows && K > 0) {
    // y[:, block] = x @ dequant(W[block])^T, a block of 64 weight rows at a time.
    parallel_for(0, N, int8_detail::dequantize_block, [&](std::int64_t first, std::int64_t last) {
      const std::int64_t rows = last - first;
      T* dense = int8_detail::dequantized_weights_scratch().get<T>(rows * K);
      dequantize_rows_int8(rows, K, w + first * w_row_stride, w_row_stride, w_scale + first, dense, K);
      gemm<T>(M, rows, K, T(1), x, x_row_stride, 1, dense, 1, K, T(0), y + first, y_row_stride, 1);
      if (bias != nullptr)
        for (std::int64_t m = 0; m < M; ++m)
          for (std::int64_t n = first; n < last; ++n) y[m * y_row_stride + n] += bias[n];
    });
    return;
  }
  int8_detail::for_each_row_tile(M, N, K, [&](std::int64_t n, int count) {
    const std::int8_t* rows[4];
    int8_detail::tile_rows(w, w_row_stride, n, count, rows);
    for (std::int64_t m = 0; m < M; ++m) {
      T sums[4];
      int8_detail::dot4(K, x + m * x_row_stride, rows, sums);
      for (int r = 0; r < count; ++r)
        y[m * y_row_stride + n + r] = int8_detail::finish(sums[r], w_scale[n + r], bias, n + r);
    }
  });
}

// y[m,n] = (x_scale[m] w_scale[n]) * sum_k xq[m,k] w[n,k] + bias[n], the sums exact in
// int32: bitwise equal to gemm_int8_int8_reference. Every xq and w must lie in
// [-127, 127], as quantize_rows_int8 makes them.
template <class T>
void gemm_int8_int8(std::int64_t M, std::int64_t N, std::int64_t K, const std::int8_t* xq, std::int64_t xq_row_stride,
                    const T* x_scale, const std::int8_t* w, std::int64_t w_row_stride, const T* w_scale,
                    const T* bias, T* y, std::int64_t y_row_stride) {
  int8_detail::check_product("gemm_int8_int8", M, N, K, xq_row_stride, w_row_stride, y_row_stride);
  LATENT_CHECK(K <= int8_max_depth, "gemm_int8_int8: K=", K, " could overflow the int32 sums (at most ",
               int8_max_depth, ")");
  if (M == 0 || N == 0) return;
  int8_detail::for_each_row_tile(M, N, K, [&](std::int64_t n, int count) {
    const std::int8_t* rows[4];
    int8_detail::tile_rows(w, w_row_stride, n, count, rows);
    for (std::int64_t m = 0; m < M; ++m) {
      std::int32_t sums[4];
      int8_detail::dot4_int(K, xq + m * xq_row_stride, rows, sums);
      for (int r = 0; r < count; ++r)
        y[m * y_row_stride + n + r] = int8_detail::finish(T(sums[r]), x_scale[m] * w_scale[n + r], bias, n + r);
    }
  });
}

}  // namespace latent::kernels
