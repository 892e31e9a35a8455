// Tests of nn/functional/linear.hpp: hand-computed values, agreement with matmul + bias,
// gradcheck and gradgradcheck over leading dims, non-contiguous operands, and errors.
#include <latent/latent.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace linear_test {

using latent::Tensor;
namespace F = latent::nn::functional;

inline Tensor<double> leaf(const Tensor<double>& t) { return t.detach().requires_grad_(true); }

}  // namespace linear_test

TEST_CASE("linear: values by hand, with and without bias") {
  using namespace linear_test;
  const Tensor<double> x = latent::tensor<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor<double> w = latent::tensor<double>({1, 0, -1, 2, 1, 0}, {2, 3});
  const Tensor<double> b = latent::tensor<double>({0.5, -1});
  // rows: [1,2,3] -> [1-3, 2+2] = [-2, 4]; [4,5,6] -> [-2, 13]
  CHECK(F::linear(x, w).to_vector() == std::vector<double>{-2, 4, -2, 13});
  CHECK(F::linear(x, w, b).to_vector() == std::vector<double>{-1.5, 3, -1.5, 12});
  CHECK(F::linear(latent::tensor<double>({1, 2, 3}), w, b).shape() == latent::Shape{2});  // 1-d input
  CHECK(F::linear(latent::tensor<double>({1, 2, 3}), w, b).to_vector() == std::vector<double>{-1.5, 3});
}

TEST_CASE("linear: agrees with matmul + bias for leading dims and transposed operands") {
  using namespace linear_test;
  latent::Generator gen(7);
  const Tensor<float> x = latent::randn<float>({2, 3, 5}, gen);
  const Tensor<float> wt = latent::randn<float>({5, 4}, gen);  // weight = wt^T, not contiguous
  const Tensor<float> b = latent::randn<float>({4}, gen);
  const Tensor<float> got = F::linear(x, wt.t(), b);
  const Tensor<float> want = latent::matmul(x, wt) + b;
  REQUIRE(got.shape() == latent::Shape{2, 3, 4});
  const std::vector<float> g = got.to_vector(), w = want.to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(w[i]).epsilon(1e-5));
  const Tensor<float> xt = latent::randn<float>({5, 3}, gen).t();  // non-contiguous input
  const std::vector<float> g2 = F::linear(xt, wt.t()).to_vector(), w2 = latent::matmul(xt, wt).to_vector();
  for (std::size_t i = 0; i < g2.size(); ++i) CHECK(g2[i] == doctest::Approx(w2[i]).epsilon(1e-5));
}

TEST_CASE("linear: gradients and second derivatives") {
  using namespace linear_test;
  latent::Generator gen(3);
  const Tensor<double> x = leaf(latent::randn<double>({2, 3, 4}, gen));
  const Tensor<double> w = leaf(latent::randn<double>({5, 4}, gen));
  const Tensor<double> b = leaf(latent::randn<double>({5}, gen));
  auto f = [](const std::vector<Tensor<double>>& in) { return F::linear(in[0], in[1], in[2]); };
  CHECK(latent::gradcheck(f, {x, w, b}));
  CHECK(latent::gradgradcheck(f, {x, w, b}));
  auto no_bias = [](const std::vector<Tensor<double>>& in) { return F::linear(in[0], in[1]); };
  const Tensor<double> xt = leaf(latent::randn<double>({4, 3}, gen)).t();
  CHECK(latent::gradcheck(no_bias, {leaf(latent::randn<double>({4}, gen)), w}));
  CHECK(latent::gradcheck(no_bias, {leaf(xt.detach()), leaf(latent::randn<double>({4, 4}, gen).t())}));
  CHECK(latent::gradgradcheck(no_bias, {leaf(xt.detach()), w}));
}

TEST_CASE("linear: bad shapes are errors") {
  using namespace linear_test;
  const Tensor<float> x = latent::ones<float>({2, 3});
  CHECK_THROWS_WITH_AS(F::linear(x, latent::ones<float>({3})),
                       "linear: weight must be a matrix [out_features, in_features], got shape [3]", latent::Error);
  CHECK_THROWS_WITH_AS(F::linear(x, latent::ones<float>({4, 2})),
                       "linear: input of shape [2, 3] does not end in in_features = 2 (weight of shape [4, 2])",
                       latent::Error);
  CHECK_THROWS_WITH_AS(F::linear(x, latent::ones<float>({4, 3}), latent::ones<float>({3})),
                       "linear: bias must have shape [4], got [3]", latent::Error);
}
