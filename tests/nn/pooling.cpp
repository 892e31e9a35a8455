// max_pool2d, avg_pool2d, upsample_nearest2d: hand-computed values, gradients (first and
// second order, the latter through the output gradient), and argument errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <cmath>
#include <functional>
#include <latent/latent.hpp>
#include <limits>
#include <string>
#include <vector>

using namespace latent;

namespace pooling_test {
namespace F = latent::nn::functional;

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline Tensor<double> random(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn<double>(shape, gen);
}

inline void expect_gradcheck(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs) {
  const GradcheckResult r = gradcheck(f, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

inline void expect_gradgradcheck(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs) {
  const GradcheckResult r = gradgradcheck(f, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

// For an op y = op(x) at a fixed x: the map v -> dL/dx of L = <op(x), v>, built with
// create_graph so that it is differentiable in v. Checking its gradient checks the
// backward's own backward; checking its second derivatives checks one level further.
inline GradcheckFn through_backward(const std::function<Tensor<double>(const Tensor<double>&)>& op,
                                    const Tensor<double>& x0) {
  return [op, x0](const std::vector<Tensor<double>>& in) {
    EnableGradGuard enable;
    const Tensor<double> x = x0.detach().requires_grad_(true);
    return autograd::grad<double>({op(x)}, {x}, {in[0]}, true)[0];
  };
}

}  // namespace pooling_test

TEST_CASE("max_pool2d by hand") {
  namespace F = latent::nn::functional;
  const Tensor<double> x = arange<double>(16).reshape({1, 1, 4, 4}).requires_grad_(true);
  const Tensor<double> y = F::max_pool2d(x, 2);
  CHECK(y.to_vector() == std::vector<double>{5, 7, 13, 15});
  y.sum().backward();
  CHECK(x.grad().to_vector() ==
        std::vector<double>{0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1});
  // Overlapping windows (stride 1) all pick the centre, which receives four gradients.
  const Tensor<double> x3 =
      tensor<double>({1, 2, 1, 2, 9, 2, 1, 2, 1}, {1, 1, 3, 3}).requires_grad_(true);
  const Tensor<double> y3 = F::max_pool2d(x3, 2, 1);
  CHECK(y3.to_vector() == std::vector<double>{9, 9, 9, 9});
  y3.sum().backward();
  CHECK(x3.grad().to_vector() == std::vector<double>{0, 0, 0, 0, 4, 0, 0, 0, 0});
  // The padding is -inf, not zero: all-negative windows still pick a pixel.
  const Tensor<double> neg = (arange<double>(9) * -1.0 - 1.0).reshape({1, 1, 3, 3});
  CHECK(F::max_pool2d(neg, 3, 2, 1).to_vector() == std::vector<double>{-1, -2, -4, -5});
  // Rectangular windows, stride given per dim.
  CHECK(F::max_pool2d(x, {2, 3}, {2, 1}).to_vector() == std::vector<double>{6, 7, 14, 15});
  // Unbatched input [C, H, W].
  CHECK(F::max_pool2d(x.reshape({1, 4, 4}), 2).shape() == Shape{1, 2, 2});
}

TEST_CASE("max_pool2d ties send the gradient to the first maximum; NaN propagates") {
  namespace F = latent::nn::functional;
  const Tensor<double> x = ones<double>({1, 1, 2, 2}).requires_grad_(true);
  F::max_pool2d(x, 2).sum().backward();
  CHECK(x.grad().to_vector() == std::vector<double>{1, 0, 0, 0});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor<double> with_nan = tensor<double>({1, nan, 3, 4}, {1, 1, 2, 2});
  CHECK(std::isnan(F::max_pool2d(with_nan, 2).item()));
}

TEST_CASE("avg_pool2d by hand") {
  namespace F = latent::nn::functional;
  const Tensor<double> x = arange<double>(16).reshape({1, 1, 4, 4}).requires_grad_(true);
  const Tensor<double> y = F::avg_pool2d(x, 2);
  CHECK(y.to_vector() == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  y.sum().backward();
  CHECK(x.grad().to_vector() == std::vector<double>(16, 0.25));
  // Padding counts in the divisor (count_include_pad): each 3x3 window sums 4 pixels / 9.
  const Tensor<double> x3 = arange<double>(9).reshape({1, 1, 3, 3});
  const std::vector<double> got = F::avg_pool2d(x3, 3, 2, 1).to_vector();
  const std::vector<double> want = {8.0 / 9, 12.0 / 9, 20.0 / 9, 24.0 / 9};
  for (std::size_t i = 0; i < want.size(); ++i)
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-15));
}

TEST_CASE("upsample_nearest2d by hand") {
  namespace F = latent::nn::functional;
  const Tensor<double> x = tensor<double>({1, 2, 3, 4}, {1, 1, 2, 2}).requires_grad_(true);
  CHECK(F::upsample_nearest2d(x, 2).to_vector() ==
        std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  CHECK(F::upsample_nearest2d(x, {1, 3}).to_vector() ==
        std::vector<double>{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4});
  // The gradient sums each 2x2 block of the output gradient.
  F::upsample_nearest2d(x, 2).backward(arange<double>(16).reshape({1, 1, 4, 4}));
  CHECK(x.grad().to_vector() == std::vector<double>{10, 18, 42, 50});
}

TEST_CASE("max_pool2d gradients") {
  using namespace pooling_test;
  struct Config {
    Shape x;
    F::IntPair kernel;
    F::OptionalIntPair stride;
    F::IntPair padding;
  };
  const std::vector<Config> configs = {
      {{1, 2, 4, 4}, 2, std::nullopt, 0},
      {{2, 1, 5, 5}, 3, 1, 1},
      {{1, 2, 5, 6}, {2, 3}, {1, 2}, {1, 1}},
      {{2, 3, 3}, 2, 1, 0},  // unbatched
  };
  for (const Config& c : configs) {
    const GradcheckFn f = [c](const std::vector<Tensor<double>>& in) {
      return F::max_pool2d(in[0], c.kernel, c.stride, c.padding);
    };
    expect_gradcheck(f, {random(c.x, 1).requires_grad_(true)});
  }
  // A non-contiguous input.
  const GradcheckFn f = [](const std::vector<Tensor<double>>& in) {
    return F::max_pool2d(in[0], 2, 1);
  };
  expect_gradcheck(f, {random({1, 2, 4, 3}, 2).transpose(2, 3).detach().requires_grad_(true)});
  // The backward (a scatter to the maxima) and its own backward (a gather).
  const auto op = [](const Tensor<double>& x) { return F::max_pool2d(x, 3, 2, 1); };
  const GradcheckFn back = through_backward(op, random({1, 2, 5, 5}, 3));
  expect_gradcheck(back, {random({1, 2, 3, 3}, 4).requires_grad_(true)});
  expect_gradgradcheck(back, {random({1, 2, 3, 3}, 4).requires_grad_(true)});
}

TEST_CASE("avg_pool2d gradients") {
  using namespace pooling_test;
  const GradcheckFn f = [](const std::vector<Tensor<double>>& in) {
    return F::avg_pool2d(in[0], 3, 2, 1);
  };
  expect_gradcheck(f, {random({1, 2, 5, 6}, 5).requires_grad_(true)});
  expect_gradgradcheck(f, {random({1, 2, 5, 6}, 5).requires_grad_(true)});
  const GradcheckFn rect = [](const std::vector<Tensor<double>>& in) {
    return F::avg_pool2d(in[0], {2, 3}, {1, 2}, {1, 1});
  };
  expect_gradcheck(rect, {random({2, 1, 4, 5}, 6).transpose(2, 3).detach().requires_grad_(true)});
  const auto op = [](const Tensor<double>& x) { return F::avg_pool2d(x, 2, 1); };
  const GradcheckFn back = through_backward(op, random({1, 1, 4, 4}, 7));
  expect_gradcheck(back, {random({1, 1, 3, 3}, 8).requires_grad_(true)});
  expect_gradgradcheck(back, {random({1, 1, 3, 3}, 8).requires_grad_(true)});
}

TEST_CASE("upsample_nearest2d gradients") {
  using namespace pooling_test;
  const GradcheckFn f = [](const std::vector<Tensor<double>>& in) {
    return F::upsample_nearest2d(in[0], {2, 3});
  };
  expect_gradcheck(f, {random({1, 2, 2, 3}, 9).requires_grad_(true)});
  expect_gradgradcheck(f, {random({1, 2, 3, 2}, 10).transpose(2, 3).detach().requires_grad_(true)});
  const auto op = [](const Tensor<double>& x) { return F::upsample_nearest2d(x, 2); };
  const GradcheckFn back = through_backward(op, random({1, 1, 2, 2}, 11));
  expect_gradcheck(back, {random({1, 1, 4, 4}, 12).requires_grad_(true)});
  expect_gradgradcheck(back, {random({1, 1, 4, 4}, 12).requires_grad_(true)});
}

TEST_CASE("pooling argument errors") {
  using namespace pooling_test;
  const Tensor<double> x = zeros<double>({1, 2, 5, 5});
  CHECK(error_of([&] {
          F::max_pool2d(zeros<double>({5, 5}), 2);
        }) == "max_pool2d: expected a 4-d input [N, C, H, W] or 3-d [C, H, W], got shape [5, 5]");
  CHECK(error_of([&] { F::max_pool2d(x, 0); }) ==
        "max_pool2d: kernel_size must be positive, got [0, 0]");
  CHECK(error_of([&] {
          F::max_pool2d(x, 2, {0, 1});
        }) == "max_pool2d: stride must be positive, got [0, 1]");
  CHECK(error_of([&] { F::avg_pool2d(x, 2, 2, -1); }) ==
        "avg_pool2d: padding must be non-negative, got [-1, -1]");
  CHECK(error_of([&] { F::max_pool2d(x, 3, 1, 2); }) ==
        "max_pool2d: padding [2, 2] must be at most half of kernel_size [3, 3]");
  CHECK(
      error_of([&] { F::avg_pool2d(x, 6); }) ==
      "avg_pool2d: input of shape [1, 2, 5, 5] padded by [0, 0] is smaller than kernel_size [6, 6] "
      "(the output would be empty)");
  CHECK(error_of([&] {
          F::upsample_nearest2d(zeros<double>({2, 5, 5}), 2);
        }) == "upsample_nearest2d: expected a 4-d input [N, C, H, W], got shape [2, 5, 5]");
  CHECK(error_of([&] {
          F::upsample_nearest2d(x, {1, 0});
        }) == "upsample_nearest2d: scale_factor must be positive, got [1, 0]");
}
