// Making tensors: filled, ranged, random (from a Generator), or from your own values.
// Every result is a fresh, contiguous leaf that does not require a gradient; chain
// .requires_grad_() to make it a parameter.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "../core/random.hpp"
#include "tensor.hpp"

namespace latent {

template <class T>
Tensor<T> empty(const Shape& shape) {
  return Tensor<T>(shape);
}

template <class T>
Tensor<T> full(const Shape& shape, T value) {
  Tensor<T> t(shape);
  std::fill(t.data(), t.data() + t.numel(), value);
  return t;
}

template <class T>
Tensor<T> zeros(const Shape& shape) {
  return full<T>(shape, T(0));
}

template <class T>
Tensor<T> ones(const Shape& shape) {
  return full<T>(shape, T(1));
}

template <class T, class U>
Tensor<T> empty_like(const Tensor<U>& t) { return empty<T>(t.shape()); }
template <class T>
Tensor<T> zeros_like(const Tensor<T>& t) { return zeros<T>(t.shape()); }
template <class T>
Tensor<T> ones_like(const Tensor<T>& t) { return ones<T>(t.shape()); }
template <class T>
Tensor<T> full_like(const Tensor<T>& t, T value) { return full<T>(t.shape(), value); }

// A tensor holding `values`, with the given shape (a 1-d tensor when shape is omitted).
template <class T>
Tensor<T> tensor(const std::vector<T>& values, const Shape& shape) {
  LATENT_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(), "tensor: ",
               values.size(), " values do not fill shape ", shape, " (", shape.numel(),
               " elements)");
  Tensor<T> t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}
template <class T>
Tensor<T> tensor(const std::vector<T>& values) {
  return tensor<T>(values, Shape{static_cast<std::int64_t>(values.size())});
}
template <class T>
Tensor<T> tensor(std::initializer_list<T> values, const Shape& shape) {
  return tensor<T>(std::vector<T>(values), shape);
}
template <class T>
Tensor<T> tensor(std::initializer_list<T> values) {
  return tensor<T>(std::vector<T>(values));
}
// A rank-0 tensor holding one value.
template <class T>
Tensor<T> scalar_tensor(T value) {
  return full<T>(Shape{}, value);
}

// start, start + step, ... up to (not including) end, as torch.arange.
template <class T>
Tensor<T> arange(T start, T end, T step = T(1)) {
  LATENT_CHECK(step != T(0), "arange: step must be nonzero");
  LATENT_CHECK(std::isfinite(static_cast<double>(start)) && std::isfinite(static_cast<double>(end)),
               "arange: start and end must be finite");
  const double span = (static_cast<double>(end) - static_cast<double>(start)) / static_cast<double>(step);
  const std::int64_t n = span > 0 ? static_cast<std::int64_t>(std::ceil(span)) : 0;
  Tensor<T> t(Shape{n});
  T* p = t.data();
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<T>(i) * step);
  return t;
}
template <class T>
Tensor<T> arange(T end) {
  return arange<T>(T(0), end, T(1));
}

// `steps` evenly spaced values from start to end inclusive, as torch.linspace.
template <class T>
Tensor<T> linspace(T start, T end, std::int64_t steps) {
  LATENT_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  Tensor<T> t(Shape{steps});
  T* p = t.data();
  if (steps == 1) p[0] = start;
  if (steps > 1) {
    // Fill from both ends (as PyTorch does) so the last value is exactly `end`.
    const double step = (static_cast<double>(end) - static_cast<double>(start)) / double(steps - 1);
    const std::int64_t half = steps / 2;
    for (std::int64_t i = 0; i < steps; ++i)
      p[i] = i < half ? static_cast<T>(start + step * double(i))
                      : static_cast<T>(end - step * double(steps - 1 - i));
  }
  return t;
}

// The n x m identity (m = n by default).
template <class T>
Tensor<T> eye(std::int64_t n, std::int64_t m = -1) {
  if (m < 0) m = n;
  Tensor<T> t = zeros<T>(Shape{n, m});
  for (std::int64_t i = 0; i < std::min(n, m); ++i) t.data()[i * m + i] = T(1);
  return t;
}

// Uniform on [low, high) (default [0, 1)).
template <class T>
Tensor<T> rand(const Shape& shape, Generator& gen, T low = T(0), T high = T(1)) {
  Tensor<T> t(shape);
  gen.fill_uniform(t.data(), t.numel(), low, high);
  return t;
}

// Normal with the given mean and standard deviation (default N(0, 1)).
template <class T>
Tensor<T> randn(const Shape& shape, Generator& gen, T mean = T(0), T std = T(1)) {
  Tensor<T> t(shape);
  gen.fill_normal(t.data(), t.numel(), mean, std);
  return t;
}

// Integers uniform in [low, high).
template <class T = std::int64_t>
Tensor<T> randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen) {
  LATENT_CHECK(low < high, "randint: empty range [", low, ", ", high, ")");
  Tensor<std::int64_t> t(shape);
  gen.fill_randint(t.data(), t.numel(), low, high);
  if constexpr (std::is_same<T, std::int64_t>::value) {
    return t;
  } else {
    Tensor<T> out(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) out.data()[i] = static_cast<T>(t.data()[i]);
    return out;
  }
}

template <class T>
Tensor<T> rand_like(const Tensor<T>& t, Generator& gen) { return rand<T>(t.shape(), gen); }
template <class T>
Tensor<T> randn_like(const Tensor<T>& t, Generator& gen) { return randn<T>(t.shape(), gen); }

}  // namespace latent
