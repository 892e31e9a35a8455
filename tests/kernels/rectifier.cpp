// Tests for kernels/rectifier.hpp: relu and leaky_relu and their gradients on arrays,
// against hand-computed values and the per-element definition, for float and double, at
// every length around the vector widths, in place, with the special values.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

#include <latent/latent.hpp>

namespace rectifier_test {

namespace kernels = latent::kernels;

// The definition, one element at a time: x > 0 (or NaN) keeps x and g, else slope x and
// slope g, with relu's "else" exactly 0.
template <class T>
T reference_forward(T x, T slope) {
  if (x <= T(0)) return slope == T(0) ? T(0) : slope * x;
  return x;
}
template <class T>
T reference_backward(T x, T g, T slope) {
  if (x <= T(0)) return slope == T(0) ? T(0) : slope * g;
  return g;
}

// Same value, or both NaN.
template <class T>
bool same(T a, T b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

TEST_CASE_TEMPLATE("rectifier: hand-computed values, special values included", T, float, double) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> x = {T(-2), T(-0.0), T(0), T(1.5), -inf, inf, nan, T(3), T(-1)};
  const std::vector<T> g(x.size(), T(2));
  std::vector<T> y(x.size()), grad(x.size());

  kernels::leaky_relu(x.data(), y.data(), std::int64_t(x.size()), T(0));
  const std::vector<T> relu = {0, 0, 0, T(1.5), 0, inf, nan, 3, 0};  // relu(-inf) = 0
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(same(y[i], relu[i]));
  kernels::leaky_relu_backward(x.data(), g.data(), grad.data(), std::int64_t(x.size()), T(0));
  const std::vector<T> relu_grad = {0, 0, 0, 2, 0, 2, 2, 2, 0};  // NaN passes g through
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(same(grad[i], relu_grad[i]));

  kernels::leaky_relu(x.data(), y.data(), std::int64_t(x.size()), T(0.25));
  const std::vector<T> leaky = {T(-0.5), T(-0.0), 0, T(1.5), -inf, inf, nan, 3, T(-0.25)};
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(same(y[i], leaky[i]));
  kernels::leaky_relu_backward(x.data(), g.data(), grad.data(), std::int64_t(x.size()), T(0.25));
  const std::vector<T> leaky_grad = {T(0.5), T(0.5), T(0.5), 2, T(0.5), 2, 2, 2, T(0.5)};
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(same(grad[i], leaky_grad[i]));
}

TEST_CASE_TEMPLATE("rectifier: every length around the vector width, in place", T, float, double) {
  for (const T slope : {T(0), T(0.2)}) {
    for (std::int64_t n = 0; n <= 40; ++n) {
      std::vector<T> x(n), g(n);
      for (std::int64_t i = 0; i < n; ++i) {
        x[i] = T((i * 37 % 11) - 5) / T(3);  // both signs and zero, in no order
        g[i] = T(1) + T(i) / T(8);
      }
      std::vector<T> y(n), grad(n), in_place = x, grad_in_place = g;
      kernels::leaky_relu(x.data(), y.data(), n, slope);
      kernels::leaky_relu_backward(x.data(), g.data(), grad.data(), n, slope);
      kernels::leaky_relu(in_place.data(), in_place.data(), n, slope);
      kernels::leaky_relu_backward(x.data(), grad_in_place.data(), grad_in_place.data(), n, slope);
      for (std::int64_t i = 0; i < n; ++i) {
        CHECK(y[i] == reference_forward(x[i], slope));
        CHECK(grad[i] == reference_backward(x[i], g[i], slope));
        CHECK(in_place[i] == y[i]);
        CHECK(grad_in_place[i] == grad[i]);
      }
    }
  }
}

}  // namespace rectifier_test
