// Distances between two sets of samples.
//   Fréchet distance of Gaussians fitted to features X and Y (the FID recipe):
//     FD = ||mu_x - mu_y||^2 + tr(C_x) + tr(C_y) - 2 tr((C_x^1/2 C_y C_x^1/2)^1/2)
//     (the last trace equals tr((C_x C_y)^1/2); the symmetric form keeps it real)
//   Energy distance: 2 E||x - y|| - E||x - x'|| - E||y - y'|| (0 iff same distribution)
//   MMD^2 with a Gaussian kernel k(a, b) = exp(-||a - b||^2 / (2 s^2)), unbiased estimate
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/parallel.hpp"
#include "linalg.hpp"

namespace latent::metrics {

inline double frechet_distance(const std::vector<double>& mu1, const Matrix& c1, const std::vector<double>& mu2,
                               const Matrix& c2) {
  LATENT_CHECK(mu1.size() == mu2.size() && c1.n == c2.n && c1.n == static_cast<std::int64_t>(mu1.size()),
               "frechet_distance: feature sizes differ (", mu1.size(), " vs ", mu2.size(), ")");
  double diff = 0;
  for (std::size_t i = 0; i < mu1.size(); ++i) diff += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
  const Matrix s1 = sqrtm_psd(c1);
  const Matrix inner = multiply(multiply(s1, c2), s1);
  std::vector<double> values;
  Matrix unused;
  symmetric_eigen(inner, values, unused);
  double trace_sqrt = 0, trace = 0;
  for (double v : values) trace_sqrt += std::sqrt(std::max(0.0, v));
  for (std::int64_t i = 0; i < c1.n; ++i) trace += c1(i, i) + c2(i, i);
  return diff + trace - 2 * trace_sqrt;
}

// Fréchet distance between feature sets [n, d] and [m, d].
template <class T>
double frechet_distance(const Tensor<T>& x, const Tensor<T>& y) {
  std::vector<double> mx, my;
  Matrix cx, cy;
  mean_and_covariance(x, mx, cx);
  mean_and_covariance(y, my, cy);
  return frechet_distance(mx, cx, my, cy);
}

namespace detail {
// Mean over pairs (i from a, j from b) of f(distance^2), rows in parallel, summed in a
// fixed order.
template <class T, class F>
double mean_pairwise(const Tensor<T>& a, const Tensor<T>& b, bool skip_diagonal, F f) {
  const Tensor<T> x = a.contiguous(), y = b.contiguous();
  const std::int64_t n = x.shape()[0], m = y.shape()[0], d = x.shape()[1];
  std::vector<double> rows(static_cast<std::size_t>(n), 0.0);
  parallel_for(0, n, 16, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < m; ++j) {
        if (skip_diagonal && i == j) continue;
        double d2 = 0;
        for (std::int64_t k = 0; k < d; ++k) {
          const double t = double(x.data()[i * d + k]) - double(y.data()[j * d + k]);
          d2 += t * t;
        }
        s += f(d2);
      }
      rows[static_cast<std::size_t>(i)] = s;
    }
  });
  double total = 0;
  for (double r : rows) total += r;
  return total / (double(n) * double(skip_diagonal ? m - 1 : m));
}
template <class T>
void check_sets(const Tensor<T>& x, const Tensor<T>& y, const char* op) {
  LATENT_CHECK(x.dim() == 2 && y.dim() == 2 && x.shape()[1] == y.shape()[1] && x.shape()[0] >= 2 && y.shape()[0] >= 2,
               op, ": expects two sets [n >= 2, d] and [m >= 2, d], got ", x.shape(), " and ", y.shape());
}
}  // namespace detail

template <class T>
double energy_distance(const Tensor<T>& x, const Tensor<T>& y) {
  detail::check_sets(x, y, "energy_distance");
  auto dist = [](double d2) { return std::sqrt(d2); };
  return 2 * detail::mean_pairwise(x, y, false, dist) - detail::mean_pairwise(x, x, true, dist) -
         detail::mean_pairwise(y, y, true, dist);
}

template <class T>
double mmd_squared(const Tensor<T>& x, const Tensor<T>& y, double bandwidth = 1.0) {
  detail::check_sets(x, y, "mmd_squared");
  LATENT_CHECK(bandwidth > 0, "mmd_squared: bandwidth must be positive, got ", bandwidth);
  auto k = [bandwidth](double d2) { return std::exp(-d2 / (2 * bandwidth * bandwidth)); };
  return detail::mean_pairwise(x, x, true, k) + detail::mean_pairwise(y, y, true, k) -
         2 * detail::mean_pairwise(x, y, false, k);
}

}  // namespace latent::metrics
