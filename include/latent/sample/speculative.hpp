// Speculative decoding (Leviathan, Kalman & Matias, 2023; Chen et al., 2023): a cheap draft
// model guesses the next k tokens, the target model checks all k in one forward pass.
//
// One round, after the tokens so far (the context):
//   1. the draft proposes x_1..x_k one by one, x_i ~ q_i = q(. | context, x_<i);
//   2. the target scores every prefix at once: p_i = p(. | context, x_<i), i = 1..k+1;
//   3. for i = 1..k: keep x_i with probability min(1, p_i(x_i) / q_i(x_i)); at the first
//      rejection draw the replacement from the residual r_i = norm(max(0, p_i - q_i)) and
//      end the round; if all k are kept, draw a bonus token from p_{k+1}.
// Every token so produced is distributed exactly as p: a token x comes either from an
// accepted proposal, probability q(x) min(1, p(x)/q(x)) = min(p(x), q(x)), or from the
// residual after a rejection, probability (1 - sum_y min(p(y), q(y))) r(x) = max(0, p(x) - q(x));
// the two add up to p(x). A round costs k draft steps and one target pass, and yields
// between 1 and k+1 tokens; the acceptance rate (kept / proposed) says how well the draft
// guesses.
//
// p and q are the sampler chain's distributions (sample/token.hpp: penalties, temperature,
// top-k, ... applied to each model's logits with the tokens so far as history), so the
// output follows what sampling the target through the same chain gives. A greedy chain
// makes p and q one-hot: a proposal is kept when it is the target's argmax, the
// replacement is the target's argmax, and the output is the target's greedy output.
//
// The models are callables:
//   draft(tokens) -> std::vector<double>                  the logits after `tokens`
//   target(tokens, count) -> std::vector<std::vector<double>>
//       count rows: row i holds the logits after the first tokens.size() - count + 1 + i
//       tokens (the next-token logits of the last `count` prefixes, one forward pass).
// models::GPTLogits is both, served from a key/value cache that it truncates when
// proposals are rejected.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../ops/shape_ops.hpp"  // Tensor::contiguous, which the sampler chain uses
#include "../tensor/creation.hpp"
#include "token.hpp"

namespace latent::sample {

struct SpeculativeOptions {
  std::int64_t draft_tokens = 4;  // k, the proposals per round
  std::int64_t max_new_tokens = 64;
  std::vector<std::int64_t> stop_tokens;  // generation ends after one of these (kept in the output)
};

struct SpeculativeResult {
  std::vector<std::int64_t> tokens;  // the new tokens
  std::int64_t proposed = 0;         // draft tokens put to the target
  std::int64_t accepted = 0;         // ... and kept
  std::int64_t rounds = 0;           // target passes
  double acceptance_rate() const { return proposed > 0 ? double(accepted) / double(proposed) : 0.0; }
};

namespace speculative_detail {

// A draw from a distribution given as (not necessarily normalised) weights >= 0.
inline std::int64_t draw(const std::vector<double>& weights, Generator& gen) {
  double total = 0;
  for (double w : weights) total += w;
  LATENT_CHECK(total > 0, "speculative_decode: a distribution with no mass");
  const double u = gen.uniform<double>() * total;
  double cumulative = 0;
  std::int64_t last = -1;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    cumulative += weights[i];
    last = static_cast<std::int64_t>(i);
    if (u < cumulative) return last;
  }
  return last;  // rounding left u at the very top
}

}  // namespace speculative_detail

template <class Target, class Draft>
SpeculativeResult speculative_decode(Target&& target, Draft&& draft, const std::vector<std::int64_t>& prompt,
                                     const SamplerChain& chain, const SpeculativeOptions& options, Generator& gen) {
  const char* op = "speculative_decode";
  LATENT_CHECK(options.draft_tokens >= 1, op, ": draft_tokens must be at least 1, got ", options.draft_tokens);
  LATENT_CHECK(options.max_new_tokens >= 0, op, ": max_new_tokens must be >= 0, got ", options.max_new_tokens);
  LATENT_CHECK(!prompt.empty(), op, ": the prompt must hold at least one token");
  using speculative_detail::draw;
  // The chain's distribution over the vocabulary for one row of logits.
  auto chain_distribution = [&chain](const std::vector<double>& logits, const std::vector<std::int64_t>& history) {
    return chain.distribution(tensor<double>(logits), history);
  };

  SpeculativeResult result;
  std::vector<std::int64_t> tokens = prompt;
  bool done = options.max_new_tokens == 0;
  auto emit = [&](std::int64_t t) {  // appends a token; false once generation is over
    tokens.push_back(t);
    result.tokens.push_back(t);
    const bool stop = std::find(options.stop_tokens.begin(), options.stop_tokens.end(), t) != options.stop_tokens.end();
    done = stop || static_cast<std::int64_t>(result.tokens.size()) == options.max_new_tokens;
    return !done;
  };

  while (!done) {
    const std::int64_t remaining = options.max_new_tokens - static_cast<std::int64_t>(result.tokens.size());
    const std::int64_t k = std::min(options.draft_tokens, remaining - 1);  // a round yields up to k + 1
    const std::size_t context = tokens.size();

    // 1. The draft's proposals and their distributions q_i.
    std::vector<std::vector<double>> q;
    std::vector<std::int64_t> proposal = tokens;
    for (std::int64_t i = 0; i < k; ++i) {
      q.push_back(chain_distribution(draft(proposal), proposal));
      proposal.push_back(draw(q.back(), gen));
    }
    // 2. The target's distributions after each prefix, in one pass.
    const std::vector<std::vector<double>> rows = target(proposal, k + 1);
    LATENT_CHECK(static_cast<std::int64_t>(rows.size()) == k + 1, op, ": the target returned ", rows.size(),
                 " rows of logits for ", k + 1, " prefixes");
    ++result.rounds;
    result.proposed += k;

    // 3. Accept or correct, left to right.
    std::vector<std::int64_t> history(tokens);
    bool all_kept = true;
    for (std::int64_t i = 0; i < k && !done; ++i) {
      const std::vector<double> p = chain_distribution(rows[static_cast<std::size_t>(i)], history);
      const std::vector<double>& qi = q[static_cast<std::size_t>(i)];
      LATENT_CHECK(p.size() == qi.size(), op, ": target and draft disagree on the vocabulary (", p.size(), " and ",
                   qi.size(), " tokens)");
      const auto x = static_cast<std::size_t>(proposal[context + static_cast<std::size_t>(i)]);
      if (gen.uniform<double>() * qi[x] < p[x]) {  // u < p(x) / q(x), written without dividing
        ++result.accepted;
        history.push_back(static_cast<std::int64_t>(x));
        emit(static_cast<std::int64_t>(x));
        continue;
      }
      std::vector<double> residual(p.size());
      for (std::size_t v = 0; v < p.size(); ++v) residual[v] = std::max(0.0, p[v] - qi[v]);
      emit(draw(residual, gen));
      all_kept = false;
      break;
    }
    if (all_kept && !done) emit(draw(chain_distribution(rows.back(), history), gen));
  }
  return result;
}

}  // namespace latent::sample
