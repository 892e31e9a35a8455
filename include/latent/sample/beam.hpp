// Beam search: the W most likely continuations of a prompt, kept side by side.
//
// A hypothesis y_1..y_n (after the prompt x) has the log-probability
//   log p(y | x) = sum_i log softmax(logits(x, y_<i))[y_i]
// and, because longer sequences collect more negative terms, it is ranked by the
// length-normalised score (Wu et al., 2016, in the plain form most libraries use)
//   score(y) = log p(y | x) / n^alpha          alpha = length_penalty; 0: no normalisation.
// Each step extends every live hypothesis by every token and keeps the W best extensions
// (all extensions of a step have one length, so ranking by log p is ranking by score). An
// extension ending in a stop token is finished and leaves the beam; a hypothesis that
// reaches max_new_tokens is finished there. The search stops early once W hypotheses are
// finished and no live one can still beat the worst of them: log p only falls as a
// hypothesis grows, so the best score a live hypothesis can reach is its log p divided by
// the most favourable length still to come.
//
// The model is any callable next_logits(tokens) -> std::vector<double>: the logits of the
// token that follows `tokens` (the prompt and the hypothesis so far). The GPT adapter
// (models::GPTLogits) serves it from a key/value cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../core/error.hpp"

namespace latent::sample {

struct BeamSearchOptions {
  std::int64_t beam_width = 4;            // W, the hypotheses kept at each step
  std::int64_t max_new_tokens = 32;
  double length_penalty = 1.0;            // alpha in score = log p / length^alpha
  std::vector<std::int64_t> stop_tokens;  // a hypothesis ends after one of these
};

struct BeamHypothesis {
  std::vector<std::int64_t> tokens;  // the new tokens (a stop token, if any, included)
  double log_prob = 0;               // log p(tokens | prompt)
  double score = 0;                  // log_prob / length^alpha
  bool stopped = false;              // ended by a stop token (not by the length limit)
};

// The length-normalised score of a hypothesis of `length` new tokens.
inline double beam_score(double log_prob, std::int64_t length, double length_penalty) {
  return length > 0 ? log_prob / std::pow(double(length), length_penalty) : log_prob;
}

namespace beam_detail {

// log softmax(logits), computed around the largest logit.
inline std::vector<double> log_softmax(const std::vector<double>& logits) {
  const double m = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (double l : logits) total += std::exp(l - m);
  const double log_total = m + std::log(total);
  std::vector<double> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_total;
  return out;
}

}  // namespace beam_detail

// The best hypotheses found (at most beam_width), best first.
template <class NextLogits>
std::vector<BeamHypothesis> beam_search(NextLogits&& next_logits, const std::vector<std::int64_t>& prompt,
                                        const BeamSearchOptions& options = {}) {
  const char* op = "beam_search";
  LATENT_CHECK(options.beam_width >= 1, op, ": beam_width must be at least 1, got ", options.beam_width);
  LATENT_CHECK(options.max_new_tokens >= 1, op, ": max_new_tokens must be at least 1, got ", options.max_new_tokens);
  const auto width = static_cast<std::size_t>(options.beam_width);
  const double alpha = options.length_penalty;
  auto is_stop = [&](std::int64_t t) {
    return std::find(options.stop_tokens.begin(), options.stop_tokens.end(), t) != options.stop_tokens.end();
  };
  // The highest score a live hypothesis of `length` tokens and log p `log_prob` can reach.
  auto best_reachable = [&](double log_prob, std::int64_t length) {
    double best = -std::numeric_limits<double>::infinity();
    for (std::int64_t n : {length + 1, options.max_new_tokens}) best = std::max(best, beam_score(log_prob, n, alpha));
    return best;
  };
  // Keeps the best `width` hypotheses of `pool` (by score; earlier ones first among equals).
  auto keep_best = [width](std::vector<BeamHypothesis>& pool) {
    std::stable_sort(pool.begin(), pool.end(),
                     [](const BeamHypothesis& a, const BeamHypothesis& b) { return a.score > b.score; });
    if (pool.size() > width) pool.resize(width);
  };

  std::vector<BeamHypothesis> live{BeamHypothesis{}}, finished;
  std::vector<std::int64_t> context;
  for (std::int64_t length = 1; length <= options.max_new_tokens && !live.empty(); ++length) {
    struct Extension {
      double log_prob;
      std::size_t parent;
      std::int64_t token;
    };
    std::vector<Extension> extensions;
    std::size_t vocab = 0;
    for (std::size_t b = 0; b < live.size(); ++b) {
      context = prompt;
      context.insert(context.end(), live[b].tokens.begin(), live[b].tokens.end());
      const std::vector<double> log_probs = beam_detail::log_softmax(next_logits(context));
      LATENT_CHECK(!log_probs.empty() && (vocab == 0 || log_probs.size() == vocab), op,
                   ": the logits function returned ", log_probs.size(), " logits (expected ", vocab ? vocab : 1,
                   vocab ? "" : " or more", ")");
      vocab = log_probs.size();
      for (std::size_t t = 0; t < log_probs.size(); ++t)
        if (log_probs[t] > -std::numeric_limits<double>::infinity())
          extensions.push_back({live[b].log_prob + log_probs[t], b, static_cast<std::int64_t>(t)});
    }
    // Best first; among equals the earlier beam, then the smaller token id.
    std::stable_sort(extensions.begin(), extensions.end(),
                     [](const Extension& a, const Extension& b) { return a.log_prob > b.log_prob; });
    std::vector<BeamHypothesis> next;
    for (const Extension& e : extensions) {
      if (next.size() == width) break;
      BeamHypothesis h = live[e.parent];
      h.tokens.push_back(e.token);
      h.log_prob = e.log_prob;
      h.score = beam_score(h.log_prob, length, alpha);
      if (is_stop(e.token)) {
        h.stopped = true;
        finished.push_back(std::move(h));
      } else if (length == options.max_new_tokens) {
        finished.push_back(std::move(h));  // ended by the length limit
        if (finished.size() >= width * 2) keep_best(finished);
        continue;
      } else {
        next.push_back(std::move(h));
      }
    }
    keep_best(finished);
    live = std::move(next);
    if (finished.size() == width && !live.empty()) {
      double best_live = -std::numeric_limits<double>::infinity();
      for (const BeamHypothesis& h : live) best_live = std::max(best_live, best_reachable(h.log_prob, length));
      if (best_live < finished.back().score) break;
    }
  }
  keep_best(finished);
  return finished;
}

}  // namespace latent::sample
