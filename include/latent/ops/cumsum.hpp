// cumsum: running sums along a dim, out[i] = x[0] + x[1] + ... + x[i].
//
// Each line is summed in order, in double precision for float (as PyTorch does on the
// CPU), so the result does not depend on the thread count. The gradient of a running
// sum is the running sum taken from the other end: dx[i] = g[i] + g[i+1] + ... + g[n-1],
// which is again a cumulative sum, so second derivatives work.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../core/parallel.hpp"
#include "autograd.hpp"
#include "shape_ops.hpp"

namespace latent {

namespace detail {

// Running sums along dim d, from the front (or from the back when `reverse`).
template <class T>
Tensor<T> cumulative_sum(const Tensor<T>& x, int d, bool reverse) {
  using Acc = typename std::conditional<std::is_floating_point<T>::value, double, T>::type;
  const Tensor<T> c = x.is_contiguous() ? x : contiguous_copy(x);
  Tensor<T> out(x.shape());
  // x as [outer, n, inner]; a work item is one outer position and a block of inner columns,
  // whose running sums advance together down the n rows.
  std::int64_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= x.shape()[k];
  for (int k = d + 1; k < x.dim(); ++k) inner *= x.shape()[k];
  const std::int64_t n = x.shape()[d];
  const std::int64_t block = 256, blocks = (inner + block - 1) / block;
  const std::int64_t work = std::max<std::int64_t>(1, n * std::min(inner, block));
  const T* in = c.data();
  T* o = out.data();
  parallel_for(0, outer * blocks, std::max<std::int64_t>(1, 32768 / work), [&](std::int64_t b, std::int64_t e) {
    Acc acc[block];
    for (std::int64_t item = b; item < e; ++item) {
      const std::int64_t base = (item / blocks) * n * inner;
      const std::int64_t j0 = (item % blocks) * block, j1 = std::min(inner, j0 + block);
      std::fill(acc, acc + (j1 - j0), Acc(0));
      for (std::int64_t step = 0; step < n; ++step) {
        const std::int64_t row = base + (reverse ? n - 1 - step : step) * inner;
        for (std::int64_t j = j0; j < j1; ++j) {
          acc[j - j0] += static_cast<Acc>(in[row + j]);
          o[row + j] = static_cast<T>(acc[j - j0]);
        }
      }
    }
  });
  return record<T>(out, reverse ? "cumsum_reverse" : "cumsum", {&x}, [d, reverse](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{cumulative_sum(g, d, !reverse)};
  });
}

}  // namespace detail

// out[..., i, ...] = sum of x[..., j, ...] for j <= i along dim.
template <class T>
Tensor<T> cumsum(const Tensor<T>& x, std::int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "cumsum");
  if (x.dim() == 0) return detail::cumulative_sum(x.reshape(Shape{1}), 0, false).reshape(Shape{});
  return detail::cumulative_sum(x, d, false);
}

}  // namespace latent
