// Latent-space tools for VAEs and GANs.
//   reparameterize: z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) — a sample of
//                   N(mu, exp(logvar)) through which gradients reach mu and logvar
//   lerp:  (1 - t) a + t b
//   slerp: sin((1 - t) w) / sin(w) a + sin(t w) / sin(w) b, w the angle between a and b
//          (falls back to lerp when a and b are nearly parallel); follows the sphere on
//          which Gaussian latents concentrate instead of cutting through its interior
//   attribute_vector: mean code of one group minus the mean code of another; adding it
//          to a code moves that code towards the first group
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "../ops/binary_ops.hpp"
#include "../ops/join_ops.hpp"
#include "../ops/reduce_ops.hpp"
#include "../ops/unary_ops.hpp"
#include "../tensor/creation.hpp"

namespace latent::sample {

template <class T>
Tensor<T> reparameterize(const Tensor<T>& mu, const Tensor<T>& logvar, Generator& gen) {
  LATENT_CHECK(mu.shape() == logvar.shape(), "reparameterize: mu ", mu.shape(), " and logvar ", logvar.shape(),
               " differ in shape");
  return mu + exp(logvar * T(0.5)) * randn<T>(mu.shape(), gen);
}

template <class T>
Tensor<T> lerp(const Tensor<T>& a, const Tensor<T>& b, double t) {
  return a * T(1 - t) + b * T(t);
}

// Spherical interpolation of two codes (flattened to vectors for the angle).
template <class T>
Tensor<T> slerp(const Tensor<T>& a, const Tensor<T>& b, double t) {
  LATENT_CHECK(a.shape() == b.shape(), "slerp: shapes ", a.shape(), " and ", b.shape(), " differ");
  const double na = std::sqrt(double((a * a).sum().item())), nb = std::sqrt(double((b * b).sum().item()));
  LATENT_CHECK(na > 0 && nb > 0, "slerp: cannot interpolate a zero vector");
  const double cosine = std::max(-1.0, std::min(1.0, double((a * b).sum().item()) / (na * nb)));
  const double omega = std::acos(cosine);
  if (std::sin(omega) < 1e-6) return lerp(a, b, t);
  const double s = std::sin(omega);
  return a * T(std::sin((1 - t) * omega) / s) + b * T(std::sin(t * omega) / s);
}

// `steps` codes from a to b (both ends included), stacked along a new first dim.
template <class T>
Tensor<T> interpolate(const Tensor<T>& a, const Tensor<T>& b, std::int64_t steps, bool spherical = false) {
  LATENT_CHECK(steps >= 2, "interpolate: needs at least 2 steps, got ", steps);
  std::vector<Tensor<T>> codes;
  for (std::int64_t i = 0; i < steps; ++i) {
    const double t = double(i) / double(steps - 1);
    codes.push_back(spherical ? slerp(a, b, t) : lerp(a, b, t));
  }
  return stack(codes, 0);
}

// Mean of `codes` rows whose label is `from` minus the mean of those labelled `to`.
template <class T>
Tensor<T> attribute_vector(const Tensor<T>& codes, const Tensor<std::int64_t>& labels, std::int64_t from,
                           std::int64_t to) {
  LATENT_CHECK(codes.dim() == 2 && labels.dim() == 1 && labels.shape()[0] == codes.shape()[0],
               "attribute_vector: expects codes [n, d] and labels [n], got ", codes.shape(), " and ", labels.shape());
  Tensor<T> sum_from = zeros<T>({codes.shape()[1]}), sum_to = zeros<T>({codes.shape()[1]});
  std::int64_t n_from = 0, n_to = 0;
  for (std::int64_t i = 0; i < labels.shape()[0]; ++i) {
    const std::int64_t l = labels(i);
    if (l == from) {
      sum_from = sum_from + codes.select(0, i);
      ++n_from;
    } else if (l == to) {
      sum_to = sum_to + codes.select(0, i);
      ++n_to;
    }
  }
  LATENT_CHECK(n_from > 0 && n_to > 0, "attribute_vector: no codes with label ", n_from == 0 ? from : to);
  return sum_from / T(n_from) - sum_to / T(n_to);
}

}  // namespace latent::sample
