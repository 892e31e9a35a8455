// Elementwise maths, one element at a time: the readable reference for every function of
// kernels/transcendental.hpp, and the per-element versions that fused kernels call.
//
// float functions are evaluated in double precision and rounded to float once at the end.
// The double-precision "cores" below (exp, expm1, log, log1p, erfcx) are accurate to about
// 1e-12 relative, far below float's half-ulp of 6e-8, so the float results are correctly
// rounded almost always and never more than 1 ulp away. Working in double also removes the
// classic float traps: x^2 and x^3 of a float cannot overflow, float denormals are normal
// doubles, and a tiny result (sigmoid(-80), gelu(-12)) is computed directly, never as the
// difference of two numbers close to 1.
//
// double functions are written with the C library (std::exp, std::erfc, ...) in the same
// formulas as PyTorch, so the library stays a float64 reference; where PyTorch's formula
// loses relative accuracy for tiny results (gelu, gelu_tanh for x << 0) we use the exact
// rewriting, which differs from PyTorch only by ~1e-16 * |x| in absolute terms.
//
// The SIMD twins (math_vector.hpp and the simd_*.hpp files) follow these functions line by
// line, without branches.
#pragma once

#include <cmath>
#include <limits>

namespace latent::kernels {

// Constants and polynomial coefficients, shared by the scalar code and its SIMD twins.
namespace math_constants {

inline constexpr double ln2 = 0.6931471805599453;
// ln2 = ln2_hi + ln2_lo, where ln2_hi has only 29 significant bits, so that n * ln2_hi is
// exact for |n| < 2^24 and x - n * ln2_hi loses nothing (Cody and Waite).
inline constexpr double ln2_hi = 0.6931471806019545;
inline constexpr double ln2_lo = -4.2009150726810846e-11;
inline constexpr double log2e = 1.4426950408889634;  // 1 / ln2
inline constexpr double sqrt2 = 1.4142135623730951;
inline constexpr double sqrt_half = 0.7071067811865476;  // 1 / sqrt(2)
inline constexpr double sqrt2_minus_1 = 0.41421356237309503;
inline constexpr double inv_sqrt_2pi = 0.3989422804014327;  // 1 / sqrt(2 pi)
inline constexpr double sqrt_2_over_pi = 0.7978845608028654;
inline constexpr double gelu_tanh_kappa = 0.044715;

// exp(x) = 2^n exp(r), n = round(x / ln2), r = x - n ln2 in [-ln2/2, ln2/2].
// exp(x) is +inf above exp_max_argument and 0 below exp_min_argument (in double); clamping
// to them keeps n small enough to build 2^n.
inline constexpr double exp_max_argument = 710.0;
inline constexpr double exp_min_argument = -746.0;
// For results rounded to float, exp(x) is taken as 0 below -708 (under 3.3e-308, the same
// float as 0 in every formula here) and x is clamped to 710 above, so n is in [-1021,
// 1024]: 2^n is a normal double, or inf for n = 1024 (exp(x) > 1.3e308, inf in float).
inline constexpr double exp_for_float_max_argument = 710.0;
inline constexpr double exp_for_float_min_argument = -708.0;

// exp(r) = sum_k r^k / k!. For |r| <= ln2 / 2 the first term left out after k = 13,
// r^14 / 14!, is below 5e-18 relative: as accurate as double allows. Results rounded to
// float need only the terms up to k = 10 (the next, r^11 / 11!, is below 3e-13).
// clang-format off
inline constexpr double exp_taylor[14] = {
    1.0,           1.0,            1.0 / 2,         1.0 / 6,          1.0 / 24,
    1.0 / 120,     1.0 / 720,      1.0 / 5040,      1.0 / 40320,      1.0 / 362880,
    1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};
// clang-format on
inline constexpr int exp_terms_for_float = 11;

// 2 atanh(f) = 2 f (1 + s/3 + s^2/5 + ... + s^6/13), s = f^2; for |f| <= 3 - 2 sqrt(2)
// (= 0.1716) the first term left out is below 1.3e-12 relative.
inline constexpr double atanh_series[7] = {1.0,     1.0 / 3,  1.0 / 5, 1.0 / 7,
                                           1.0 / 9, 1.0 / 11, 1.0 / 13};

// erfcx(z) = exp(z^2) erfc(z) for z >= 0, written as P(t) / (1 + 2z) with
// t = (z - 3) / (z + 3). (1 + 2z) erfcx(z) is smooth on [0, inf), rising from 1 at z = 0
// to 2 / sqrt(pi) as z -> inf, and t maps [0, inf) onto [-1, 1). P, of degree 15 in t, is
// a weighted least-squares fit to the relative error (computed with 50-digit arithmetic);
// its relative error is below 5e-12 on the whole half-line.
inline constexpr double erfcx_scale = 3.0;
inline constexpr double erfcx_poly[16] = {
    1.2530080582683427,      -0.13562110603726918,    -0.047562294163435118,
    0.12964515453155939,     -0.11927366774535796,    0.06830808561233663,
    -0.023770476659103406,   0.0025290244895740132,   0.001888520004612159,
    -0.00077859332168285587, -0.00010472993810902408, 0.00012269100742259148,
    4.2991085498697568e-06,  -1.7349713965678082e-05, -1.2533225945965398e-07,
    1.6769795204707449e-06};

// Beyond this z, erfcx is used only where exp(-z^2) has already made the product 0; the
// cap keeps t = (z - 3)/(z + 3) finite when z is infinite.
inline constexpr double erfcx_max_argument = 1e6;

}  // namespace math_constants

namespace scalar {

// Double-precision building blocks for the float functions (see the top of this file).
namespace core {

// c[0] + c[1] x + ... + c[Terms-1] x^(Terms-1), by Horner's rule (Terms defaults to all).
template <int Terms = 0, int N>
inline double polynomial(double x, const double (&c)[N]) {
  constexpr int terms = Terms > 0 ? Terms : N;
  static_assert(terms <= N, "polynomial: more terms than coefficients");
  double p = c[terms - 1];
  for (int k = terms - 2; k >= 0; --k) p = p * x + c[k];
  return p;
}

// exp(x) = 2^n exp(r) with n = round(x / ln2) and r = x - n ln2 in [-ln2/2, ln2/2];
// exp(r) by its Taylor series. Accurate to 3e-13 relative, for results rounded to float;
// 0 below -708 and x clamped to 710 above (exp_for_float_min/max_argument): exp(-inf) = 0,
// exp(inf) = inf; NaN in, NaN out.
inline double exp_for_float(double x) {
  using namespace math_constants;
  if (std::isnan(x)) return x;
  if (x < exp_for_float_min_argument) return 0.0;
  if (x > exp_for_float_max_argument) x = exp_for_float_max_argument;
  const double n = std::nearbyint(x * log2e);
  const double r = (x - n * ln2_hi) - n * ln2_lo;
  return std::ldexp(polynomial<exp_terms_for_float>(r, exp_taylor), static_cast<int>(n));
}

// expm1(x) = exp(x) - 1. With exp(r) = 1 + r q(r), expm1(x) = 2^n r q(r) + (2^n - 1):
// for |x| < ln2/2, n = 0 and the result r q(r) keeps full relative accuracy near 0,
// where exp(x) - 1 would cancel. For |x| <= 700; accurate to 1e-12 relative.
inline double expm1(double x) {
  using namespace math_constants;
  const double n = std::nearbyint(x * log2e);
  const double r = (x - n * ln2_hi) - n * ln2_lo;
  // q(r) = (exp(r) - 1) / r = sum_k r^k / (k + 1)!, to the same order as exp above
  double q = exp_taylor[exp_terms_for_float - 1];
  for (int k = exp_terms_for_float - 2; k >= 1; --k) q = q * r + exp_taylor[k];
  const double scale = std::ldexp(1.0, static_cast<int>(n));
  return scale * (r * q) + (scale - 1.0);
}

// 2 atanh(f) = log((1 + f) / (1 - f)), for |f| <= 0.1716.
inline double log_of_ratio(double f) {
  return 2.0 * f * polynomial(f * f, math_constants::atanh_series);
}

// log(x) for a positive, finite, normal x: x = 2^e m with m in [sqrt(1/2), sqrt(2)),
// log(x) = e ln2 + log(m), and log(m) = 2 atanh(f) with f = (m - 1) / (m + 1).
inline double log(double x) {
  using namespace math_constants;
  int e = 0;
  double m = std::frexp(x, &e);  // x = 2^e m, m in [1/2, 1)
  if (m < sqrt_half) {
    m *= 2.0;
    e -= 1;
  }
  const double log_m = log_of_ratio((m - 1.0) / (m + 1.0));
  return e * ln2_hi + (e * ln2_lo + log_m);
}

// log(1 + u) for u in [0, 1], accurate for tiny u (softplus of very negative x).
// For u <= sqrt2 - 1, log(1 + u) = 2 atanh(u / (2 + u)), which never forms 1 + u;
// above it, log(1 + u) = ln2 + log((1 + u) / 2) = ln2 + 2 atanh((u - 1) / (u + 3)).
inline double log1p_unit(double u) {
  using namespace math_constants;
  if (u <= sqrt2_minus_1) return log_of_ratio(u / (2.0 + u));
  return ln2 + log_of_ratio((u - 1.0) / (u + 3.0));
}

// erfcx(z) = exp(z^2) erfc(z) for z >= 0 (see erfcx_poly). erfc(z) = exp(-z^2) erfcx(z)
// keeps full relative accuracy far into the tail, where 1 - erf(z) would be 0.
inline double erfcx(double z) {
  using namespace math_constants;
  if (z > erfcx_max_argument) z = erfcx_max_argument;
  const double t = (z - erfcx_scale) / (z + erfcx_scale);
  return polynomial(t, erfcx_poly) / (1.0 + 2.0 * z);
}

// Phi(x) = P(N(0,1) <= x) = erfc(-x / sqrt2) / 2, given gauss = exp(-x^2 / 2):
// the tail erfc(|x| / sqrt2) is gauss * erfcx(|x| / sqrt2), Phi(x) is half of it for
// x < 0 and one minus half of it for x >= 0.
inline double normal_cdf(double x, double gauss) {
  const double tail = gauss * erfcx(std::fabs(x) * math_constants::sqrt_half);
  return x < 0.0 ? 0.5 * tail : 1.0 - 0.5 * tail;
}

}  // namespace core

// ---- float: computed in double, rounded once -------------------------------------------

inline float exp(float x) { return static_cast<float>(core::exp_for_float(x)); }

// log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, as in the C library.
inline float log(float x) {
  if (x > 0.0f && x < std::numeric_limits<float>::infinity())
    return static_cast<float>(core::log(x));
  if (x == 0.0f) return -std::numeric_limits<float>::infinity();
  if (x == std::numeric_limits<float>::infinity()) return x;
  return std::numeric_limits<float>::quiet_NaN();
}

// tanh(x) = sign(x) e / (e + 2), e = expm1(2|x|): no cancellation near 0, and
// tanh(|x| >= 20) is 1 even in double.
inline float tanh(float x) {
  if (std::isnan(x)) return x;
  const double e = core::expm1(2.0 * std::fmin(std::fabs(x), 20.0));
  return static_cast<float>(std::copysign(e / (e + 2.0), static_cast<double>(x)));
}

// sigmoid(x) = 1 / (1 + exp(-x)): for x << 0 this is exp(x) / (1 + exp(x)) with no
// cancellation, so tiny results keep their relative accuracy.
inline float sigmoid(float x) {
  return static_cast<float>(1.0 / (1.0 + core::exp_for_float(-double{x})));
}

// silu(x) = x sigmoid(x). silu(-inf) = -inf / inf = NaN, as in PyTorch.
inline float silu(float x) {
  return static_cast<float>(x / (1.0 + core::exp_for_float(-double{x})));
}

// gelu(x) = x Phi(x) = x erfc(-x / sqrt2) / 2 (x^2 / 2 is exact for a float x).
// gelu(-inf) = -inf * 0 = NaN, as in PyTorch.
inline float gelu(float x) {
  const double xd = x;
  return static_cast<float>(xd * core::normal_cdf(xd, core::exp_for_float(-0.5 * xd * xd)));
}

// gelu_tanh(x) = x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3). Since
// (1 + tanh(u)) / 2 = sigmoid(2u), this is x / (1 + exp(-2u)), exact for x << 0 too.
inline float gelu_tanh(float x) {
  using namespace math_constants;
  const double xd = x;
  const double u = sqrt_2_over_pi * (xd + gelu_tanh_kappa * xd * xd * xd);
  return static_cast<float>(xd / (1.0 + core::exp_for_float(-2.0 * u)));
}

// softplus(x) = log(1 + exp(beta x)) / beta, or x where beta x > threshold (PyTorch).
// log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)) never overflows. beta x is exact in
// double, and the threshold test is made on it.
inline float softplus(float x, float beta = 1.0f, float threshold = 20.0f) {
  const double z = static_cast<double>(beta) * x;
  if (z > threshold) return x;
  const double soft = (z > 0.0 ? z : 0.0) + core::log1p_unit(core::exp_for_float(-std::fabs(z)));
  return static_cast<float>(soft / beta);
}

// ---- double: the C library, in PyTorch's formulas ------------------------------------

inline double exp(double x) { return std::exp(x); }
inline double log(double x) { return std::log(x); }
inline double tanh(double x) { return std::tanh(x); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double silu(double x) { return x / (1.0 + std::exp(-x)); }
// gelu as x erfc(-x / sqrt2) / 2: PyTorch's x (1 + erf(x / sqrt2)) / 2 rewritten so that
// the tail x << 0 keeps its relative accuracy.
inline double gelu(double x) { return 0.5 * x * std::erfc(-x * math_constants::sqrt_half); }
inline double gelu_tanh(double x) {
  using namespace math_constants;
  const double u = sqrt_2_over_pi * (x + gelu_tanh_kappa * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}
inline double softplus(double x, double beta = 1.0, double threshold = 20.0) {
  const double z = beta * x;
  return z > threshold ? x : std::log1p(std::exp(z)) / beta;
}

// ---- derivatives, for backward passes: each returns grad_out * f'(x) -------------------

// gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi).
inline double gelu_backward(double x, double grad_out) {
  const double cdf = 0.5 * std::erfc(-x * math_constants::sqrt_half);
  const double pdf = std::exp(-0.5 * x * x) * math_constants::inv_sqrt_2pi;
  return grad_out * (cdf + x * pdf);
}
inline float gelu_backward(float x, float grad_out) {
  const double xd = x;
  const double gauss = core::exp_for_float(-0.5 * xd * xd);
  const double slope = core::normal_cdf(xd, gauss) + xd * gauss * math_constants::inv_sqrt_2pi;
  return static_cast<float>(grad_out * slope);
}

// gelu_tanh(x) = x s with s = sigmoid(2u): d/dx = s + 2 x u' s (1 - s)
//              = s (1 + 2 x u' (1 - s)), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
inline double gelu_tanh_backward(double x, double grad_out) {
  using namespace math_constants;
  const double x2 = x * x;
  const double u = sqrt_2_over_pi * (x + gelu_tanh_kappa * x2 * x);
  const double du = sqrt_2_over_pi * (1.0 + 3.0 * gelu_tanh_kappa * x2);
  const double s = 1.0 / (1.0 + std::exp(-2.0 * u));
  return grad_out * s * (1.0 + 2.0 * x * du * (1.0 - s));
}
inline float gelu_tanh_backward(float x, float grad_out) {
  using namespace math_constants;
  const double xd = x;
  const double x2 = xd * xd;
  const double u = sqrt_2_over_pi * (xd + gelu_tanh_kappa * x2 * xd);
  const double du = sqrt_2_over_pi * (1.0 + 3.0 * gelu_tanh_kappa * x2);
  const double s = 1.0 / (1.0 + core::exp_for_float(-2.0 * u));
  return static_cast<float>(grad_out * s * (1.0 + 2.0 * xd * du * (1.0 - s)));
}

// silu'(x) = s + x s (1 - s) = s (1 + x (1 - s)), s = sigmoid(x).
inline double silu_backward(double x, double grad_out) {
  const double s = 1.0 / (1.0 + std::exp(-x));
  return grad_out * s * (1.0 + x * (1.0 - s));
}
inline float silu_backward(float x, float grad_out) {
  const double xd = x;
  const double s = 1.0 / (1.0 + core::exp_for_float(-xd));
  return static_cast<float>(grad_out * s * (1.0 + xd * (1.0 - s)));
}

// From the forward output y: sigmoid' = y (1 - y), tanh' = 1 - y^2.
inline double sigmoid_backward_from_output(double y, double grad_out) {
  return grad_out * (1.0 - y) * y;
}
inline float sigmoid_backward_from_output(float y, float grad_out) {
  return static_cast<float>(sigmoid_backward_from_output(double{y}, double{grad_out}));
}
inline double tanh_backward_from_output(double y, double grad_out) {
  return grad_out * (1.0 - y * y);
}
inline float tanh_backward_from_output(float y, float grad_out) {
  return static_cast<float>(tanh_backward_from_output(double{y}, double{grad_out}));
}

}  // namespace scalar
}  // namespace latent::kernels
