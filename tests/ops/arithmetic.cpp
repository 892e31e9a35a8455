// Elementwise arithmetic with broadcasting, comparisons, where, in-place updates, matmul.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <limits>
#include <vector>

using namespace latent;

namespace arithmetic_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }
}  // namespace arithmetic_test


TEST_CASE("broadcasting: size-1 dims, rank differences, scalars") {
  const Tensor<double> col = tensor<double>({1, 2}, {2, 1});
  const Tensor<double> row = tensor<double>({10, 20, 30});
  const Tensor<double> s = col + row;
  CHECK(s.shape() == Shape{2, 3});
  CHECK(arithmetic_test::values(s) == std::vector<double>{11, 21, 31, 12, 22, 32});
  CHECK(arithmetic_test::values(row - col) == std::vector<double>{9, 19, 29, 8, 18, 28});
  CHECK(arithmetic_test::values(col * row) == std::vector<double>{10, 20, 30, 20, 40, 60});
  CHECK(arithmetic_test::values(row / col) == std::vector<double>{10, 20, 30, 5, 10, 15});
  // Rank-0 with rank-3.
  const Tensor<double> cube = arange<double>(8).reshape({2, 2, 2});
  CHECK(arithmetic_test::values(cube * scalar_tensor<double>(2)) == std::vector<double>{0, 2, 4, 6, 8, 10, 12, 14});
  // [2,1,2] with [2,1]: result [2,2,2].
  const Tensor<double> a = tensor<double>({1, 2, 3, 4}, {2, 1, 2});
  const Tensor<double> b = tensor<double>({10, 100}, {2, 1});
  CHECK(arithmetic_test::values(a * b) == std::vector<double>{10, 20, 100, 200, 30, 40, 300, 400});
  // Scalars on either side.
  CHECK(arithmetic_test::values(2.0 - row) == std::vector<double>{-8, -18, -28});
  CHECK(arithmetic_test::values(row / 10.0) == std::vector<double>{1, 2, 3});
  CHECK(arithmetic_test::values(60.0 / row) == std::vector<double>{6, 3, 2});
  CHECK(arithmetic_test::values(-row) == std::vector<double>{-10, -20, -30});
  // Broadcasting against a non-contiguous (transposed) operand.
  const Tensor<double> m = arange<double>(6).reshape({2, 3}).t();  // [3,2]
  CHECK(arithmetic_test::values(m + tensor<double>({100, 200})) == std::vector<double>{100, 203, 101, 204, 102, 205});
  // Size-0 dims broadcast to size 0.
  CHECK((zeros<double>({0, 3}) + row).shape() == Shape{0, 3});
}

TEST_CASE("maximum, minimum, comparisons and where") {
  const Tensor<double> a = tensor<double>({1, 5, -2});
  const Tensor<double> b = tensor<double>({3, 5, -4});
  CHECK(arithmetic_test::values(maximum(a, b)) == std::vector<double>{3, 5, -2});
  CHECK(arithmetic_test::values(minimum(a, b)) == std::vector<double>{1, 5, -4});
  CHECK(arithmetic_test::values(lt(a, b)) == std::vector<bool>{true, false, false});
  CHECK(arithmetic_test::values(ge(a, b)) == std::vector<bool>{false, true, true});
  CHECK(arithmetic_test::values(eq(a, 5.0)) == std::vector<bool>{false, true, false});
  CHECK(arithmetic_test::values(where(a > b, a, b * 10.0)) == std::vector<double>{30, 50, -2});
  CHECK(arithmetic_test::values(where(a > 0.0, a, 0.0)) == std::vector<double>{1, 5, 0});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(maximum(tensor<double>({nan}), tensor<double>({1})).item()));
}

TEST_CASE("in-place updates write through views and refuse tracked tensors") {
  Tensor<float> a = zeros<float>({2, 3});
  a.slice(1, 1, 3).fill_(2.0f);
  CHECK(arithmetic_test::values(a) == std::vector<float>{0, 2, 2, 0, 2, 2});
  a.add_(tensor<float>({1, 2, 3}));
  CHECK(arithmetic_test::values(a) == std::vector<float>{1, 4, 5, 1, 4, 5});
  a.t().mul_(2.0f);
  CHECK(arithmetic_test::values(a) == std::vector<float>{2, 8, 10, 2, 8, 10});
  a.add_(ones<float>({2, 3}), -0.5f);
  CHECK(arithmetic_test::values(a) == std::vector<float>{1.5f, 7.5f, 9.5f, 1.5f, 7.5f, 9.5f});
  a.clamp_(2.0f, 9.0f);
  CHECK(arithmetic_test::values(a) == std::vector<float>{2, 7.5f, 9, 2, 7.5f, 9});
  Tensor<float> w = ones<float>({2}).requires_grad_(true);
  CHECK_THROWS_AS(w.mul_(2.0f), Error);
  {
    NoGradGuard no_grad;
    w.mul_(3.0f);
  }
  CHECK(arithmetic_test::values(w) == std::vector<float>{3, 3});
  CHECK_THROWS_AS(ones<float>({1, 3}).expand({2, 3}).fill_(1.0f), Error);
  CHECK_THROWS_AS(a.add_(ones<float>({3, 3})), Error);
}

TEST_CASE("matmul: vectors, matrices, batches with broadcasting, transposed operands") {
  const Tensor<double> a = tensor<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor<double> b = tensor<double>({7, 8, 9, 10, 11, 12}, {3, 2});
  CHECK(arithmetic_test::values(matmul(a, b)) == std::vector<double>{58, 64, 139, 154});
  CHECK(arithmetic_test::values(matmul(b.t(), a.t())) == std::vector<double>{58, 139, 64, 154});
  const Tensor<double> v = tensor<double>({1, 0, -1});
  CHECK(arithmetic_test::values(matmul(a, v)) == std::vector<double>{-2, -2});
  CHECK(matmul(v, v).dim() == 0);
  CHECK(matmul(v, v).item() == 2);
  CHECK(arithmetic_test::values(matmul(tensor<double>({1, 1}), a)) == std::vector<double>{5, 7, 9});
  // [2,1,2,3] @ [3,3,2] -> [2,3,2,2]; each block checked against the 2-d product.
  Generator gen(1);
  const Tensor<double> x = randn<double>({2, 1, 2, 3}, gen);
  const Tensor<double> y = randn<double>({3, 3, 2}, gen);
  const Tensor<double> z = matmul(x, y);
  REQUIRE(z.shape() == Shape{2, 3, 2, 2});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      const Tensor<double> want = matmul(x.select(0, i).select(0, 0), y.select(0, j));
      const Tensor<double> got = z.select(0, i).select(0, j);
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) CHECK(got(r, c) == doctest::Approx(want(r, c)).epsilon(1e-12));
    }
  CHECK_THROWS_AS(matmul(zeros<double>({2, 2, 3}), zeros<double>({3, 2, 2})), Error);
}
