// dropout and dropout2d: evaluation passes through, the kept fraction and the scaling,
// determinism per seed and thread count, gradients.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

using namespace latent;
namespace F = latent::nn::functional;

namespace dropout_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

TEST_CASE("dropout keeps about 1 - p of the elements, scaled by 1 / (1 - p)") {
  Generator gen(42);
  const Tensor<float> x = ones<float>(Shape{200, 500});
  const std::vector<float> y = values(F::dropout(x, 0.3, true, gen));
  std::int64_t kept = 0;
  bool only_two_values = true;
  for (float v : y) {
    if (v != 0) ++kept;
    only_two_values = only_two_values && (v == 0 || v == static_cast<float>(1.0 / 0.7));
  }
  CHECK(only_two_values);
  // 100000 Bernoulli(0.7) draws: the standard deviation of the fraction is 0.0014.
  CHECK(static_cast<double>(kept) / 100000 == doctest::Approx(0.7).epsilon(0.01));
  // The mean is preserved in expectation.
  double total = 0;
  for (float v : y) total += v;
  CHECK(total / 100000 == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("dropout passes x through in evaluation or with p = 0; p = 1 zeroes everything") {
  Generator gen(1);
  const Tensor<double> x = tensor<double>({1, 2, 3});
  CHECK(F::dropout(x, 0.5, false, gen).data() == x.data());
  CHECK(F::dropout(x, 0.0, true, gen).data() == x.data());
  CHECK(values(F::dropout(x, 1.0, true, gen)) == std::vector<double>{0, 0, 0});
  CHECK(error_of([&] { F::dropout(x, 1.5, true, gen); }) ==
        "dropout: dropout probability has to be between 0 and 1, got 1.5");
  CHECK(error_of([&] { F::dropout(x, -0.1, false, gen); }) ==
        "dropout: dropout probability has to be between 0 and 1, got -0.1");
}

TEST_CASE("dropout is deterministic for a seed and any thread count") {
  const Tensor<float> x = arange<float>(50000);
  const int threads = get_num_threads();
  set_num_threads(1);
  Generator a(7);
  const std::vector<float> one = values(F::dropout(x, 0.5, true, a));
  const std::vector<float> next = values(F::dropout(x, 0.5, true, a));  // the generator moved on
  set_num_threads(4);
  Generator b(7);
  CHECK(values(F::dropout(x, 0.5, true, b)) == one);
  CHECK(values(F::dropout(x, 0.5, true, b)) == next);
  CHECK(one != next);
  Generator c(8);
  CHECK(values(F::dropout(x, 0.5, true, c)) != one);
  set_num_threads(threads);
}

TEST_CASE("dropout's gradient is the same mask") {
  Generator gen(3);
  Tensor<double> x = full<double>(Shape{4, 25}, 2.0).requires_grad_(true);
  const Tensor<double> y = F::dropout(x, 0.2, true, gen);
  y.sum().backward();
  const std::vector<double> yv = values(y), gv = values(x.grad());
  for (std::size_t i = 0; i < yv.size(); ++i) CHECK(gv[i] == doctest::Approx(yv[i] / 2.0));
  // A fixed mask is linear: gradcheck with a fresh generator per evaluation.
  const GradcheckFn f = [](const std::vector<Tensor<double>>& in) {
    Generator g(5);
    return F::dropout(in[0] * in[0], 0.4, true, g);
  };
  Generator init(9);
  const std::vector<Tensor<double>> in{randn<double>(Shape{3, 4}, init).requires_grad_(true)};
  CHECK(gradcheck(f, in).ok);
  CHECK(gradgradcheck(f, in).ok);
}

TEST_CASE("dropout2d zeroes whole feature maps") {
  Generator gen(11);
  const Tensor<float> x = ones<float>(Shape{8, 16, 3, 3});
  const std::vector<float> y = values(F::dropout2d(x, 0.5, true, gen));
  std::int64_t kept_maps = 0;
  for (std::size_t map = 0; map < 8 * 16; ++map) {
    const float first = y[map * 9];
    for (std::size_t i = 1; i < 9; ++i) CHECK(y[map * 9 + i] == first);
    CHECK((first == 0 || first == 2));
    kept_maps += first != 0;
  }
  CHECK(kept_maps > 32);
  CHECK(kept_maps < 96);
  CHECK(F::dropout2d(ones<float>(Shape{4, 2, 2}), 0.5, true, gen).shape() == Shape{4, 2, 2});
  CHECK(error_of([&] { F::dropout2d(ones<float>(Shape{4, 2}), 0.5, true, gen); }) ==
        "dropout2d: expects an input of shape [N, C, H, W] or [C, H, W], got [4, 2]");
}

}  // namespace dropout_test
