// Parameter initialisation, as torch.nn.init: every function fills a tensor in place
// (under no-grad) from a Generator and returns it.
//
// fan_in / fan_out of a weight [out, in, k...] are in * prod(k) and out * prod(k).
//   xavier_uniform_: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))
//   xavier_normal_:  N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))
//   kaiming_uniform_: U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
//   kaiming_normal_:  N(0, s^2), s = gain / sqrt(fan)
//   orthogonal_: the Q of a QR decomposition of a Gaussian matrix (signs fixed by R's
//                diagonal), scaled by gain.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../core/random.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/inplace.hpp"
#include "../tensor/creation.hpp"

namespace latent::nn::init {

// (fan_in, fan_out) of a weight of rank >= 2.
inline std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Shape& shape) {
  LATENT_CHECK(shape.size() >= 2, "init: fan in and fan out need a tensor of rank >= 2, got shape ",
               shape);
  std::int64_t receptive = 1;
  for (int i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

// The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain.
inline double calculate_gain(const std::string& nonlinearity, double param = 0.01) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0)
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4;
  fail("calculate_gain: unsupported nonlinearity '", nonlinearity, "'");
}

namespace detail {
// Writes fresh values into t (which may be a view) under no-grad.
template <class T, class Fill>
Tensor<T>& fill_with(Tensor<T>& t, Fill fill) {
  Tensor<T> fresh(t.shape());
  fill(fresh.data(), fresh.numel());
  NoGradGuard no_grad;
  t.copy_(fresh);
  return t;
}
inline std::int64_t fan(const Shape& shape, const std::string& mode) {
  const auto f = calculate_fan_in_and_fan_out(shape);
  LATENT_CHECK(mode == "fan_in" || mode == "fan_out", "init: mode must be 'fan_in' or 'fan_out', got '",
               mode, "'");
  return mode == "fan_in" ? f.first : f.second;
}
}  // namespace detail

template <class T>
Tensor<T>& uniform_(Tensor<T>& t, Generator& gen, double a = 0, double b = 1) {
  return detail::fill_with(t, [&](T* p, std::int64_t n) { gen.fill_uniform(p, n, static_cast<T>(a), static_cast<T>(b)); });
}
template <class T>
Tensor<T>& normal_(Tensor<T>& t, Generator& gen, double mean = 0, double stddev = 1) {
  return detail::fill_with(t, [&](T* p, std::int64_t n) { gen.fill_normal(p, n, static_cast<T>(mean), static_cast<T>(stddev)); });
}
template <class T>
Tensor<T>& constant_(Tensor<T>& t, double value) {
  NoGradGuard no_grad;
  t.fill_(static_cast<T>(value));
  return t;
}
template <class T>
Tensor<T>& zeros_(Tensor<T>& t) { return constant_(t, 0.0); }
template <class T>
Tensor<T>& ones_(Tensor<T>& t) { return constant_(t, 1.0); }

template <class T>
Tensor<T>& xavier_uniform_(Tensor<T>& t, Generator& gen, double gain = 1) {
  const auto f = calculate_fan_in_and_fan_out(t.shape());
  const double a = gain * std::sqrt(6.0 / double(f.first + f.second));
  return uniform_(t, gen, -a, a);
}
template <class T>
Tensor<T>& xavier_normal_(Tensor<T>& t, Generator& gen, double gain = 1) {
  const auto f = calculate_fan_in_and_fan_out(t.shape());
  return normal_(t, gen, 0.0, gain * std::sqrt(2.0 / double(f.first + f.second)));
}
template <class T>
Tensor<T>& kaiming_uniform_(Tensor<T>& t, Generator& gen, double a = 0, const std::string& mode = "fan_in",
                            const std::string& nonlinearity = "leaky_relu") {
  const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / double(detail::fan(t.shape(), mode)));
  return uniform_(t, gen, -bound, bound);
}
template <class T>
Tensor<T>& kaiming_normal_(Tensor<T>& t, Generator& gen, double a = 0, const std::string& mode = "fan_in",
                           const std::string& nonlinearity = "leaky_relu") {
  const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(double(detail::fan(t.shape(), mode)));
  return normal_(t, gen, 0.0, stddev);
}

// Q of the QR decomposition (modified Gram-Schmidt in double precision) of a Gaussian
// matrix of the tensor's shape flattened to [rows, cols]; rows <= cols uses the transpose.
template <class T>
Tensor<T>& orthogonal_(Tensor<T>& t, Generator& gen, double gain = 1) {
  LATENT_CHECK(t.dim() >= 2, "orthogonal_: needs a tensor of rank >= 2, got shape ", t.shape());
  const std::int64_t rows = t.shape()[0], cols = t.numel() / std::max<std::int64_t>(rows, 1);
  const bool transpose = rows < cols;
  const std::int64_t m = transpose ? cols : rows, n = transpose ? rows : cols;  // m >= n
  std::vector<double> a(static_cast<std::size_t>(m * n));
  gen.fill_normal(a.data(), m * n, 0.0, 1.0);
  // Columns of a (m x n, column j at a[j*m ...]) made orthonormal one after another.
  for (std::int64_t j = 0; j < n; ++j) {
    double* q = &a[static_cast<std::size_t>(j * m)];
    for (std::int64_t k = 0; k < j; ++k) {
      const double* p = &a[static_cast<std::size_t>(k * m)];
      double dot = 0;
      for (std::int64_t i = 0; i < m; ++i) dot += p[i] * q[i];
      for (std::int64_t i = 0; i < m; ++i) q[i] -= dot * p[i];
    }
    double norm = 0;
    for (std::int64_t i = 0; i < m; ++i) norm += q[i] * q[i];
    norm = std::sqrt(norm);
    LATENT_CHECK(norm > 0, "orthogonal_: degenerate random matrix");
    for (std::int64_t i = 0; i < m; ++i) q[i] /= norm;
  }
  return detail::fill_with(t, [&](T* out, std::int64_t) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) {
        // Element (r, c) of Q (m x n) or of Q^T when transposed.
        const double v = transpose ? a[static_cast<std::size_t>(r * m + c)] : a[static_cast<std::size_t>(c * m + r)];
        out[r * cols + c] = static_cast<T>(gain * v);
      }
  });
}

}  // namespace latent::nn::init
