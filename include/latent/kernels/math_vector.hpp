// Elementwise maths on SIMD registers of doubles: the branch-free twins of the scalar
// code in math_scalar.hpp, written once for every instruction set.
//
// V is a thin wrapper around one register of double lanes (simd_avx2.hpp: F64x4,
// simd_avx512.hpp: F64x8, simd_neon.hpp: F64x2) with arithmetic operators, comparisons
// giving a mask, and these functions, found by argument-dependent lookup:
//
//   fma(a, b, c) = a b + c (one rounding)   select(mask, a, b) = mask ? a : b
//   min, max, abs, copysign(magnitude, sign), is_nan(x) -> mask
//   round_nearest(x), floor(x)              pow2i(n) = 2^n for integer n in [-1022, 1024]
//   exponent_of(x), mantissa_of(x):         x = 2^exponent_of(x) * mantissa_of(x),
//                                           mantissa in [1, 2), for positive normal x
//
// min(a, b) and max(a, b) return NaN when b is NaN (as the x86 and NEON instructions do);
// clamps are written min(bound, max(bound, x)) so that a NaN x comes out as NaN and the
// arithmetic after it carries the NaN to the result.
//
// The float functions (tanh, sigmoid, gelu, ...) take float inputs widened to double
// lanes and return double lanes; the per-ISA files round them back to float once.
#pragma once

#include <limits>
#include <type_traits>

#include "../core/config.hpp"
#include "math_scalar.hpp"

namespace latent::kernels::vector_math {

// c[0] + c[1] x + ... + c[Terms-1] x^(Terms-1), by Horner's rule: c[K] + x * (the rest).
template <int Terms, int K = 0, class V, int N>
LATENT_ALWAYS_INLINE V polynomial(V x, const double (&c)[N]) {
  static_assert(Terms <= N, "polynomial: more terms than coefficients");
  if constexpr (K + 1 == Terms) {
    return V(c[K]);
  } else {
    return fma(polynomial<Terms, K + 1>(x, c), x, V(c[K]));
  }
}

// ---- double-precision cores (see scalar::core for the maths) ----------------------------

// exp(x) for every double: n = round(x / ln2), r = x - n ln2 (Cody and Waite), exp(r) by
// Terms terms of its Taylor series, and 2^n applied in two halves, 2^(n/2) twice, so that
// both overflow to inf and gradual underflow into the denormals come out right. With all
// 14 terms it is within 1 ulp of std::exp.
template <int Terms = 14, class V>
LATENT_ALWAYS_INLINE V exp(V x) {
  using namespace math_constants;
  const V clamped = min(V(exp_max_argument), max(V(exp_min_argument), x));
  const V n = round_nearest(clamped * log2e);
  const V r = fma(n, V(-ln2_lo), fma(n, V(-ln2_hi), clamped));
  const V n_half = floor(n * 0.5);
  return polynomial<Terms>(r, exp_taylor) * pow2i(n_half) * pow2i(n - n_half);
}

// exp(x) to 3e-13 relative, for results rounded to float (scalar::core::exp_for_float).
// Those need no double denormals: below exp_for_float_min_argument the result is 0, and
// above it x is clamped to where 2^n is a normal double or, at n = 1024, inf, so 2^n is
// applied in one step.
template <class V>
LATENT_ALWAYS_INLINE V exp_for_float(V x) {
  using namespace math_constants;
  const V clamped = min(V(exp_for_float_max_argument), max(V(exp_for_float_min_argument), x));
  const V n = round_nearest(clamped * log2e);
  const V r = fma(n, V(-ln2_lo), fma(n, V(-ln2_hi), clamped));
  const V y = polynomial<exp_terms_for_float>(r, exp_taylor) * pow2i(n);
  return select(x < V(exp_for_float_min_argument), V(0.0), y);
}

// The exp that a result of type Result needs: exp_for_float for float results, the full
// one for double results.
template <class Result, class V>
LATENT_ALWAYS_INLINE V exp_for(V x) {
  static_assert(std::is_same_v<Result, float> || std::is_same_v<Result, double>);
  if constexpr (std::is_same_v<Result, float>) {
    return exp_for_float(x);
  } else {
    return exp(x);
  }
}

// expm1(x) = 2^n r q(r) + (2^n - 1), q(r) = (exp(r) - 1) / r, for |x| <= 700.
template <class V>
LATENT_ALWAYS_INLINE V expm1(V x) {
  using namespace math_constants;
  const V clamped = min(V(700.0), max(V(-700.0), x));
  const V n = round_nearest(clamped * log2e);
  const V r = fma(n, V(-ln2_lo), fma(n, V(-ln2_hi), clamped));
  V q = V(exp_taylor[exp_terms_for_float - 1]);
  for (int k = exp_terms_for_float - 2; k >= 1; --k) q = fma(q, r, V(exp_taylor[k]));
  const V scale = pow2i(n);
  return fma(scale, r * q, scale - 1.0);
}

// 2 atanh(f) for |f| <= 0.1716.
template <class V>
LATENT_ALWAYS_INLINE V log_of_ratio(V f) {
  return 2.0 * f * polynomial<7>(f * f, math_constants::atanh_series);
}

// log(x) for positive, finite, normal x: e ln2 + 2 atanh((m - 1) / (m + 1)).
template <class V>
LATENT_ALWAYS_INLINE V log_positive(V x) {
  using namespace math_constants;
  V e = exponent_of(x);
  V m = mantissa_of(x);  // in [1, 2): fold [sqrt2, 2) down to [sqrt(1/2), 1)
  const auto above_sqrt2 = m > sqrt2;
  m = select(above_sqrt2, m * 0.5, m);
  e = select(above_sqrt2, e + 1.0, e);
  const V log_m = log_of_ratio((m - 1.0) / (m + 1.0));
  return fma(e, V(ln2_hi), fma(e, V(ln2_lo), log_m));
}

// log(1 + u) for u in [0, 1]: both branches of scalar::core::log1p_unit in one formula,
// k ln2 + 2 atanh((u - k) / (2 + u + k)) with k = 0 or 1.
template <class V>
LATENT_ALWAYS_INLINE V log1p_unit(V u) {
  using namespace math_constants;
  const V k = select(u > sqrt2_minus_1, V(1.0), V(0.0));
  return fma(k, V(ln2), log_of_ratio((u - k) / (2.0 + u + k)));
}

// erfcx(z) = exp(z^2) erfc(z) = P(t) / (1 + 2z), t = (z - 3) / (z + 3), for z >= 0.
template <class V>
LATENT_ALWAYS_INLINE V erfcx(V z) {
  using namespace math_constants;
  z = min(V(erfcx_max_argument), z);
  const V t = (z - erfcx_scale) / (z + erfcx_scale);
  return polynomial<16>(t, erfcx_poly) / fma(z, V(2.0), V(1.0));
}

// Phi(x) given gauss = exp(-x^2 / 2): half the tail for x < 0, one minus it for x >= 0.
template <class V>
LATENT_ALWAYS_INLINE V normal_cdf(V x, V gauss) {
  const V half_tail = 0.5 * gauss * erfcx(abs(x) * math_constants::sqrt_half);
  return select(x < 0.0, half_tail, 1.0 - half_tail);
}

// ---- the float functions, on widened lanes (see the scalar versions for the maths) -----
//
// Those built on exp alone (sigmoid, silu, gelu_tanh and their derivatives) also serve
// double results: with Result = double they use the full-precision exp, and agree with the
// C-library formulas of scalar::sigmoid(double) and the others to 4 ulp (both are within
// about 2 ulp of the exact value; derivatives to 1e-15 of the size of their terms).

template <class V>
LATENT_ALWAYS_INLINE V log(V x) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto regular = (x > 0.0) & (x < inf);
  const V y = log_positive(select(regular, x, V(1.0)));
  const V special =
      select(x == 0.0, V(-inf), select(x == inf, x, V(std::numeric_limits<double>::quiet_NaN())));
  return select(regular, y, select(is_nan(x), x, special));
}

template <class V>
LATENT_ALWAYS_INLINE V tanh(V x) {
  const V e = expm1(2.0 * min(V(20.0), abs(x)));
  return copysign(e / (e + 2.0), x);
}

template <class Result, class V>
LATENT_ALWAYS_INLINE V sigmoid(V x) {
  return 1.0 / (1.0 + exp_for<Result>(-x));
}

template <class Result, class V>
LATENT_ALWAYS_INLINE V silu(V x) {
  return x / (1.0 + exp_for<Result>(-x));
}

template <class V>
LATENT_ALWAYS_INLINE V gelu(V x) {
  return x * normal_cdf(x, exp_for_float(-0.5 * x * x));
}

template <class Result, class V>
LATENT_ALWAYS_INLINE V gelu_tanh(V x) {
  using namespace math_constants;
  const V u = sqrt_2_over_pi * (x + gelu_tanh_kappa * x * x * x);
  return x / (1.0 + exp_for<Result>(-2.0 * u));
}

template <class V>
LATENT_ALWAYS_INLINE V softplus(V x, V beta, V threshold) {
  const V z = beta * x;
  const V soft = (max(z, V(0.0)) + log1p_unit(exp_for_float(-abs(z)))) / beta;
  return select(z > threshold, x, soft);
}

template <class V>
LATENT_ALWAYS_INLINE V gelu_backward(V x, V grad_out) {
  const V gauss = exp_for_float(-0.5 * x * x);
  const V slope = normal_cdf(x, gauss) + x * gauss * math_constants::inv_sqrt_2pi;
  return grad_out * slope;
}

template <class Result, class V>
LATENT_ALWAYS_INLINE V gelu_tanh_backward(V x, V grad_out) {
  using namespace math_constants;
  const V x2 = x * x;
  const V u = sqrt_2_over_pi * (x + gelu_tanh_kappa * x2 * x);
  const V du = sqrt_2_over_pi * (1.0 + 3.0 * gelu_tanh_kappa * x2);
  const V s = 1.0 / (1.0 + exp_for<Result>(-2.0 * u));
  return grad_out * s * (1.0 + 2.0 * x * du * (1.0 - s));
}

template <class Result, class V>
LATENT_ALWAYS_INLINE V silu_backward(V x, V grad_out) {
  const V s = 1.0 / (1.0 + exp_for<Result>(-x));
  return grad_out * s * (1.0 + x * (1.0 - s));
}

template <class V>
LATENT_ALWAYS_INLINE V sigmoid_backward_from_output(V y, V grad_out) {
  return grad_out * (1.0 - y) * y;
}

template <class V>
LATENT_ALWAYS_INLINE V tanh_backward_from_output(V y, V grad_out) {
  return grad_out * (1.0 - y * y);
}

}  // namespace latent::kernels::vector_math
