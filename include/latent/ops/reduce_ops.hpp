// Reductions over one, several or all dims: sum, mean, var, std, amax, amin, logsumexp,
// argmax, argmin. The reduced dims are moved last and the input viewed as rows of K
// values (copied only when that view is not contiguous); each row is reduced by a kernel
// of kernels/reduce.hpp, rows split over threads.
//
// Gradients, with g broadcast back over the reduced dims: sum -> g; mean -> g / K;
// var -> g * 2 (x - mean) / (K - correction); amax/amin -> g shared equally by the
// elements equal to the result; logsumexp -> g * exp(x - result).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../kernels/reduce.hpp"
#include "autograd.hpp"
#include "binary_ops.hpp"
#include "shape_ops.hpp"

namespace latent {

template <class T>
Tensor<T> exp(const Tensor<T>& x);  // ops/unary_ops.hpp

namespace detail {

// Which dims a reduction covers, and the shapes around it.
struct ReducePlan {
  std::array<bool, kMaxRank> reduced{};  // per input dim
  Shape out_shape;                       // the result's shape
  Shape kept_shape;                      // input rank, 1 on reduced dims (for broadcasting back)
  Shape order;                           // permutation: kept dims, then reduced dims
  std::int64_t rows = 1, row_length = 1;
};

inline ReducePlan plan_reduce(const Shape& shape, const DimList& dims, bool keepdim, const char* op) {
  ReducePlan p;
  const int rank = shape.size();
  p.reduced.fill(dims.all);
  if (!dims.all) {
    for (std::int64_t d : dims.dims) {
      const int w = wrap_dim(d, rank, op);
      if (rank == 0) continue;
      LATENT_CHECK(!p.reduced[w], op, ": dim ", w, " appears more than once in the dim list");
      p.reduced[w] = true;
    }
  }
  for (int i = 0; i < rank; ++i) {
    if (!p.reduced[i]) {
      p.order.push_back(i);
      p.rows *= shape[i];
    }
  }
  for (int i = 0; i < rank; ++i) {
    if (p.reduced[i]) {
      p.order.push_back(i);
      p.row_length *= shape[i];
    }
    p.kept_shape.push_back(p.reduced[i] ? 1 : shape[i]);
    if (!p.reduced[i] || keepdim) p.out_shape.push_back(p.reduced[i] ? 1 : shape[i]);
  }
  return p;
}

// The input as a contiguous [rows, row_length] block of the plan's order.
template <class T>
Tensor<T> as_rows(const Tensor<T>& x, const ReducePlan& p) {
  Tensor<T> permuted = detail::strided_view(x, x.shape(), x.strides(), x.offset());
  if (x.dim() > 0) {
    Shape shape, strides;
    for (std::int64_t d : p.order) {
      shape.push_back(x.shape()[static_cast<int>(d)]);
      strides.push_back(x.strides()[static_cast<int>(d)]);
    }
    permuted = detail::strided_view(x, shape, strides, x.offset());
  }
  return permuted.is_contiguous() ? permuted : contiguous_copy(permuted);
}

// out[r] = row_fn(row r, row_length) for every row, rows in parallel.
template <class Out, class T, class RowFn>
Tensor<Out> reduce_rows(const Tensor<T>& x, const ReducePlan& p, RowFn row_fn) {
  const Tensor<T> rows = as_rows(x, p);
  Tensor<Out> out(p.out_shape);
  const T* in = rows.data();
  Out* o = out.data();
  const std::int64_t k = p.row_length;
  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(k, 1));
  parallel_for(0, p.rows, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) o[r] = row_fn(in + r * k, k);
  });
  return out;
}

}  // namespace detail

// Sums t over the dims along which it was broadcast to reach `shape` (the gradient of a
// broadcast); returns t itself when the shapes already match.
template <class T>
Tensor<T> sum_to(const Tensor<T>& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  LATENT_CHECK(t.dim() >= shape.size(), "sum_to: cannot reduce shape ", t.shape(), " to ", shape);
  std::vector<std::int64_t> dims;
  const int shift = t.dim() - shape.size();
  for (int i = 0; i < t.dim(); ++i) {
    if (i < shift) {
      dims.push_back(i);
    } else if (shape[i - shift] == 1 && t.shape()[i] != 1) {
      dims.push_back(i);
    } else {
      LATENT_CHECK(shape[i - shift] == t.shape()[i], "sum_to: cannot reduce shape ", t.shape(),
                   " to ", shape);
    }
  }
  if (dims.empty()) return t.reshape(shape);
  return t.sum(dims, true).reshape(shape);
}

namespace detail {
// True when the plan reduces leading dims of a contiguous tensor and keeps the rest: the
// sum is then a sum of rows, done without moving the data.
template <class T>
bool reduces_leading_dims(const Tensor<T>& x, const ReducePlan& p) {
  if (std::is_same<T, bool>::value) return false;  // bool sums take the general path
  if (!x.is_contiguous() || p.rows <= 1 || p.row_length <= 1) return false;
  int d = 0;
  while (d < x.dim() && p.reduced[d]) ++d;
  if (d == 0) return false;
  for (int i = d; i < x.dim(); ++i)
    if (p.reduced[i]) return false;
  return true;
}

// A contiguous x summed over the plan's dims without a permuted copy. Its dims, size-1
// ones left out, group into runs of kept and of reduced dims; the last reduced run, seen
// as x[outer, run, inner], is summed in one pass (sums of rows when inner is 1, else of
// columns), which leaves a smaller contiguous tensor; repeat until no reduced run is left.
// Each output element is summed in an order fixed by the shape alone.
template <class T>
Tensor<T> sum_by_runs(const Tensor<T>& x, const ReducePlan& p) {
  std::vector<std::int64_t> sizes;
  std::vector<bool> reduced;
  for (int i = 0; i < x.dim(); ++i) {
    if (x.shape()[i] == 1) continue;
    if (!reduced.empty() && reduced.back() == p.reduced[i]) {
      sizes.back() *= x.shape()[i];
    } else {
      sizes.push_back(x.shape()[i]);
      reduced.push_back(p.reduced[i]);
    }
  }
  Tensor<T> current = x;
  for (int run = int(sizes.size()) - 1; run >= 0; --run) {
    if (!reduced[run]) continue;
    std::int64_t outer = 1, inner = 1;
    for (int i = 0; i < run; ++i) outer *= sizes[i];
    for (int i = run + 1; i < int(sizes.size()); ++i) inner *= sizes[i];
    const std::int64_t length = sizes[run];
    Tensor<T> next(Shape{outer * inner});
    const T* in = current.data();
    T* out = next.data();
    const std::int64_t per_output_row = std::max<std::int64_t>(1, length * inner);
    const std::int64_t grain = std::max<std::int64_t>(1, 32768 / per_output_row);
    parallel_for(0, outer, grain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t o = begin; o < end; ++o) {
        if (inner == 1) {
          out[o] = kernels::sum(in + o * length, length);
        } else {
          kernels::sum_columns(in + o * length * inner, length, inner, inner, out + o * inner);
        }
      }
    });
    sizes[run] = 1;  // a kept run of size 1: merges with anything
    reduced[run] = false;
    current = next;
  }
  return current.reshape(p.out_shape);
}
}  // namespace detail

template <class T>
Tensor<T> Tensor<T>::sum(const DimList& dims, bool keepdim) const {
  const detail::ReducePlan p = detail::plan_reduce(shape_, dims, keepdim, "sum");
  Tensor<T> out;
  if (detail::reduces_leading_dims(*this, p)) {
    out = Tensor<T>(p.out_shape);
    const T* x = data();
    T* o = out.data();
    const std::int64_t cols = p.rows, rows = p.row_length;
    parallel_for(0, cols, 256, [&](std::int64_t begin, std::int64_t end) {
      if constexpr (!std::is_same<T, bool>::value) kernels::sum_columns(x + begin, rows, end - begin, cols, o + begin);
    });
  } else if (!std::is_same<T, bool>::value && is_contiguous() && p.rows > 1) {
    if constexpr (!std::is_same<T, bool>::value) out = detail::sum_by_runs(*this, p);
  } else {
    out = detail::reduce_rows<T>(*this, p, [](const T* x, std::int64_t n) { return kernels::sum(x, n); });
  }
  return record<T>(out, "sum", {this}, [kept = p.kept_shape, in = shape_](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{g.reshape(kept).expand(in)};
  });
}

template <class T>
Tensor<T> Tensor<T>::mean(const DimList& dims, bool keepdim) const {
  static_assert(std::is_floating_point<T>::value, "mean: needs a floating-point tensor");
  const detail::ReducePlan p = detail::plan_reduce(shape_, dims, keepdim, "mean");
  const T k = static_cast<T>(p.row_length);
  Tensor<T> out = detail::reduce_rows<T>(*this, p, [k](const T* x, std::int64_t n) {
    return kernels::sum(x, n) / k;
  });
  return record<T>(out, "mean", {this}, [kept = p.kept_shape, in = shape_, k](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{(g / k).reshape(kept).expand(in)};
  });
}

template <class T>
Tensor<T> Tensor<T>::var(const DimList& dims, std::int64_t correction, bool keepdim) const {
  static_assert(std::is_floating_point<T>::value, "var: needs a floating-point tensor");
  const detail::ReducePlan p = detail::plan_reduce(shape_, dims, keepdim, "var");
  const T denom = static_cast<T>(std::max<std::int64_t>(0, p.row_length - correction));
  Tensor<T> out = detail::reduce_rows<T>(*this, p, [denom](const T* x, std::int64_t n) {
    return kernels::squared_deviation(x, n) / denom;
  });
  const std::vector<std::int64_t> reduced_dims = [&] {
    std::vector<std::int64_t> r;
    for (int i = 0; i < dim(); ++i)
      if (p.reduced[i]) r.push_back(i);
    return r;
  }();
  return record<T>(out, "var", {this}, [x = *this, kept = p.kept_shape, reduced_dims, denom](const Tensor<T>& g) {
    const Tensor<T> centred = reduced_dims.empty() ? x - x : x - x.mean(reduced_dims, true);
    return std::vector<Tensor<T>>{centred * (g.reshape(kept) * (T(2) / denom))};
  });
}

template <class T>
Tensor<T> Tensor<T>::std(const DimList& dims, std::int64_t correction, bool keepdim) const {
  const Tensor<T> v = var(dims, correction, keepdim);
  Tensor<T> out = detail::map<T>(v, [](T x) { return std::sqrt(x); });
  return record_using_output<T>(out, "std", {&v}, [](const Tensor<T>& g, const Tensor<T>& s) {
    return std::vector<Tensor<T>>{g / (s * T(2))};
  });
}

namespace detail {
// Gradient of amax/amin: g shared equally among the elements equal to the result.
template <class T>
Tensor<T> extreme_backward(const Tensor<T>& x, const Tensor<T>& result, const Tensor<T>& g,
                           const Shape& kept, const DimList& dims) {
  const Tensor<T> r = result.reshape(kept);
  const Tensor<T> hit = map2<T>(x.detach(), r.detach(), "amax", [](T a, T b) { return a == b ? T(1) : T(0); });
  return hit * (g.reshape(kept) / hit.sum(dims, true));
}
}  // namespace detail

template <class T>
Tensor<T> Tensor<T>::amax(const DimList& dims, bool keepdim) const {
  LATENT_CHECK(numel() > 0, "amax: cannot reduce an empty tensor (shape ", shape_, ")");
  const detail::ReducePlan p = detail::plan_reduce(shape_, dims, keepdim, "amax");
  Tensor<T> out = detail::reduce_rows<T>(*this, p, [](const T* x, std::int64_t n) { return kernels::max(x, n); });
  return record_using_output<T>(out, "amax", {this}, [x = *this, kept = p.kept_shape, dims](const Tensor<T>& g, const Tensor<T>& s) {
    return std::vector<Tensor<T>>{detail::extreme_backward(x, s, g, kept, dims)};
  });
}

template <class T>
Tensor<T> Tensor<T>::amin(const DimList& dims, bool keepdim) const {
  LATENT_CHECK(numel() > 0, "amin: cannot reduce an empty tensor (shape ", shape_, ")");
  const detail::ReducePlan p = detail::plan_reduce(shape_, dims, keepdim, "amin");
  Tensor<T> out = detail::reduce_rows<T>(*this, p, [](const T* x, std::int64_t n) { return kernels::min(x, n); });
  return record_using_output<T>(out, "amin", {this}, [x = *this, kept = p.kept_shape, dims](const Tensor<T>& g, const Tensor<T>& s) {
    return std::vector<Tensor<T>>{detail::extreme_backward(x, s, g, kept, dims)};
  });
}

template <class T>
Tensor<T> Tensor<T>::logsumexp(const DimList& dims, bool keepdim) const {
  static_assert(std::is_floating_point<T>::value, "logsumexp: needs a floating-point tensor");
  const detail::ReducePlan p = detail::plan_reduce(shape_, dims, keepdim, "logsumexp");
  Tensor<T> out = detail::reduce_rows<T>(*this, p, [](const T* x, std::int64_t n) { return kernels::logsumexp(x, n); });
  return record_using_output<T>(out, "logsumexp", {this}, [x = *this, kept = p.kept_shape](const Tensor<T>& g, const Tensor<T>& s) {
    return std::vector<Tensor<T>>{g.reshape(kept) * latent::exp(x - s.reshape(kept))};
  });
}

template <class T>
Tensor<std::int64_t> Tensor<T>::argmax(std::int64_t d, bool keepdim) const {
  LATENT_CHECK(numel() > 0, "argmax: cannot reduce an empty tensor (shape ", shape_, ")");
  const detail::ReducePlan p = detail::plan_reduce(shape_, DimList(d), keepdim, "argmax");
  return detail::reduce_rows<std::int64_t>(*this, p, [](const T* x, std::int64_t n) {
    return kernels::arg_extreme<T, true>(x, n);
  });
}

template <class T>
Tensor<std::int64_t> Tensor<T>::argmax() const {
  LATENT_CHECK(numel() > 0, "argmax: cannot reduce an empty tensor");
  return detail::reduce_rows<std::int64_t>(*this, detail::plan_reduce(shape_, DimList(), false, "argmax"),
                                           [](const T* x, std::int64_t n) { return kernels::arg_extreme<T, true>(x, n); });
}

template <class T>
Tensor<std::int64_t> Tensor<T>::argmin(std::int64_t d, bool keepdim) const {
  LATENT_CHECK(numel() > 0, "argmin: cannot reduce an empty tensor (shape ", shape_, ")");
  const detail::ReducePlan p = detail::plan_reduce(shape_, DimList(d), keepdim, "argmin");
  return detail::reduce_rows<std::int64_t>(*this, p, [](const T* x, std::int64_t n) {
    return kernels::arg_extreme<T, false>(x, n);
  });
}

// Free-function forms, as torch.sum(x, dims, keepdim) etc.
template <class T> Tensor<T> sum(const Tensor<T>& x, const DimList& dims = {}, bool keepdim = false) { return x.sum(dims, keepdim); }
template <class T> Tensor<T> mean(const Tensor<T>& x, const DimList& dims = {}, bool keepdim = false) { return x.mean(dims, keepdim); }
template <class T> Tensor<T> var(const Tensor<T>& x, const DimList& dims = {}, std::int64_t correction = 1, bool keepdim = false) { return x.var(dims, correction, keepdim); }
template <class T> Tensor<T> amax(const Tensor<T>& x, const DimList& dims = {}, bool keepdim = false) { return x.amax(dims, keepdim); }
template <class T> Tensor<T> amin(const Tensor<T>& x, const DimList& dims = {}, bool keepdim = false) { return x.amin(dims, keepdim); }
template <class T> Tensor<T> logsumexp(const Tensor<T>& x, const DimList& dims = {}, bool keepdim = false) { return x.logsumexp(dims, keepdim); }

}  // namespace latent
