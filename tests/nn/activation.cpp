// Activations of nn::functional: values (by hand and PyTorch 1.13's), float against
// double, gradients and second derivatives by finite differences, the fused first-order
// backward against the differentiable one, errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace activation_test {
using namespace latent;
namespace F = latent::nn::functional;

constexpr double pi = 3.14159265358979323846;

using Unary = std::function<Tensor<double>(const Tensor<double>&)>;

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-14) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::fabs(got[i] - want[i]) <= tol * (1 + std::fabs(want[i])));
  }
}

// Inputs of several shapes, including a transposed (non-contiguous) one and a scalar,
// kept away from 0 and +-1 where some activations have kinks.
inline std::vector<Tensor<double>> inputs(std::uint64_t seed) {
  Generator gen(seed);
  auto away_from_kinks = [](Tensor<double> t) {
    double* p = t.data();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      if (std::fabs(p[i]) < 0.05) p[i] += 0.1;
      if (std::fabs(std::fabs(p[i]) - 1) < 0.05) p[i] *= 1.1;
    }
    return t;
  };
  std::vector<Tensor<double>> xs;
  xs.push_back(away_from_kinks(randn<double>({5}, gen, 0.0, 2.0)).requires_grad_(true));
  xs.push_back(away_from_kinks(randn<double>({2, 3}, gen, 0.0, 2.0)).requires_grad_(true));
  xs.push_back(away_from_kinks(randn<double>({4, 3}, gen, 0.0, 2.0)).t().requires_grad_(true));
  xs.push_back(tensor<double>({0.7}, Shape{}).requires_grad_(true));
  return xs;
}

inline void expect_derivatives(const Unary& f, bool second_order, std::uint64_t seed = 1) {
  for (const Tensor<double>& x : inputs(seed)) {
    CAPTURE(x.shape());
    const GradcheckFn fn = [&f](const std::vector<Tensor<double>>& in) { return f(in[0]); };
    const GradcheckResult first = gradcheck(fn, {x});
    INFO(first.message);
    CHECK(first.ok);
    if (second_order) {
      const GradcheckResult second = gradgradcheck(fn, {x});
      INFO(second.message);
      CHECK(second.ok);
    }
  }
}

// The gradient from an ordinary backward (fused kernels) equals the one built with
// differentiable ops (create_graph).
inline void expect_same_backward_paths(const Unary& f) {
  Generator gen(7);
  const Tensor<double> x = randn<double>({3, 11}, gen, 0.0, 3.0).requires_grad_(true);
  const Tensor<double> v = randn<double>({3, 11}, gen);
  const Tensor<double> fused = autograd::grad<double>({f(x)}, {x}, {v}, false)[0];
  const Tensor<double> composed = autograd::grad<double>({f(x)}, {x}, {v}, true)[0];
  CHECK(composed.requires_grad());
  check_close(fused.to_vector(), composed.to_vector(), 1e-13);
}

// The float forward agrees with the double one.
inline void expect_float_matches_double(const std::function<Tensor<float>(const Tensor<float>&)>& ff,
                                        const Unary& fd) {
  Generator gen(3);
  const Tensor<double> xd = randn<double>({4, 33}, gen, 0.0, 4.0);
  const std::vector<double> want = fd(xd).to_vector();
  const std::vector<float> got = ff(xd.to<float>()).to_vector();
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(std::fabs(double(got[i]) - want[i]) <= 1e-6 * (1 + std::fabs(want[i])));
  }
}
TEST_CASE("activation values, by hand and from PyTorch 1.13") {
  const Tensor<double> x = tensor<double>({-2.0, 0.0, 3.0});
  check_close(F::leaky_relu(x).to_vector(), {-0.02, 0.0, 3.0});
  check_close(F::leaky_relu(x, 0.2).to_vector(), {-0.4, 0.0, 3.0});
  check_close(F::elu(x, 1.5).to_vector(), {1.5 * std::expm1(-2.0), 0.0, 3.0});
  check_close(F::hardtanh(x).to_vector(), {-1.0, 0.0, 1.0});
  check_close(F::hardtanh(x, -0.5, 2.0).to_vector(), {-0.5, 0.0, 2.0});
  check_close(F::relu(x).to_vector(), {0.0, 0.0, 3.0});

  const Tensor<double> y = tensor<double>({1.0, -0.5});
  check_close(F::gelu(y).to_vector(), {0.84134474606854304, -0.15426876936299344});
  check_close(F::gelu(y, "tanh").to_vector(), {0.84119199060827676, -0.15428599017485606});
  check_close(F::silu(y).to_vector(), {1.0 / (1.0 + std::exp(-1.0)), -0.5 / (1.0 + std::exp(0.5))});
  check_close(F::mish(tensor<double>({1.0, -2.0})).to_vector(), {0.86509838826731034, -0.25250148269570888});
  check_close(F::sigmoid(y).to_vector(), {1.0 / (1.0 + std::exp(-1.0)), 1.0 / (1.0 + std::exp(0.5))});

  // softplus: log(1 + exp(beta x)) / beta, and x itself past the threshold.
  check_close(F::softplus(tensor<double>({1.0, 30.0, -40.0})).to_vector(),
              {std::log1p(std::exp(1.0)), 30.0, std::log1p(std::exp(-40.0))});
  check_close(F::softplus(tensor<double>({1.0, 2.0}), 2.0, 3.0).to_vector(),
              {std::log1p(std::exp(2.0)) / 2, 2.0});

  // logsigmoid neither overflows nor loses tiny values.
  check_close(F::logsigmoid(tensor<double>({0.0, -1000.0, 1000.0, 40.0})).to_vector(),
              {-std::log(2.0), -1000.0, 0.0, -std::exp(-40.0)});
}

TEST_CASE("float activations agree with double ones") {
  expect_float_matches_double([](const Tensor<float>& x) { return F::gelu(x); },
                              [](const Tensor<double>& x) { return F::gelu(x); });
  expect_float_matches_double([](const Tensor<float>& x) { return F::gelu(x, "tanh"); },
                              [](const Tensor<double>& x) { return F::gelu(x, "tanh"); });
  expect_float_matches_double([](const Tensor<float>& x) { return F::silu(x); },
                              [](const Tensor<double>& x) { return F::silu(x); });
  expect_float_matches_double([](const Tensor<float>& x) { return F::softplus(x, 0.5, 1.0); },
                              [](const Tensor<double>& x) { return F::softplus(x, 0.5, 1.0); });
  expect_float_matches_double([](const Tensor<float>& x) { return F::elu(x, 0.7); },
                              [](const Tensor<double>& x) { return F::elu(x, 0.7); });
  expect_float_matches_double([](const Tensor<float>& x) { return F::mish(x); },
                              [](const Tensor<double>& x) { return F::mish(x); });
  expect_float_matches_double([](const Tensor<float>& x) { return F::logsigmoid(x); },
                              [](const Tensor<double>& x) { return F::logsigmoid(x); });
  // Non-contiguous float input goes through the same kernels.
  latent::Generator gen(5);
  const Tensor<float> x = latent::randn<float>({6, 5}, gen);
  CHECK(F::gelu(x.t()).to_vector() == F::gelu(x.t().contiguous()).to_vector());
}

TEST_CASE("activation gradients at the kinks follow PyTorch") {
  const Tensor<double> x = tensor<double>({0.0, -1.0, 1.0}).requires_grad_(true);
  F::leaky_relu(x, 0.2).sum().backward();
  check_close(x.grad().to_vector(), {0.2, 0.2, 1.0});
  x.zero_grad();
  F::elu(x, 2.0).sum().backward();
  check_close(x.grad().to_vector(), {2.0, 2.0 * std::exp(-1.0), 1.0});
  x.zero_grad();
  F::hardtanh(x).sum().backward();  // 1 only strictly inside (min, max)
  check_close(x.grad().to_vector(), {1.0, 0.0, 0.0});
  x.zero_grad();
  F::gelu(x).sum().backward();  // gelu'(0) = 1/2, gelu'(x) = Phi(x) + x phi(x)
  const double phi1 = std::exp(-0.5) / std::sqrt(2 * activation_test::pi),
               Phi1 = 0.5 * std::erfc(-1 / std::sqrt(2.0));
  check_close(x.grad().to_vector(), {0.5, 1 - Phi1 - phi1, Phi1 + phi1});
}

TEST_CASE("activations: gradcheck and gradgradcheck") {
  expect_derivatives([](const Tensor<double>& x) { return F::leaky_relu(x, 0.3); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::elu(x, 1.3); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::gelu(x); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::gelu(x, "tanh"); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::silu(x); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::softplus(x); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::softplus(x, 2.0, 3.0); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::mish(x); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::logsigmoid(x); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::hardtanh(x, -0.5, 2.0); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::relu(x); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::sigmoid(x); }, true);
  expect_derivatives([](const Tensor<double>& x) { return F::tanh(x); }, true);
}

TEST_CASE("third derivative of gelu through the differentiable backward") {
  // gelu''(x) = phi(x) (2 - x^2), so d/dx of gelu''(x) at x is phi(x) (x^3 - 4x).
  const double v = 0.8;
  const Tensor<double> x = tensor<double>({v}).requires_grad_(true);
  const Tensor<double> d1 = latent::autograd::grad<double>({F::gelu(x).sum()}, {x}, {}, true)[0];
  const Tensor<double> d2 = latent::autograd::grad<double>({d1.sum()}, {x}, {}, true)[0];
  const Tensor<double> d3 = latent::autograd::grad<double>({d2.sum()}, {x}, {}, false)[0];
  const double phi = std::exp(-0.5 * v * v) / std::sqrt(2 * activation_test::pi);
  check_close(d2.to_vector(), {phi * (2 - v * v)});
  check_close(d3.to_vector(), {phi * (v * v * v - 4 * v)});
}

TEST_CASE("fused and differentiable activation backwards agree") {
  expect_same_backward_paths([](const Tensor<double>& x) { return F::gelu(x); });
  expect_same_backward_paths([](const Tensor<double>& x) { return F::gelu(x, "tanh"); });
  expect_same_backward_paths([](const Tensor<double>& x) { return F::silu(x); });
  expect_same_backward_paths([](const Tensor<double>& x) { return F::elu(x, 0.6); });
  expect_same_backward_paths([](const Tensor<double>& x) { return F::softplus(x, 1.5, 4.0); });
  expect_same_backward_paths([](const Tensor<double>& x) { return F::mish(x); });
}

TEST_CASE("activation errors") {
  const Tensor<double> x = tensor<double>({1.0});
  CHECK(error_of([&] { F::gelu(x, "fast"); }) ==
        "gelu: approximate must be \"none\" or \"tanh\", got \"fast\"");
  CHECK(error_of([&] { F::hardtanh(x, 1.0, -1.0); }) == "hardtanh: min_val 1 is greater than max_val -1");
}

TEST_CASE("special functions: erf, erfc, log1p, expm1") {
  const Tensor<double> x = tensor<double>({0.5, -1.0, 2.0});
  check_close(latent::erf(x).to_vector(), {0.52049987781304654, -0.84270079294971487, 0.99532226501895273});
  check_close(latent::erfc(x).to_vector(), {0.47950012218695346, 1.84270079294971487, 0.0046777349810472658});
  const Tensor<double> tiny = tensor<double>({1e-10, -1e-12});
  check_close(latent::log1p(tiny).to_vector(), {9.9999999995e-11, -1.0000000000005e-12});
  check_close(latent::expm1(tiny).to_vector(), {1.00000000005e-10, -9.999999999995e-13});
  expect_derivatives([](const Tensor<double>& t) { return latent::erf(t); }, true);
  expect_derivatives([](const Tensor<double>& t) { return latent::erfc(t); }, true);
  expect_derivatives([](const Tensor<double>& t) { return latent::expm1(t); }, true);
  expect_derivatives([](const Tensor<double>& t) { return latent::log1p(latent::abs(t)); }, true);
}

}  // namespace activation_test
