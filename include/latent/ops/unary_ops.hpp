// Elementwise maths of one tensor: exp, log, sqrt, rsqrt, abs, square, pow, tanh,
// sigmoid, relu, clamp. Each backward is written with differentiable ops, so second
// derivatives work. With y the output and g the output gradient:
//   exp: g y          log: g / x          sqrt: g / (2 y)     rsqrt: -g y^3 / 2
//   abs: g sign(x)    square: 2 g x       pow: g e x^(e-1)    tanh: g (1 - y^2)
//   sigmoid: g y (1 - y)      relu: g [x > 0]      clamp: g [min <= x <= max]
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "../kernels/rectifier.hpp"
#include "autograd.hpp"
#include "binary_ops.hpp"
#include "elementwise.hpp"
#include "shape_ops.hpp"

namespace latent {

template <class T>
Tensor<T> exp(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::exp(v); });
  return record_using_output<T>(out, "exp", {&x}, [](const Tensor<T>& g, const Tensor<T>& y) {
    return std::vector<Tensor<T>>{g * y};
  });
}

template <class T>
Tensor<T> log(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::log(v); });
  return record<T>(out, "log", {&x}, [x](const Tensor<T>& g) { return std::vector<Tensor<T>>{g / x}; });
}

template <class T>
Tensor<T> sqrt(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::sqrt(v); });
  return record_using_output<T>(out, "sqrt", {&x}, [](const Tensor<T>& g, const Tensor<T>& y) {
    return std::vector<Tensor<T>>{g / (y * T(2))};
  });
}

template <class T>
Tensor<T> rsqrt(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return T(1) / std::sqrt(v); });
  return record_using_output<T>(out, "rsqrt", {&x}, [](const Tensor<T>& g, const Tensor<T>& y) {
    return std::vector<Tensor<T>>{g * (y * y * y) * T(-0.5)};
  });
}

// -1, 0 or +1 (not differentiable: its derivative is zero almost everywhere).
template <class T>
Tensor<T> sign(const Tensor<T>& x) {
  return detail::map<T>(x.detach(), [](T v) { return v > T(0) ? T(1) : v < T(0) ? T(-1) : T(0); });
}

template <class T>
Tensor<T> abs(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return v < T(0) ? -v : v; });
  return record<T>(out, "abs", {&x}, [x](const Tensor<T>& g) { return std::vector<Tensor<T>>{g * sign(x)}; });
}

template <class T>
Tensor<T> square(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return v * v; });
  return record<T>(out, "square", {&x}, [x](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{g * x * T(2)};
  });
}

// x ** exponent, elementwise.
template <class T>
Tensor<T> pow(const Tensor<T>& x, Scalar<T> exponent) {
  Tensor<T> out = detail::map<T>(x, [exponent](T v) { return std::pow(v, exponent); });
  return record<T>(out, "pow", {&x}, [x, exponent](const Tensor<T>& g) {
    if (exponent == T(0)) return std::vector<Tensor<T>>{g * T(0)};
    return std::vector<Tensor<T>>{g * pow(x, exponent - T(1)) * exponent};
  });
}

template <class T>
Tensor<T> tanh(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return std::tanh(v); });
  return record_using_output<T>(out, "tanh", {&x}, [](const Tensor<T>& g, const Tensor<T>& y) {
    return std::vector<Tensor<T>>{g * (T(1) - y * y)};
  });
}

template <class T>
Tensor<T> sigmoid(const Tensor<T>& x) {
  Tensor<T> out = detail::map<T>(x, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
  return record_using_output<T>(out, "sigmoid", {&x}, [](const Tensor<T>& g, const Tensor<T>& y) {
    return std::vector<Tensor<T>>{g * y * (T(1) - y)};
  });
}

namespace detail {

// The values of x as a contiguous array (x itself when it already is one).
template <class T>
Tensor<T> activation_contiguous(const Tensor<T>& x) {
  return x.is_contiguous() ? x.detach() : contiguous_copy(x);
}

// y = kernel(x) with an array kernel kernel(const T* x, T* y, n).
template <class T, class Kernel>
Tensor<T> activation_forward_kernel(const Tensor<T>& x, Kernel kernel) {
  const Tensor<T> xc = activation_contiguous(x);
  Tensor<T> out(x.shape());
  kernel(xc.data(), out.data(), x.numel());
  return out;
}

// grad_in = kernel(x, grad_out) with an array kernel kernel(x, grad_out, grad_in, n).
template <class T, class Kernel>
Tensor<T> activation_backward_kernel(const Tensor<T>& x, const Tensor<T>& g, Kernel kernel) {
  const Tensor<T> xc = activation_contiguous(x);
  const Tensor<T> gc = activation_contiguous(g);
  Tensor<T> out(x.shape());
  kernel(xc.data(), gc.data(), out.data(), x.numel());
  return out;
}

// Attaches the backward of an activation y = f(x) to its output: fused(x, g) computes
// g * f'(x) in an ordinary backward; slope(x) builds f'(x) from differentiable ops for a
// backward that will be differentiated (the engine runs a backward with grad mode on
// exactly when create_graph is set).
template <class T, class Fused, class Slope>
Tensor<T> record_activation(const Tensor<T>& out, const char* name, const Tensor<T>& x, Fused fused,
                            Slope slope) {
  return record<T>(out, name, {&x}, [x, fused, slope](const Tensor<T>& g) {
    if (!is_grad_enabled()) return std::vector<Tensor<T>>{fused(x, g)};
    return std::vector<Tensor<T>>{g * slope(x)};
  });
}

// y = x for x > 0, else slope x: relu (slope 0) and leaky_relu, through the branch-free
// kernels for float and double. f' is piecewise constant (1 or slope), so a differentiable
// backward is g * mask, and the mask's own derivative is 0.
template <class T>
Tensor<T> rectifier(const Tensor<T>& x, T slope, const char* name) {
  const auto mask = [slope](const Tensor<T>& v) {
    return map<T>(v.detach(), [slope](T e) { return e <= T(0) ? slope : T(1); });
  };
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    const Tensor<T> out = activation_forward_kernel(x, [slope](const T* in, T* y, std::int64_t n) {
      kernels::leaky_relu(in, y, n, slope);
    });
    const auto fused = [slope](const Tensor<T>& v, const Tensor<T>& g) {
      const auto kernel = [slope](const T* in, const T* go, T* gi, std::int64_t n) {
        kernels::leaky_relu_backward(in, go, gi, n, slope);
      };
      return activation_backward_kernel(v, g, kernel);
    };
    return record_activation(out, name, x, fused, mask);
  } else {
    const Tensor<T> out = map<T>(x, [slope](T v) { return v > T(0) ? v : v * slope; });
    return record<T>(out, name, {&x}, [x, mask](const Tensor<T>& g) {
      return std::vector<Tensor<T>>{g * mask(x)};
    });
  }
}

}  // namespace detail

// relu(x) = max(x, 0) (NaN stays NaN).
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
  return detail::rectifier(x, T(0), "relu");
}

// Limits every element to [min, max]; either bound may be absent.
template <class T>
Tensor<T> clamp(const Tensor<T>& x, std::optional<Scalar<T>> min, std::optional<Scalar<T>> max = std::nullopt) {
  const T lo = min ? *min : -std::numeric_limits<T>::infinity();
  const T hi = max ? *max : std::numeric_limits<T>::infinity();
  Tensor<T> out = detail::map<T>(x, [lo, hi](T v) { return v != v ? v : v < lo ? lo : v > hi ? hi : v; });
  return record<T>(out, "clamp", {&x}, [x, lo, hi](const Tensor<T>& g) {
    const Tensor<T> mask = detail::map<T>(x.detach(), [lo, hi](T v) { return v >= lo && v <= hi ? T(1) : T(0); });
    return std::vector<Tensor<T>>{g * mask};
  });
}

template <class T> Tensor<T> Tensor<T>::exp() const { return latent::exp(*this); }
template <class T> Tensor<T> Tensor<T>::log() const { return latent::log(*this); }
template <class T> Tensor<T> Tensor<T>::sqrt() const { return latent::sqrt(*this); }
template <class T> Tensor<T> Tensor<T>::abs() const { return latent::abs(*this); }
template <class T> Tensor<T> Tensor<T>::neg() const { return -*this; }
template <class T> Tensor<T> Tensor<T>::square() const { return latent::square(*this); }
template <class T> Tensor<T> Tensor<T>::pow(T exponent) const { return latent::pow(*this, exponent); }

}  // namespace latent
