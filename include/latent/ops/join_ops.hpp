// Joining and splitting along a dim: cat, stack, split, chunk.
// The gradient of cat hands each input its own slice of the output gradient; split and
// chunk are narrow() views, so their gradients come from narrow's backward.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd.hpp"
#include "shape_ops.hpp"

namespace latent {

// Concatenates tensors along `dim`; all other sizes must match.
template <class T>
Tensor<T> cat(const std::vector<Tensor<T>>& tensors, std::int64_t dim = 0) {
  LATENT_CHECK(!tensors.empty(), "cat: needs at least one tensor");
  const Tensor<T>& first = tensors.front();
  LATENT_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated");
  const int d = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor<T>& t = tensors[i];
    LATENT_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " has shape ", t.shape(),
                 ", tensor 0 has shape ", first.shape(), " (ranks differ)");
    for (int k = 0; k < t.dim(); ++k)
      LATENT_CHECK(k == d || t.shape()[k] == first.shape()[k], "cat: tensor ", i, " has shape ",
                   t.shape(), ", tensor 0 has shape ", first.shape(), "; sizes must match except in dim ", d);
    shape[d] += t.shape()[d];
  }
  Tensor<T> out(shape);
  std::vector<std::int64_t> starts;
  std::int64_t start = 0;
  for (const Tensor<T>& t : tensors) {
    starts.push_back(start);
    Shape part = shape;
    part[d] = t.shape()[d];
    detail::copy_into(detail::strided_view(out, part, out.strides(), start * out.strides()[d]), t);
    start += t.shape()[d];
  }
  std::vector<const Tensor<T>*> inputs;
  std::vector<std::int64_t> lengths;
  for (const Tensor<T>& t : tensors) {
    inputs.push_back(&t);
    lengths.push_back(t.shape()[d]);
  }
  return record<T>(out, "cat", inputs, [d, starts, lengths](const Tensor<T>& g) {
    std::vector<Tensor<T>> grads;
    for (std::size_t i = 0; i < starts.size(); ++i) grads.push_back(g.narrow(d, starts[i], lengths[i]));
    return grads;
  });
}

// Stacks equally shaped tensors along a new dim.
template <class T>
Tensor<T> stack(const std::vector<Tensor<T>>& tensors, std::int64_t dim = 0) {
  LATENT_CHECK(!tensors.empty(), "stack: needs at least one tensor");
  const int d = wrap_dim(dim, tensors.front().dim() + 1, "stack");
  std::vector<Tensor<T>> parts;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    LATENT_CHECK(tensors[i].shape() == tensors.front().shape(), "stack: tensor ", i, " has shape ",
                 tensors[i].shape(), ", tensor 0 has shape ", tensors.front().shape());
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

// Splits into pieces of `size` along dim (the last may be smaller).
template <class T>
std::vector<Tensor<T>> split(const Tensor<T>& t, std::int64_t size, std::int64_t dim = 0) {
  const int d = wrap_dim(dim, t.dim(), "split");
  LATENT_CHECK(size > 0, "split: split size must be positive, got ", size);
  std::vector<Tensor<T>> parts;
  for (std::int64_t s = 0; s < t.shape()[d] || (s == 0 && t.shape()[d] == 0); s += size) {
    parts.push_back(t.narrow(d, s, std::min(size, t.shape()[d] - s)));
    if (t.shape()[d] == 0) break;
  }
  return parts;
}

// Splits into pieces of the given sizes along dim; they must add up to its size.
template <class T>
std::vector<Tensor<T>> split(const Tensor<T>& t, const std::vector<std::int64_t>& sizes,
                             std::int64_t dim = 0) {
  const int d = wrap_dim(dim, t.dim(), "split");
  std::int64_t total = 0;
  for (std::int64_t s : sizes) {
    LATENT_CHECK(s >= 0, "split: negative size ", s);
    total += s;
  }
  LATENT_CHECK(total == t.shape()[d], "split: sizes add up to ", total, " but dim ", d, " has size ",
               t.shape()[d]);
  std::vector<Tensor<T>> parts;
  std::int64_t start = 0;
  for (std::int64_t s : sizes) {
    parts.push_back(t.narrow(d, start, s));
    start += s;
  }
  return parts;
}

// Splits into `chunks` nearly equal pieces (as torch.chunk: pieces of ceil(n / chunks)).
template <class T>
std::vector<Tensor<T>> chunk(const Tensor<T>& t, std::int64_t chunks, std::int64_t dim = 0) {
  LATENT_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  const int d = wrap_dim(dim, t.dim(), "chunk");
  const std::int64_t size = std::max<std::int64_t>(1, (t.shape()[d] + chunks - 1) / chunks);
  return split(t, size, d);
}

}  // namespace latent
