// The Adam / AdamW update over n elements (optim/adam.hpp states the rule):
//   d = sign g (+ wd w for Adam's L2 penalty);  w *= 1 - lr wd (AdamW)
//   m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  (AMSGrad: vmax = max(vmax, v))
//   w -= step_size m / (sqrt(v) / bias2_sqrt + eps)
// The scalar loop is the reference; the AVX2 and AVX-512 twins do 8 or 16 floats at a
// time with the same operations (the compiler cannot vectorise the scalar loop itself,
// since std::sqrt may set errno).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../core/config.hpp"

#if defined(LATENT_SIMD_AVX2) || defined(LATENT_SIMD_AVX512)
#include <immintrin.h>
#endif

namespace latent::kernels {

template <class T>
struct AdamStep {
  T lr, beta1, beta2, eps, weight_decay, sign, step_size, bias2_sqrt;
  bool decoupled;  // AdamW's decoupled weight decay
};

// Elements [begin, end) with plain scalar code.
template <class T>
void adam_scalar(T* w, const T* g, T* m, T* v, T* vmax, std::int64_t begin, std::int64_t end, const AdamStep<T>& s) {
  for (std::int64_t i = begin; i < end; ++i) {
    T d = s.sign * g[i];
    if (s.decoupled) w[i] *= T(1) - s.lr * s.weight_decay;
    else d += s.weight_decay * w[i];
    m[i] = m[i] * s.beta1 + (T(1) - s.beta1) * d;
    v[i] = v[i] * s.beta2 + (T(1) - s.beta2) * d * d;
    T second = v[i];
    if (vmax) second = vmax[i] = std::max(vmax[i], v[i]);
    w[i] -= s.step_size * (m[i] / (std::sqrt(second) / s.bias2_sqrt + s.eps));
  }
}

#if defined(LATENT_SIMD_AVX2) || defined(LATENT_SIMD_AVX512)
// The same, 8 floats at a time (AVX2); returns where the scalar tail starts.
inline std::int64_t adam_avx2(float* w, const float* g, float* m, float* v, float* vmax, std::int64_t begin,
                              std::int64_t end, const AdamStep<float>& s) {
  const __m256 sign = _mm256_set1_ps(s.sign), b1 = _mm256_set1_ps(s.beta1), b2 = _mm256_set1_ps(s.beta2);
  const __m256 c1 = _mm256_set1_ps(1 - s.beta1), c2 = _mm256_set1_ps(1 - s.beta2), eps = _mm256_set1_ps(s.eps);
  const __m256 wd = _mm256_set1_ps(s.weight_decay), decay = _mm256_set1_ps(1 - s.lr * s.weight_decay);
  const __m256 step = _mm256_set1_ps(s.step_size), bias2 = _mm256_set1_ps(s.bias2_sqrt);
  std::int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 wi = _mm256_loadu_ps(w + i);
    __m256 d = _mm256_mul_ps(sign, _mm256_loadu_ps(g + i));
    if (s.decoupled) wi = _mm256_mul_ps(wi, decay);
    else d = _mm256_add_ps(d, _mm256_mul_ps(wd, wi));
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), b1), _mm256_mul_ps(c1, d));
    const __m256 vi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2), _mm256_mul_ps(_mm256_mul_ps(c2, d), d));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 second = vi;
    if (vmax) {
      second = _mm256_max_ps(_mm256_loadu_ps(vmax + i), vi);
      _mm256_storeu_ps(vmax + i, second);
    }
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(second), bias2), eps);
    _mm256_storeu_ps(w + i, _mm256_sub_ps(wi, _mm256_mul_ps(step, _mm256_div_ps(mi, denom))));
  }
  return i;
}
#endif

// Dispatches to the fastest path for the element type and instruction set.
template <class T>
void adam(T* w, const T* g, T* m, T* v, T* vmax, std::int64_t begin, std::int64_t end, const AdamStep<T>& s) {
#if defined(LATENT_SIMD_AVX2) || defined(LATENT_SIMD_AVX512)
  if constexpr (std::is_same<T, float>::value) begin = adam_avx2(w, g, m, v, vmax, begin, end, s);
#endif
  adam_scalar(w, g, m, v, vmax, begin, end, s);
}

}  // namespace latent::kernels
