// pad (constant mode): hand-computed values, cropping with negative pads, gradients of
// first and second order, and argument errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <functional>
#include <latent/latent.hpp>
#include <string>
#include <vector>

using namespace latent;

namespace padding_test {
namespace F = latent::nn::functional;

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline Tensor<double> random(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn<double>(shape, gen);
}

inline void expect_grads(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs) {
  const GradcheckResult first = gradcheck(f, inputs);
  INFO(first.message);
  CHECK(first.ok);
  const GradcheckResult second = gradgradcheck(f, inputs);
  INFO(second.message);
  CHECK(second.ok);
}
}  // namespace padding_test

TEST_CASE("pad by hand") {
  namespace F = latent::nn::functional;
  const Tensor<double> v = tensor<double>({1, 2, 3});
  CHECK(F::pad(v, {1, 2}).to_vector() == std::vector<double>{0, 1, 2, 3, 0, 0});
  CHECK(F::pad(v, {-1, 1}, 9.0).to_vector() == std::vector<double>{2, 3, 9});
  CHECK(F::pad(v, {-2, -1}).shape() == Shape{0});
  // Last dim first: {left, right, top, bottom}.
  const Tensor<double> x = arange<double>(6).reshape({2, 3});
  const Tensor<double> y = F::pad(x, {1, -1, 0, 1}, 7.0);
  CHECK(y.shape() == Shape{3, 3});
  CHECK(y.to_vector() == std::vector<double>{7, 0, 1, 7, 3, 4, 7, 7, 7});
  // Only the listed dims change; a float tensor takes the value as float.
  const Tensor<float> z = F::pad(ones<float>({2, 1, 2}), {0, 0, 1, 1}, 0.5);
  CHECK(z.shape() == Shape{2, 3, 2});
  CHECK(z.to_vector() ==
        std::vector<float>{0.5f, 0.5f, 1, 1, 0.5f, 0.5f, 0.5f, 0.5f, 1, 1, 0.5f, 0.5f});
  // A non-contiguous input.
  CHECK(F::pad(x.t(), {0, 1}).to_vector() == std::vector<double>{0, 3, 0, 1, 4, 0, 2, 5, 0});
}

TEST_CASE("pad gradient crops, and zero-fills what was cropped") {
  namespace F = latent::nn::functional;
  const Tensor<double> x = arange<double>(6).reshape({2, 3}).requires_grad_(true);
  F::pad(x, {-1, 1, 1, 0}).backward(arange<double>(9).reshape({3, 3}) + 1.0);
  // Output row r + 1 holds input row r; output column c holds input column c + 1.
  CHECK(x.grad().to_vector() == std::vector<double>{0, 4, 5, 0, 7, 8});
}

TEST_CASE("pad gradients and second derivatives") {
  using namespace padding_test;
  const std::vector<std::vector<std::int64_t>> configs = {
      {1, 2}, {-1, 2, 1, 0}, {0, 0, -1, -1, 2, 1}, {2, -2, -1, 1}};
  for (const auto& pads : configs) {
    const GradcheckFn f = [pads](const std::vector<Tensor<double>>& in) {
      return F::pad(in[0], pads, 0.5);
    };
    expect_grads(f, {random({2, 3, 4}, 1).requires_grad_(true)});
  }
  const GradcheckFn f = [](const std::vector<Tensor<double>>& in) {
    return F::pad(in[0], {1, -1, 2, 1});
  };
  expect_grads(f, {random({4, 3}, 2).t().detach().requires_grad_(true)});
  // Through the backward: the map v -> dL/dx, differentiable in v.
  const GradcheckFn back = [](const std::vector<Tensor<double>>& in) {
    EnableGradGuard enable;
    const Tensor<double> x = zeros<double>({3, 4}).requires_grad_(true);
    return autograd::grad<double>({F::pad(x, {-1, 2, 1, -2})}, {x}, {in[0]}, true)[0];
  };
  expect_grads(back, {random({2, 5}, 3).requires_grad_(true)});
}

TEST_CASE("pad argument errors") {
  using namespace padding_test;
  const Tensor<double> x = zeros<double>({2, 3});
  CHECK(error_of([&] { F::pad(x, {1}); }) ==
        "pad: the padding list must hold (before, after) pairs, got 1 values");
  CHECK(error_of([&] {
          F::pad(x, {1, 1, 1, 1, 1, 1});
        }) == "pad: 6 padding values pad 3 dims, but the input of shape [2, 3] has only 2");
  CHECK(error_of([&] {
          F::pad(x, {-2, -2});
        }) == "pad: padding (-2, -2) of dim 1 crops more than its size 3 (input of shape [2, 3])");
  CHECK(error_of([&] {
          F::pad(x, {0, 0, 1, -3});
        }) == "pad: padding (1, -3) of dim 0 crops more than its size 2 (input of shape [2, 3])");
}
