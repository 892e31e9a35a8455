// Printing in PyTorch's style:
//   tensor([[1.0000, 2.0000],
//           [3.0000, 4.0000]], dtype=float64, shape=[2, 2])
// Floats use 4 decimals, or scientific notation when the magnitudes call for it; tensors
// over 1000 elements show 3 items at each edge of every dim with "..." between.
#pragma once

#include <cmath>
#include <cstdint>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "tensor.hpp"

namespace latent {

namespace detail {

struct PrintFormat {
  bool scientific = false;
  bool summarize = false;
  int width = 0;
};

template <class T>
std::string format_value(T v, const PrintFormat& f) {
  std::ostringstream s;
  if constexpr (std::is_same<T, bool>::value) {
    s << (v ? "True" : "False");
  } else if constexpr (std::is_floating_point<T>::value) {
    if (std::isnan(v)) s << "nan";
    else if (std::isinf(v)) s << (v > 0 ? "inf" : "-inf");
    else {
      s.precision(4);
      s << (f.scientific ? std::scientific : std::fixed) << v;
    }
  } else {
    s << static_cast<long long>(v);
  }
  return s.str();
}

// Element indices to show along a dim of size n.
inline std::vector<std::int64_t> shown(std::int64_t n, bool summarize) {
  std::vector<std::int64_t> idx;
  if (summarize && n > 6) {
    for (std::int64_t i = 0; i < 3; ++i) idx.push_back(i);
    idx.push_back(-1);  // "..."
    for (std::int64_t i = n - 3; i < n; ++i) idx.push_back(i);
  } else {
    for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

template <class T>
void print_dim(std::ostream& os, const Tensor<T>& t, int d, std::int64_t offset, int indent,
               const PrintFormat& f) {
  const T* base = t.storage()->data();
  os << '[';
  const std::vector<std::int64_t> idx = shown(t.shape()[d], f.summarize);
  for (std::size_t k = 0; k < idx.size(); ++k) {
    if (k > 0) {
      os << ',';
      if (d == t.dim() - 1) os << ' ';
      else os << std::string(static_cast<std::size_t>(t.dim() - d - 1), '\n')
              << std::string(static_cast<std::size_t>(indent + d + 1), ' ');
    }
    if (idx[k] < 0) {
      os << "...";
      continue;
    }
    const std::int64_t o = offset + idx[k] * t.strides()[d];
    if (d == t.dim() - 1) {
      const std::string v = format_value(base[o], f);
      os << std::string(static_cast<std::size_t>(std::max<int>(0, f.width - static_cast<int>(v.size()))), ' ') << v;
    } else {
      print_dim(os, t, d + 1, o, indent, f);
    }
  }
  os << ']';
}

}  // namespace detail

template <class T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  detail::PrintFormat f;
  f.summarize = t.numel() > 1000;
  // Choose notation and width from the values that will be shown.
  std::vector<T> values;
  if (t.numel() > 0) {
    const T* base = t.storage()->data();
    std::vector<std::int64_t> index(static_cast<std::size_t>(t.dim()), 0);
    for (std::int64_t i = 0; i < t.numel() && values.size() < 100000; ++i) {
      std::int64_t o = t.offset();
      for (int d = 0; d < t.dim(); ++d) o += index[static_cast<std::size_t>(d)] * t.strides()[d];
      values.push_back(base[o]);
      for (int d = t.dim() - 1; d >= 0; --d) {
        if (++index[static_cast<std::size_t>(d)] < t.shape()[d]) break;
        index[static_cast<std::size_t>(d)] = 0;
      }
    }
  }
  if constexpr (std::is_floating_point<T>::value) {
    double largest = 0, smallest = INFINITY;
    for (T v : values) {
      const double a = std::fabs(static_cast<double>(v));
      if (!std::isfinite(a)) continue;
      if (a > largest) largest = a;
      if (a > 0 && a < smallest) smallest = a;
    }
    f.scientific = largest >= 1e8 || (smallest < 1e-4 && largest > 0) ||
                   (largest > 0 && largest / smallest >= 1e3 && largest >= 1e3);
  }
  for (T v : values) f.width = std::max<int>(f.width, static_cast<int>(detail::format_value(v, f).size()));
  os << "tensor(";
  if (t.dim() == 0) os << detail::format_value(*t.data(), f);
  else detail::print_dim(os, t, 0, t.offset(), 7, f);
  if (!std::is_same<T, float>::value) os << ", dtype=" << dtype_name<T>();
  if (t.dim() > 1 || (t.dim() == 1 && t.numel() == 0)) os << ", shape=" << t.shape();
  if (t.requires_grad()) os << (t.is_leaf() ? ", requires_grad=True" : ", grad_fn=") << (t.is_leaf() ? "" : t.grad_fn()->name);
  return os << ')';
}

// The printed form as a string.
template <class T>
std::string to_string(const Tensor<T>& t) {
  std::ostringstream s;
  s << t;
  return s.str();
}

}  // namespace latent
