// Indexing: gather / scatter_add, index_select / index_add, take_along_dim,
// repeat_interleave, masked_fill, tril / triu. (cumsum lives in ops/cumsum.hpp and
// sort / topk / multinomial in ops/sorting.hpp; both are included at the end.)
//
// Index tensors are Tensor<std::int64_t>; every index is checked before use, and an index
// outside [0, size) is an Error naming the op, the index and the size (negative indices are
// refused, as PyTorch refuses them here).
//
// Gradients come in transposed pairs, each written with the other so that second
// derivatives work:
//   gather(x, d, idx)           -> dx   = scatter_add(zeros, d, idx, g)
//   scatter_add(s, d, idx, src) -> ds   = g,  dsrc = gather(g, d, idx)
//   index_select(x, d, idx)     -> dx   = index_add(zeros, d, idx, g)
//   index_add(s, d, idx, src)   -> ds   = g,  dsrc = alpha * index_select(g, d, idx)
// masked_fill, tril and triu keep or replace elements, so their gradient is g with the
// replaced elements set to zero.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "../kernels/strided_loop.hpp"
#include "../tensor/creation.hpp"
#include "autograd.hpp"
#include "binary_ops.hpp"
#include "reduce_ops.hpp"
#include "shape_ops.hpp"

namespace latent {

namespace detail {

// idx, made contiguous (a copy only when it is not already).
inline Tensor<std::int64_t> contiguous_index(const Tensor<std::int64_t>& idx) {
  return idx.is_contiguous() ? idx : contiguous_copy(idx);
}

// Fails on the first index outside [0, size), naming the op and the dim.
inline void check_index_range(const Tensor<std::int64_t>& index, std::int64_t size, int dim,
                              const char* op) {
  const Tensor<std::int64_t> c = contiguous_index(index);
  const std::int64_t* p = c.data();
  for (std::int64_t i = 0; i < c.numel(); ++i)
    LATENT_CHECK(p[i] >= 0 && p[i] < size, op, ": index ", p[i], " is out of range for dim ",
                 dim, " of size ", size);
}

// out[p] = x[p with p[dim] replaced by index[p]], for every position p of index's shape.
// `index` may be a broadcast view (stride 0) and x any strided view; the caller has
// checked the indices.
template <class T>
Tensor<T> gather_values(const Tensor<T>& x, int dim, const Tensor<std::int64_t>& index) {
  Tensor<T> out(index.shape());
  Strides x_strides = x.strides();
  const std::int64_t step = x_strides[dim];
  x_strides[dim] = 0;  // the index supplies the position along dim
  kernels::StridedLoop<3> loop(index.shape(), {out.strides(), index.strides(), x_strides});
  T* o = out.data();
  const std::int64_t* ip = index.data();
  const T* xp = x.data();
  loop.run([&](const std::int64_t* off, std::int64_t n, const std::int64_t* st) {
    T* orow = o + off[0];
    const std::int64_t* irow = ip + off[1];
    const T* xrow = xp + off[2];
    if (st[1] == 0) {  // one index for the whole row (index_select): a strided copy
      const T* src = xrow + irow[0] * step;
      for (std::int64_t i = 0; i < n; ++i) orow[i * st[0]] = src[i * st[2]];
    } else {
      for (std::int64_t i = 0; i < n; ++i) orow[i * st[0]] = xrow[i * st[2] + irow[i * st[1]] * step];
    }
  });
  return out;
}

// out[p with p[dim] replaced by index[p]] += src[p], for every position p of index's shape;
// out is contiguous and owned by the caller. The loop runs with `dim` innermost and each
// row whole, so a destination is only ever updated by one thread, in index order: the
// sums are the same for any thread count.
template <class T>
void scatter_add_values(const Tensor<T>& out, int dim, const Tensor<std::int64_t>& index,
                        const Tensor<T>& src) {
  Shape shape;
  Strides so, si, ss;
  for (int d = 0; d < index.dim(); ++d) {
    if (d == dim) continue;
    shape.push_back(index.shape()[d]);
    so.push_back(out.strides()[d]);
    si.push_back(index.strides()[d]);
    ss.push_back(src.strides()[d]);
  }
  shape.push_back(index.shape()[dim]);
  so.push_back(0);  // the index supplies the position along dim
  si.push_back(index.strides()[dim]);
  ss.push_back(src.strides()[dim]);
  const std::int64_t step = out.strides()[dim];
  kernels::StridedLoop<3> loop(shape, {so, si, ss});
  T* o = out.data();
  const std::int64_t* ip = index.data();
  const T* sp = src.data();
  loop.run(
      [&](const std::int64_t* off, std::int64_t n, const std::int64_t* st) {
        T* orow = o + off[0];
        const std::int64_t* irow = ip + off[1];
        const T* srow = sp + off[2];
        for (std::int64_t i = 0; i < n; ++i) orow[i * st[0] + irow[i * st[1]] * step] += srow[i * st[2]];
      },
      std::int64_t(1) << 62);  // never split a row
}

// A view of a 0-d or 1-d index that reads index[p[dim]] at every position p of `shape`.
inline Tensor<std::int64_t> index_along(const Tensor<std::int64_t>& index, const Shape& shape, int dim) {
  Strides strides = Dims::filled(shape.size(), 0);
  strides[dim] = index.dim() == 0 ? 0 : index.strides()[0];
  return strided_view(index, shape, strides, index.offset());
}

// t zero-padded at the end of each dim up to `shape` (differentiable: slice's backward).
template <class T>
Tensor<T> pad_end(Tensor<T> t, const Shape& shape) {
  for (int k = 0; k < shape.size(); ++k) {
    if (t.shape()[k] == shape[k]) continue;
    Shape grown = t.shape();
    grown[k] = shape[k];
    t = slice_backward(t, grown, k, 0, 1);
  }
  return t;
}

inline void check_index_vector(const Tensor<std::int64_t>& index, const char* op) {
  LATENT_CHECK(index.dim() <= 1, op, ": index must be a 0-d or 1-d tensor, got shape ", index.shape());
}

}  // namespace detail

template <class T>
Tensor<T> scatter_add(const Tensor<T>& self, std::int64_t dim, const Tensor<std::int64_t>& index,
                      const Tensor<T>& src);

// out[i][j][k] = x[index[i][j][k]][j][k] (for dim 0; likewise for other dims). index has
// x's rank and, outside dim, sizes no larger than x's; the result has index's shape.
template <class T>
Tensor<T> gather(const Tensor<T>& x, std::int64_t dim, const Tensor<std::int64_t>& index) {
  const int d = wrap_dim(dim, x.dim(), "gather");
  LATENT_CHECK(index.dim() == x.dim() || (x.dim() == 0 && index.dim() <= 1), "gather: index of shape ",
               index.shape(), " must have the same rank as the input of shape ", x.shape());
  if (x.dim() == 0) return gather(x.reshape(Shape{1}), 0, index.reshape(Shape{-1})).reshape(index.shape());
  for (int k = 0; k < x.dim(); ++k)
    LATENT_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index of shape ", index.shape(),
                 " is larger than the input of shape ", x.shape(), " at dim ", k);
  detail::check_index_range(index, x.shape()[d], d, "gather");
  Tensor<T> out = detail::gather_values(x, d, index);
  return record<T>(out, "gather", {&x}, [d, index, in = x.shape()](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{scatter_add(zeros<T>(in), d, index, g)};
  });
}

// A copy of self with src added at the positions index names along dim:
// out[index[i][j]][j] += src[i][j] (for dim 0). index has self's rank; its sizes are at
// most src's everywhere and at most self's outside dim. Repeated indices accumulate.
template <class T>
Tensor<T> scatter_add(const Tensor<T>& self, std::int64_t dim, const Tensor<std::int64_t>& index,
                      const Tensor<T>& src) {
  const int d = wrap_dim(dim, self.dim(), "scatter_add");
  LATENT_CHECK(index.dim() == self.dim() && src.dim() == self.dim(), "scatter_add: self ",
               self.shape(), ", index ", index.shape(), " and src ", src.shape(),
               " must have the same rank");
  for (int k = 0; k < self.dim(); ++k) {
    LATENT_CHECK(index.shape()[k] <= src.shape()[k], "scatter_add: index of shape ", index.shape(),
                 " is larger than src of shape ", src.shape(), " at dim ", k);
    LATENT_CHECK(k == d || index.shape()[k] <= self.shape()[k], "scatter_add: index of shape ",
                 index.shape(), " is larger than self of shape ", self.shape(), " at dim ", k);
  }
  detail::check_index_range(index, self.dim() == 0 ? 1 : self.shape()[d], d, "scatter_add");
  Tensor<T> out = detail::contiguous_copy(self);
  if (self.dim() == 0) {
    if (index.numel() == 1) *out.data() += *src.data();
  } else {
    detail::scatter_add_values(out, d, index, src);
  }
  const bool gs = self.requires_grad(), gsrc = src.requires_grad();
  return record<T>(out, "scatter_add", {&self, &src}, [d, index, gs, gsrc, ssrc = src.shape()](const Tensor<T>& g) {
    // src elements beyond index's extent were not used: their gradient is zero.
    return std::vector<Tensor<T>>{gs ? g : Tensor<T>(),
                                  gsrc ? detail::pad_end(gather(g, d, index), ssrc) : Tensor<T>()};
  });
}

template <class T>
Tensor<T> index_add(const Tensor<T>& self, std::int64_t dim, const Tensor<std::int64_t>& index,
                    const Tensor<T>& source, Scalar<T> alpha = Scalar<T>(1));

// The slices of x at the positions `index` (0-d or 1-d) names along dim, in that order:
// the result has x's shape with size index.numel() along dim.
template <class T>
Tensor<T> index_select(const Tensor<T>& x, std::int64_t dim, const Tensor<std::int64_t>& index) {
  detail::check_index_vector(index, "index_select");
  LATENT_CHECK(x.dim() > 0, "index_select: cannot select from a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "index_select");
  detail::check_index_range(index, x.shape()[d], d, "index_select");
  Shape shape = x.shape();
  shape[d] = index.numel();
  Tensor<T> out = detail::gather_values(x, d, detail::index_along(index, shape, d));
  return record<T>(out, "index_select", {&x}, [d, index, in = x.shape()](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{index_add(zeros<T>(in), d, index, g)};
  });
}

// A copy of self with alpha * source's slices added at the positions `index` names along
// dim: out.select(dim, index[i]) += alpha * source.select(dim, i). Repeated indices
// accumulate, in index order.
template <class T>
Tensor<T> index_add(const Tensor<T>& self, std::int64_t dim, const Tensor<std::int64_t>& index,
                    const Tensor<T>& source, Scalar<T> alpha) {
  detail::check_index_vector(index, "index_add");
  LATENT_CHECK(self.dim() > 0, "index_add: cannot add into a 0-d tensor");
  const int d = wrap_dim(dim, self.dim(), "index_add");
  Shape expected = self.shape();
  expected[d] = index.numel();
  LATENT_CHECK(source.shape() == expected, "index_add: source of shape ", source.shape(),
               " does not match self of shape ", self.shape(), " with ", index.numel(),
               " indices along dim ", d, " (expected ", expected, ")");
  detail::check_index_range(index, self.shape()[d], d, "index_add");
  Tensor<T> out = detail::contiguous_copy(self);
  {
    // self as [outer, size, inner], source as [outer, n, inner]; work items are (outer
    // position, block of inner columns), each adding the n source rows in index order.
    const Tensor<std::int64_t> idx = detail::contiguous_index(index);
    const Tensor<T> src = source.is_contiguous() ? source : detail::contiguous_copy(source);
    std::int64_t outer = 1, inner = 1;
    for (int k = 0; k < d; ++k) outer *= self.shape()[k];
    for (int k = d + 1; k < self.dim(); ++k) inner *= self.shape()[k];
    const std::int64_t size = self.shape()[d], n = index.numel();
    const std::int64_t block = 1024, blocks = (inner + block - 1) / block;
    const std::int64_t work = std::max<std::int64_t>(1, n * std::min(inner, block));
    const std::int64_t* ip = idx.data();
    const T* sp = src.data();
    T* op = out.data();
    const T a = alpha;
    parallel_for(0, outer * blocks, std::max<std::int64_t>(1, 32768 / work), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t item = b; item < e; ++item) {
        const std::int64_t o = item / blocks, j0 = (item % blocks) * block;
        const std::int64_t j1 = std::min(inner, j0 + block);
        for (std::int64_t i = 0; i < n; ++i) {
          T* dst = op + (o * size + ip[i]) * inner;
          const T* s = sp + (o * n + i) * inner;
          for (std::int64_t j = j0; j < j1; ++j) dst[j] += a * s[j];
        }
      }
    });
  }
  const bool gs = self.requires_grad(), gsrc = source.requires_grad();
  const T a = alpha;
  return record<T>(out, "index_add", {&self, &source}, [d, index, gs, gsrc, a](const Tensor<T>& g) {
    Tensor<T> dsrc;
    if (gsrc) dsrc = a == T(1) ? index_select(g, d, index) : index_select(g, d, index) * a;
    return std::vector<Tensor<T>>{gs ? g : Tensor<T>(), dsrc};
  });
}

// gather with broadcasting, as torch.take_along_dim: x and indices (of equal rank) are
// broadcast together in every dim but `dim`, then out = gather(x, dim, indices). With
// the indices of a sort or topk it picks the matching values.
template <class T>
Tensor<T> take_along_dim(const Tensor<T>& x, const Tensor<std::int64_t>& indices, std::int64_t dim) {
  LATENT_CHECK(x.dim() == indices.dim(), "take_along_dim: input of shape ", x.shape(),
               " and indices of shape ", indices.shape(), " must have the same rank");
  LATENT_CHECK(x.dim() > 0, "take_along_dim: the input must have at least one dim");
  const int d = wrap_dim(dim, x.dim(), "take_along_dim");
  Shape xs = x.shape(), is = indices.shape();
  xs[d] = 1;
  is[d] = 1;
  const Shape common = broadcast_shapes(xs, is, "take_along_dim");
  Shape bx = common, bi = common;
  bx[d] = x.shape()[d];
  bi[d] = indices.shape()[d];
  const Tensor<std::int64_t> idx =
      detail::strided_view(indices, bi, detail::broadcast_strides(indices, bi), indices.offset());
  return gather(x.expand(bx), d, idx);
}

// Each element repeated `repeats` times along dim (x flattened first when dim is absent):
// repeat_interleave([1, 2], 2) = [1, 1, 2, 2]. An index_select, so differentiable.
template <class T>
Tensor<T> repeat_interleave(const Tensor<T>& x, std::int64_t repeats,
                            std::optional<std::int64_t> dim = std::nullopt) {
  LATENT_CHECK(repeats >= 0, "repeat_interleave: repeats must be non-negative, got ", repeats);
  if (!dim) return repeat_interleave(x.reshape(Shape{-1}), repeats, std::int64_t(0));
  const int d = wrap_dim(*dim, x.dim(), "repeat_interleave");
  if (x.dim() == 0) return repeat_interleave(x.reshape(Shape{1}), repeats, std::int64_t(0));
  const std::int64_t n = x.shape()[d];
  Tensor<std::int64_t> index(Shape{n * repeats});
  for (std::int64_t i = 0; i < n * repeats; ++i) index.data()[i] = i / repeats;
  return index_select(x, d, index);
}

// x with `value` wherever mask (broadcast to x's shape) is true.
template <class T>
Tensor<T> masked_fill(const Tensor<T>& x, const Tensor<bool>& mask, Scalar<T> value) {
  const Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  LATENT_CHECK(shape == x.shape(), "masked_fill: mask of shape ", mask.shape(),
               " cannot be broadcast to the input's shape ", x.shape());
  return where(mask, value, x);
}

namespace detail {
// [rows, cols] mask of the elements a triangle keeps: column - row <= diagonal (lower) or
// >= diagonal (upper).
inline Tensor<bool> triangle_mask(std::int64_t rows, std::int64_t cols, std::int64_t diagonal, bool lower) {
  Tensor<bool> mask(Shape{rows, cols});
  bool* m = mask.data();
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) m[i * cols + j] = lower ? j - i <= diagonal : j - i >= diagonal;
  return mask;
}

// The lower or upper triangle of the last two dims, the rest zero. Self-adjoint: its
// gradient is the same triangle of g.
template <class T>
Tensor<T> triangle(const Tensor<T>& x, std::int64_t diagonal, bool lower) {
  const char* op = lower ? "tril" : "triu";
  LATENT_CHECK(x.dim() >= 2, op, ": expects a tensor of rank >= 2 (a matrix or a batch of them), got shape ",
               x.shape());
  const Tensor<bool> keep = triangle_mask(x.shape()[x.dim() - 2], x.shape()[x.dim() - 1], diagonal, lower);
  Tensor<T> out = map2<T>(keep, x, op, [](bool k, T v) { return k ? v : T(0); });
  return record<T>(out, op, {&x}, [diagonal, lower](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{triangle(g, diagonal, lower)};
  });
}
}  // namespace detail

// Lower triangle of the last two dims: keeps x[..., i, j] where j - i <= diagonal.
template <class T>
Tensor<T> tril(const Tensor<T>& x, std::int64_t diagonal = 0) {
  return detail::triangle(x, diagonal, true);
}

// Upper triangle of the last two dims: keeps x[..., i, j] where j - i >= diagonal.
template <class T>
Tensor<T> triu(const Tensor<T>& x, std::int64_t diagonal = 0) {
  return detail::triangle(x, diagonal, false);
}

}  // namespace latent

#include "cumsum.hpp"
#include "sorting.hpp"
