// Indexing ops: gather / scatter_add, index_select / index_add, take_along_dim,
// repeat_interleave, masked_fill, tril / triu, cumsum, sort / topk, multinomial.
// Expected values were computed by hand and checked against PyTorch 1.13.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace latent;

namespace indexing_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline Tensor<double> input(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn<double>(shape, gen).requires_grad_(true);
}

inline Tensor<std::int64_t> ints(std::vector<std::int64_t> v, const Shape& shape) {
  return tensor<std::int64_t>(v, shape);
}

inline void expect_grads(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs,
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

TEST_CASE("gather picks along a dim; its gradient scatters back") {
  const Tensor<double> x = arange<double>(12).reshape(Shape{3, 4});
  const Tensor<std::int64_t> idx = ints({2, 0, 1, 2, 0, 0, 0, 1}, Shape{2, 4});
  CHECK(values(gather(x, 0, idx)) == std::vector<double>{8, 1, 6, 11, 0, 1, 2, 7});
  CHECK(gather(x, 0, idx).shape() == Shape{2, 4});
  // Along dim 1 with an index narrower than x, and dim -1 spelled negatively.
  const Tensor<std::int64_t> cols = ints({3, 3, 0, 1, 2, 2}, Shape{3, 2});
  CHECK(values(gather(x, -1, cols)) == std::vector<double>{3, 3, 4, 5, 10, 10});
  // Repeated picks accumulate in the gradient.
  Tensor<double> w = x.detach().requires_grad_(true);
  gather(w, 1, cols).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{0, 0, 0, 2, 1, 1, 0, 0, 0, 0, 2, 0});
}

TEST_CASE("scatter_add accumulates repeated indices") {
  const Tensor<std::int64_t> idx = ints({2, 0, 1, 2, 0, 0, 0, 1}, Shape{2, 4});
  const Tensor<double> src = arange<double>(1, 9).reshape(Shape{2, 4});
  CHECK(values(scatter_add(zeros<double>(Shape{3, 4}), 0, idx, src)) ==
        std::vector<double>{5, 8, 7, 0, 0, 0, 3, 8, 1, 0, 0, 4});
  // Onto a non-zero self, with src larger than the index (its extra elements are unused).
  const Tensor<double> big = arange<double>(1, 13).reshape(Shape{2, 6});
  const Tensor<std::int64_t> two = ints({1, 1, 0, 0}, Shape{2, 2});
  CHECK(values(scatter_add(ones<double>(Shape{2, 3}), 1, two, big)) ==
        std::vector<double>{1, 4, 1, 16, 1, 1});
}

TEST_CASE("gather and scatter_add: first and second derivatives") {
  const Tensor<std::int64_t> idx = ints({2, 0, 1, 2, 0, 0, 0, 1}, Shape{2, 4});
  expect_grads([&](const std::vector<Tensor<double>>& in) { return gather(in[0], 0, idx); },
               {input({3, 4}, 1)});
  // A transposed (non-contiguous) input, gathered along dim 1.
  const Tensor<std::int64_t> cols = ints({1, 0, 2, 2, 0, 1}, Shape{3, 2});
  expect_grads([&](const std::vector<Tensor<double>>& in) { return gather(in[0], 1, cols); },
               {input({3, 3}, 2).detach().t().requires_grad_(true)});
  // Through a non-linearity, so the second derivative is not trivially zero.
  expect_grads([&](const std::vector<Tensor<double>>& in) { return gather(in[0] * in[0], 1, cols); },
               {input({3, 3}, 3)});
  expect_grads([&](const std::vector<Tensor<double>>& in) { return scatter_add(in[0], 0, idx, in[1] * in[1]); },
               {input({3, 4}, 4), input({2, 5}, 5)});
}

TEST_CASE("index_select and index_add") {
  const Tensor<double> x = arange<double>(12).reshape(Shape{3, 4});
  const Tensor<std::int64_t> idx = ints({3, 0, 3}, Shape{3});
  CHECK(values(index_select(x, 1, idx)) == std::vector<double>{3, 0, 3, 7, 4, 7, 11, 8, 11});
  CHECK(values(index_select(x, 0, ints({2}, Shape{1}))) == std::vector<double>{8, 9, 10, 11});
  const Tensor<double> src = tensor<double>({1, 2, 3, 1, 2, 3, 1, 2, 3}, Shape{3, 3});
  CHECK(values(index_add(zeros<double>(Shape{3, 4}), 1, idx, src, 2.0)) ==
        std::vector<double>{4, 0, 0, 8, 4, 0, 0, 8, 4, 0, 0, 8});
  // Rows (dim 0) of a matrix with a repeated index, as an embedding's gradient.
  const Tensor<double> rows = arange<double>(6).reshape(Shape{3, 2});
  CHECK(values(index_add(ones<double>(Shape{2, 2}), 0, ints({1, 0, 1}, Shape{3}), rows)) ==
        std::vector<double>{3, 4, 5, 7});

  expect_grads([&](const std::vector<Tensor<double>>& in) { return index_select(in[0], 1, idx); },
               {input({2, 4}, 6)});
  expect_grads([&](const std::vector<Tensor<double>>& in) { return index_select(in[0] * in[0], 0, idx); },
               {input({5, 3}, 7).detach().t().requires_grad_(true).detach().t().requires_grad_(true)});
  expect_grads([&](const std::vector<Tensor<double>>& in) { return index_add(in[0], 1, idx, in[1] * in[1], -0.5); },
               {input({2, 4}, 8), input({2, 3}, 9)});
}

TEST_CASE("take_along_dim broadcasts, and undoes a sort") {
  const Tensor<double> x = tensor<double>({3, 1, 2, 9, 7, 8}, Shape{2, 3});
  const Tensor<std::int64_t> order = argsort(x, 1);
  CHECK(values(take_along_dim(x, order, 1)) == std::vector<double>{1, 2, 3, 7, 8, 9});
  // One row of indices broadcast over both rows of x.
  CHECK(values(take_along_dim(x, ints({2, 0}, Shape{1, 2}), 1)) == std::vector<double>{2, 3, 8, 9});
  expect_grads([&](const std::vector<Tensor<double>>& in) { return take_along_dim(in[0], ints({2, 0}, Shape{1, 2}), 1); },
               {input({2, 3}, 10)}, false);
}

TEST_CASE("repeat_interleave") {
  const Tensor<double> x = tensor<double>({1, 2, 3, 4}, Shape{2, 2});
  CHECK(values(repeat_interleave(x, 2, std::int64_t(0))) == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(values(repeat_interleave(x, 2)) == std::vector<double>{1, 1, 2, 2, 3, 3, 4, 4});
  CHECK(repeat_interleave(x, 3, std::int64_t(-1)).shape() == Shape{2, 6});
  Tensor<double> w = x.detach().requires_grad_(true);
  repeat_interleave(w, 3, std::int64_t(1)).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{3, 3, 3, 3});
}

TEST_CASE("masked_fill broadcasts the mask; its gradient skips filled elements") {
  Tensor<double> x = tensor<double>({1, 2, 3, 4, 5, 6}, Shape{2, 3}).requires_grad_(true);
  const Tensor<bool> mask = tensor<bool>({true, false, true}, Shape{3});
  const Tensor<double> y = masked_fill(x, mask, -1.0);
  CHECK(values(y) == std::vector<double>{-1, 2, -1, -1, 5, -1});
  (y * 2.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 2, 0, 0, 2, 0});
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(values(masked_fill(zeros<float>(Shape{2}), tensor<bool>({false, true}), -inf)) ==
        std::vector<float>{0, -inf});
  CHECK(error_of([&] { masked_fill(x.detach(), tensor<bool>({true, false}, Shape{2, 1, 1}), 0.0); }) ==
        "masked_fill: mask of shape [2, 1, 1] cannot be broadcast to the input's shape [2, 3]");
}

TEST_CASE("tril and triu keep a triangle of the last two dims") {
  const Tensor<double> x = arange<double>(1, 13).reshape(Shape{3, 4});
  CHECK(values(tril(x)) == std::vector<double>{1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0});
  CHECK(values(tril(x, -1)) == std::vector<double>{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0});
  CHECK(values(triu(x, 1)) == std::vector<double>{0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12});
  CHECK(values(triu(x, -1)) == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12});
  // Batched, and on booleans (a causal mask).
  CHECK(values(tril(ones<double>(Shape{2, 2, 2}))) == std::vector<double>{1, 0, 1, 1, 1, 0, 1, 1});
  CHECK(values(tril(full<bool>(Shape{2, 3}, true))) == std::vector<bool>{true, false, false, true, true, false});
  expect_grads([](const std::vector<Tensor<double>>& in) { return tril(in[0] * in[0], 1); }, {input({2, 3, 4}, 11)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return triu(in[0]); },
               {input({3, 3}, 12).detach().t().requires_grad_(true)});
  CHECK(error_of([] { tril(ones<double>(Shape{3})); }) ==
        "tril: expects a tensor of rank >= 2 (a matrix or a batch of them), got shape [3]");
}

TEST_CASE("cumsum along each dim; float sums accumulate in double as PyTorch") {
  const Tensor<double> x = tensor<double>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  CHECK(values(cumsum(x, 1)) == std::vector<double>{1, 3, 6, 4, 9, 15});
  CHECK(values(cumsum(x, 0)) == std::vector<double>{1, 2, 3, 5, 7, 9});
  CHECK(values(cumsum(x.t(), -1)) == std::vector<double>{1, 5, 2, 7, 3, 9});
  CHECK(values(cumsum(tensor<std::int64_t>({3, -1, 4}), 0)) == std::vector<std::int64_t>{3, 2, 6});
  // PyTorch gives [1e8, 1e8, 1, 2]; a float running sum would give [1e8, 1e8, 0, 1].
  CHECK(values(cumsum(tensor<float>({1e8f, 1, -1e8f, 1}), 0)) == std::vector<float>{1e8f, 1e8f, 1, 2});
  // The gradient of a running sum is the running sum from the other end.
  Tensor<double> w = x.detach().requires_grad_(true);
  (cumsum(w, 1) * tensor<double>({1, 10, 100})).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{111, 110, 100, 111, 110, 100});
  expect_grads([](const std::vector<Tensor<double>>& in) { return cumsum(in[0] * in[0], 1); }, {input({2, 3, 4}, 13)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return cumsum(in[0], 0); },
               {input({3, 4}, 14).detach().t().requires_grad_(true)});
}

TEST_CASE("sort and topk: values, positions, NaN largest, ties in index order") {
  const double nan = std::nan("");
  const Tensor<double> x = tensor<double>({1, 3, 3, 2, 3, nan, 0});
  const auto asc = sort(x);
  CHECK(values(asc.indices) == std::vector<std::int64_t>{6, 0, 3, 1, 2, 4, 5});
  CHECK(values(asc.values).front() == 0);
  CHECK(std::isnan(values(asc.values).back()));
  const auto desc = sort(x, 0, true);
  CHECK(values(desc.indices) == std::vector<std::int64_t>{5, 1, 2, 4, 3, 0, 6});
  const auto top = topk(x, 4);
  CHECK(values(top.indices) == std::vector<std::int64_t>{5, 1, 2, 4});
  const auto low = topk(x, 3, 0, false);
  CHECK(values(low.values) == std::vector<double>{0, 1, 2});
  CHECK(values(low.indices) == std::vector<std::int64_t>{6, 0, 3});
  // Along dim 0 of a matrix.
  const Tensor<float> m = tensor<float>({4, 1, 2, 8, 6, 0}, Shape{3, 2});
  const auto [mv, mi] = topk(m, 2, 0);
  CHECK(values(mv) == std::vector<float>{6, 8, 4, 1});
  CHECK(values(mi) == std::vector<std::int64_t>{2, 1, 0, 0});
  // The values are differentiable: their gradient goes back where they came from.
  expect_grads([](const std::vector<Tensor<double>>& in) { return topk(in[0] * in[0], 2, 1).values; },
               {input({3, 5}, 15)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return sort(in[0], 0, true).values; },
               {input({4, 3}, 16).detach().t().requires_grad_(true)}, false);
  CHECK(error_of([&] { topk(x, 8); }) == "topk: k = 8 is out of range for dim 0 of size 7");
}

TEST_CASE("multinomial: deterministic per seed, right frequencies, distinct without replacement") {
  const Tensor<double> p = tensor<double>({0.1, 0.0, 0.6, 0.3});
  Generator g1(7), g2(7);
  const Tensor<std::int64_t> a = multinomial(p, 20000, true, g1);
  CHECK(values(a) == values(multinomial(p, 20000, true, g2)));
  std::vector<double> freq(4, 0);
  for (std::int64_t v : values(a)) freq[static_cast<std::size_t>(v)] += 1.0 / 20000;
  CHECK(freq[0] == doctest::Approx(0.1).epsilon(0.1));
  CHECK(freq[1] == 0);
  CHECK(freq[2] == doctest::Approx(0.6).epsilon(0.03));
  CHECK(freq[3] == doctest::Approx(0.3).epsilon(0.05));
  // Without replacement: every row gets distinct non-zero categories; the first draw
  // follows p (unnormalised weights work too).
  Generator g3(3);
  const Tensor<double> w = tensor<double>({1, 0, 6, 3, 1, 0, 6, 3}, Shape{2, 4});
  std::vector<double> first(4, 0);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::vector<std::int64_t> s = values(multinomial(w, 3, false, g3));
    CHECK(s.size() == 6);
    for (int r = 0; r < 2; ++r) {
      std::vector<std::int64_t> row(s.begin() + 3 * r, s.begin() + 3 * r + 3);
      std::sort(row.begin(), row.end());
      CHECK(row == std::vector<std::int64_t>{0, 2, 3});
      first[static_cast<std::size_t>(s[static_cast<std::size_t>(3 * r)])] += 1.0 / 4000;
    }
  }
  CHECK(first[2] == doctest::Approx(0.6).epsilon(0.05));
  CHECK(error_of([&] { Generator g(1); multinomial(p, 4, false, g); }) ==
        "multinomial: row 0 has only 3 categories with nonzero probability, too few to draw 4 samples "
        "without replacement");
  CHECK(error_of([&] { Generator g(1); multinomial(tensor<double>({0.5, -0.1}), 1, true, g); }) ==
        "multinomial: probability -0.1 in row 0 is negative, infinite or NaN");
}

TEST_CASE("indexing errors name the op, the index and the size") {
  const Tensor<double> x = zeros<double>(Shape{3, 4});
  CHECK(error_of([&] { gather(x, 1, ints({0, 4}, Shape{1, 2})); }) == "gather: index 4 is out of range for dim 1 of size 4");
  CHECK(error_of([&] { gather(x, 0, ints({-1}, Shape{1, 1})); }) == "gather: index -1 is out of range for dim 0 of size 3");
  CHECK(error_of([&] { gather(x, 0, ints({0}, Shape{1})); }) ==
        "gather: index of shape [1] must have the same rank as the input of shape [3, 4]");
  CHECK(error_of([&] { gather(x, 0, ints({0, 0, 0, 0, 0}, Shape{1, 5})); }) ==
        "gather: index of shape [1, 5] is larger than the input of shape [3, 4] at dim 1");
  CHECK(error_of([&] { gather(x, 2, ints({0}, Shape{1, 1})); }).find("gather: dim 2 is out of range") == 0);
  CHECK(error_of([&] { index_select(x, 0, ints({1, 3}, Shape{2})); }) ==
        "index_select: index 3 is out of range for dim 0 of size 3");
  CHECK(error_of([&] { index_select(x, 0, ints({1, 2}, Shape{1, 2})); }) ==
        "index_select: index must be a 0-d or 1-d tensor, got shape [1, 2]");
  CHECK(error_of([&] { index_add(x, 1, ints({0, 1}, Shape{2}), zeros<double>(Shape{3, 3})); }) ==
        "index_add: source of shape [3, 3] does not match self of shape [3, 4] with 2 indices along dim 1 "
        "(expected [3, 2])");
  CHECK(error_of([&] { scatter_add(x, 0, ints({5}, Shape{1, 1}), x); }) ==
        "scatter_add: index 5 is out of range for dim 0 of size 3");
  CHECK(error_of([&] { repeat_interleave(x, -1); }) == "repeat_interleave: repeats must be non-negative, got -1");
}

}  // namespace indexing_test
