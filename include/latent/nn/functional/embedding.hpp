// Embedding lookup and one-hot encoding, as torch.nn.functional.embedding / one_hot.
//
// embedding(indices, weight) replaces every index i by the row weight[i], so the result
// has shape indices.shape + [embedding_dim]. Its gradient adds each output row's gradient
// into the row it was read from (rows read several times accumulate, in order):
//   dweight = index_add(zeros, 0, indices, g)
// which is differentiable (its own gradient reads rows again), so second derivatives work.
// The row at padding_idx, when given, receives no gradient, as in PyTorch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/indexing.hpp"
#include "../../ops/shape_ops.hpp"

namespace latent {
namespace nn::functional {

// Rows of weight [num_embeddings, embedding_dim] picked by indices (any shape). Indices
// outside [0, num_embeddings) are an Error. padding_idx (may be negative, counted from the
// end) names a row that gets no gradient.
template <class T>
Tensor<T> embedding(const Tensor<std::int64_t>& indices, const Tensor<T>& weight,
                    std::optional<std::int64_t> padding_idx = std::nullopt) {
  LATENT_CHECK(weight.dim() == 2, "embedding: weight must be a matrix [num_embeddings, embedding_dim], got shape ",
               weight.shape());
  const std::int64_t count = weight.shape()[0], width = weight.shape()[1];
  const Tensor<std::int64_t> flat = latent::detail::contiguous_index(indices).reshape(Shape{-1});
  const std::int64_t* ip = flat.data();
  for (std::int64_t i = 0; i < flat.numel(); ++i)
    LATENT_CHECK(ip[i] >= 0 && ip[i] < count, "embedding: index ", ip[i], " is out of range for ", count,
                 " embeddings");
  std::int64_t padding = -1;
  if (padding_idx) {
    LATENT_CHECK(*padding_idx >= -count && *padding_idx < count, "embedding: padding_idx ", *padding_idx,
                 " is out of range for ", count, " embeddings");
    padding = *padding_idx < 0 ? *padding_idx + count : *padding_idx;
  }
  const Shape rows{flat.numel(), width};
  Shape out_shape = indices.shape();
  out_shape.push_back(width);
  Tensor<T> out = latent::detail::gather_values(weight, 0, latent::detail::index_along(flat, rows, 0)).reshape(out_shape);
  return record<T>(out, "embedding", {&weight}, [flat, rows, padding, ws = weight.shape()](const Tensor<T>& g) {
    Tensor<T> g2 = g.reshape(rows);
    if (padding >= 0) {
      // Zero the gradient of every lookup of the padding row.
      const Tensor<T> keep = latent::detail::map<T>(flat, [padding](std::int64_t i) { return i == padding ? T(0) : T(1); });
      g2 = g2 * keep.reshape(Shape{rows[0], 1});
    }
    return std::vector<Tensor<T>>{index_add(zeros<T>(ws), 0, flat, g2)};
  });
}

// indices (any shape, values in [0, num_classes)) as one-hot rows: the result has shape
// indices.shape + [num_classes], with a 1 at each index. num_classes = -1 means
// max(indices) + 1. Integer-valued, as in PyTorch; use .to<float>() for a float tensor.
inline Tensor<std::int64_t> one_hot(const Tensor<std::int64_t>& indices, std::int64_t num_classes = -1) {
  const Tensor<std::int64_t> flat = latent::detail::contiguous_index(indices);
  const std::int64_t* ip = flat.data();
  const std::int64_t n = flat.numel();
  std::int64_t largest = -1;
  for (std::int64_t i = 0; i < n; ++i) {
    LATENT_CHECK(ip[i] >= 0, "one_hot: class values must be non-negative, got ", ip[i]);
    largest = std::max(largest, ip[i]);
  }
  if (num_classes == -1) {
    LATENT_CHECK(n > 0, "one_hot: cannot infer num_classes from an empty tensor");
    num_classes = largest + 1;
  }
  LATENT_CHECK(num_classes >= 0, "one_hot: num_classes must be positive or -1, got ", num_classes);
  LATENT_CHECK(largest < num_classes, "one_hot: class value ", largest, " is not smaller than num_classes ",
               num_classes);
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor<std::int64_t> out = zeros<std::int64_t>(shape);
  for (std::int64_t i = 0; i < n; ++i) out.data()[i * num_classes + ip[i]] = 1;
  return out;
}

}  // namespace nn::functional
}  // namespace latent
