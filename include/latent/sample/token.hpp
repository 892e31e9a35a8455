// Token samplers for language models, composable in a chain as inference engines do:
//
//   sample::SamplerChain chain;
//   chain.repetition_penalty(1.1).temperature(0.8).top_k(40).top_p(0.95);
//   std::int64_t next = chain.sample(logits, history, gen);
//
// The stages run in the order they were added, each on the surviving candidates:
//   repetition_penalty(r): a logit of a token already in the history is divided by r
//                          when positive, multiplied by r when negative (CTRL's rule)
//   frequency_penalty(f, p): logit -= f * count(token in history) + p * [count > 0]
//   temperature(t):   logits / t (t = 0 means greedy)
//   top_k(k):         keep the k largest logits
//   top_p(p):         keep the smallest set of most likely tokens whose probability
//                     reaches p (nucleus sampling)
//   min_p(p):         keep tokens whose probability is at least p times the largest
// Then one token is drawn from the softmax of what is left (or the largest is taken when
// the chain is greedy). Ties are broken towards the smaller token id.
//
// sort_descending and apply are templated on an unused parameter only so that the sort
// they use is compiled when a program samples, not in every program that includes the
// library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "../core/random.hpp"
#include "../tensor/tensor.hpp"

namespace latent::sample {

// Tokens still in the running, with their (modified) logits.
struct Candidates {
  std::vector<std::int64_t> ids;
  std::vector<double> logits;

  // Probabilities of the candidates (softmax of their logits).
  std::vector<double> probabilities() const {
    std::vector<double> p(logits.size());
    if (logits.empty()) return p;
    const double m = *std::max_element(logits.begin(), logits.end());
    double total = 0;
    for (std::size_t i = 0; i < p.size(); ++i) total += p[i] = std::exp(logits[i] - m);
    for (double& v : p) v /= total;
    return p;
  }
  // Sorts by logit, largest first (smaller id first among equals).
  template <class = void>
  void sort_descending() {
    std::vector<std::size_t> order(ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && ids[a] < ids[b]);
    });
    Candidates sorted;
    for (std::size_t i : order) {
      sorted.ids.push_back(ids[i]);
      sorted.logits.push_back(logits[i]);
    }
    *this = std::move(sorted);
  }
  void keep(std::size_t n) {
    ids.resize(std::min(n, ids.size()));
    logits.resize(ids.size());
  }
};

class SamplerChain {
 public:
  SamplerChain& repetition_penalty(double r) {
    LATENT_CHECK(r > 0, "repetition_penalty: must be positive, got ", r);
    stages_.push_back({Kind::Repetition, r, 0});
    return *this;
  }
  SamplerChain& frequency_penalty(double frequency, double presence = 0) {
    stages_.push_back({Kind::Frequency, frequency, presence});
    return *this;
  }
  SamplerChain& temperature(double t) {
    LATENT_CHECK(t >= 0, "temperature: must be >= 0, got ", t);
    if (t == 0) greedy_ = true;
    else stages_.push_back({Kind::Temperature, t, 0});
    return *this;
  }
  SamplerChain& top_k(std::int64_t k) {
    LATENT_CHECK(k > 0, "top_k: k must be positive, got ", k);
    stages_.push_back({Kind::TopK, double(k), 0});
    return *this;
  }
  SamplerChain& top_p(double p) {
    LATENT_CHECK(p > 0 && p <= 1, "top_p: p must be in (0, 1], got ", p);
    stages_.push_back({Kind::TopP, p, 0});
    return *this;
  }
  SamplerChain& min_p(double p) {
    LATENT_CHECK(p >= 0 && p <= 1, "min_p: p must be in [0, 1], got ", p);
    stages_.push_back({Kind::MinP, p, 0});
    return *this;
  }
  SamplerChain& greedy() {
    greedy_ = true;
    return *this;
  }

  // The candidates and logits the final draw uses, after every stage.
  template <class T>
  Candidates candidates(const Tensor<T>& logits, const std::vector<std::int64_t>& history = {}) const {
    LATENT_CHECK(logits.dim() == 1 && logits.numel() > 0, "sampler: expects a non-empty 1-d logits vector, got shape ",
                 logits.shape());
    Candidates c;
    const Tensor<T> l = logits.contiguous();
    for (std::int64_t i = 0; i < l.numel(); ++i) {
      c.ids.push_back(i);
      c.logits.push_back(double(l.data()[i]));
    }
    // How often each token of the vocabulary occurs in the history.
    std::vector<std::int64_t> counts(c.ids.size(), 0);
    for (std::int64_t t : history)
      if (t >= 0 && t < l.numel()) ++counts[static_cast<std::size_t>(t)];
    for (const Stage& s : stages_) apply(s, c, counts);
    return c;
  }

  // The probability of each token id under the chain (zero for removed tokens).
  template <class T>
  std::vector<double> distribution(const Tensor<T>& logits, const std::vector<std::int64_t>& history = {}) const {
    const Candidates c = candidates(logits, history);
    std::vector<double> p(static_cast<std::size_t>(logits.numel()), 0.0);
    if (greedy_) {
      p[static_cast<std::size_t>(argmax(c))] = 1;
      return p;
    }
    const std::vector<double> q = c.probabilities();
    for (std::size_t i = 0; i < q.size(); ++i) p[static_cast<std::size_t>(c.ids[i])] = q[i];
    return p;
  }

  template <class T>
  std::int64_t sample(const Tensor<T>& logits, const std::vector<std::int64_t>& history, Generator& gen) const {
    const Candidates c = candidates(logits, history);
    if (greedy_) return argmax(c);
    const std::vector<double> q = c.probabilities();
    const double u = gen.uniform<double>();
    double cumulative = 0;
    for (std::size_t i = 0; i < q.size(); ++i) {
      cumulative += q[i];
      if (u < cumulative) return c.ids[i];
    }
    return c.ids.back();
  }

 private:
  enum class Kind { Repetition, Frequency, Temperature, TopK, TopP, MinP };
  struct Stage {
    Kind kind;
    double a, b;
  };

  static std::int64_t argmax(const Candidates& c) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < c.ids.size(); ++i)
      if (c.logits[i] > c.logits[best] || (c.logits[i] == c.logits[best] && c.ids[i] < c.ids[best])) best = i;
    return c.ids[best];
  }

  template <class = void>
  static void apply(const Stage& s, Candidates& c, const std::vector<std::int64_t>& counts) {
    auto count = [&counts](std::int64_t id) { return counts[static_cast<std::size_t>(id)]; };
    switch (s.kind) {
      case Kind::Repetition:
        for (std::size_t i = 0; i < c.ids.size(); ++i)
          if (count(c.ids[i]) > 0) c.logits[i] = c.logits[i] > 0 ? c.logits[i] / s.a : c.logits[i] * s.a;
        break;
      case Kind::Frequency:
        for (std::size_t i = 0; i < c.ids.size(); ++i)
          if (count(c.ids[i]) > 0) c.logits[i] -= s.a * double(count(c.ids[i])) + s.b;
        break;
      case Kind::Temperature:
        for (double& l : c.logits) l /= s.a;
        break;
      case Kind::TopK:
        c.sort_descending();
        c.keep(static_cast<std::size_t>(s.a));
        break;
      case Kind::TopP: {
        c.sort_descending();
        const std::vector<double> p = c.probabilities();
        double cumulative = 0;
        std::size_t n = 0;
        while (n < p.size()) {
          cumulative += p[n++];
          if (cumulative >= s.a) break;
        }
        c.keep(n);
        break;
      }
      case Kind::MinP: {
        c.sort_descending();
        const std::vector<double> p = c.probabilities();
        std::size_t n = 1;
        while (n < p.size() && p[n] >= s.a * p[0]) ++n;
        c.keep(n);
        break;
      }
    }
  }

  std::vector<Stage> stages_;
  bool greedy_ = false;
};

}  // namespace latent::sample
