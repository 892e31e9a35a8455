// Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention:
//
//   attention(Q, K, V) = softmax(Q K^T * scale + mask) V,   scale = 1 / sqrt(E) by default
//
// for queries Q [..., L, E], keys K [..., S, E] and values V [..., S, Ev] (leading dims
// broadcast), giving [..., L, Ev]. Row i of the L x S score matrix says how much query i
// attends to each key. The mask is either additive (a float tensor broadcastable to
// [..., L, S], -inf forbids a pair) or boolean (true = the pair takes part, false = -inf);
// is_causal forbids key j for query i when j > i (the top-left triangle, also when L != S).
// A query whose every key is forbidden gets a row of NaN, as in PyTorch. With dropout_p > 0
// the attention weights go through dropout (drawn from the given Generator).
//
// It is built from differentiable ops (matmul, softmax, masked_fill, dropout), so first
// and second derivatives come from theirs, for the queries, keys, values and an additive
// mask alike.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "../../core/random.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/indexing.hpp"
#include "../../ops/matmul.hpp"
#include "../../ops/shape_ops.hpp"
#include "dropout.hpp"
#include "softmax.hpp"

namespace latent {
namespace detail {

template <class T>
Tensor<T> attention(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                    const Tensor<T>& additive_mask, const Tensor<bool>& keep_mask, double dropout_p,
                    bool is_causal, std::optional<double> scale, Generator* gen) {
  const char* op = "scaled_dot_product_attention";
  LATENT_CHECK(query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2, op,
               ": query, key and value need at least 2 dims, got ", query.shape(), ", ", key.shape(), " and ",
               value.shape());
  const std::int64_t e = query.size(-1), l = query.size(-2), s = key.size(-2);
  LATENT_CHECK(key.size(-1) == e, op, ": query of shape ", query.shape(), " and key of shape ", key.shape(),
               " differ in their last dim (the embedding size)");
  LATENT_CHECK(value.size(-2) == s, op, ": key of shape ", key.shape(), " and value of shape ", value.shape(),
               " differ in the number of keys (dim -2)");
  LATENT_CHECK(!(is_causal && (additive_mask.defined() || keep_mask.defined())), op,
               ": pass either attn_mask or is_causal, not both");
  LATENT_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, op, ": dropout_p must be in [0, 1], got ", dropout_p);
  LATENT_CHECK(dropout_p == 0.0 || gen != nullptr, op, ": dropout_p > 0 needs a Generator");

  const T factor = static_cast<T>(scale ? *scale : 1.0 / std::sqrt(static_cast<double>(e)));
  Tensor<T> scores = matmul(query, key.transpose(-2, -1)) * factor;
  const T minus_inf = -std::numeric_limits<T>::infinity();
  if (is_causal) scores = masked_fill(scores, triangle_mask(l, s, 1, false), minus_inf);
  if (keep_mask.defined()) scores = masked_fill(scores, logical_not(keep_mask), minus_inf);
  if (additive_mask.defined()) scores = scores + additive_mask;
  Tensor<T> weights = nn::functional::softmax(scores, -1);
  if (dropout_p > 0.0) weights = nn::functional::dropout(weights, dropout_p, true, *gen);
  return matmul(weights, value);
}

}  // namespace detail

namespace nn::functional {

// With an additive float mask (or none: Tensor<T>()). scale defaults to 1 / sqrt(E).
template <class T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                       const Tensor<T>& attn_mask = Tensor<T>(), double dropout_p = 0.0,
                                       bool is_causal = false, std::optional<double> scale = std::nullopt,
                                       Generator* gen = nullptr) {
  return latent::detail::attention(query, key, value, attn_mask, Tensor<bool>(), dropout_p, is_causal, scale, gen);
}

// With a boolean mask: true where query i may attend to key j.
template <class T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                       const Tensor<bool>& attn_mask, double dropout_p = 0.0, bool is_causal = false,
                                       std::optional<double> scale = std::nullopt, Generator* gen = nullptr) {
  return latent::detail::attention(query, key, value, Tensor<T>(), attn_mask, dropout_p, is_causal, scale, gen);
}

}  // namespace nn::functional
}  // namespace latent
