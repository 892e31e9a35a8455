// Rectifiers on arrays: relu and leaky_relu, and their gradients.
//
//   relu(x)       = x for x > 0, else 0           relu'(x)       = 1 for x > 0, else 0
//   leaky_relu(x) = x for x > 0, else slope x     leaky_relu'(x) = 1 for x > 0, else slope
//
// A NaN x gives NaN forward and passes the gradient through, as PyTorch's threshold ops.
// The signs of activations are random, so a compare-and-branch per element mispredicts
// half the time (about 2 ns an element); these kernels choose lane by lane with a blend
// instead, a register at a time, through the array drivers of transcendental.hpp.
#pragma once

#include <cstdint>

#include "transcendental.hpp"

namespace latent::kernels {

namespace rectifier_detail {

// x <= 0 ? below : above, lane by lane, for each register type the drivers pass; `splat`
// fills a register of x's type with one value.
template <class T>
LATENT_ALWAYS_INLINE T where_nonpositive(T x, T below, T above) {
  return x <= T(0) ? below : above;
}
template <class T>
LATENT_ALWAYS_INLINE T splat(T, T value) {
  return value;
}
template <class T>
LATENT_ALWAYS_INLINE T multiply(T a, T b) {
  return a * b;
}

#if defined(LATENT_KERNELS_HAVE_AVX512)
LATENT_ALWAYS_INLINE __m512 where_nonpositive(__m512 x, __m512 below, __m512 above) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LE_OQ), above,
                              below);
}
LATENT_ALWAYS_INLINE __m512d where_nonpositive(__m512d x, __m512d below, __m512d above) {
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LE_OQ), above,
                              below);
}
LATENT_ALWAYS_INLINE __m512 splat(__m512, float value) { return _mm512_set1_ps(value); }
LATENT_ALWAYS_INLINE __m512d splat(__m512d, double value) { return _mm512_set1_pd(value); }
LATENT_ALWAYS_INLINE __m512 multiply(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
LATENT_ALWAYS_INLINE __m512d multiply(__m512d a, __m512d b) { return _mm512_mul_pd(a, b); }
#endif

#if defined(LATENT_KERNELS_HAVE_AVX2)
LATENT_ALWAYS_INLINE __m256 where_nonpositive(__m256 x, __m256 below, __m256 above) {
  return _mm256_blendv_ps(above, below, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LE_OQ));
}
LATENT_ALWAYS_INLINE __m256d where_nonpositive(__m256d x, __m256d below, __m256d above) {
  return _mm256_blendv_pd(above, below, _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_LE_OQ));
}
LATENT_ALWAYS_INLINE __m256 splat(__m256, float value) { return _mm256_set1_ps(value); }
LATENT_ALWAYS_INLINE __m256d splat(__m256d, double value) { return _mm256_set1_pd(value); }
LATENT_ALWAYS_INLINE __m256 multiply(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
LATENT_ALWAYS_INLINE __m256d multiply(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }
#endif

#if defined(LATENT_KERNELS_HAVE_NEON)
LATENT_ALWAYS_INLINE float32x4_t where_nonpositive(float32x4_t x, float32x4_t below,
                                                   float32x4_t above) {
  return vbslq_f32(vclezq_f32(x), below, above);
}
LATENT_ALWAYS_INLINE float64x2_t where_nonpositive(float64x2_t x, float64x2_t below,
                                                   float64x2_t above) {
  return vbslq_f64(vclezq_f64(x), below, above);
}
LATENT_ALWAYS_INLINE float32x4_t splat(float32x4_t, float value) { return vdupq_n_f32(value); }
LATENT_ALWAYS_INLINE float64x2_t splat(float64x2_t, double value) { return vdupq_n_f64(value); }
LATENT_ALWAYS_INLINE float32x4_t multiply(float32x4_t a, float32x4_t b) { return vmulq_f32(a, b); }
LATENT_ALWAYS_INLINE float64x2_t multiply(float64x2_t a, float64x2_t b) { return vmulq_f64(a, b); }
#endif

}  // namespace rectifier_detail

// y[i] = leaky_relu(x[i]); slope 0 gives relu (and relu(-inf) = 0, not 0 * -inf). y may be x.
template <class T>
void leaky_relu(const T* x, T* y, std::int64_t n, T slope) {
  using namespace rectifier_detail;
  transcendental_detail::map_simd(x, y, n, [slope](auto v) {
    const auto below = slope == T(0) ? splat(v, T(0)) : multiply(v, splat(v, slope));
    return where_nonpositive(v, below, v);
  });
}

// grad_in[i] = grad_out[i] * leaky_relu'(x[i]); slope 0 gives relu's. grad_in may be either
// input.
template <class T>
void leaky_relu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n, T slope) {
  using namespace rectifier_detail;
  transcendental_detail::map_simd(x, grad_out, grad_in, n, [slope](auto v, auto g) {
    const auto below = slope == T(0) ? splat(v, T(0)) : multiply(g, splat(v, slope));
    return where_nonpositive(v, below, g);
  });
}

}  // namespace latent::kernels
