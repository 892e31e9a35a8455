// Dropout, as torch.nn.functional.dropout / dropout2d.
//
// In training, each element is kept with probability 1 - p and scaled by 1 / (1 - p)
// (inverted dropout), so the expected value of the output equals the input and nothing
// needs rescaling at evaluation time, when the input passes through unchanged:
//   y = x * m / (1 - p),   m ~ Bernoulli(1 - p)
// The gradient is g * m / (1 - p). The mask is drawn from the Generator (fill_bernoulli),
// so a given seed and generator state give the same mask on any thread count.
// dropout2d draws one m per channel (x [N, C, H, W] or [C, H, W]) and zeroes whole
// feature maps.
#pragma once

#include <cstdint>

#include "../../core/random.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"

namespace latent {
namespace detail {

// m / (1 - p) with m ~ Bernoulli(1 - p), of the given shape (all zeros when p = 1).
template <class T>
Tensor<T> dropout_mask(const Shape& shape, double p, Generator& gen) {
  Tensor<T> mask(shape);
  gen.fill_bernoulli(mask.data(), mask.numel(), 1.0 - p);
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  T* m = mask.data();
  for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] *= scale;
  return mask;
}

inline void check_dropout_probability(double p, const char* op) {
  LATENT_CHECK(p >= 0.0 && p <= 1.0, op, ": dropout probability has to be between 0 and 1, got ", p);
}

}  // namespace detail

namespace nn::functional {

// Zeroes each element with probability p in training and scales the rest by 1 / (1 - p);
// returns x itself when not training or when p = 0.
template <class T>
Tensor<T> dropout(const Tensor<T>& x, double p, bool training, Generator& gen) {
  latent::detail::check_dropout_probability(p, "dropout");
  if (!training || p == 0.0) return x;
  return x * latent::detail::dropout_mask<T>(x.shape(), p, gen);
}

// Zeroes whole channels: x is [N, C, H, W] (or [C, H, W]) and each of its N * C (or C)
// feature maps is kept, scaled by 1 / (1 - p), or zeroed, with probability p.
template <class T>
Tensor<T> dropout2d(const Tensor<T>& x, double p, bool training, Generator& gen) {
  latent::detail::check_dropout_probability(p, "dropout2d");
  LATENT_CHECK(x.dim() == 3 || x.dim() == 4, "dropout2d: expects an input of shape [N, C, H, W] or [C, H, W], got ",
               x.shape());
  if (!training || p == 0.0) return x;
  Shape mask_shape = x.shape();
  mask_shape[x.dim() - 1] = 1;
  mask_shape[x.dim() - 2] = 1;
  return x * latent::detail::dropout_mask<T>(mask_shape, p, gen);
}

}  // namespace nn::functional
}  // namespace latent
