// Token samplers: each stage's rule on hand-made logits, and a chi-square test that the
// empirical distribution of many draws matches the distribution the chain should draw from.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <vector>

using namespace latent;

namespace token_test {
// Chi-square statistic of counts against expected probabilities (cells with p > 0).
inline double chi_square(const std::vector<std::int64_t>& counts, const std::vector<double>& p, std::int64_t n) {
  double x2 = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      CHECK(counts[i] == 0);
      continue;
    }
    const double e = p[i] * double(n);
    x2 += (double(counts[i]) - e) * (double(counts[i]) - e) / e;
  }
  return x2;
}
inline std::vector<std::int64_t> draw(const sample::SamplerChain& chain, const Tensor<double>& logits,
                                      const std::vector<std::int64_t>& history, std::int64_t n) {
  Generator gen(123);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(logits.numel()), 0);
  for (std::int64_t i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(chain.sample(logits, history, gen))];
  return counts;
}
}  // namespace token_test

TEST_CASE("each stage follows its rule") {
  const Tensor<double> logits = tensor<double>({std::log(0.5), std::log(0.25), std::log(0.15), std::log(0.1)});
  std::vector<double> p = sample::SamplerChain().distribution(logits);
  CHECK(p[0] == doctest::Approx(0.5));
  CHECK(p[3] == doctest::Approx(0.1));
  p = sample::SamplerChain().top_k(2).distribution(logits);
  CHECK(p[0] == doctest::Approx(2.0 / 3));
  CHECK(p[2] == 0);
  p = sample::SamplerChain().top_p(0.7).distribution(logits);  // 0.5 + 0.25 reaches 0.7
  CHECK(p[1] == doctest::Approx(1.0 / 3));
  CHECK(p[2] == 0);
  p = sample::SamplerChain().min_p(0.3).distribution(logits);  // keep p >= 0.15
  CHECK(p[2] == doctest::Approx(0.15 / 0.9));
  CHECK(p[3] == 0);
  p = sample::SamplerChain().temperature(0.5).distribution(logits);  // p^2 normalised
  CHECK(p[0] == doctest::Approx(0.25 / (0.25 + 0.0625 + 0.0225 + 0.01)));
  p = sample::SamplerChain().temperature(0).distribution(logits);
  CHECK(p == std::vector<double>{1, 0, 0, 0});
  const Tensor<double> raw = tensor<double>({2.0, -1.0, 0.5});
  const auto c = sample::SamplerChain().repetition_penalty(2.0).candidates(raw, {0, 1});
  CHECK(c.logits == std::vector<double>{1.0, -2.0, 0.5});
  const auto f = sample::SamplerChain().frequency_penalty(0.5, 0.1).candidates(raw, {2, 2, 0});
  CHECK(f.logits[0] == doctest::Approx(2.0 - 0.5 - 0.1));
  CHECK(f.logits[2] == doctest::Approx(0.5 - 1.0 - 0.1));
  CHECK_THROWS_AS(sample::SamplerChain().top_p(0), Error);
  Generator gen(1);
  CHECK_THROWS_AS(sample::SamplerChain().sample(zeros<double>({0}), {}, gen), Error);
}

TEST_CASE("draws follow the chain's distribution (chi-square at a fixed seed)") {
  Generator gen(7);
  const Tensor<double> logits = randn<double>({12}, gen) * 1.5;
  const std::int64_t n = 40000;
  // 99.9% points of chi-square: 11 dof 31.26, 4 dof 18.47, 5 dof 20.52, 2 dof 13.82.
  struct Case {
    sample::SamplerChain chain;
    double limit;
  };
  std::vector<Case> cases;
  cases.push_back({sample::SamplerChain(), 31.26});
  cases.push_back({sample::SamplerChain().temperature(0.7).top_k(5), 18.47});
  cases.push_back({sample::SamplerChain().repetition_penalty(1.3).top_p(0.9), 31.26});
  cases.push_back({sample::SamplerChain().min_p(0.2), 31.26});
  for (const Case& c : cases) {
    const std::vector<double> p = c.chain.distribution(logits, {1, 3});
    const auto counts = token_test::draw(c.chain, logits, {1, 3}, n);
    CHECK(token_test::chi_square(counts, p, n) < c.limit);
  }
  // A wrong distribution must fail the same test: the plain chain's draws against top-k's.
  const auto plain = token_test::draw(sample::SamplerChain(), logits, {}, n);
  double x2 = 0;
  const std::vector<double> wrong = sample::SamplerChain().temperature(0.7).distribution(logits);
  for (std::size_t i = 0; i < wrong.size(); ++i)
    x2 += (double(plain[i]) - wrong[i] * n) * (double(plain[i]) - wrong[i] * n) / (wrong[i] * n);
  CHECK(x2 > 100);
}
