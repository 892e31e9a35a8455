// Ordering along a dim: sort, argsort, topk; and multinomial sampling.
//
// sort and topk find, for every line along dim, the positions of its elements in order,
// then read the values with gather, so the values are differentiable (their gradient is
// scattered back to the positions they came from). NaN counts as larger than every
// number, as in PyTorch. Equal values keep their index order (the sort is stable); PyTorch
// leaves the order of ties unspecified, so only the indices of ties may differ from it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "../core/parallel.hpp"
#include "../core/random.hpp"
#include "autograd.hpp"
#include "indexing.hpp"
#include "shape_ops.hpp"

namespace latent {

// What sort and topk return (as torch.return_types): the values and their positions.
template <class T>
struct ValuesIndices {
  Tensor<T> values;
  Tensor<std::int64_t> indices;
};

namespace detail {

// a comes strictly before b in ascending order; NaN after every number.
template <class T>
bool ascending_before(T a, T b) {
  if (b != b) return a == a;
  return a < b;
}

// For every line of x along dim d, the positions of its first k elements in ascending (or
// descending) order; equal elements keep their index order.
template <class T>
Tensor<std::int64_t> ordered_positions(const Tensor<T>& x, int d, std::int64_t k, bool descending) {
  const Tensor<T> c = x.is_contiguous() ? x : contiguous_copy(x);
  std::int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= x.shape()[i];
  for (int i = d + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  const std::int64_t n = x.shape()[d];
  Shape shape = x.shape();
  shape[d] = k;
  Tensor<std::int64_t> out(shape);
  const T* in = c.data();
  std::int64_t* o = out.data();
  const std::int64_t grain = std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1));
  parallel_for(0, outer * inner, grain, [&](std::int64_t b, std::int64_t e) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t line = b; line < e; ++line) {
      const T* row = in + (line / inner) * n * inner + line % inner;  // element i at row[i * inner]
      // Ties broken by index make the order total, hence the same as a stable sort.
      auto before = [&](std::int64_t i, std::int64_t j) {
        const T a = row[i * inner], v = row[j * inner];
        const bool ab = descending ? ascending_before(v, a) : ascending_before(a, v);
        const bool ba = descending ? ascending_before(a, v) : ascending_before(v, a);
        return ab || (!ba && i < j);
      };
      std::iota(order.begin(), order.end(), std::int64_t(0));
      if (k < n)
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      else
        std::sort(order.begin(), order.end(), before);
      std::int64_t* dst = o + (line / inner) * k * inner + line % inner;
      for (std::int64_t i = 0; i < k; ++i) dst[i * inner] = order[static_cast<std::size_t>(i)];
    }
  });
  return out;
}

}  // namespace detail

// The values of x sorted along dim (ascending unless `descending`), and where each came from.
template <class T>
ValuesIndices<T> sort(const Tensor<T>& x, std::int64_t dim = -1, bool descending = false) {
  if (x.dim() == 0) return {x.clone(), zeros<std::int64_t>(Shape{})};
  const int d = wrap_dim(dim, x.dim(), "sort");
  Tensor<std::int64_t> idx = detail::ordered_positions(x, d, x.shape()[d], descending);
  return {gather(x, d, idx), idx};
}

// The positions that sort x along dim.
template <class T>
Tensor<std::int64_t> argsort(const Tensor<T>& x, std::int64_t dim = -1, bool descending = false) {
  if (x.dim() == 0) return zeros<std::int64_t>(Shape{});
  const int d = wrap_dim(dim, x.dim(), "argsort");
  return detail::ordered_positions(x, d, x.shape()[d], descending);
}

// The k largest (or smallest) values along dim, in order, and their positions.
template <class T>
ValuesIndices<T> topk(const Tensor<T>& x, std::int64_t k, std::int64_t dim = -1, bool largest = true,
                      bool sorted = true) {
  (void)sorted;  // the result is always sorted (PyTorch leaves the order open when false)
  const Tensor<T> xs = x.dim() == 0 ? x.reshape(Shape{1}) : x;
  const int d = wrap_dim(dim, x.dim(), "topk");
  const std::int64_t n = xs.shape()[d];
  LATENT_CHECK(k >= 0 && k <= n, "topk: k = ", k, " is out of range for dim ", d, " of size ", n);
  Tensor<std::int64_t> idx = detail::ordered_positions(xs, d, k, largest);
  ValuesIndices<T> r{gather(xs, d, idx), idx};
  if (x.dim() == 0) r = {r.values.reshape(Shape{}), r.indices.reshape(Shape{})};
  return r;
}

// Draws num_samples category indices from each row of probs ([C] or [rows, C]; weights
// that need not sum to 1). With replacement every draw is independent: u ~ U[0, total)
// picks the first category whose running sum exceeds u. Without replacement it is the
// exponential race: category i gets the key E_i / p_i with E_i ~ Exp(1), and the
// num_samples smallest keys win, which draws the same distribution as taking categories
// one by one and renormalising. The uniforms come from the generator in one bulk fill, so
// the result depends only on its seed and state.
template <class T>
Tensor<std::int64_t> multinomial(const Tensor<T>& probs, std::int64_t num_samples, bool replacement,
                                 Generator& gen) {
  LATENT_CHECK(probs.dim() == 1 || probs.dim() == 2, "multinomial: probs must be 1-d or 2-d, got shape ",
               probs.shape());
  const Tensor<T> p = probs.is_contiguous() ? probs : detail::contiguous_copy(probs);
  const std::int64_t rows = p.dim() == 2 ? p.shape()[0] : 1, c = p.shape()[p.dim() - 1];
  LATENT_CHECK(num_samples > 0, "multinomial: num_samples must be positive, got ", num_samples);
  LATENT_CHECK(c > 0, "multinomial: probs has no categories (shape ", probs.shape(), ")");
  LATENT_CHECK(replacement || num_samples <= c, "multinomial: cannot draw ", num_samples,
               " samples without replacement from ", c, " categories");
  const T* pp = p.data();
  for (std::int64_t r = 0; r < rows; ++r) {
    double total = 0;
    std::int64_t positive = 0;
    for (std::int64_t i = 0; i < c; ++i) {
      const T v = pp[r * c + i];
      LATENT_CHECK(std::isfinite(static_cast<double>(v)) && v >= T(0), "multinomial: probability ", v,
                   " in row ", r, " is negative, infinite or NaN");
      total += static_cast<double>(v);
      positive += v > T(0);
    }
    LATENT_CHECK(total > 0, "multinomial: row ", r, " of probs sums to 0");
    LATENT_CHECK(replacement || positive >= num_samples, "multinomial: row ", r, " has only ", positive,
                 " categories with nonzero probability, too few to draw ", num_samples,
                 " samples without replacement");
  }
  const std::int64_t draws = replacement ? num_samples : c;
  std::vector<double> u(static_cast<std::size_t>(rows * draws));
  gen.fill_uniform(u.data(), rows * draws, 0.0, 1.0);
  Tensor<std::int64_t> out(probs.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples});
  std::int64_t* o = out.data();
  std::vector<double> running(static_cast<std::size_t>(c));
  std::vector<std::int64_t> order(static_cast<std::size_t>(c));
  std::vector<double> key(static_cast<std::size_t>(c));
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* row = pp + r * c;
    const double* ur = u.data() + r * draws;
    if (replacement) {
      double total = 0;
      for (std::int64_t i = 0; i < c; ++i) running[static_cast<std::size_t>(i)] = total += static_cast<double>(row[i]);
      for (std::int64_t s = 0; s < num_samples; ++s) {
        const double target = ur[s] * total;
        auto it = std::upper_bound(running.begin(), running.end(), target);
        std::int64_t i = std::min<std::int64_t>(it - running.begin(), c - 1);
        while (row[i] <= T(0) && i > 0) --i;  // rounding at the top end: step back to a possible category
        o[r * num_samples + s] = i;
      }
    } else {
      for (std::int64_t i = 0; i < c; ++i) {
        const double e = -std::log1p(-ur[i]);  // Exp(1) from u in [0, 1)
        key[static_cast<std::size_t>(i)] = row[i] > T(0) ? e / static_cast<double>(row[i])
                                                         : std::numeric_limits<double>::infinity();
      }
      std::iota(order.begin(), order.end(), std::int64_t(0));
      std::partial_sort(order.begin(), order.begin() + num_samples, order.end(), [&](std::int64_t a, std::int64_t b) {
        const double ka = key[static_cast<std::size_t>(a)], kb = key[static_cast<std::size_t>(b)];
        return ka < kb || (ka == kb && a < b);
      });
      for (std::int64_t s = 0; s < num_samples; ++s) o[r * num_samples + s] = order[static_cast<std::size_t>(s)];
    }
  }
  return out;
}

}  // namespace latent
