// The autograd engine: backward, accumulation, retain_graph, detach, grad(), double
// backward, grad mode, anomaly mode; and gradcheck/gradgradcheck over the basic ops.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace latent;

namespace autograd_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

// Random float64 input that requires grad.
inline Tensor<double> input(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn<double>(shape, gen).requires_grad_(true);
}

inline void expect_gradcheck(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs,
                             bool second_order = true) {
  const GradcheckResult first = gradcheck(f, inputs);
  INFO(first.message);
  CHECK(first.ok);
  if (second_order) {
    const GradcheckResult second = gradgradcheck(f, inputs);
    INFO(second.message);
    CHECK(second.ok);
  }
}
}  // namespace autograd_test


TEST_CASE("backward computes and accumulates leaf gradients") {
  Tensor<double> x = tensor<double>({1, 2, 3}).requires_grad_(true);
  Tensor<double> w = tensor<double>({4, 5, 6}).requires_grad_(true);
  Tensor<double> loss = (x * w).sum() + (x * x).sum();  // d/dx = w + 2x, d/dw = x
  loss.backward();
  CHECK(autograd_test::values(x.grad()) == std::vector<double>{6, 9, 12});
  CHECK(autograd_test::values(w.grad()) == std::vector<double>{1, 2, 3});
  // A second backward through a new graph accumulates.
  (x * 3.0).sum().backward();
  CHECK(autograd_test::values(x.grad()) == std::vector<double>{9, 12, 15});
  x.zero_grad();
  CHECK(!x.grad().defined());
  // A tensor used twice gets both contributions (diamond graph).
  Tensor<double> y = x * 2.0;
  (y * y + y).sum().backward();  // d/dx = (2y + 1) * 2 = 8x + 2
  CHECK(autograd_test::values(x.grad()) == std::vector<double>{10, 18, 26});
}

TEST_CASE("backward with an explicit output gradient; non-scalar needs one") {
  Tensor<double> x = tensor<double>({1, 2}).requires_grad_(true);
  Tensor<double> y = x * x;
  CHECK(autograd_test::error_of([&] { y.backward(); }).find("backward() without a gradient needs a one-element output") !=
        std::string::npos);
  y.backward(tensor<double>({1, 10}));
  CHECK(autograd_test::values(x.grad()) == std::vector<double>{2, 40});
}

TEST_CASE("the graph is freed after backward unless retained") {
  Tensor<double> x = tensor<double>({3}).requires_grad_(true);
  Tensor<double> y = (exp(x) * x).sum();
  y.backward(Tensor<double>(), true);
  const double once = x.grad().item();
  CHECK(once == doctest::Approx(std::exp(3.0) * 4));
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(2 * once));
  CHECK(autograd_test::error_of([&] { y.backward(); }).find("was already freed") != std::string::npos);
}

TEST_CASE("detach cuts the graph; no_grad records nothing") {
  Tensor<double> x = tensor<double>({2}).requires_grad_(true);
  Tensor<double> y = x * x.detach();  // d/dx = x (the detached factor is a constant)
  y.sum().backward();
  CHECK(x.grad().item() == 2);
  {
    NoGradGuard no_grad;
    Tensor<double> z = x * x;
    CHECK(!z.requires_grad());
    CHECK(z.is_leaf());
    {
      EnableGradGuard enable;
      CHECK((x * x).requires_grad());
    }
  }
  CHECK(is_grad_enabled());
  CHECK(!(tensor<double>({1}) * 2.0).requires_grad());
  CHECK_THROWS_AS(tensor<std::int64_t>({1}).requires_grad_(true), Error);
}

TEST_CASE("autograd::grad returns gradients without touching .grad, and differentiates twice") {
  Tensor<double> x = tensor<double>({1.5, -2}).requires_grad_(true);
  Tensor<double> y = (x * x * x).sum();  // dy/dx = 3x^2, d2y/dx2 = 6x
  std::vector<Tensor<double>> g = autograd::grad<double>({y}, {x}, {}, true);
  CHECK(autograd_test::values(g[0]) == std::vector<double>{6.75, 12});
  CHECK(!x.grad().defined());
  CHECK(g[0].requires_grad());
  std::vector<Tensor<double>> gg = autograd::grad<double>({g[0].sum()}, {x});
  CHECK(autograd_test::values(gg[0]) == std::vector<double>{9, -12});
  // Gradient-penalty shape: || dy/dx ||^2 differentiated with respect to a weight.
  Tensor<double> w = tensor<double>({2}).requires_grad_(true);
  Tensor<double> out = (tanh(x * w)).sum();
  Tensor<double> gx = autograd::grad<double>({out}, {x}, {}, true)[0];
  Tensor<double> penalty = (gx * gx).sum();
  penalty.backward();
  // gx_i = w (1 - t_i^2), t_i = tanh(w x_i); d penalty / dw = sum 2 gx_i d gx_i/dw,
  // d gx_i/dw = (1 - t_i^2) - 2 w t_i (1 - t_i^2) x_i.
  double want = 0;
  for (double xi : {1.5, -2.0}) {
    const double t = std::tanh(2 * xi), s = 1 - t * t;
    want += 2 * (2 * s) * (s - 2 * 2 * t * s * xi);
  }
  CHECK(w.grad().item() == doctest::Approx(want).epsilon(1e-12));
  // Unused inputs are an error unless allowed.
  Tensor<double> unused = tensor<double>({1}).requires_grad_(true);
  Tensor<double> z = (x * 2.0).sum();
  CHECK_THROWS_AS(autograd::grad<double>({z}, {unused}, {}, false, true), Error);
  CHECK(!autograd::grad<double>({z}, {unused}, {}, false, true, true)[0].defined());
}

TEST_CASE("anomaly mode names the op that produced NaN or Inf") {
  Tensor<double> x = tensor<double>({-1, 1}).requires_grad_(true);
  CHECK_NOTHROW(log(x));  // off by default: NaN passes silently
  DetectAnomalyGuard anomaly;
  CHECK(autograd_test::error_of([&] { (void)log(x); }) ==
        "anomaly: log produced NaN or Inf in its forward pass (output shape [2])");
  Tensor<double> z = tensor<double>({0, 4}).requires_grad_(true);
  Tensor<double> s = sqrt(z).sum();  // forward is finite, backward divides by 0
  CHECK(autograd_test::error_of([&] { s.backward(); }) == "anomaly: the backward of sqrt produced NaN or Inf");
}

TEST_CASE("gradcheck: arithmetic with broadcasting and non-contiguous inputs") {
  const Tensor<double> a = autograd_test::input({2, 3}, 1), b = autograd_test::input({3}, 2), c = autograd_test::input({2, 1}, 3);
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0] + v[1] * v[2]; }, {a, b, c});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0] - v[1] / (v[2] * v[2] + 1.0); }, {a, b, c});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return (2.0 - v[0]) * 3.0 + 1.0 / (v[1] * v[1] + 2.0); }, {a, b});
  // A transposed (non-contiguous) input.
  const Tensor<double> t = autograd_test::input({3, 2}, 4).detach().t().requires_grad_(true);
  CHECK(!t.is_contiguous());
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0] * v[1]; }, {t, a});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return maximum(v[0], v[1]) + minimum(v[0], v[1] * 2.0); }, {a, b});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return where(v[0] > 0.0, v[0] * v[1], -v[1]); }, {a, b});
}

TEST_CASE("gradcheck: unary maths") {
  const Tensor<double> x = autograd_test::input({2, 3}, 5);
  Generator gen(6);
  const Tensor<double> pos = (rand<double>({2, 3}, gen) + 0.5).requires_grad_(true);
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return exp(v[0]); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return log(v[0]); }, {pos});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return sqrt(v[0]); }, {pos});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return rsqrt(v[0]); }, {pos});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return abs(v[0]); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return square(v[0]); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return pow(v[0], 2.5); }, {pos});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return tanh(v[0]); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return sigmoid(v[0]); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return relu(v[0]); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return clamp(v[0], -0.5, 0.7); }, {x});
}

TEST_CASE("gradcheck: reductions over dims, with keepdim") {
  const Tensor<double> x = autograd_test::input({2, 3, 4}, 7);
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].sum(); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].sum({0, 2}, true); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].mean(1); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].var(-1); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].var({0, 1}, 0, true); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].std(2); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].amax(1); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].amin({0, 2}); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].logsumexp(2); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].transpose(0, 2).sum(1); }, {x});
}

TEST_CASE("gradcheck: views, cat/stack/split, matmul") {
  const Tensor<double> x = autograd_test::input({2, 3, 4}, 8);
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].reshape({4, 6}) * 2.0; }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].permute({2, 0, 1}).reshape({-1}); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].slice(2, 1, 4, 2).select(1, -1); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].narrow(0, 1, 1).squeeze(0).unsqueeze(2); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].select(2, 0).unsqueeze(2).expand({2, 3, 5}); }, {x});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return v[0].flatten(1).contiguous().clone(); }, {x});
  const Tensor<double> y = autograd_test::input({2, 2, 4}, 9);
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return cat<double>({v[0], v[1] * 2.0}, 1); }, {x, y});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return stack<double>({v[0], v[0] * v[0]}, -1); }, {y});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) {
    const std::vector<Tensor<double>> parts = chunk(v[0], 2, 2);
    return parts[0] * parts[1];
  }, {x});
  const Tensor<double> a = autograd_test::input({2, 3}, 10), b = autograd_test::input({3, 4}, 11), bb = autograd_test::input({2, 1, 4, 3}, 12);
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return matmul(v[0], v[1]); }, {a, b});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return matmul(v[1].t(), v[0].t()); }, {a, b});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return matmul(v[0], v[1]); }, {bb, b});
  autograd_test::expect_gradcheck([](const std::vector<Tensor<double>>& v) { return matmul(v[0].select(1, 0), v[0].select(0, 0).narrow(0, 0, 2)); }, {a});
}
