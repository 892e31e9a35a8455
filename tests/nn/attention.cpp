// scaled_dot_product_attention: hand-computed values, causal masks for L = S, L > S and
// L < S, boolean and additive masks, scale, dropout, derivatives, errors.
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
namespace F = latent::nn::functional;

namespace attention_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline Tensor<double> input(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn<double>(shape, gen).requires_grad_(true);
}

inline void check_close(const Tensor<double>& got, const Tensor<double>& want, double tol = 1e-12) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = values(got), w = values(want);
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(w[i]).epsilon(tol));
}

// softmax(q k^T * scale + mask) v written out with plain loops, for [L, E] x [S, E] x [S, Ev].
inline Tensor<double> reference(const Tensor<double>& q, const Tensor<double>& k, const Tensor<double>& v,
                                const std::function<double(std::int64_t, std::int64_t)>& mask, double scale) {
  const std::int64_t l = q.size(0), s = k.size(0), e = q.size(1), ev = v.size(1);
  Tensor<double> out = zeros<double>(Shape{l, ev});
  for (std::int64_t i = 0; i < l; ++i) {
    std::vector<double> w(static_cast<std::size_t>(s));
    double top = -std::numeric_limits<double>::infinity(), total = 0;
    for (std::int64_t j = 0; j < s; ++j) {
      double dot = 0;
      for (std::int64_t c = 0; c < e; ++c) dot += q(i, c) * k(j, c);
      w[static_cast<std::size_t>(j)] = dot * scale + mask(i, j);
      top = std::max(top, w[static_cast<std::size_t>(j)]);
    }
    for (double& x : w) total += x = std::exp(x - top);
    for (std::int64_t j = 0; j < s; ++j)
      for (std::int64_t c = 0; c < ev; ++c) out(i, c) += w[static_cast<std::size_t>(j)] / total * v(j, c);
  }
  return out;
}

TEST_CASE("attention of one query over two keys, by hand") {
  const Tensor<double> q = tensor<double>({1, 0}, Shape{1, 2});
  const Tensor<double> k = tensor<double>({1, 0, 0, 1}, Shape{2, 2});
  const Tensor<double> v = tensor<double>({1, 2, 3, 4}, Shape{2, 2});
  // Scores [1/sqrt(2), 0]: weight a = sigmoid(1/sqrt(2)) on v[0], 1 - a on v[1].
  const double a = 1 / (1 + std::exp(-1 / std::sqrt(2.0)));
  const std::vector<double> out = values(F::scaled_dot_product_attention(q, k, v));
  CHECK(out[0] == doctest::Approx(3 - 2 * a));
  CHECK(out[1] == doctest::Approx(4 - 2 * a));
  // With scale 0 every key weighs the same.
  CHECK(values(F::scaled_dot_product_attention(q, k, v, Tensor<double>(), 0.0, false, 0.0)) == std::vector<double>{2, 3});
}

TEST_CASE("causal attention: query i sees keys j <= i, for L = S, L > S and L < S") {
  const auto causal = [](std::int64_t i, std::int64_t j) { return j > i ? -std::numeric_limits<double>::infinity() : 0.0; };
  for (const auto& ls : std::vector<std::pair<std::int64_t, std::int64_t>>{{4, 4}, {6, 3}, {3, 5}}) {
    const Tensor<double> q = input({ls.first, 3}, 1), k = input({ls.second, 3}, 2), v = input({ls.second, 2}, 3);
    const Tensor<double> out = F::scaled_dot_product_attention(q, k, v, Tensor<double>(), 0.0, true);
    check_close(out.detach(), reference(q.detach(), k.detach(), v.detach(), causal, 1 / std::sqrt(3.0)));
    // The first query sees only the first key.
    CHECK(values(out.detach())[0] == doctest::Approx(values(v.detach())[0]));
  }
}

TEST_CASE("boolean and additive masks; broadcast batch dims") {
  const Tensor<double> q = input({2, 3, 4}, 4), k = input({2, 5, 4}, 5), v = input({2, 5, 3}, 6);
  // Key padding: the last two keys of every query are masked out (true = take part).
  const Tensor<bool> keep = tensor<bool>({true, true, true, false, false}, Shape{1, 5});
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor<double> additive = tensor<double>({0, 0, 0, -inf, -inf}, Shape{5});
  const Tensor<double> a = F::scaled_dot_product_attention(q, k, v, keep);
  check_close(a.detach(), F::scaled_dot_product_attention(q, k, v, additive).detach());
  // Equivalent to attending over the first three keys only.
  check_close(a.detach(), F::scaled_dot_product_attention(q, k.narrow(1, 0, 3), v.narrow(1, 0, 3)).detach());
  // A general additive mask, checked against plain loops on batch 1.
  const Tensor<double> m = input({3, 5}, 7).detach();
  const Tensor<double> out = F::scaled_dot_product_attention(q, k, v, m, 0.0, false, 0.7);
  check_close(out.select(0, 1).detach(), reference(q.select(0, 1).detach(), k.select(0, 1).detach(), v.select(0, 1).detach(),
                                                   [&](std::int64_t i, std::int64_t j) { return m(i, j); }, 0.7));
  // Keys and values shared by every head: [1, S, E] against queries [3, L, E].
  const Tensor<double> heads = F::scaled_dot_product_attention(input({3, 2, 4}, 8), k.narrow(0, 0, 1), v.narrow(0, 0, 1));
  CHECK(heads.shape() == Shape{3, 2, 3});
}

TEST_CASE("a query with every key masked gets NaN, as PyTorch") {
  const Tensor<double> q = input({2, 2}, 9).detach(), k = input({3, 2}, 10).detach(), v = input({3, 2}, 11).detach();
  const Tensor<bool> keep = tensor<bool>({true, true, false, false, false, false}, Shape{2, 3});
  const std::vector<double> out = values(F::scaled_dot_product_attention(q, k, v, keep));
  CHECK(std::isfinite(out[0]));
  CHECK(std::isnan(out[2]));
  CHECK(std::isnan(out[3]));
}

TEST_CASE("attention: first and second derivatives for q, k, v and an additive mask") {
  const GradcheckFn plain = [](const std::vector<Tensor<double>>& in) {
    return F::scaled_dot_product_attention(in[0], in[1], in[2], in[3]);
  };
  const std::vector<Tensor<double>> inputs{input({2, 3, 4}, 12), input({2, 5, 4}, 13), input({2, 5, 2}, 14),
                                           input({3, 5}, 15)};
  const GradcheckResult first = gradcheck(plain, inputs), second = gradgradcheck(plain, inputs);
  INFO(first.message, second.message);
  CHECK(first.ok);
  CHECK(second.ok);
  const GradcheckFn causal = [](const std::vector<Tensor<double>>& in) {
    return F::scaled_dot_product_attention(in[0], in[1], in[2], Tensor<double>(), 0.0, true, 0.5);
  };
  // A transposed (non-contiguous) key.
  const std::vector<Tensor<double>> c{input({4, 3}, 16), input({3, 4}, 17).detach().t().requires_grad_(true),
                                      input({4, 2}, 18)};
  CHECK(gradcheck(causal, c).ok);
  CHECK(gradgradcheck(causal, c).ok);
}

TEST_CASE("attention dropout draws from the generator") {
  const Tensor<float> q = ones<float>(Shape{8, 4}), k = ones<float>(Shape{16, 4});
  const Tensor<float> v = arange<float>(16).reshape(Shape{16, 1});
  Generator a(1), b(1);
  const std::vector<float> x = values(F::scaled_dot_product_attention(q, k, v, Tensor<float>(), 0.5, false, std::nullopt, &a));
  CHECK(x == values(F::scaled_dot_product_attention(q, k, v, Tensor<float>(), 0.5, false, std::nullopt, &b)));
  // Uniform weights 1/16, each kept (as 2/16) or dropped: rows differ from the mean 7.5.
  bool differs = false;
  for (float r : x) differs = differs || std::fabs(r - 7.5f) > 1e-3f;
  CHECK(differs);
  CHECK(error_of([&] { F::scaled_dot_product_attention(q, k, v, Tensor<float>(), 0.1); }) ==
        "scaled_dot_product_attention: dropout_p > 0 needs a Generator");
}

TEST_CASE("attention errors name the shapes") {
  const Tensor<double> q = zeros<double>(Shape{2, 3, 4});
  CHECK(error_of([&] { F::scaled_dot_product_attention(q, zeros<double>(Shape{2, 5, 3}), zeros<double>(Shape{2, 5, 4})); }) ==
        "scaled_dot_product_attention: query of shape [2, 3, 4] and key of shape [2, 5, 3] differ in their last dim "
        "(the embedding size)");
  CHECK(error_of([&] { F::scaled_dot_product_attention(q, zeros<double>(Shape{2, 5, 4}), zeros<double>(Shape{2, 6, 4})); }) ==
        "scaled_dot_product_attention: key of shape [2, 5, 4] and value of shape [2, 6, 4] differ in the number of keys "
        "(dim -2)");
  CHECK(error_of([&] { F::scaled_dot_product_attention(q, q, q, zeros<double>(Shape{3, 3}), 0.0, true); }) ==
        "scaled_dot_product_attention: pass either attn_mask or is_causal, not both");
  CHECK(error_of([&] { F::scaled_dot_product_attention(q, q, q, zeros<double>(Shape{3, 4})); }).find("cannot be broadcast") !=
        std::string::npos);
}

}  // namespace attention_test
