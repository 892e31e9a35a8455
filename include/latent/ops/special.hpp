// Special functions, elementwise: erf, erfc, log1p, expm1 (as torch.erf, torch.log1p, ...).
// Their backwards are written with differentiable ops, so every order of derivative works:
//   erf:   g * 2/sqrt(pi) * exp(-x^2)        erfc:  -g * 2/sqrt(pi) * exp(-x^2)
//   log1p: g / (1 + x)                       expm1: g * (y + 1)
// log1p and expm1 keep full relative accuracy near 0, where log(1 + x) and exp(x) - 1
// would cancel.
#pragma once

#include <cmath>
#include <vector>

#include "autograd.hpp"
#include "binary_ops.hpp"
#include "elementwise.hpp"
#include "unary_ops.hpp"

namespace latent {

namespace detail {
// 2 / sqrt(pi): the slope of erf at 0.
inline constexpr double two_over_sqrt_pi = 1.1283791670955126;
}  // namespace detail

// erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt.
template <class T>
Tensor<T> erf(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::erf(v); });
  return record<T>(out, "erf", {&x}, [x](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{g * exp(-square(x)) * T(detail::two_over_sqrt_pi)};
  });
}

// erfc(x) = 1 - erf(x), accurate where erf(x) is close to 1.
template <class T>
Tensor<T> erfc(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::erfc(v); });
  return record<T>(out, "erfc", {&x}, [x](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{g * exp(-square(x)) * T(-detail::two_over_sqrt_pi)};
  });
}

// log1p(x) = log(1 + x).
template <class T>
Tensor<T> log1p(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::log1p(v); });
  return record<T>(out, "log1p", {&x},
                   [x](const Tensor<T>& g) { return std::vector<Tensor<T>>{g / (x + T(1))}; });
}

// expm1(x) = exp(x) - 1.
template <class T>
Tensor<T> expm1(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::expm1(v); });
  return record_using_output<T>(out, "expm1", {&x}, [](const Tensor<T>& g, const Tensor<T>& y) {
    return std::vector<Tensor<T>>{g * (y + T(1))};
  });
}

}  // namespace latent
