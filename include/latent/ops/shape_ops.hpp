// Views and copies: reshape, transpose, permute, slice, expand, squeeze, ...
//
// A view shares its input's storage and only changes shape, strides and offset, so it
// costs nothing. Each is differentiable: the gradient of a view is the output gradient
// put back in the input's shape (reshaped, transposed back, scattered into zeros for a
// slice, summed over expanded dims).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../kernels/strided_loop.hpp"
#include "../tensor/creation.hpp"
#include "autograd.hpp"

namespace latent {

template <class T>
Tensor<T> sum_to(const Tensor<T>& t, const Shape& shape);  // ops/reduce_ops.hpp

namespace detail {

// A view of t's storage with a new shape, strides and offset (no autograd).
template <class T>
Tensor<T> strided_view(const Tensor<T>& t, const Shape& shape, const Strides& strides,
                       std::int64_t offset) {
  return Tensor<T>(t.storage(), shape, strides, offset);
}

// dst = src elementwise, src broadcast to dst's shape, converting the element type.
template <class U, class T>
void copy_into(const Tensor<U>& dst, const Tensor<T>& src) {
  const Shape& shape = dst.shape();
  Strides src_strides = Dims::filled(shape.size(), 0);
  const int shift = shape.size() - src.dim();
  for (int i = 0; i < src.dim(); ++i)
    src_strides[i + shift] = src.shape()[i] == 1 ? 0 : src.strides()[i];
  kernels::map_unary(shape, dst.data(), dst.strides(), src.data(), src_strides,
                     [](T x) { return static_cast<U>(x); });
}

// A contiguous copy of t's values (no autograd).
template <class T>
Tensor<T> contiguous_copy(const Tensor<T>& t) {
  Tensor<T> out(t.shape());
  copy_into(out, t);
  return out;
}

// Resolves one -1 in a requested shape from the element count.
inline Shape infer_shape(const Shape& requested, std::int64_t numel, const char* op,
                         const Shape& from) {
  Shape shape = requested;
  int infer = -1;
  std::int64_t known = 1;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      LATENT_CHECK(infer < 0, op, ": only one dimension can be -1, got ", requested);
      infer = i;
    } else {
      LATENT_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in shape ", requested);
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    LATENT_CHECK(known != 0 && numel % known == 0, op, ": shape ", requested,
                 " is invalid for input of shape ", from, " (", numel, " elements)");
    shape[infer] = numel / known;
  }
  LATENT_CHECK(shape.numel() == numel, op, ": shape ", requested, " is invalid for input of shape ",
               from, " (", numel, " elements)");
  return shape;
}

// Strides that let `shape` view memory laid out as (old_shape, old_strides), or false
// when the reshape needs a copy. Dims of the old shape are grouped into runs that are
// contiguous with each other; each run must map onto whole dims of the new shape.
inline bool view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& shape,
                         Strides& strides) {
  strides = Dims::filled(shape.size(), 1);
  if (old_shape.numel() == 0 || shape.numel() == 0) {
    strides = contiguous_strides(shape);
    return true;
  }
  int view_d = shape.size() - 1;
  std::int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (int d = old_shape.size() - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    // At the start of a run (or the end of the shape), close the run.
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

// Gradient of a slice: zeros of the input's shape with g written into the sliced part.
// Differentiable (its own backward is the slice again).
template <class T>
Tensor<T> slice_backward(const Tensor<T>& g, const Shape& input_shape, int dim, std::int64_t start,
                         std::int64_t step) {
  Tensor<T> out = zeros<T>(input_shape);
  Strides strides = out.strides();
  const std::int64_t offset = start * strides[dim];
  strides[dim] *= step;
  copy_into(strided_view(out, g.shape(), strides, offset), g);
  return record<T>(out, "slice_backward", {&g}, [dim, start, step, n = g.shape()[dim]](const Tensor<T>& gg) {
    return std::vector<Tensor<T>>{gg.slice(dim, start, start + (n - 1) * step + 1, step)};
  });
}

}  // namespace detail

template <class T>
Tensor<T> Tensor<T>::view(const Shape& requested) const {
  const Shape shape = detail::infer_shape(requested, numel(), "view", shape_);
  Strides strides;
  LATENT_CHECK(detail::view_strides(shape_, strides_, shape, strides), "view: shape ", shape,
               " is not compatible with the input's strides ", strides_, " (shape ", shape_,
               "); use reshape(), which copies when it must");
  Tensor<T> out = detail::strided_view(*this, shape, strides, offset_);
  const Shape in_shape = shape_;
  return record<T>(out, "view", {this}, [in_shape](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{g.reshape(in_shape)};
  });
}

template <class T>
Tensor<T> Tensor<T>::reshape(const Shape& requested) const {
  const Shape shape = detail::infer_shape(requested, numel(), "reshape", shape_);
  Strides strides;
  if (detail::view_strides(shape_, strides_, shape, strides)) return view(shape);
  const Tensor<T> copy = detail::contiguous_copy(*this);
  Tensor<T> out = detail::strided_view(copy, shape, contiguous_strides(shape), 0);
  const Shape in_shape = shape_;
  return record<T>(out, "reshape", {this}, [in_shape](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{g.reshape(in_shape)};
  });
}

template <class T>
Tensor<T> Tensor<T>::permute(const Shape& dims) const {
  LATENT_CHECK(dims.size() == dim(), "permute: ", dims.size(), " dims given for a tensor of rank ",
               dim(), " (shape ", shape_, ")");
  Shape shape = shape_, order;
  Strides strides = strides_;
  std::vector<bool> seen(dim(), false);
  for (int i = 0; i < dim(); ++i) {
    const int d = wrap_dim(dims[i], dim(), "permute");
    LATENT_CHECK(!seen[d], "permute: dim ", d, " appears twice in ", dims);
    seen[d] = true;
    order.push_back(d);
    shape[i] = shape_[d];
    strides[i] = strides_[d];
  }
  Shape inverse = Dims::filled(dim(), 0);
  for (int i = 0; i < dim(); ++i) inverse[static_cast<int>(order[i])] = i;
  Tensor<T> out = detail::strided_view(*this, shape, strides, offset_);
  return record<T>(out, "permute", {this}, [inverse](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{g.permute(inverse)};
  });
}

template <class T>
Tensor<T> Tensor<T>::transpose(std::int64_t dim0, std::int64_t dim1) const {
  const int a = wrap_dim(dim0, dim(), "transpose"), b = wrap_dim(dim1, dim(), "transpose");
  if (dim() == 0) return *this;
  Shape order;
  for (int i = 0; i < dim(); ++i) order.push_back(i);
  std::swap(order[a], order[b]);
  return permute(order);
}

template <class T>
Tensor<T> Tensor<T>::t() const {
  LATENT_CHECK(dim() <= 2, "t: expects a tensor of rank <= 2, got shape ", shape_);
  return dim() < 2 ? *this : transpose(0, 1);
}

template <class T>
Tensor<T> Tensor<T>::slice(std::int64_t dim_, std::int64_t start, std::int64_t end,
                           std::int64_t step) const {
  LATENT_CHECK(dim() > 0, "slice: cannot slice a scalar tensor");
  const int d = wrap_dim(dim_, dim(), "slice");
  LATENT_CHECK(step >= 1, "slice: step must be positive, got ", step);
  const std::int64_t n = shape_[d];
  // Python slicing: negative indices count from the end; everything is clamped.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::min(std::max<std::int64_t>(start, 0), n);
  end = std::min(std::max(end, start), n);
  const std::int64_t len = (end - start + step - 1) / step;
  Shape shape = shape_;
  Strides strides = strides_;
  shape[d] = len;
  strides[d] *= step;
  Tensor<T> out = detail::strided_view(*this, shape, strides, offset_ + start * strides_[d]);
  const Shape in_shape = shape_;
  return record<T>(out, "slice", {this}, [in_shape, d, start, step](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{detail::slice_backward(g, in_shape, d, start, step)};
  });
}

template <class T>
Tensor<T> Tensor<T>::narrow(std::int64_t dim_, std::int64_t start, std::int64_t length) const {
  const int d = wrap_dim(dim_, dim(), "narrow");
  const std::int64_t n = shape_[d];
  if (start < 0) start += n;
  LATENT_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start,
               " and length ", length, " are out of range for dim ", d, " of size ", n);
  return slice(d, start, start + length);
}

template <class T>
Tensor<T> Tensor<T>::select(std::int64_t dim_, std::int64_t index) const {
  LATENT_CHECK(dim() > 0, "select: cannot select from a scalar tensor");
  const int d = wrap_dim(dim_, dim(), "select");
  const std::int64_t n = shape_[d];
  LATENT_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d,
               " of size ", n);
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

template <class T>
Tensor<T> Tensor<T>::expand(const Shape& requested) const {
  LATENT_CHECK(requested.size() >= dim(), "expand: shape ", requested, " has fewer dims than ",
               shape_);
  Shape shape = requested;
  Strides strides = Dims::filled(shape.size(), 0);
  const int shift = shape.size() - dim();
  for (int i = 0; i < shape.size(); ++i) {
    const int j = i - shift;
    if (j < 0) {
      LATENT_CHECK(shape[i] >= 0, "expand: size -1 is not allowed for a new leading dim in ",
                   requested);
      continue;
    }
    if (shape[i] == -1) shape[i] = shape_[j];
    LATENT_CHECK(shape_[j] == shape[i] || shape_[j] == 1, "expand: cannot expand ", shape_, " to ",
                 requested, " (size ", shape_[j], " at dim ", j, " is not 1)");
    strides[i] = shape_[j] == shape[i] ? strides_[j] : 0;
  }
  Tensor<T> out = detail::strided_view(*this, shape, strides, offset_);
  const Shape in_shape = shape_;
  return record<T>(out, "expand", {this}, [in_shape](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{sum_to(g, in_shape)};
  });
}

template <class T>
Tensor<T> Tensor<T>::squeeze() const {
  Shape shape;
  for (std::int64_t s : shape_)
    if (s != 1) shape.push_back(s);
  return reshape(shape);
}

template <class T>
Tensor<T> Tensor<T>::squeeze(std::int64_t dim_) const {
  const int d = wrap_dim(dim_, dim(), "squeeze");
  if (dim() == 0 || shape_[d] != 1) return *this;
  Shape shape = shape_;
  shape.erase(d);
  return reshape(shape);
}

template <class T>
Tensor<T> Tensor<T>::unsqueeze(std::int64_t dim_) const {
  const int d = wrap_dim(dim_, dim() + 1, "unsqueeze");
  Shape shape = shape_;
  shape.insert(d, 1);
  return reshape(shape);
}

template <class T>
Tensor<T> Tensor<T>::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  if (dim() == 0) return reshape(Shape{1});
  const int a = wrap_dim(start_dim, dim(), "flatten"), b = wrap_dim(end_dim, dim(), "flatten");
  LATENT_CHECK(a <= b, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape;
  for (int i = 0; i < a; ++i) shape.push_back(shape_[i]);
  std::int64_t n = 1;
  for (int i = a; i <= b; ++i) n *= shape_[i];
  shape.push_back(n);
  for (int i = b + 1; i < dim(); ++i) shape.push_back(shape_[i]);
  return reshape(shape);
}

template <class T>
Tensor<T> Tensor<T>::clone() const {
  Tensor<T> out = detail::contiguous_copy(*this);
  return record<T>(out, "clone", {this}, [](const Tensor<T>& g) { return std::vector<Tensor<T>>{g}; });
}

template <class T>
Tensor<T> Tensor<T>::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

// Converts the element type. The result is a new tensor cut from the graph (the graph
// holds one element type); converting to the same type returns the tensor itself.
template <class T>
template <class U>
Tensor<U> Tensor<T>::to() const {
  if constexpr (std::is_same<T, U>::value) {
    return *this;
  } else {
    Tensor<U> out(shape_);
    detail::copy_into(out, *this);
    return out;
  }
}

template <class T>
std::vector<T> Tensor<T>::to_vector() const {
  const Tensor<T> c = detail::contiguous_copy(*this);
  return std::vector<T>(c.data(), c.data() + c.numel());
}

}  // namespace latent
