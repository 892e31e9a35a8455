// Elementwise maths on AVX2 + FMA registers.
//
// F64x4 wraps one __m256d (4 double lanes) with the operations math_vector.hpp needs, so
// that the maths is written once for every instruction set. The public functions take
// __m256 (8 floats): each half is widened to 4 doubles, computed, and rounded back to
// float once, which is what makes the results as accurate as the scalar reference.
// For __m256d (4 doubles) there are exp, within 1 ulp of std::exp, and the functions built
// on it alone (sigmoid, silu, gelu_tanh and derivatives), for fused double kernels.
//
// Available when the compiler targets AVX2 and FMA and LATENT_SIMD_NONE is not set;
// LATENT_KERNELS_HAVE_AVX2 then says so.
#pragma once

#include <cstdint>

#include "../core/config.hpp"
#include "math_vector.hpp"

#if !defined(LATENT_SIMD_NONE) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define LATENT_KERNELS_HAVE_AVX2 1

namespace latent::kernels::avx2 {

// ---- the wrapper: 4 double lanes and their masks ---------------------------------------

struct Mask64x4 {
  __m256d bits;  // all ones where true
};

struct F64x4 {
  __m256d v;
  F64x4() = default;
  LATENT_ALWAYS_INLINE F64x4(__m256d value) : v(value) {}
  LATENT_ALWAYS_INLINE F64x4(double value) : v(_mm256_set1_pd(value)) {}
};

LATENT_ALWAYS_INLINE F64x4 operator+(F64x4 a, F64x4 b) { return _mm256_add_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x4 operator-(F64x4 a, F64x4 b) { return _mm256_sub_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x4 operator*(F64x4 a, F64x4 b) { return _mm256_mul_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x4 operator/(F64x4 a, F64x4 b) { return _mm256_div_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x4 operator-(F64x4 a) { return _mm256_xor_pd(a.v, _mm256_set1_pd(-0.0)); }

LATENT_ALWAYS_INLINE Mask64x4 operator<(F64x4 a, F64x4 b) {
  return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)};
}
LATENT_ALWAYS_INLINE Mask64x4 operator>(F64x4 a, F64x4 b) {
  return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)};
}
LATENT_ALWAYS_INLINE Mask64x4 operator==(F64x4 a, F64x4 b) {
  return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)};
}
LATENT_ALWAYS_INLINE Mask64x4 operator&(Mask64x4 a, Mask64x4 b) {
  return {_mm256_and_pd(a.bits, b.bits)};
}
LATENT_ALWAYS_INLINE Mask64x4 is_nan(F64x4 a) { return {_mm256_cmp_pd(a.v, a.v, _CMP_UNORD_Q)}; }

LATENT_ALWAYS_INLINE F64x4 select(Mask64x4 mask, F64x4 if_true, F64x4 if_false) {
  return _mm256_blendv_pd(if_false.v, if_true.v, mask.bits);
}
LATENT_ALWAYS_INLINE F64x4 fma(F64x4 a, F64x4 b, F64x4 c) { return _mm256_fmadd_pd(a.v, b.v, c.v); }
LATENT_ALWAYS_INLINE F64x4 min(F64x4 a, F64x4 b) { return _mm256_min_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x4 max(F64x4 a, F64x4 b) { return _mm256_max_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x4 abs(F64x4 a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v); }
LATENT_ALWAYS_INLINE F64x4 copysign(F64x4 magnitude, F64x4 sign) {
  const __m256d sign_bit = _mm256_set1_pd(-0.0);
  return _mm256_or_pd(_mm256_andnot_pd(sign_bit, magnitude.v), _mm256_and_pd(sign_bit, sign.v));
}
LATENT_ALWAYS_INLINE F64x4 round_nearest(F64x4 a) {
  return _mm256_round_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
LATENT_ALWAYS_INLINE F64x4 floor(F64x4 a) {
  return _mm256_round_pd(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

// 2^52 + m, for an integer 0 <= m < 2^52, has m in its low 52 bits: the bridge between
// integer-valued doubles and the bit fields of a double (AVX2 has no 64-bit conversions).
inline constexpr double two_pow_52 = 4503599627370496.0;

// 2^n: the biased exponent n + 1023 moved into the exponent field.
LATENT_ALWAYS_INLINE F64x4 pow2i(F64x4 n) {
  const __m256d biased = _mm256_add_pd(n.v, _mm256_set1_pd(two_pow_52 + 1023.0));
  return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(biased), 52));
}
// For positive normal x = 2^e m, m in [1, 2): e, read from the exponent field ...
LATENT_ALWAYS_INLINE F64x4 exponent_of(F64x4 x) {
  const __m256i field = _mm256_srli_epi64(_mm256_castpd_si256(x.v), 52);
  const __m256i bridged = _mm256_or_si256(field, _mm256_castpd_si256(_mm256_set1_pd(two_pow_52)));
  return _mm256_sub_pd(_mm256_castsi256_pd(bridged), _mm256_set1_pd(two_pow_52 + 1023.0));
}
// ... and m: the fraction bits under the exponent of 1.0.
LATENT_ALWAYS_INLINE F64x4 mantissa_of(F64x4 x) {
  const __m256i fraction_bits = _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL);
  const __m256i fraction = _mm256_and_si256(_mm256_castpd_si256(x.v), fraction_bits);
  return _mm256_or_pd(_mm256_castsi256_pd(fraction), _mm256_set1_pd(1.0));
}

// ---- float registers through double lanes ----------------------------------------------

// f on the 8 floats of x: two halves of 4 doubles, each rounded back to float once.
template <class F>
LATENT_ALWAYS_INLINE __m256 via_double(__m256 x, F f) {
  const F64x4 low = f(F64x4(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
  const F64x4 high = f(F64x4(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
  return _mm256_set_m128(_mm256_cvtpd_ps(high.v), _mm256_cvtpd_ps(low.v));
}
template <class F>
LATENT_ALWAYS_INLINE __m256 via_double(__m256 a, __m256 b, F f) {
  const F64x4 low = f(F64x4(_mm256_cvtps_pd(_mm256_castps256_ps128(a))),
                      F64x4(_mm256_cvtps_pd(_mm256_castps256_ps128(b))));
  const F64x4 high = f(F64x4(_mm256_cvtps_pd(_mm256_extractf128_ps(a, 1))),
                       F64x4(_mm256_cvtps_pd(_mm256_extractf128_ps(b, 1))));
  return _mm256_set_m128(_mm256_cvtpd_ps(high.v), _mm256_cvtpd_ps(low.v));
}

// ---- the public register functions ------------------------------------------------------

LATENT_ALWAYS_INLINE __m256 exp(__m256 x) {
  return via_double(x, [](F64x4 v) { return vector_math::exp_for_float(v); });
}
LATENT_ALWAYS_INLINE __m256d exp(__m256d x) { return vector_math::exp(F64x4(x)).v; }
LATENT_ALWAYS_INLINE __m256 log(__m256 x) {
  return via_double(x, [](F64x4 v) { return vector_math::log(v); });
}
LATENT_ALWAYS_INLINE __m256 tanh(__m256 x) {
  return via_double(x, [](F64x4 v) { return vector_math::tanh(v); });
}
LATENT_ALWAYS_INLINE __m256 sigmoid(__m256 x) {
  return via_double(x, [](F64x4 v) { return vector_math::sigmoid<float>(v); });
}
LATENT_ALWAYS_INLINE __m256 silu(__m256 x) {
  return via_double(x, [](F64x4 v) { return vector_math::silu<float>(v); });
}
LATENT_ALWAYS_INLINE __m256 gelu(__m256 x) {
  return via_double(x, [](F64x4 v) { return vector_math::gelu(v); });
}
LATENT_ALWAYS_INLINE __m256 gelu_tanh(__m256 x) {
  return via_double(x, [](F64x4 v) { return vector_math::gelu_tanh<float>(v); });
}
LATENT_ALWAYS_INLINE __m256 softplus(__m256 x, float beta = 1.0f, float threshold = 20.0f) {
  const F64x4 beta_d(static_cast<double>(beta)), threshold_d(static_cast<double>(threshold));
  return via_double(x, [=](F64x4 v) { return vector_math::softplus(v, beta_d, threshold_d); });
}

LATENT_ALWAYS_INLINE __m256 gelu_backward(__m256 x, __m256 grad_out) {
  return via_double(x, grad_out, [](F64x4 v, F64x4 g) { return vector_math::gelu_backward(v, g); });
}
LATENT_ALWAYS_INLINE __m256 gelu_tanh_backward(__m256 x, __m256 grad_out) {
  return via_double(x, grad_out,
                    [](F64x4 v, F64x4 g) { return vector_math::gelu_tanh_backward<float>(v, g); });
}
LATENT_ALWAYS_INLINE __m256 silu_backward(__m256 x, __m256 grad_out) {
  return via_double(x, grad_out,
                    [](F64x4 v, F64x4 g) { return vector_math::silu_backward<float>(v, g); });
}
LATENT_ALWAYS_INLINE __m256 sigmoid_backward_from_output(__m256 y, __m256 grad_out) {
  return via_double(y, grad_out, [](F64x4 v, F64x4 g) {
    return vector_math::sigmoid_backward_from_output(v, g);
  });
}
LATENT_ALWAYS_INLINE __m256 tanh_backward_from_output(__m256 y, __m256 grad_out) {
  return via_double(y, grad_out,
                    [](F64x4 v, F64x4 g) { return vector_math::tanh_backward_from_output(v, g); });
}

// Double registers: exp above, and the functions built on it alone, within 4 ulp of the
// scalar (C library) versions (see math_vector.hpp).
LATENT_ALWAYS_INLINE __m256d sigmoid(__m256d x) { return vector_math::sigmoid<double>(F64x4(x)).v; }
LATENT_ALWAYS_INLINE __m256d silu(__m256d x) { return vector_math::silu<double>(F64x4(x)).v; }
LATENT_ALWAYS_INLINE __m256d gelu_tanh(__m256d x) {
  return vector_math::gelu_tanh<double>(F64x4(x)).v;
}
LATENT_ALWAYS_INLINE __m256d gelu_tanh_backward(__m256d x, __m256d grad_out) {
  return vector_math::gelu_tanh_backward<double>(F64x4(x), F64x4(grad_out)).v;
}
LATENT_ALWAYS_INLINE __m256d silu_backward(__m256d x, __m256d grad_out) {
  return vector_math::silu_backward<double>(F64x4(x), F64x4(grad_out)).v;
}
LATENT_ALWAYS_INLINE __m256d sigmoid_backward_from_output(__m256d y, __m256d grad_out) {
  return vector_math::sigmoid_backward_from_output(F64x4(y), F64x4(grad_out)).v;
}
LATENT_ALWAYS_INLINE __m256d tanh_backward_from_output(__m256d y, __m256d grad_out) {
  return vector_math::tanh_backward_from_output(F64x4(y), F64x4(grad_out)).v;
}

// ---- array drivers ----------------------------------------------------------------------

// y[i] = f(x[i]), a register at a time; the tail goes through a masked load and store, so
// every element takes the same path and y[i] depends on x[i] alone. y may equal x.
template <class F>
inline void map_array(const float* x, float* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)), lanes);
    _mm256_maskstore_ps(y + i, mask, f(_mm256_maskload_ps(x + i, mask)));
  }
}

// y[i] = f(a[i], b[i]); y may equal a or b.
template <class F>
inline void map_array(const float* a, const float* b, float* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)), lanes);
    _mm256_maskstore_ps(y + i, mask,
                        f(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask)));
  }
}

template <class F>
inline void map_array(const double* x, double* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, f(_mm256_loadu_pd(x + i)));
  if (i < n) {
    const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i), lanes);
    _mm256_maskstore_pd(y + i, mask, f(_mm256_maskload_pd(x + i, mask)));
  }
}

template <class F>
inline void map_array(const double* a, const double* b, double* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    _mm256_storeu_pd(y + i, f(_mm256_loadu_pd(a + i), _mm256_loadu_pd(b + i)));
  if (i < n) {
    const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i), lanes);
    _mm256_maskstore_pd(y + i, mask,
                        f(_mm256_maskload_pd(a + i, mask), _mm256_maskload_pd(b + i, mask)));
  }
}

}  // namespace latent::kernels::avx2

#endif
