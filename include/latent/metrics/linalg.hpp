// Small dense linear algebra in double precision for the metrics: the mean and
// covariance of feature vectors, and the eigen-decomposition of a symmetric matrix by
// cyclic Jacobi rotations (each rotation zeroes one off-diagonal pair; sweeps repeat
// until the off-diagonal mass is negligible), which gives the square root of a
// symmetric positive semi-definite matrix as V sqrt(L) V^T.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../tensor/tensor.hpp"

namespace latent::metrics {

// A row-major square matrix of doubles.
struct Matrix {
  std::int64_t n = 0;
  std::vector<double> a;
  explicit Matrix(std::int64_t size = 0) : n(size), a(static_cast<std::size_t>(size * size), 0.0) {}
  double& operator()(std::int64_t i, std::int64_t j) { return a[static_cast<std::size_t>(i * n + j)]; }
  double operator()(std::int64_t i, std::int64_t j) const { return a[static_cast<std::size_t>(i * n + j)]; }
};

inline Matrix multiply(const Matrix& x, const Matrix& y) {
  Matrix z(x.n);
  for (std::int64_t i = 0; i < x.n; ++i)
    for (std::int64_t k = 0; k < x.n; ++k) {
      const double v = x(i, k);
      for (std::int64_t j = 0; j < x.n; ++j) z(i, j) += v * y(k, j);
    }
  return z;
}

// Mean [d] and covariance [d x d] (unbiased, divided by n - 1) of n feature rows [n, d].
template <class T>
void mean_and_covariance(const Tensor<T>& features, std::vector<double>& mean, Matrix& cov) {
  LATENT_CHECK(features.dim() == 2 && features.shape()[0] >= 2, "mean_and_covariance: expects [n >= 2, d] features, got ",
               features.shape());
  const Tensor<T> f = features.contiguous();
  const std::int64_t n = f.shape()[0], d = f.shape()[1];
  const T* x = f.data();
  mean.assign(static_cast<std::size_t>(d), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) mean[static_cast<std::size_t>(j)] += double(x[i * d + j]);
  for (double& m : mean) m /= double(n);
  cov = Matrix(d);
  std::vector<double> row(static_cast<std::size_t>(d));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j) row[static_cast<std::size_t>(j)] = double(x[i * d + j]) - mean[static_cast<std::size_t>(j)];
    for (std::int64_t j = 0; j < d; ++j)
      for (std::int64_t k = j; k < d; ++k) cov(j, k) += row[static_cast<std::size_t>(j)] * row[static_cast<std::size_t>(k)];
  }
  for (std::int64_t j = 0; j < d; ++j)
    for (std::int64_t k = j; k < d; ++k) cov(k, j) = cov(j, k) = cov(j, k) / double(n - 1);
}

// Eigenvalues (ascending order not guaranteed) and eigenvectors (columns of `vectors`) of
// a symmetric matrix.
inline void symmetric_eigen(Matrix m, std::vector<double>& values, Matrix& vectors) {
  const std::int64_t n = m.n;
  vectors = Matrix(n);
  for (std::int64_t i = 0; i < n; ++i) vectors(i, i) = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, total = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) (i == j ? total : off) += m(i, j) * m(i, j);
    if (off <= 1e-30 * (total + off) || off == 0) break;
    for (std::int64_t p = 0; p < n; ++p)
      for (std::int64_t q = p + 1; q < n; ++q) {
        if (m(p, q) == 0) continue;
        // The rotation angle that zeroes m(p, q): tan(2 theta) = 2 m_pq / (m_qq - m_pp).
        const double theta = (m(q, q) - m(p, p)) / (2 * m(p, q));
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::int64_t k = 0; k < n; ++k) {  // columns p and q
          const double mkp = m(k, p), mkq = m(k, q);
          m(k, p) = c * mkp - s * mkq;
          m(k, q) = s * mkp + c * mkq;
        }
        for (std::int64_t k = 0; k < n; ++k) {  // rows p and q
          const double mpk = m(p, k), mqk = m(q, k);
          m(p, k) = c * mpk - s * mqk;
          m(q, k) = s * mpk + c * mqk;
        }
        for (std::int64_t k = 0; k < n; ++k) {
          const double vkp = vectors(k, p), vkq = vectors(k, q);
          vectors(k, p) = c * vkp - s * vkq;
          vectors(k, q) = s * vkp + c * vkq;
        }
      }
  }
  values.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = m(i, i);
}

// The symmetric square root of a symmetric positive semi-definite matrix (tiny negative
// eigenvalues from rounding are treated as zero).
inline Matrix sqrtm_psd(const Matrix& m) {
  std::vector<double> values;
  Matrix v;
  symmetric_eigen(m, values, v);
  Matrix r(m.n);
  for (std::int64_t i = 0; i < m.n; ++i)
    for (std::int64_t j = 0; j < m.n; ++j) {
      double sum = 0;
      for (std::int64_t k = 0; k < m.n; ++k)
        sum += v(i, k) * std::sqrt(std::max(0.0, values[static_cast<std::size_t>(k)])) * v(j, k);
      r(i, j) = sum;
    }
  return r;
}

}  // namespace latent::metrics
