// Beam search and speculative decoding over hand-built "models" (tables of logits):
// beam search against the best sequence found by enumeration, speculative decoding's
// greedy output against the target's own, and its sampled tokens against the target's
// distribution (chi-square at a fixed seed).
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

using namespace latent;

namespace beam_spec_test {

using Tokens = std::vector<std::int64_t>;

// Logits that depend on the whole prefix through a hash: a "model" with no structure, so
// that nothing but the search itself can find the best sequence.
struct HashedModel {
  std::int64_t vocab;
  std::uint64_t seed;
  std::vector<double> operator()(const Tokens& prefix) const {
    std::uint64_t h = 1469598103934665603ull ^ seed;
    for (std::int64_t t : prefix) h = (h ^ static_cast<std::uint64_t>(t + 1)) * 1099511628211ull;
    std::vector<double> logits(static_cast<std::size_t>(vocab));
    for (std::int64_t v = 0; v < vocab; ++v) {
      const std::uint64_t x = (h + static_cast<std::uint64_t>(v) * 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
      logits[static_cast<std::size_t>(v)] = double((x >> 40) % 1000) / 250.0 - 2.0;  // in [-2, 2)
    }
    return logits;
  }
  // The speculative target's form: rows after each of the last `count` prefixes.
  std::vector<std::vector<double>> operator()(const Tokens& tokens, std::int64_t count) const {
    std::vector<std::vector<double>> rows;
    for (std::int64_t i = 0; i < count; ++i)
      rows.push_back((*this)(Tokens(tokens.begin(), tokens.end() - (count - 1 - i))));
    return rows;
  }
};

// A Markov chain: the logits depend on the last token only (table[last]).
struct MarkovModel {
  std::vector<std::vector<double>> table;
  std::vector<double> operator()(const Tokens& prefix) const {
    return table[static_cast<std::size_t>(prefix.back())];
  }
  std::vector<std::vector<double>> operator()(const Tokens& tokens, std::int64_t count) const {
    std::vector<std::vector<double>> rows;
    for (std::int64_t i = 0; i < count; ++i)
      rows.push_back(table[static_cast<std::size_t>(tokens[tokens.size() - static_cast<std::size_t>(count - i)])]);
    return rows;
  }
};

inline double log_softmax_at(const std::vector<double>& logits, std::int64_t t) {
  double m = logits[0], total = 0;
  for (double l : logits) m = std::max(m, l);
  for (double l : logits) total += std::exp(l - m);
  return logits[static_cast<std::size_t>(t)] - m - std::log(total);
}

template <class Model>
double log_prob(const Model& model, const Tokens& prompt, const Tokens& tokens) {
  Tokens context = prompt;
  double lp = 0;
  for (std::int64_t t : tokens) {
    lp += log_softmax_at(model(context), t);
    context.push_back(t);
  }
  return lp;
}

// Every complete hypothesis: ends with the stop token, or reaches max_new without one.
inline void enumerate(std::int64_t vocab, std::int64_t stop, std::int64_t max_new, Tokens& current,
                      std::vector<Tokens>& out) {
  for (std::int64_t t = 0; t < vocab; ++t) {
    current.push_back(t);
    if (t == stop || static_cast<std::int64_t>(current.size()) == max_new) out.push_back(current);
    else enumerate(vocab, stop, max_new, current, out);
    current.pop_back();
  }
}

// The target's greedy continuation, one argmax at a time.
template <class Model>
Tokens greedy(const Model& model, Tokens tokens, std::int64_t n) {
  Tokens out;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::vector<double> l = model(tokens);
    const auto t = static_cast<std::int64_t>(std::max_element(l.begin(), l.end()) - l.begin());
    tokens.push_back(t);
    out.push_back(t);
  }
  return out;
}

inline double chi_square(const std::map<Tokens, std::int64_t>& counts, const std::map<Tokens, double>& p,
                         std::int64_t n) {
  double chi2 = 0;
  for (const auto& e : p) {
    const auto it = counts.find(e.first);
    const double observed = it == counts.end() ? 0.0 : double(it->second), expected = e.second * double(n);
    chi2 += (observed - expected) * (observed - expected) / expected;
  }
  return chi2;
}

}  // namespace beam_spec_test

TEST_CASE("beam search: a wider beam finds the sequence greedy search misses") {
  using beam_spec_test::Tokens;
  // p(y1) = (.5, .4, .1); p(y2 | 0) = (.4, .3, .3), p(y2 | 1) = (.9, .05, .05), p(y2 | 2) = 1/3 each.
  auto model = [](const Tokens& prefix) -> std::vector<double> {
    if (prefix.size() == 1) return {std::log(0.5), std::log(0.4), std::log(0.1)};
    if (prefix[1] == 0) return {std::log(0.4), std::log(0.3), std::log(0.3)};
    if (prefix[1] == 1) return {std::log(0.9), std::log(0.05), std::log(0.05)};
    return {0.0, 0.0, 0.0};
  };
  sample::BeamSearchOptions o;
  o.max_new_tokens = 2;
  o.length_penalty = 0;
  o.beam_width = 1;
  const auto greedy = sample::beam_search(model, Tokens{7}, o);
  REQUIRE(greedy.size() == 1);
  CHECK(greedy[0].tokens == Tokens{0, 0});  // 0.5 * 0.4 = 0.2
  CHECK(greedy[0].log_prob == doctest::Approx(std::log(0.2)).epsilon(1e-12));
  o.beam_width = 2;
  const auto beams = sample::beam_search(model, Tokens{7}, o);
  REQUIRE(beams.size() == 2);
  CHECK(beams[0].tokens == Tokens{1, 0});  // 0.4 * 0.9 = 0.36, the best of all nine
  CHECK(beams[0].log_prob == doctest::Approx(std::log(0.36)).epsilon(1e-12));
  CHECK(beams[1].tokens == Tokens{0, 0});
  CHECK_FALSE(beams[0].stopped);
}

TEST_CASE("beam search: the best hypothesis is the best found by enumeration") {
  using namespace beam_spec_test;
  const std::int64_t vocab = 3, stop = 2, max_new = 4;
  std::vector<Tokens> all;
  Tokens current;
  enumerate(vocab, stop, max_new, current, all);
  REQUIRE(all.size() == 31);  // 1 + 2 + 4 + 8 ending in the stop token, 16 of full length
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const HashedModel model{vocab, seed};
    const Tokens prompt{1, 0};
    for (double alpha : {0.0, 0.7, 1.0}) {
      INFO("seed ", seed, ", alpha ", alpha);
      std::vector<double> scores;
      double best = -1e300;
      Tokens best_tokens;
      for (const Tokens& y : all) {
        const double s = sample::beam_score(log_prob(model, prompt, y), static_cast<std::int64_t>(y.size()), alpha);
        scores.push_back(s);
        if (s > best) best = s, best_tokens = y;
      }
      sample::BeamSearchOptions o;
      o.max_new_tokens = max_new;
      o.length_penalty = alpha;
      o.stop_tokens = {stop};
      o.beam_width = 81;  // wide enough to keep every hypothesis: the search is exhaustive
      const auto exhaustive = sample::beam_search(model, prompt, o);
      REQUIRE(exhaustive.size() == all.size());
      CHECK(exhaustive[0].tokens == best_tokens);
      CHECK(exhaustive[0].score == doctest::Approx(best).epsilon(1e-12));
      std::sort(scores.rbegin(), scores.rend());
      for (std::size_t i = 0; i < scores.size(); ++i) CHECK(exhaustive[i].score == doctest::Approx(scores[i]).epsilon(1e-12));
      // A narrow beam returns valid hypotheses, best first, with their true scores.
      o.beam_width = 3;
      const auto narrow = sample::beam_search(model, prompt, o);
      REQUIRE(narrow.size() == 3);
      for (std::size_t i = 0; i < narrow.size(); ++i) {
        const Tokens& y = narrow[i].tokens;
        CHECK(std::find(all.begin(), all.end(), y) != all.end());
        CHECK(narrow[i].stopped == (y.back() == stop));
        CHECK(narrow[i].log_prob == doctest::Approx(log_prob(model, prompt, y)).epsilon(1e-12));
        CHECK(narrow[i].score == doctest::Approx(sample::beam_score(narrow[i].log_prob, std::int64_t(y.size()), alpha)));
        if (i > 0) CHECK(narrow[i].score <= narrow[i - 1].score);
      }
      CHECK(narrow[0].score <= best + 1e-12);
    }
  }
}

TEST_CASE("beam search: length normalisation and errors") {
  using beam_spec_test::Tokens;
  CHECK(sample::beam_score(-6.0, 4, 1.0) == doctest::Approx(-1.5));
  CHECK(sample::beam_score(-6.0, 4, 0.5) == doctest::Approx(-3.0));
  CHECK(sample::beam_score(-6.0, 4, 0.0) == doctest::Approx(-6.0));
  // Stopping at once scores log 0.45 = -0.80; the best two tokens have log(0.55 * 0.6) =
  // -1.11, or -0.55 per token: unnormalised the short one wins, normalised (alpha = 1) the
  // long one.
  auto model = [](const Tokens& prefix) -> std::vector<double> {
    if (prefix.size() == 1) return {std::log(0.55), std::log(0.45)};  // token 1 stops
    return {std::log(0.6), std::log(0.4)};
  };
  sample::BeamSearchOptions o;
  o.max_new_tokens = 2;
  o.stop_tokens = {1};
  o.beam_width = 4;
  o.length_penalty = 0;
  CHECK(sample::beam_search(model, Tokens{0}, o)[0].tokens == Tokens{1});
  o.length_penalty = 1;
  CHECK(sample::beam_search(model, Tokens{0}, o)[0].tokens == Tokens{0, 0});
  o.beam_width = 0;
  CHECK_THROWS_WITH_AS(sample::beam_search(model, Tokens{0}, o), "beam_search: beam_width must be at least 1, got 0",
                       Error);
}

TEST_CASE("speculative decoding: greedy output is the target's greedy output") {
  using namespace beam_spec_test;
  const HashedModel target{7, 11}, draft{7, 12};
  const Tokens prompt{3, 1};
  const Tokens expected = greedy(target, prompt, 25);
  sample::SamplerChain chain;
  chain.greedy();
  Generator gen(5);
  for (std::int64_t k : {1, 3, 6}) {
    INFO("k = ", k);
    sample::SpeculativeOptions o;
    o.draft_tokens = k;
    o.max_new_tokens = 25;
    const sample::SpeculativeResult r = sample::speculative_decode(target, draft, prompt, chain, o, gen);
    CHECK(r.tokens == expected);
    CHECK(r.accepted <= r.proposed);
    CHECK(r.rounds >= 25 / (k + 1));
    CHECK(r.acceptance_rate() < 0.9);  // an unrelated draft guesses badly
    // A perfect draft: every proposal is kept, k + 1 tokens a round.
    const sample::SpeculativeResult same = sample::speculative_decode(target, target, prompt, chain, o, gen);
    CHECK(same.tokens == expected);
    CHECK(same.acceptance_rate() == 1.0);
    CHECK(same.rounds == (25 + k) / (k + 1));
  }
  // Stop tokens end generation (and are kept).
  sample::SpeculativeOptions o;
  o.draft_tokens = 3;
  o.max_new_tokens = 25;
  o.stop_tokens = {expected[4]};
  const std::size_t first = static_cast<std::size_t>(std::find(expected.begin(), expected.end(), expected[4]) - expected.begin());
  CHECK(sample::speculative_decode(target, draft, prompt, chain, o, gen).tokens ==
        Tokens(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(first) + 1));
  o.draft_tokens = 0;
  CHECK_THROWS_WITH_AS(sample::speculative_decode(target, draft, prompt, chain, o, gen),
                       "speculative_decode: draft_tokens must be at least 1, got 0", Error);
}

TEST_CASE("speculative decoding: sampled tokens follow the target's distribution (chi-square)") {
  using namespace beam_spec_test;
  // Two Markov chains over 4 tokens that disagree; the chain tempers and keeps the top 3.
  const MarkovModel target{{{1.0, 0.2, -0.5, 0.4}, {-0.3, 0.9, 0.1, 0.5}, {0.6, -0.2, 0.8, 0.0}, {0.1, 0.4, -0.6, 0.7}}};
  const MarkovModel draft{{{0.2, 1.1, 0.3, -0.4}, {0.5, -0.2, 0.9, 0.0}, {-0.3, 0.6, 0.1, 0.8}, {0.9, 0.0, 0.4, -0.5}}};
  sample::SamplerChain chain;
  chain.temperature(0.9).top_k(3);
  // The target's chain distribution of three tokens after the prompt {0}.
  std::map<Tokens, double> p;
  auto step = [&](std::int64_t last) { return chain.distribution(tensor<double>(target.table[std::size_t(last)])); };
  const std::vector<double> p1 = step(0);
  for (std::int64_t a = 0; a < 4; ++a) {
    const std::vector<double> p2 = step(a);
    for (std::int64_t b = 0; b < 4; ++b) {
      const std::vector<double> p3 = step(b);
      for (std::int64_t c = 0; c < 4; ++c) {
        const double joint = p1[std::size_t(a)] * p2[std::size_t(b)] * p3[std::size_t(c)];
        if (joint > 0) p[{a, b, c}] = joint;
      }
    }
  }
  REQUIRE(p.size() == 27);
  sample::SpeculativeOptions o;
  o.draft_tokens = 2;  // one round: two proposals, then a correction or the bonus token
  o.max_new_tokens = 3;
  Generator gen(2024);
  const std::int64_t n = 20000;
  std::map<Tokens, std::int64_t> counts;
  std::int64_t proposed = 0, accepted = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const sample::SpeculativeResult r = sample::speculative_decode(target, draft, Tokens{0}, chain, o, gen);
    REQUIRE(r.tokens.size() == 3);
    ++counts[r.tokens];
    proposed += r.proposed;
    accepted += r.accepted;
  }
  for (const auto& e : counts) CHECK(p.count(e.first) == 1);  // nothing outside the top 3
  // 99.9% point of chi-square with 26 degrees of freedom: 54.05.
  CHECK(beam_spec_test::chi_square(counts, p, n) < 54.05);
  const double rate = double(accepted) / double(proposed);
  CHECK(rate > 0.2);
  CHECK(rate < 0.9);
  // The draft itself, sampled alone, would not pass: its first token's law differs.
  const std::vector<double> q1 = chain.distribution(tensor<double>(draft.table[0]));
  CHECK(std::fabs(q1[1] - p1[1]) > 0.2);
}
