// Elementwise transcendental functions on arrays: exp, log, tanh, sigmoid, gelu,
// gelu_tanh, silu, softplus, and the derivatives that backward passes need.
//
//   kernels::exp(x, y, n)                       y[i] = exp(x[i]), float or double; y may be x
//   kernels::gelu_backward(x, grad_out, grad_in, n)
//                                               grad_in[i] = grad_out[i] * gelu'(x[i])
//
// Accuracy. float results are within 1 ulp of the exact value (relative error < 1.2e-7,
// almost always correctly rounded) over the whole float range: they are computed in double
// precision and rounded once (see math_scalar.hpp). double results are the C library's
// functions in PyTorch's formulas (scalar::); in a SIMD build, exp and the functions built
// on it alone (sigmoid, silu, gelu_tanh, their derivatives) use the SIMD exp instead, within
// 1 ulp of std::exp, and agree with the scalar versions to 4 ulp.
//
// Special values follow the C library and PyTorch: exp(-inf) = 0, log(0) = -inf,
// log(x < 0) = NaN, tanh(+-inf) = +-1, sigmoid(+-inf) = 1 / 0, and x * (something that
// tends to 0) gives NaN at -inf, as PyTorch does: gelu(-inf) = silu(-inf) = NaN.
//
// The per-element versions live in kernels::scalar (math_scalar.hpp) and the per-register
// ones in kernels::avx512 / avx2 / neon (simd_*.hpp), for fused kernels to call.
// Long arrays are cut into fixed chunks for parallel_for; every element is computed by
// the same code whatever its position, so results never depend on the thread count.
#pragma once

#include <cstdint>

#include "../core/config.hpp"
#include "../core/parallel.hpp"
#include "math_scalar.hpp"
#include "simd_avx2.hpp"
#include "simd_avx512.hpp"
#include "simd_neon.hpp"

namespace latent::kernels {

namespace scalar {
// The array drivers of the scalar build: one element at a time.
template <class T, class F>
inline void map_array(const T* x, T* y, std::int64_t n, F f) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}
template <class T, class F>
inline void map_array(const T* a, const T* b, T* y, std::int64_t n, F f) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
}
}  // namespace scalar

namespace transcendental_detail {

// The instruction set the array functions use: its register functions and array drivers.
#if defined(LATENT_SIMD_AVX512) && defined(LATENT_KERNELS_HAVE_AVX512)
namespace isa = avx512;
#elif (defined(LATENT_SIMD_AVX512) || defined(LATENT_SIMD_AVX2)) && \
    defined(LATENT_KERNELS_HAVE_AVX2)
namespace isa = avx2;
#elif defined(LATENT_SIMD_NEON) && defined(LATENT_KERNELS_HAVE_NEON)
namespace isa = neon;
#else
namespace isa = scalar;
#endif

// Elements per parallel chunk: enough work (tens of microseconds) to pay for a thread.
inline constexpr std::int64_t elementwise_grain = std::int64_t{1} << 15;

// y = f(x) (or y = f(a, b)) over [0, n) with an array driver of the chosen instruction
// set (map_simd) or of the scalar code (map_scalar), in fixed chunks for the threads.
template <class T, class F>
inline void map_simd(const T* x, T* y, std::int64_t n, F f) {
  parallel_for(0, n, elementwise_grain, [&](std::int64_t begin, std::int64_t end) {
    isa::map_array(x + begin, y + begin, end - begin, f);
  });
}
template <class T, class F>
inline void map_simd(const T* a, const T* b, T* y, std::int64_t n, F f) {
  parallel_for(0, n, elementwise_grain, [&](std::int64_t begin, std::int64_t end) {
    isa::map_array(a + begin, b + begin, y + begin, end - begin, f);
  });
}
template <class T, class F>
inline void map_scalar(const T* x, T* y, std::int64_t n, F f) {
  parallel_for(0, n, elementwise_grain, [&](std::int64_t begin, std::int64_t end) {
    scalar::map_array(x + begin, y + begin, end - begin, f);
  });
}
template <class T, class F>
inline void map_scalar(const T* a, const T* b, T* y, std::int64_t n, F f) {
  parallel_for(0, n, elementwise_grain, [&](std::int64_t begin, std::int64_t end) {
    scalar::map_array(a + begin, b + begin, y + begin, end - begin, f);
  });
}

}  // namespace transcendental_detail

// ---- forward ---------------------------------------------------------------------------

inline void exp(const float* x, float* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::exp(v); });
}
inline void exp(const double* x, double* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::exp(v); });
}

inline void log(const float* x, float* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::log(v); });
}
inline void log(const double* x, double* y, std::int64_t n) {
  transcendental_detail::map_scalar(x, y, n, [](double v) { return scalar::log(v); });
}

inline void tanh(const float* x, float* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::tanh(v); });
}
inline void tanh(const double* x, double* y, std::int64_t n) {
  transcendental_detail::map_scalar(x, y, n, [](double v) { return scalar::tanh(v); });
}

inline void sigmoid(const float* x, float* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::sigmoid(v); });
}
inline void sigmoid(const double* x, double* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::sigmoid(v); });
}

// gelu(x) = x Phi(x) = x (1 + erf(x / sqrt2)) / 2
inline void gelu(const float* x, float* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::gelu(v); });
}
inline void gelu(const double* x, double* y, std::int64_t n) {
  transcendental_detail::map_scalar(x, y, n, [](double v) { return scalar::gelu(v); });
}

// gelu_tanh(x) = x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
inline void gelu_tanh(const float* x, float* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::gelu_tanh(v); });
}
inline void gelu_tanh(const double* x, double* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::gelu_tanh(v); });
}

// silu(x) = x sigmoid(x)
inline void silu(const float* x, float* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::silu(v); });
}
inline void silu(const double* x, double* y, std::int64_t n) {
  transcendental_detail::map_simd(x, y, n,
                                  [](auto v) { return transcendental_detail::isa::silu(v); });
}

// softplus(x) = log(1 + exp(beta x)) / beta, or x where beta x > threshold (PyTorch).
inline void softplus(const float* x, float* y, std::int64_t n, float beta = 1.0f,
                     float threshold = 20.0f) {
  transcendental_detail::map_simd(
      x, y, n, [=](auto v) { return transcendental_detail::isa::softplus(v, beta, threshold); });
}
inline void softplus(const double* x, double* y, std::int64_t n, double beta = 1.0,
                     double threshold = 20.0) {
  transcendental_detail::map_scalar(x, y, n,
                                    [=](double v) { return scalar::softplus(v, beta, threshold); });
}

// ---- backward: grad_in[i] = grad_out[i] * f'(x[i]); grad_in may be x or grad_out ----------

inline void gelu_backward(const float* x, const float* grad_out, float* grad_in, std::int64_t n) {
  transcendental_detail::map_simd(x, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::gelu_backward(v, g);
  });
}
inline void gelu_backward(const double* x, const double* grad_out, double* grad_in,
                          std::int64_t n) {
  transcendental_detail::map_scalar(x, grad_out, grad_in, n,
                                    [](double v, double g) { return scalar::gelu_backward(v, g); });
}

inline void gelu_tanh_backward(const float* x, const float* grad_out, float* grad_in,
                               std::int64_t n) {
  transcendental_detail::map_simd(x, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::gelu_tanh_backward(v, g);
  });
}
inline void gelu_tanh_backward(const double* x, const double* grad_out, double* grad_in,
                               std::int64_t n) {
  transcendental_detail::map_simd(x, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::gelu_tanh_backward(v, g);
  });
}

inline void silu_backward(const float* x, const float* grad_out, float* grad_in, std::int64_t n) {
  transcendental_detail::map_simd(x, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::silu_backward(v, g);
  });
}
inline void silu_backward(const double* x, const double* grad_out, double* grad_in,
                          std::int64_t n) {
  transcendental_detail::map_simd(x, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::silu_backward(v, g);
  });
}

// From the forward output y = sigmoid(x): grad_in = grad_out * y (1 - y).
inline void sigmoid_backward_from_output(const float* y, const float* grad_out, float* grad_in,
                                         std::int64_t n) {
  transcendental_detail::map_simd(y, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::sigmoid_backward_from_output(v, g);
  });
}
inline void sigmoid_backward_from_output(const double* y, const double* grad_out, double* grad_in,
                                         std::int64_t n) {
  transcendental_detail::map_simd(y, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::sigmoid_backward_from_output(v, g);
  });
}

// From the forward output y = tanh(x): grad_in = grad_out * (1 - y^2).
inline void tanh_backward_from_output(const float* y, const float* grad_out, float* grad_in,
                                      std::int64_t n) {
  transcendental_detail::map_simd(y, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::tanh_backward_from_output(v, g);
  });
}
inline void tanh_backward_from_output(const double* y, const double* grad_out, double* grad_in,
                                      std::int64_t n) {
  transcendental_detail::map_simd(y, grad_out, grad_in, n, [](auto v, auto g) {
    return transcendental_detail::isa::tanh_backward_from_output(v, g);
  });
}

}  // namespace latent::kernels
