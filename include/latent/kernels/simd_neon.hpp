// Elementwise maths on NEON registers (AArch64).
//
// The same design as simd_avx2.hpp: F64x2 wraps one float64x2_t (2 double lanes) for
// math_vector.hpp, and the public functions take float32x4_t (4 floats), widened to two
// halves of 2 doubles and rounded back to float once. For float64x2_t there are exp and
// the functions built on it alone, as in simd_avx2.hpp.
//
// Available on AArch64 when LATENT_SIMD_NONE is not set; LATENT_KERNELS_HAVE_NEON then
// says so.
#pragma once

#include <cstdint>

#include "../core/config.hpp"
#include "math_vector.hpp"

#if !defined(LATENT_SIMD_NONE) && defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>

#define LATENT_KERNELS_HAVE_NEON 1

namespace latent::kernels::neon {

// ---- the wrapper: 2 double lanes and their masks ---------------------------------------

struct Mask64x2 {
  uint64x2_t bits;  // all ones where true
};

struct F64x2 {
  float64x2_t v;
  F64x2() = default;
  LATENT_ALWAYS_INLINE F64x2(float64x2_t value) : v(value) {}
  LATENT_ALWAYS_INLINE F64x2(double value) : v(vdupq_n_f64(value)) {}
};

LATENT_ALWAYS_INLINE F64x2 operator+(F64x2 a, F64x2 b) { return vaddq_f64(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x2 operator-(F64x2 a, F64x2 b) { return vsubq_f64(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x2 operator*(F64x2 a, F64x2 b) { return vmulq_f64(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x2 operator/(F64x2 a, F64x2 b) { return vdivq_f64(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x2 operator-(F64x2 a) { return vnegq_f64(a.v); }

LATENT_ALWAYS_INLINE Mask64x2 operator<(F64x2 a, F64x2 b) { return {vcltq_f64(a.v, b.v)}; }
LATENT_ALWAYS_INLINE Mask64x2 operator>(F64x2 a, F64x2 b) { return {vcgtq_f64(a.v, b.v)}; }
LATENT_ALWAYS_INLINE Mask64x2 operator==(F64x2 a, F64x2 b) { return {vceqq_f64(a.v, b.v)}; }
LATENT_ALWAYS_INLINE Mask64x2 operator&(Mask64x2 a, Mask64x2 b) {
  return {vandq_u64(a.bits, b.bits)};
}
// A lane is NaN exactly when it does not equal itself.
LATENT_ALWAYS_INLINE Mask64x2 is_nan(F64x2 a) {
  return {vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(vceqq_f64(a.v, a.v))))};
}

LATENT_ALWAYS_INLINE F64x2 select(Mask64x2 mask, F64x2 if_true, F64x2 if_false) {
  return vbslq_f64(mask.bits, if_true.v, if_false.v);
}
LATENT_ALWAYS_INLINE F64x2 fma(F64x2 a, F64x2 b, F64x2 c) { return vfmaq_f64(c.v, a.v, b.v); }
LATENT_ALWAYS_INLINE F64x2 min(F64x2 a, F64x2 b) { return vminq_f64(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x2 max(F64x2 a, F64x2 b) { return vmaxq_f64(a.v, b.v); }
LATENT_ALWAYS_INLINE F64x2 abs(F64x2 a) { return vabsq_f64(a.v); }
LATENT_ALWAYS_INLINE F64x2 copysign(F64x2 magnitude, F64x2 sign) {
  return vbslq_f64(vdupq_n_u64(0x8000000000000000ULL), sign.v, magnitude.v);
}
LATENT_ALWAYS_INLINE F64x2 round_nearest(F64x2 a) { return vrndnq_f64(a.v); }
LATENT_ALWAYS_INLINE F64x2 floor(F64x2 a) { return vrndmq_f64(a.v); }

// 2^n: the biased exponent n + 1023 moved into the exponent field.
LATENT_ALWAYS_INLINE F64x2 pow2i(F64x2 n) {
  const int64x2_t biased = vaddq_s64(vcvtq_s64_f64(n.v), vdupq_n_s64(1023));
  return vreinterpretq_f64_s64(vshlq_n_s64(biased, 52));
}
// For positive normal x = 2^e m, m in [1, 2): e from the exponent field ...
LATENT_ALWAYS_INLINE F64x2 exponent_of(F64x2 x) {
  const int64x2_t field = vreinterpretq_s64_u64(vshrq_n_u64(vreinterpretq_u64_f64(x.v), 52));
  return vcvtq_f64_s64(vsubq_s64(field, vdupq_n_s64(1023)));
}
// ... and m: the fraction bits under the exponent of 1.0.
LATENT_ALWAYS_INLINE F64x2 mantissa_of(F64x2 x) {
  const uint64x2_t fraction =
      vandq_u64(vreinterpretq_u64_f64(x.v), vdupq_n_u64(0x000FFFFFFFFFFFFFULL));
  return vreinterpretq_f64_u64(vorrq_u64(fraction, vreinterpretq_u64_f64(vdupq_n_f64(1.0))));
}

// ---- float registers through double lanes ----------------------------------------------

// f on the 4 floats of x: two halves of 2 doubles, each rounded back to float once.
template <class F>
LATENT_ALWAYS_INLINE float32x4_t via_double(float32x4_t x, F f) {
  const F64x2 low = f(F64x2(vcvt_f64_f32(vget_low_f32(x))));
  const F64x2 high = f(F64x2(vcvt_high_f64_f32(x)));
  return vcvt_high_f32_f64(vcvt_f32_f64(low.v), high.v);
}
template <class F>
LATENT_ALWAYS_INLINE float32x4_t via_double(float32x4_t a, float32x4_t b, F f) {
  const F64x2 low = f(F64x2(vcvt_f64_f32(vget_low_f32(a))), F64x2(vcvt_f64_f32(vget_low_f32(b))));
  const F64x2 high = f(F64x2(vcvt_high_f64_f32(a)), F64x2(vcvt_high_f64_f32(b)));
  return vcvt_high_f32_f64(vcvt_f32_f64(low.v), high.v);
}

// ---- the public register functions ------------------------------------------------------

LATENT_ALWAYS_INLINE float32x4_t exp(float32x4_t x) {
  return via_double(x, [](F64x2 v) { return vector_math::exp_for_float(v); });
}
LATENT_ALWAYS_INLINE float64x2_t exp(float64x2_t x) { return vector_math::exp(F64x2(x)).v; }
LATENT_ALWAYS_INLINE float32x4_t log(float32x4_t x) {
  return via_double(x, [](F64x2 v) { return vector_math::log(v); });
}
LATENT_ALWAYS_INLINE float32x4_t tanh(float32x4_t x) {
  return via_double(x, [](F64x2 v) { return vector_math::tanh(v); });
}
LATENT_ALWAYS_INLINE float32x4_t sigmoid(float32x4_t x) {
  return via_double(x, [](F64x2 v) { return vector_math::sigmoid<float>(v); });
}
LATENT_ALWAYS_INLINE float32x4_t silu(float32x4_t x) {
  return via_double(x, [](F64x2 v) { return vector_math::silu<float>(v); });
}
LATENT_ALWAYS_INLINE float32x4_t gelu(float32x4_t x) {
  return via_double(x, [](F64x2 v) { return vector_math::gelu(v); });
}
LATENT_ALWAYS_INLINE float32x4_t gelu_tanh(float32x4_t x) {
  return via_double(x, [](F64x2 v) { return vector_math::gelu_tanh<float>(v); });
}
LATENT_ALWAYS_INLINE float32x4_t softplus(float32x4_t x, float beta = 1.0f,
                                          float threshold = 20.0f) {
  const F64x2 beta_d(static_cast<double>(beta)), threshold_d(static_cast<double>(threshold));
  return via_double(x, [=](F64x2 v) { return vector_math::softplus(v, beta_d, threshold_d); });
}

LATENT_ALWAYS_INLINE float32x4_t gelu_backward(float32x4_t x, float32x4_t grad_out) {
  return via_double(x, grad_out, [](F64x2 v, F64x2 g) { return vector_math::gelu_backward(v, g); });
}
LATENT_ALWAYS_INLINE float32x4_t gelu_tanh_backward(float32x4_t x, float32x4_t grad_out) {
  return via_double(x, grad_out,
                    [](F64x2 v, F64x2 g) { return vector_math::gelu_tanh_backward<float>(v, g); });
}
LATENT_ALWAYS_INLINE float32x4_t silu_backward(float32x4_t x, float32x4_t grad_out) {
  return via_double(x, grad_out,
                    [](F64x2 v, F64x2 g) { return vector_math::silu_backward<float>(v, g); });
}
LATENT_ALWAYS_INLINE float32x4_t sigmoid_backward_from_output(float32x4_t y, float32x4_t grad_out) {
  return via_double(y, grad_out, [](F64x2 v, F64x2 g) {
    return vector_math::sigmoid_backward_from_output(v, g);
  });
}
LATENT_ALWAYS_INLINE float32x4_t tanh_backward_from_output(float32x4_t y, float32x4_t grad_out) {
  return via_double(y, grad_out,
                    [](F64x2 v, F64x2 g) { return vector_math::tanh_backward_from_output(v, g); });
}

// Double registers: exp above, and the functions built on it alone, within 4 ulp of the
// scalar (C library) versions (see math_vector.hpp).
LATENT_ALWAYS_INLINE float64x2_t sigmoid(float64x2_t x) {
  return vector_math::sigmoid<double>(F64x2(x)).v;
}
LATENT_ALWAYS_INLINE float64x2_t silu(float64x2_t x) {
  return vector_math::silu<double>(F64x2(x)).v;
}
LATENT_ALWAYS_INLINE float64x2_t gelu_tanh(float64x2_t x) {
  return vector_math::gelu_tanh<double>(F64x2(x)).v;
}
LATENT_ALWAYS_INLINE float64x2_t gelu_tanh_backward(float64x2_t x, float64x2_t grad_out) {
  return vector_math::gelu_tanh_backward<double>(F64x2(x), F64x2(grad_out)).v;
}
LATENT_ALWAYS_INLINE float64x2_t silu_backward(float64x2_t x, float64x2_t grad_out) {
  return vector_math::silu_backward<double>(F64x2(x), F64x2(grad_out)).v;
}
LATENT_ALWAYS_INLINE float64x2_t sigmoid_backward_from_output(float64x2_t y, float64x2_t grad_out) {
  return vector_math::sigmoid_backward_from_output(F64x2(y), F64x2(grad_out)).v;
}
LATENT_ALWAYS_INLINE float64x2_t tanh_backward_from_output(float64x2_t y, float64x2_t grad_out) {
  return vector_math::tanh_backward_from_output(F64x2(y), F64x2(grad_out)).v;
}

// ---- array drivers (see simd_avx2.hpp); NEON has no masked loads, so the tail goes
// through a zero-padded register-sized buffer ----------------------------------------------

template <class F>
inline void map_array(const float* x, float* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, f(vld1q_f32(x + i)));
  if (i < n) {
    float buffer[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (std::int64_t k = 0; k < n - i; ++k) buffer[k] = x[i + k];
    vst1q_f32(buffer, f(vld1q_f32(buffer)));
    for (std::int64_t k = 0; k < n - i; ++k) y[i + k] = buffer[k];
  }
}

template <class F>
inline void map_array(const float* a, const float* b, float* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, f(vld1q_f32(a + i), vld1q_f32(b + i)));
  if (i < n) {
    float buffer_a[4] = {0.0f, 0.0f, 0.0f, 0.0f}, buffer_b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (std::int64_t k = 0; k < n - i; ++k) {
      buffer_a[k] = a[i + k];
      buffer_b[k] = b[i + k];
    }
    vst1q_f32(buffer_a, f(vld1q_f32(buffer_a), vld1q_f32(buffer_b)));
    for (std::int64_t k = 0; k < n - i; ++k) y[i + k] = buffer_a[k];
  }
}

template <class F>
inline void map_array(const double* x, double* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 2 <= n; i += 2) vst1q_f64(y + i, f(vld1q_f64(x + i)));
  if (i < n) {
    double buffer[2] = {x[i], 0.0};
    vst1q_f64(buffer, f(vld1q_f64(buffer)));
    y[i] = buffer[0];
  }
}

template <class F>
inline void map_array(const double* a, const double* b, double* y, std::int64_t n, F f) {
  std::int64_t i = 0;
  for (; i + 2 <= n; i += 2) vst1q_f64(y + i, f(vld1q_f64(a + i), vld1q_f64(b + i)));
  if (i < n) {
    double buffer_a[2] = {a[i], 0.0}, buffer_b[2] = {b[i], 0.0};
    vst1q_f64(buffer_a, f(vld1q_f64(buffer_a), vld1q_f64(buffer_b)));
    y[i] = buffer_a[0];
  }
}

}  // namespace latent::kernels::neon

#endif
