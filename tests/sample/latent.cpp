// Latent-space tools: reparameterisation, lerp, slerp, interpolation grids, attribute vectors.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <vector>

using namespace latent;

TEST_CASE("reparameterize draws N(mu, exp(logvar)) and passes gradients to mu and logvar") {
  Generator gen(4);
  const Tensor<double> mu = full<double>({20000}, 1.5), logvar = full<double>({20000}, std::log(4.0));
  const Tensor<double> z = sample::reparameterize(mu, logvar, gen);
  CHECK(z.mean().item() == doctest::Approx(1.5).epsilon(0.02));
  CHECK(z.var().item() == doctest::Approx(4.0).epsilon(0.03));
  Tensor<double> m = tensor<double>({0.5}).requires_grad_(true), lv = tensor<double>({0.2}).requires_grad_(true);
  Generator g2(9), g3(9);
  sample::reparameterize(m, lv, g2).sum().backward();
  const double eps = randn<double>({1}, g3).item();
  CHECK(m.grad().item() == doctest::Approx(1.0));
  CHECK(lv.grad().item() == doctest::Approx(0.5 * std::exp(0.1) * eps));
}

TEST_CASE("lerp and slerp end at their endpoints; slerp keeps the norm of orthogonal unit codes") {
  const Tensor<double> a = tensor<double>({1, 0}), b = tensor<double>({0, 1});
  CHECK(sample::lerp(a, b, 0.25).to_vector() == std::vector<double>{0.75, 0.25});
  const Tensor<double> mid = sample::slerp(a, b, 0.5);
  CHECK(mid(0) == doctest::Approx(std::sqrt(0.5)));
  CHECK(mid(1) == doctest::Approx(std::sqrt(0.5)));
  CHECK(sample::slerp(a, b, 1.0)(1) == doctest::Approx(1.0));
  CHECK(sample::slerp(a, a * 2.0, 0.5)(0) == doctest::Approx(1.5));  // parallel: lerp
  const Tensor<double> grid = sample::interpolate(a, b, 5, true);
  CHECK(grid.shape() == Shape{5, 2});
  for (int i = 0; i < 5; ++i) CHECK(std::hypot(grid(i, 0), grid(i, 1)) == doctest::Approx(1.0));
}

TEST_CASE("attribute vectors are differences of class means") {
  const Tensor<double> codes = tensor<double>({1, 1, 3, 3, 10, 0, 12, 2}, {4, 2});
  const Tensor<std::int64_t> labels = tensor<std::int64_t>({0, 0, 1, 1});
  CHECK(sample::attribute_vector(codes, labels, 1, 0).to_vector() == std::vector<double>{9, -1});
  CHECK_THROWS_AS(sample::attribute_vector(codes, labels, 2, 0), Error);
}
