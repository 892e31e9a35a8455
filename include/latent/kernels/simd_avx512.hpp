// Elementwise maths on AVX-512 registers (AVX512F only).
//
// The same design as simd_avx2.hpp, twice as wide: F64x8 wraps one __m512d (8 double
// lanes) for math_vector.hpp, and the public functions take __m512 (16 floats), widened to
// two halves of 8 doubles and rounded back to float once. For __m512d there are exp and
// the functions built on it alone, as in simd_avx2.hpp.
// AVX-512 has instructions for what AVX2 builds from bit fields: scalef for 2^n, getexp
// and getmant to split a double into exponent and mantissa.
//
// Available when the compiler targets AVX512F and FMA and LATENT_SIMD_NONE is not set;
// LATENT_KERNELS_HAVE_AVX512 then says so.
#pragma once

#include <cstdint>

#include "../core/config.hpp"
#include "math_vector.hpp"

#if !defined(LATENT_SIMD_NONE) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#define LATENT_KERNELS_HAVE_AVX512 1

// GCC 12.1-12.2 warn that the _mm512_undefined_pd() inside many AVX-512 intrinsics "is"
// or "may be used uninitialized" once inlined (GCC bug 105593, fixed in 12.3): silence
// that false positive for the code below.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace latent::kernels::avx512 {

// ---- the wrapper: 8 double lanes and their masks ---------------------------------------

struct Mask64x8 {
  __mmask8 bits;  // bit i set where lane i is true
};

struct F64x8 {
  __m512d v;
  F64x8() = default;
  LATENT_ALWAYS_INLINE F64x8(__m512d value) : v(value) {}
  LATENT_ALWAYS_INLINE F64x8(double value) : v(_mm512_set1_pd(value)) {}
};

LATENT_ALWAYS_INLINE F64x8 operator+(F64x8 a, F64x8 b) { return _mm512_add_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x8 operator-(F64x8 a, F64x8 b) { return _mm512_sub_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x8 operator*(F64x8 a, F64x8 b) { return _mm512_mul_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x8 operator/(F64x8 a, F64x8 b) { return _mm512_div_pd(a.v, b.v); }

// The sign bit, for the bitwise operations (AVX512F has them on integers only).
LATENT_ALWAYS_INLINE __m512i sign_bit_mask() { return _mm512_set1_epi64(INT64_MIN); }

LATENT_ALWAYS_INLINE F64x8 operator-(F64x8 a) {
  return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a.v), sign_bit_mask()));
}

LATENT_ALWAYS_INLINE Mask64x8 operator<(F64x8 a, F64x8 b) {
  return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ)};
}
LATENT_ALWAYS_INLINE Mask64x8 operator>(F64x8 a, F64x8 b) {
  return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)};
}
LATENT_ALWAYS_INLINE Mask64x8 operator==(F64x8 a, F64x8 b) {
  return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)};
}
LATENT_ALWAYS_INLINE Mask64x8 operator&(Mask64x8 a, Mask64x8 b) {
  return {static_cast<__mmask8>(a.bits & b.bits)};
}
LATENT_ALWAYS_INLINE Mask64x8 is_nan(F64x8 a) {
  return {_mm512_cmp_pd_mask(a.v, a.v, _CMP_UNORD_Q)};
}

LATENT_ALWAYS_INLINE F64x8 select(Mask64x8 mask, F64x8 if_true, F64x8 if_false) {
  return _mm512_mask_blend_pd(mask.bits, if_false.v, if_true.v);
}
LATENT_ALWAYS_INLINE F64x8 fma(F64x8 a, F64x8 b, F64x8 c) { return _mm512_fmadd_pd(a.v, b.v, c.v); }
LATENT_ALWAYS_INLINE F64x8 min(F64x8 a, F64x8 b) { return _mm512_min_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x8 max(F64x8 a, F64x8 b) { return _mm512_max_pd(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x8 abs(F64x8 a) { return _mm512_abs_pd(a.v); }
LATENT_ALWAYS_INLINE F64x8 copysign(F64x8 magnitude, F64x8 sign) {
  const __m512i bits =
      _mm512_or_si512(_mm512_andnot_si512(sign_bit_mask(), _mm512_castpd_si512(magnitude.v)),
                      _mm512_and_si512(sign_bit_mask(), _mm512_castpd_si512(sign.v)));
  return _mm512_castsi512_pd(bits);
}
LATENT_ALWAYS_INLINE F64x8 round_nearest(F64x8 a) {
  return _mm512_roundscale_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
LATENT_ALWAYS_INLINE F64x8 floor(F64x8 a) {
  return _mm512_roundscale_pd(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
// 2^n = scalef(1, n) = 1 * 2^floor(n).
LATENT_ALWAYS_INLINE F64x8 pow2i(F64x8 n) { return _mm512_scalef_pd(_mm512_set1_pd(1.0), n.v); }
// For positive normal x = 2^e m, m in [1, 2): e = getexp(x), m = getmant(x).
LATENT_ALWAYS_INLINE F64x8 exponent_of(F64x8 x) { return _mm512_getexp_pd(x.v); }
LATENT_ALWAYS_INLINE F64x8 mantissa_of(F64x8 x) {
  return _mm512_getmant_pd(x.v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
}

// ---- float registers through double lanes ----------------------------------------------

LATENT_ALWAYS_INLINE F64x8 widen_low(__m512 x) {
  return _mm512_cvtps_pd(_mm512_castps512_ps256(x));
}
LATENT_ALWAYS_INLINE F64x8 widen_high(__m512 x) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}
LATENT_ALWAYS_INLINE __m512 narrow(F64x8 low, F64x8 high) {
  const __m256d low_floats = _mm256_castps_pd(_mm512_cvtpd_ps(low.v));
  const __m256d high_floats = _mm256_castps_pd(_mm512_cvtpd_ps(high.v));
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(low_floats), high_floats, 1));
}

// f on the 16 floats of x: two halves of 8 doubles, each rounded back to float once.
template <class F>
LATENT_ALWAYS_INLINE __m512 via_double(__m512 x, F f) {
  return narrow(f(widen_low(x)), f(widen_high(x)));
}
template <class F>
LATENT_ALWAYS_INLINE __m512 via_double(__m512 a, __m512 b, F f) {
  return narrow(f(widen_low(a), widen_low(b)), f(widen_high(a), widen_high(b)));
}

// ---- the public register functions ------------------------------------------------------

LATENT_ALWAYS_INLINE __m512 exp(__m512 x) {
  return via_double(x, [](F64x8 v) { return vector_math::exp_for_float(v); });
}
LATENT_ALWAYS_INLINE __m512d exp(__m512d x) { return vector_math::exp(F64x8(x)).v; }
LATENT_ALWAYS_INLINE __m512 log(__m512 x) {
  return via_double(x, [](F64x8 v) { return vector_math::log(v); });
}
LATENT_ALWAYS_INLINE __m512 tanh(__m512 x) {
  return via_double(x, [](F64x8 v) { return vector_math::tanh(v); });
}
LATENT_ALWAYS_INLINE __m512 sigmoid(__m512 x) {
  return via_double(x, [](F64x8 v) { return vector_math::sigmoid<float>(v); });
}
LATENT_ALWAYS_INLINE __m512 silu(__m512 x) {
  return via_double(x, [](F64x8 v) { return vector_math::silu<float>(v); });
}
LATENT_ALWAYS_INLINE __m512 gelu(__m512 x) {
  return via_double(x, [](F64x8 v) { return vector_math::gelu(v); });
}
LATENT_ALWAYS_INLINE __m512 gelu_tanh(__m512 x) {
  return via_double(x, [](F64x8 v) { return vector_math::gelu_tanh<float>(v); });
}
LATENT_ALWAYS_INLINE __m512 softplus(__m512 x, float beta = 1.0f, float threshold = 20.0f) {
  const F64x8 beta_d(static_cast<double>(beta)), threshold_d(static_cast<double>(threshold));
  return via_double(x, [=](F64x8 v) { return vector_math::softplus(v, beta_d, threshold_d); });
}

LATENT_ALWAYS_INLINE __m512 gelu_backward(__m512 x, __m512 grad_out) {
  return via_double(x, grad_out, [](F64x8 v, F64x8 g) { return vector_math::gelu_backward(v, g); });
}
LATENT_ALWAYS_INLINE __m512 gelu_tanh_backward(__m512 x, __m512 grad_out) {
  return via_double(x, grad_out,
                    [](F64x8 v, F64x8 g) { return vector_math::gelu_tanh_backward<float>(v, g); });
}
LATENT_ALWAYS_INLINE __m512 silu_backward(__m512 x, __m512 grad_out) {
  return via_double(x, grad_out,
                    [](F64x8 v, F64x8 g) { return vector_math::silu_backward<float>(v, g); });
}
LATENT_ALWAYS_INLINE __m512 sigmoid_backward_from_output(__m512 y, __m512 grad_out) {
  return via_double(y, grad_out, [](F64x8 v, F64x8 g) {
    return vector_math::sigmoid_backward_from_output(v, g);
  });
}
LATENT_ALWAYS_INLINE __m512 tanh_backward_from_output(__m512 y, __m512 grad_out) {
  return via_double(y, grad_out,
                    [](F64x8 v, F64x8 g) { return vector_math::tanh_backward_from_output(v, g); });
}

// Double registers: exp above, and the functions built on it alone, within 4 ulp of the
// scalar (C library) versions (see math_vector.hpp).
LATENT_ALWAYS_INLINE __m512d sigmoid(__m512d x) { return vector_math::sigmoid<double>(F64x8(x)).v; }
LATENT_ALWAYS_INLINE __m512d silu(__m512d x) { return vector_math::silu<double>(F64x8(x)).v; }
LATENT_ALWAYS_INLINE __m512d gelu_tanh(__m512d x) {
  return vector_math::gelu_tanh<double>(F64x8(x)).v;
}
LATENT_ALWAYS_INLINE __m512d gelu_tanh_backward(__m512d x, __m512d grad_out) {
  return vector_math::gelu_tanh_backward<double>(F64x8(x), F64x8(grad_out)).v;
}
LATENT_ALWAYS_INLINE __m512d silu_backward(__m512d x, __m512d grad_out) {
  return vector_math::silu_backward<double>(F64x8(x), F64x8(grad_out)).v;
}
LATENT_ALWAYS_INLINE __m512d sigmoid_backward_from_output(__m512d y, __m512d grad_out) {
  return vector_math::sigmoid_backward_from_output(F64x8(y), F64x8(grad_out)).v;
}
LATENT_ALWAYS_INLINE __m512d tanh_backward_from_output(__m512d y, __m512d grad_out) {
  return vector_math::tanh_backward_from_output(F64x8(y), F64x8(grad_out)).v;
}

// ---- array drivers (see simd_avx2.hpp) ----------------------------------------------------

template <class F>
inline void map_array(const float* x, float* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, mask, f(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

template <class F>
inline void map_array(const float* a, const float* b, float* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(
        y + i, mask, f(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i)));
  }
}

template <class F>
inline void map_array(const double* x, double* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(y + i, f(_mm512_loadu_pd(x + i)));
  if (i < n) {
    const __mmask8 mask = static_cast<__mmask8>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_pd(y + i, mask, f(_mm512_maskz_loadu_pd(mask, x + i)));
  }
}

template <class F>
inline void map_array(const double* a, const double* b, double* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm512_storeu_pd(y + i, f(_mm512_loadu_pd(a + i), _mm512_loadu_pd(b + i)));
  if (i < n) {
    const __mmask8 mask = static_cast<__mmask8>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_pd(
        y + i, mask, f(_mm512_maskz_loadu_pd(mask, a + i), _mm512_maskz_loadu_pd(mask, b + i)));
  }
}

}  // namespace latent::kernels::avx512

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif
