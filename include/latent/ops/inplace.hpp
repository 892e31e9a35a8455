// In-place updates: fill_, copy_, add_, sub_, mul_, div_, clamp_. They write into the
// tensor's own storage (every view of it sees the change) and are not recorded by
// autograd, so they are refused on a tensor that requires a gradient while grad mode is
// on — optimisers update parameters under NoGradGuard.
#pragma once

#include <cstdint>

#include "elementwise.hpp"
#include "grad_mode.hpp"
#include "shape_ops.hpp"

namespace latent {

namespace detail {
template <class T>
void check_writable(const Tensor<T>& t, const char* op) {
  LATENT_CHECK(t.defined(), op, ": the tensor is undefined");
  LATENT_CHECK(!(t.requires_grad() && is_grad_enabled()), op,
               ": cannot modify in place a tensor that requires grad while grad mode is on "
               "(wrap the update in NoGradGuard, or detach() first)");
  for (int i = 0; i < t.dim(); ++i)
    LATENT_CHECK(t.strides()[i] != 0 || t.shape()[i] <= 1, op, ": the tensor of shape ", t.shape(),
                 " is an expanded view (several elements share memory); clone() it first");
}

// self[i] = fn(self[i], other[i]) with other broadcast to self's shape.
template <class T, class U, class Fn>
void update(const Tensor<T>& self, const Tensor<U>& other, const char* op, Fn fn) {
  check_writable(self, op);
  const Shape shape = broadcast_shapes(self.shape(), other.shape(), op);
  LATENT_CHECK(shape == self.shape(), op, ": the result shape ", shape,
               " does not match the tensor's shape ", self.shape());
  kernels::map_binary(shape, self.data(), self.strides(), self.data(), self.strides(), other.data(),
                      broadcast_strides(other, shape), fn);
}

template <class T, class Fn>
void update(const Tensor<T>& self, const char* op, Fn fn) {
  check_writable(self, op);
  kernels::map_unary(self.shape(), self.data(), self.strides(), self.data(), self.strides(), fn);
}
}  // namespace detail

template <class T>
Tensor<T>& Tensor<T>::fill_(T value) {
  detail::update(*this, "fill_", [value](T) { return value; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::copy_(const Tensor<T>& src) {
  detail::update(*this, src, "copy_", [](T, T s) { return s; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::add_(const Tensor<T>& other, T alpha) {
  detail::update(*this, other, "add_", [alpha](T a, T b) { return a + alpha * b; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::add_(T value) {
  detail::update(*this, "add_", [value](T a) { return a + value; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::sub_(const Tensor<T>& other) {
  detail::update(*this, other, "sub_", [](T a, T b) { return a - b; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::sub_(T value) {
  detail::update(*this, "sub_", [value](T a) { return a - value; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::mul_(const Tensor<T>& other) {
  detail::update(*this, other, "mul_", [](T a, T b) { return a * b; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::mul_(T value) {
  detail::update(*this, "mul_", [value](T a) { return a * value; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::div_(const Tensor<T>& other) {
  detail::update(*this, other, "div_", [](T a, T b) { return a / b; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::div_(T value) {
  detail::update(*this, "div_", [value](T a) { return a / value; });
  return *this;
}
template <class T>
Tensor<T>& Tensor<T>::clamp_(T low, T high) {
  LATENT_CHECK(!(high < low), "clamp_: min ", low, " is greater than max ", high);
  detail::update(*this, "clamp_", [low, high](T a) { return a < low ? low : a > high ? high : a; });
  return *this;
}

}  // namespace latent
