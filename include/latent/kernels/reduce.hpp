// Reductions of one contiguous row of n values.
//
// Sums are pairwise: the row is cut into blocks of 128, each summed with 8 running
// partial sums (lanes i mod 8), and blocks are combined as a balanced binary tree. The
// rounding error then grows like O(log n) instead of O(n) for a running sum, and the order
// of additions is fixed by n alone, so every thread count gives the same bits.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace latent::kernels {

// sum over i of f(x[i]), pairwise.
template <class T, class F>
T sum_map(const T* x, std::int64_t n, F f) {
  constexpr std::int64_t kBlock = 128;
  if (n <= kBlock) {
    T lanes[8] = {};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) lanes[j] += f(x[i + j]);
    T tail = 0;
    for (; i < n; ++i) tail += f(x[i]);
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
           ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])) + tail;
  }
  // Split at a multiple of the block size so the tree depends on n only.
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  const std::int64_t half = (blocks / 2) * kBlock;
  return sum_map(x, half, f) + sum_map(x + half, n - half, f);
}

template <class T>
T sum(const T* x, std::int64_t n) {
  return sum_map(x, n, [](T v) { return v; });
}

// out[j] = sum over i < rows of x[i * stride + j], for j < cols: column sums of a
// row-major block (the gradient of a broadcast bias). Runs of up to 64 rows are added in
// order, and the runs combined as a balanced tree, as in sum_map.
template <class T>
void sum_columns(const T* x, std::int64_t rows, std::int64_t cols, std::int64_t stride, T* out) {
  constexpr std::int64_t kBlock = 64;
  if (rows <= kBlock) {
    for (std::int64_t j = 0; j < cols; ++j) out[j] = T(0);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) out[j] += x[i * stride + j];
    return;
  }
  const std::int64_t half = ((rows + kBlock - 1) / kBlock / 2) * kBlock;
  std::vector<T> second(static_cast<std::size_t>(cols));
  sum_columns(x, half, cols, stride, out);
  sum_columns(x + half * stride, rows - half, cols, stride, second.data());
  for (std::int64_t j = 0; j < cols; ++j) out[j] += second[static_cast<std::size_t>(j)];
}

// Largest value; NaN if any value is NaN (as torch.amax). -inf for an empty row.
template <class T>
T max(const T* x, std::int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  if constexpr (!std::numeric_limits<T>::has_infinity) m = std::numeric_limits<T>::lowest();
  for (std::int64_t i = 0; i < n; ++i) {
    if (x[i] != x[i]) return x[i];
    if (x[i] > m) m = x[i];
  }
  return m;
}

template <class T>
T min(const T* x, std::int64_t n) {
  T m = std::numeric_limits<T>::infinity();
  if constexpr (!std::numeric_limits<T>::has_infinity) m = std::numeric_limits<T>::max();
  for (std::int64_t i = 0; i < n; ++i) {
    if (x[i] != x[i]) return x[i];
    if (x[i] < m) m = x[i];
  }
  return m;
}

// Index of the first largest (or smallest) value; NaN counts as the extreme, as PyTorch.
template <class T, bool Largest>
std::int64_t arg_extreme(const T* x, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (x[i] != x[i]) return i;
    if (Largest ? x[i] > x[best] : x[i] < x[best]) best = i;
  }
  return best;
}

// log(sum(exp(x))), shifted by the maximum so no exp overflows.
template <class T>
T logsumexp(const T* x, std::int64_t n) {
  const T m = max(x, n);
  if (n == 0) return -std::numeric_limits<T>::infinity();
  if (std::isinf(m) || std::isnan(m)) return m;
  return m + std::log(sum_map(x, n, [m](T v) { return std::exp(v - m); }));
}

// Sum of squared deviations from the mean (two passes, stable for large offsets).
template <class T>
T squared_deviation(const T* x, std::int64_t n) {
  if (n == 0) return T(0);
  const T mean = sum(x, n) / static_cast<T>(n);
  return sum_map(x, n, [mean](T v) { return (v - mean) * (v - mean); });
}

}  // namespace latent::kernels
