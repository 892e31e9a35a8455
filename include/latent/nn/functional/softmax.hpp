// softmax and log_softmax along any dim, as torch.nn.functional.
//
//   softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m)
//   log_softmax(x)_i = x_i - m - log(sum_j exp(x_j - m))
// with m = max_j x_j: subtracting the maximum changes nothing mathematically and keeps
// every exp in (0, 1], so nothing overflows and the sum is at least 1.
//
// Gradients, with y the output and sums along the dim:
//   softmax:     dx = y * (g - sum(g * y))
//   log_softmax: dx = g - exp(y) * sum(g)
// An ordinary backward computes them in one fused pass; a backward that must itself be
// differentiable (create_graph) writes them with differentiable ops on the saved output,
// so second derivatives work.
//
// Layout: the input is viewed as a contiguous [outer, n, inner] block, n the size of the
// dim. Each of the `outer` slabs of n x inner values is independent: a contiguous row when
// inner = 1 (the last dim), else n rows of `inner` values reduced column by column. Slabs
// are spread over threads, and within a slab every sum runs in a fixed order, so results
// do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/parallel.hpp"
#include "../../kernels/reduce.hpp"
#include "../../kernels/transcendental.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/grad_mode.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"
#include "../../ops/unary_ops.hpp"

namespace latent {
namespace detail {

// The sizes of a tensor around dim d: [outer, n, inner].
struct SoftmaxLayout {
  std::int64_t outer = 1, n = 1, inner = 1;
};

inline SoftmaxLayout softmax_layout(const Shape& shape, int d) {
  SoftmaxLayout l;
  for (int i = 0; i < shape.size(); ++i) {
    if (i < d) l.outer *= shape[i];
    if (i == d) l.n = shape[i];
    if (i > d) l.inner *= shape[i];
  }
  return l;
}

// ---- one row of n contiguous values (softmax along the last dim) ----

// The largest of n values, in 8 running lanes (a NaN may be missed: it makes the whole
// row NaN anyway, through the sum of the exponentials).
template <class T>
T softmax_row_max(const T* x, std::int64_t n) {
  T lanes[8];
  std::fill(lanes, lanes + 8, -std::numeric_limits<T>::infinity());
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] = x[i + j] > lanes[j] ? x[i + j] : lanes[j];
  T m = -std::numeric_limits<T>::infinity();
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (int j = 0; j < 8; ++j) m = lanes[j] > m ? lanes[j] : m;
  return m;
}

template <class T, bool Log>
void softmax_row(const T* LATENT_RESTRICT x, T* LATENT_RESTRICT y, std::int64_t n) {
  const T max = softmax_row_max(x, n);
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] - max;
  kernels::exp(y, y, n);
  const T total = kernels::sum(y, n);
  if constexpr (Log) {
    const T log_total = std::log(total);
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] - max - log_total;
  } else {
    const T scale = T(1) / total;
    for (std::int64_t i = 0; i < n; ++i) y[i] *= scale;
  }
}

// softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g).
template <class T, bool Log>
void softmax_backward_row(const T* LATENT_RESTRICT y, const T* LATENT_RESTRICT g, T* LATENT_RESTRICT dx,
                          std::int64_t n) {
  if constexpr (Log) {
    const T total = kernels::sum(g, n);
    kernels::exp(y, dx, n);
    for (std::int64_t i = 0; i < n; ++i) dx[i] = g[i] - dx[i] * total;
  } else {
    for (std::int64_t i = 0; i < n; ++i) dx[i] = g[i] * y[i];
    const T dot = kernels::sum(dx, n);
    for (std::int64_t i = 0; i < n; ++i) dx[i] = y[i] * (g[i] - dot);
  }
}

// ---- a slab of n x inner values, the dim strided by inner (softmax along another dim) ----
// Each step runs over whole rows of `inner` values, so the inner loops stay contiguous.

template <class T, bool Log>
void softmax_columns(const T* LATENT_RESTRICT x, T* LATENT_RESTRICT y, std::int64_t n, std::int64_t inner,
                     T* LATENT_RESTRICT scratch) {
  T* LATENT_RESTRICT max = scratch;
  T* LATENT_RESTRICT total = scratch + inner;
  std::fill(max, max + inner, -std::numeric_limits<T>::infinity());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < inner; ++j) max[j] = x[i * inner + j] > max[j] ? x[i * inner + j] : max[j];
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < inner; ++j) y[i * inner + j] = x[i * inner + j] - max[j];
  kernels::exp(y, y, n * inner);
  std::fill(total, total + inner, T(0));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < inner; ++j) total[j] += y[i * inner + j];
  if constexpr (Log) {
    for (std::int64_t j = 0; j < inner; ++j) total[j] = std::log(total[j]);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < inner; ++j) y[i * inner + j] = x[i * inner + j] - max[j] - total[j];
  } else {
    for (std::int64_t j = 0; j < inner; ++j) total[j] = T(1) / total[j];
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < inner; ++j) y[i * inner + j] *= total[j];
  }
}

template <class T, bool Log>
void softmax_backward_columns(const T* LATENT_RESTRICT y, const T* LATENT_RESTRICT g, T* LATENT_RESTRICT dx,
                              std::int64_t n, std::int64_t inner, T* LATENT_RESTRICT scratch) {
  T* LATENT_RESTRICT total = scratch;
  std::fill(total, total + inner, T(0));
  if constexpr (Log) {
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < inner; ++j) total[j] += g[i * inner + j];
    kernels::exp(y, dx, n * inner);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < inner; ++j)
        dx[i * inner + j] = g[i * inner + j] - dx[i * inner + j] * total[j];
  } else {
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < inner; ++j) total[j] += g[i * inner + j] * y[i * inner + j];
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < inner; ++j)
        dx[i * inner + j] = y[i * inner + j] * (g[i * inner + j] - total[j]);
  }
}

// One slab, forward or backward, by layout.
template <class T, bool Log>
void softmax_slab(const T* x, T* y, std::int64_t n, std::int64_t inner, T* scratch) {
  if (inner == 1)
    softmax_row<T, Log>(x, y, n);
  else
    softmax_columns<T, Log>(x, y, n, inner, scratch);
}
template <class T, bool Log>
void softmax_backward_slab(const T* y, const T* g, T* dx, std::int64_t n, std::int64_t inner, T* scratch) {
  if (inner == 1)
    softmax_backward_row<T, Log>(y, g, dx, n);
  else
    softmax_backward_columns<T, Log>(y, g, dx, n, inner, scratch);
}

// Calls slab(offset, n, inner, scratch) for every slab of a contiguous tensor of `shape`
// around dim d (offset: the slab's first element), slabs split over threads.
template <class T, class Slab>
void for_each_softmax_slab(const Shape& shape, int d, Slab slab) {
  const SoftmaxLayout l = softmax_layout(shape, d);
  const std::int64_t slab_size = l.n * l.inner;
  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(slab_size, 1));
  parallel_for(0, l.outer, grain, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> scratch(static_cast<std::size_t>(2 * l.inner));
    for (std::int64_t o = begin; o < end; ++o) slab(o * slab_size, l.n, l.inner, scratch.data());
  });
}

template <class T, bool Log>
Tensor<T> softmax_forward(const Tensor<T>& x, int d) {
  const Tensor<T> xc = x.is_contiguous() ? x.detach() : contiguous_copy(x);
  Tensor<T> out(x.shape());
  const T* in = xc.data();
  T* y = out.data();
  for_each_softmax_slab<T>(x.shape(), d,
                           [&](std::int64_t at, std::int64_t n, std::int64_t inner, T* scratch) {
                             softmax_slab<T, Log>(in + at, y + at, n, inner, scratch);
                           });
  return out;
}

template <class T, bool Log>
Tensor<T> softmax_backward_fused(const Tensor<T>& y, const Tensor<T>& g, int d) {
  const Tensor<T> yc = y.is_contiguous() ? y.detach() : contiguous_copy(y);
  const Tensor<T> gc = g.is_contiguous() ? g.detach() : contiguous_copy(g);
  Tensor<T> dx(y.shape());
  const T* yp = yc.data();
  const T* gp = gc.data();
  T* out = dx.data();
  for_each_softmax_slab<T>(y.shape(), d,
                           [&](std::int64_t at, std::int64_t n, std::int64_t inner, T* scratch) {
                             softmax_backward_slab<T, Log>(yp + at, gp + at, out + at, n, inner, scratch);
                           });
  return dx;
}

}  // namespace detail

namespace nn::functional {

// softmax(x) along dim: non-negative values that sum to 1 along dim.
template <class T>
Tensor<T> softmax(const Tensor<T>& x, std::int64_t dim) {
  static_assert(std::is_floating_point<T>::value, "softmax: needs a floating-point tensor");
  const int d = wrap_dim(dim, x.dim(), "softmax");
  Tensor<T> out = latent::detail::softmax_forward<T, false>(x, d);
  return record_using_output<T>(out, "softmax", {&x}, [d](const Tensor<T>& g, const Tensor<T>& y) {
    if (!is_grad_enabled())
      return std::vector<Tensor<T>>{latent::detail::softmax_backward_fused<T, false>(y, g, d)};
    return std::vector<Tensor<T>>{y * (g - (g * y).sum(d, true))};
  });
}

// log_softmax(x) along dim: log(softmax(x)), computed without taking the log of a
// quotient, so that it stays accurate (and finite) where softmax underflows to 0.
template <class T>
Tensor<T> log_softmax(const Tensor<T>& x, std::int64_t dim) {
  static_assert(std::is_floating_point<T>::value, "log_softmax: needs a floating-point tensor");
  const int d = wrap_dim(dim, x.dim(), "log_softmax");
  Tensor<T> out = latent::detail::softmax_forward<T, true>(x, d);
  return record_using_output<T>(out, "log_softmax", {&x}, [d](const Tensor<T>& g, const Tensor<T>& y) {
    if (!is_grad_enabled())
      return std::vector<Tensor<T>>{latent::detail::softmax_backward_fused<T, true>(y, g, d)};
    return std::vector<Tensor<T>>{g - exp(y) * g.sum(d, true)};
  });
}

}  // namespace nn::functional
}  // namespace latent
