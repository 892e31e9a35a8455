// Activation functions, as torch.nn.functional: relu, leaky_relu, elu, gelu (exact and
// tanh approximation), silu, mish, softplus, logsigmoid, hardtanh, sigmoid, tanh.
//
// Each one is elementwise, y = f(x), with the gradient g * f'(x). The forward runs the
// vectorised kernels of kernels/transcendental.hpp where there is one. The backward comes
// in two forms that compute the same values (record_activation):
//  - an ordinary backward (grad mode off inside it) makes g * f'(x) in one fused pass;
//  - a backward that must itself be differentiable (create_graph, as for WGAN-GP) builds
//    f'(x) from differentiable ops, so second and higher derivatives work.
// The derivatives, with s = sigmoid:
//   leaky_relu: 1 (x > 0) or slope           elu: 1 (x > 0) or alpha exp(x)
//   gelu:       Phi(x) + x phi(x), Phi the standard normal CDF, phi its density
//   gelu tanh:  y = x s(2u), u = sqrt(2/pi) (x + 0.044715 x^3):
//               s(2u) (1 + 2 x u' (1 - s(2u))), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
//   silu:       s(x) (1 + x (1 - s(x)))      softplus: s(beta x), or 1 past the threshold
//   mish:       y = x tanh(sp(x)), sp = softplus: tanh(sp) + x s(x) (1 - tanh(sp)^2)
//   logsigmoid: s(-x)                        hardtanh: 1 strictly inside (min, max), else 0
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "../../core/error.hpp"
#include "../../kernels/math_scalar.hpp"
#include "../../kernels/transcendental.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/elementwise.hpp"
#include "../../ops/grad_mode.hpp"
#include "../../ops/shape_ops.hpp"
#include "../../ops/special.hpp"
#include "../../ops/unary_ops.hpp"

namespace latent {
namespace detail {

// A mask as a tensor of 0s and 1s (a constant: no gradient flows through it).
template <class T, class Pred>
Tensor<T> activation_indicator(const Tensor<T>& x, Pred pred) {
  return map<T>(x.detach(), [pred](T v) { return pred(v) ? T(1) : T(0); });
}

// softplus(v) = max(v, 0) + log1p(exp(-|v|)): no overflow, no threshold.
template <class T>
T stable_softplus(T v) {
  return (v > T(0) ? v : T(0)) + std::log1p(std::exp(-std::fabs(v)));
}

}  // namespace detail

namespace nn::functional {

// The activations that are also tensor maths live in latent:: (ops/unary_ops.hpp).
using latent::relu;
using latent::sigmoid;
using latent::tanh;

// leaky_relu(x) = x for x > 0, negative_slope * x otherwise.
template <class T>
Tensor<T> leaky_relu(const Tensor<T>& x, Scalar<T> negative_slope = Scalar<T>(0.01)) {
  return latent::detail::rectifier(x, T(negative_slope), "leaky_relu");
}

// elu(x) = x for x > 0, alpha (exp(x) - 1) otherwise.
template <class T>
Tensor<T> elu(const Tensor<T>& x, Scalar<T> alpha = Scalar<T>(1)) {
  const T a = alpha;
  Tensor<T> out = latent::detail::map<T>(x, [a](T v) { return v > T(0) ? v : a * std::expm1(v); });
  return latent::detail::record_activation(
      out, "elu", x,
      [a](const Tensor<T>& v, const Tensor<T>& g) {
        return latent::detail::map2<T>(v, g, "elu",
                                       [a](T xv, T gv) { return xv > T(0) ? gv : gv * a * std::exp(xv); });
      },
      [a](const Tensor<T>& v) {
        // exp of min(x, 0): the branch not taken must stay finite, or 0 * inf = NaN.
        return where(gt(v.detach(), T(0)), T(1), exp(clamp(v, std::nullopt, T(0))) * a);
      });
}

// gelu(x) = x Phi(x), Phi the standard normal CDF; approximate = "tanh" gives
// x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 instead.
template <class T>
Tensor<T> gelu(const Tensor<T>& x, const std::string& approximate = "none") {
  using namespace kernels::math_constants;
  const bool use_tanh = approximate == "tanh";
  LATENT_CHECK(use_tanh || approximate == "none", "gelu: approximate must be \"none\" or \"tanh\", got \"",
               approximate, "\"");
  if (use_tanh) {
    return latent::detail::record_activation(
        latent::detail::activation_forward_kernel(
            x, [](const T* in, T* y, std::int64_t n) { kernels::gelu_tanh(in, y, n); }),
        "gelu", x,
        [](const Tensor<T>& v, const Tensor<T>& g) {
          return latent::detail::activation_backward_kernel(
              v, g, [](const T* in, const T* go, T* gi, std::int64_t n) {
                kernels::gelu_tanh_backward(in, go, gi, n);
              });
        },
        [](const Tensor<T>& v) {
          const Tensor<T> v2 = square(v);
          const Tensor<T> s = sigmoid(v * (v2 * T(gelu_tanh_kappa) + T(1)) * T(2 * sqrt_2_over_pi));
          const Tensor<T> du = (v2 * T(3 * gelu_tanh_kappa) + T(1)) * T(sqrt_2_over_pi);
          return s * (v * du * (T(1) - s) * T(2) + T(1));
        });
  }
  return latent::detail::record_activation(
      latent::detail::activation_forward_kernel(
          x, [](const T* in, T* y, std::int64_t n) { kernels::gelu(in, y, n); }),
      "gelu", x,
      [](const Tensor<T>& v, const Tensor<T>& g) {
        return latent::detail::activation_backward_kernel(
            v, g,
            [](const T* in, const T* go, T* gi, std::int64_t n) { kernels::gelu_backward(in, go, gi, n); });
      },
      [](const Tensor<T>& v) {
        const Tensor<T> cdf = (erf(v * T(sqrt_half)) + T(1)) * T(0.5);
        const Tensor<T> pdf = exp(square(v) * T(-0.5)) * T(inv_sqrt_2pi);
        return cdf + v * pdf;
      });
}

// silu(x) = x sigmoid(x) (also called swish).
template <class T>
Tensor<T> silu(const Tensor<T>& x) {
  return latent::detail::record_activation(
      latent::detail::activation_forward_kernel(
          x, [](const T* in, T* y, std::int64_t n) { kernels::silu(in, y, n); }),
      "silu", x,
      [](const Tensor<T>& v, const Tensor<T>& g) {
        return latent::detail::activation_backward_kernel(
            v, g,
            [](const T* in, const T* go, T* gi, std::int64_t n) { kernels::silu_backward(in, go, gi, n); });
      },
      [](const Tensor<T>& v) {
        const Tensor<T> s = sigmoid(v);
        return s * (v * (T(1) - s) + T(1));
      });
}

// softplus(x) = log(1 + exp(beta x)) / beta, or x itself where beta x > threshold.
template <class T>
Tensor<T> softplus(const Tensor<T>& x, Scalar<T> beta = Scalar<T>(1), Scalar<T> threshold = Scalar<T>(20)) {
  const T b = beta, th = threshold;
  return latent::detail::record_activation(
      latent::detail::activation_forward_kernel(
          x, [b, th](const T* in, T* y, std::int64_t n) { kernels::softplus(in, y, n, b, th); }),
      "softplus", x,
      [b, th](const Tensor<T>& v, const Tensor<T>& g) {
        return latent::detail::map2<T>(v, g, "softplus", [b, th](T xv, T gv) {
          const T z = xv * b;
          return z > th ? gv : gv / (T(1) + std::exp(-z));
        });
      },
      [b, th](const Tensor<T>& v) {
        const Tensor<bool> linear =
            latent::detail::map<bool>(v.detach(), [b, th](T xv) { return xv * b > th; });
        return where(linear, T(1), sigmoid(v * b));
      });
}

// logsigmoid(x) = log(sigmoid(x)) = -log(1 + exp(-x)) = -softplus(-x), computed as
// min(x, 0) - log1p(exp(-|x|)) so that it neither overflows nor cancels. In float this is
// the softplus kernel with beta = -1 (softplus(x, beta) = log(1 + exp(beta x)) / beta) and
// no threshold.
template <class T>
Tensor<T> logsigmoid(const Tensor<T>& x) {
  Tensor<T> out;
  if constexpr (std::is_same<T, float>::value) {
    out = latent::detail::activation_forward_kernel(x, [](const float* in, float* y, std::int64_t n) {
      kernels::softplus(in, y, n, -1.0f, std::numeric_limits<float>::infinity());
    });
  } else {
    out = latent::detail::map<T>(x, [](T v) { return -latent::detail::stable_softplus(-v); });
  }
  return latent::detail::record_activation(
      out, "logsigmoid", x,
      [](const Tensor<T>& v, const Tensor<T>& g) {
        return latent::detail::map2<T>(v, g, "logsigmoid",
                                       [](T xv, T gv) { return gv / (T(1) + std::exp(xv)); });
      },
      [](const Tensor<T>& v) { return sigmoid(-v); });
}

// mish(x) = x tanh(softplus(x)).
template <class T>
Tensor<T> mish(const Tensor<T>& x) {
  using latent::detail::stable_softplus;
  return latent::detail::record_activation(
      latent::detail::map<T>(x, [](T v) { return v * std::tanh(stable_softplus(v)); }), "mish", x,
      [](const Tensor<T>& v, const Tensor<T>& g) {
        return latent::detail::map2<T>(v, g, "mish", [](T xv, T gv) {
          const T t = std::tanh(stable_softplus(xv));
          const T s = T(1) / (T(1) + std::exp(-xv));
          return gv * (t + xv * s * (T(1) - t * t));
        });
      },
      [](const Tensor<T>& v) {
        const Tensor<T> t = latent::tanh(softplus(v));
        return t + v * sigmoid(v) * (T(1) - square(t));
      });
}

// hardtanh(x) = x clamped to [min_val, max_val]; the gradient is 1 strictly inside.
template <class T>
Tensor<T> hardtanh(const Tensor<T>& x, Scalar<T> min_val = Scalar<T>(-1), Scalar<T> max_val = Scalar<T>(1)) {
  const T lo = min_val, hi = max_val;
  LATENT_CHECK(!(hi < lo), "hardtanh: min_val ", lo, " is greater than max_val ", hi);
  Tensor<T> out = latent::detail::map<T>(x, [lo, hi](T v) {
    return v != v ? v : v < lo ? lo : v > hi ? hi : v;
  });
  return record<T>(out, "hardtanh", {&x}, [x, lo, hi](const Tensor<T>& g) {
    const Tensor<T> inside =
        latent::detail::activation_indicator(x, [lo, hi](T v) { return v > lo && v < hi; });
    return std::vector<Tensor<T>>{g * inside};
  });
}

}  // namespace nn::functional
}  // namespace latent
