// Reductions over one, several or all dims, against hand-computed values.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <limits>
#include <vector>

using namespace latent;

namespace reductions_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }
// x[i][j][k] = 100 i + 10 j + k for a [2, 3, 4] tensor.
inline Tensor<double> cube() {
  Tensor<double> t({2, 3, 4});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) t.at({i, j, k}) = 100 * i + 10 * j + k;
  return t;
}
}  // namespace reductions_test


TEST_CASE("sum over one, several and all dims, with keepdim") {
  const Tensor<double> x = reductions_test::cube();
  CHECK(x.sum().item() == 2 * (3 * 4 * 0 + 0) + 12 * 100 + 8 * 30 + 6 * 6);  // 1200 + 240 + 36
  CHECK(reductions_test::values(x.sum(0)) == std::vector<double>{100, 102, 104, 106, 120, 122, 124, 126, 140, 142, 144, 146});
  CHECK(reductions_test::values(x.sum(-1)) == std::vector<double>{6, 46, 86, 406, 446, 486});
  CHECK(reductions_test::values(x.sum({0, 2})) == std::vector<double>{412, 492, 572});
  CHECK(x.sum({0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(x.sum(1, true).shape() == Shape{2, 1, 4});
  CHECK(reductions_test::values(x.sum(1)) == std::vector<double>{30, 33, 36, 39, 330, 333, 336, 339});
  // Non-contiguous input: the transposed cube.
  CHECK(reductions_test::values(x.transpose(0, 2).sum(2)) == std::vector<double>{100, 120, 140, 102, 122, 142, 104, 124, 144, 106, 126, 146});
  // Scalars and empty tensors.
  CHECK(scalar_tensor<double>(3).sum().item() == 3);
  CHECK(zeros<double>({0, 3}).sum().item() == 0);
  CHECK(reductions_test::values(zeros<double>({0, 3}).sum(0)) == std::vector<double>{0, 0, 0});
  CHECK(arange<std::int64_t>(5).sum().item() == 10);
}

TEST_CASE("mean, var with correction, std") {
  const Tensor<double> x = tensor<double>({1, 2, 3, 4, 6, 8}, {2, 3});
  CHECK(reductions_test::values(x.mean(1)) == std::vector<double>{2, 6});
  CHECK(reductions_test::values(x.mean(0)) == std::vector<double>{2.5, 4, 5.5});
  CHECK(x.mean().item() == 4);
  CHECK(reductions_test::values(x.var(1)) == std::vector<double>{1, 4});                    // unbiased
  CHECK(reductions_test::values(x.var(1, 0)) == std::vector<double>{2.0 / 3, 8.0 / 3});    // biased
  CHECK(x.var().item() == doctest::Approx(34.0 / 5).epsilon(1e-15));     // (9+4+1+0+4+16)/5
  CHECK(reductions_test::values(x.std(1)) == std::vector<double>{1, 2});
  CHECK(x.var(0, 1, true).shape() == Shape{1, 3});
  // A large offset must not destroy the variance (two-pass algorithm).
  const Tensor<float> big = tensor<float>({1e4f + 1, 1e4f + 2, 1e4f + 3});
  CHECK(big.var().item() == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(std::isnan(tensor<double>({1.0}).var().item()));  // n - 1 = 0
}

TEST_CASE("amax, amin, argmax, argmin, logsumexp") {
  const Tensor<double> x = tensor<double>({3, -1, 7, 7, 0, -5}, {2, 3});
  CHECK(reductions_test::values(x.amax(1)) == std::vector<double>{7, 7});
  CHECK(reductions_test::values(x.amin(1)) == std::vector<double>{-1, -5});
  CHECK(reductions_test::values(x.amax(0)) == std::vector<double>{7, 0, 7});
  CHECK(x.amax().item() == 7);
  CHECK(reductions_test::values(x.argmax(1)) == std::vector<std::int64_t>{2, 0});
  CHECK(reductions_test::values(x.argmin(0)) == std::vector<std::int64_t>{0, 0, 1});
  CHECK(x.argmax().item() == 2);  // first of the ties
  CHECK(x.argmax(1, true).shape() == Shape{2, 1});
  const Tensor<double> l = tensor<double>({0, std::log(3.0), 1000, 1000}, {2, 2});
  const std::vector<double> lse = reductions_test::values(l.logsumexp(1));
  CHECK(lse[0] == doctest::Approx(std::log(4.0)).epsilon(1e-15));
  CHECK(lse[1] == doctest::Approx(1000 + std::log(2.0)).epsilon(1e-15));  // no overflow
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(tensor<double>({-inf, -inf}).logsumexp().item() == -inf);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(tensor<double>({1, nan, 3}).amax().item()));
  CHECK_THROWS_AS(zeros<double>({0}).amax(), Error);
  CHECK_THROWS_AS(x.sum({1, 1}), Error);
}

TEST_CASE("float sums are accurate and identical for any thread count") {
  // 1 + 1e-8 * (many): a running float sum would lose the small terms entirely.
  Tensor<float> x = full<float>({1 << 20}, 1e-3f);
  const double exact = 1e-3 * double(1 << 20);
  CHECK(x.sum().item() == doctest::Approx(exact).epsilon(1e-6));
  Generator gen(3);
  const Tensor<float> r = randn<float>({512, 4096}, gen);
  set_num_threads(1);
  const std::vector<float> one = reductions_test::values(r.sum(1));
  const float all_one = r.sum().item();
  set_num_threads(2);
  const std::vector<float> two = reductions_test::values(r.sum(1));
  const float all_two = r.sum().item();
  CHECK(one == two);
  CHECK(all_one == all_two);
}

TEST_CASE("sum over every subset of dims matches the definition") {
  // [3, 1, 4, 5, 2] with integer values, so every order of summation is exact: runs of
  // kept and reduced dims in every pattern (leading, trailing, alternating), size-1 dims
  // included.
  const Shape shape{3, 1, 4, 5, 2};
  Tensor<double> x(shape);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data()[i] = double((i * 37) % 101) - 50;
  const std::vector<double> v = x.to_vector();
  for (int mask = 1; mask < 32; ++mask) {
    std::vector<std::int64_t> dims;
    for (int d = 0; d < 5; ++d)
      if (mask & (1 << d)) dims.push_back(d);
    Shape kept;
    for (int d = 0; d < 5; ++d) kept.push_back(mask & (1 << d) ? 1 : shape[d]);
    std::vector<double> want(static_cast<std::size_t>(kept.numel()), 0.0);
    std::int64_t index[5];
    for (std::int64_t flat = 0; flat < x.numel(); ++flat) {
      std::int64_t rest = flat;
      for (int d = 4; d >= 0; --d) {
        index[d] = rest % shape[d];
        rest /= shape[d];
      }
      std::int64_t out = 0;
      for (int d = 0; d < 5; ++d) out = out * kept[d] + (mask & (1 << d) ? 0 : index[d]);
      want[static_cast<std::size_t>(out)] += v[static_cast<std::size_t>(flat)];
    }
    INFO("dims mask ", mask);
    const Tensor<double> got = x.sum(DimList(dims), true);
    CHECK(got.shape() == kept);
    CHECK(got.to_vector() == want);
    // The same sums of a float copy (small integers: exact in float too).
    CHECK(x.to<float>().sum(DimList(dims), true).to<double>().to_vector() == want);
  }
}
