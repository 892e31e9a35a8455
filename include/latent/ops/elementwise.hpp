// Building blocks for elementwise ops: apply a scalar function to every element of one,
// two or three tensors (NumPy broadcasting), producing a new contiguous tensor.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../kernels/strided_loop.hpp"
#include "../tensor/tensor.hpp"

namespace latent {

// Lets a scalar argument take the tensor's element type (t + 2.0 on a float tensor).
template <class T>
using Scalar = typename std::common_type<T>::type;

namespace detail {

// Strides that read t as if broadcast to `shape` (0 along broadcast dims).
template <class T>
Strides broadcast_strides(const Tensor<T>& t, const Shape& shape) {
  Strides s = Dims::filled(shape.size(), 0);
  const int shift = shape.size() - t.dim();
  for (int i = 0; i < t.dim(); ++i) s[i + shift] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return s;
}

template <class Out, class T, class Fn>
Tensor<Out> map(const Tensor<T>& x, Fn fn) {
  Tensor<Out> out(x.shape());
  kernels::map_unary(x.shape(), out.data(), out.strides(), x.data(), x.strides(), fn);
  return out;
}

template <class Out, class A, class B, class Fn>
Tensor<Out> map2(const Tensor<A>& a, const Tensor<B>& b, const char* op, Fn fn) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor<Out> out(shape);
  kernels::map_binary(shape, out.data(), out.strides(), a.data(), broadcast_strides(a, shape),
                      b.data(), broadcast_strides(b, shape), fn);
  return out;
}

template <class Out, class A, class B, class C, class Fn>
Tensor<Out> map3(const Tensor<A>& a, const Tensor<B>& b, const Tensor<C>& c, const char* op, Fn fn) {
  const Shape shape = broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), op), c.shape(), op);
  Tensor<Out> out(shape);
  kernels::map_ternary(shape, out.data(), out.strides(), a.data(), broadcast_strides(a, shape),
                       b.data(), broadcast_strides(b, shape), c.data(), broadcast_strides(c, shape),
                       fn);
  return out;
}

}  // namespace detail
}  // namespace latent
