// models/gpt.hpp with an int8 key/value cache (GPTCache::int8, nn::Int8KVCache):
// - the logits of a small random GPT (heads of 32), decoded token by token, stay within
//   1.5% of the float cache's (worst |difference| over the largest |logit| of a step;
//   measured 0.57% with learned positions and 0.44% with rotary ones, at most 0.81% over
//   twelve seeds each); a prompt run in one pass gives float's logits exactly;
// - greedy decoding and beam search pick float's tokens on a model whose float margins
//   over the first window are over four times the error (measured: 11 times), and
//   greedy decoding past the block size (the window hops twice) still does;
// - truncating and copying a cache, and GPTLogits resuming from a truncated one;
// - its bytes: int8 rows and a float scale per head and position, 36 / 128 of float's;
// - the errors of misuse.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include "../error_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <vector>

using namespace latent;

namespace gpt_int8_kv_test {

using Tokens = std::vector<std::int64_t>;

// Two blocks of two heads of width 32, a block of 32 tokens.
inline models::GPTConfig small(bool rotary = false) {
  models::GPTConfig c;
  c.vocab_size = 50;
  c.block_size = 32;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 64;
  if (rotary) {
    c.rotary = true;
    c.tied_embeddings = false;
  }
  return c;
}

// A random model whose matrices have a deviation of 0.3 / sqrt(fan-in) (GPT-2's 0.02 is
// 0.16 / sqrt(64)), so that its logits are not all near zero.
inline std::unique_ptr<models::GPT<float>> random_model(const models::GPTConfig& c, std::uint64_t seed) {
  Generator gen(seed);
  auto m = std::make_unique<models::GPT<float>>(c, gen);
  NoGradGuard no_grad;
  for (Tensor<float>& p : m->parameters())
    if (p.dim() == 2) nn::init::normal_(p, gen, 0.0, 0.3 / std::sqrt(double(p.size(1))));
  m->eval();
  return m;
}

inline Tensor<std::int64_t> ids(const Tokens& t) { return tensor<std::int64_t>(t, Shape{1, std::int64_t(t.size())}); }

// The logits after the last position of a forward's output [1, T, vocab].
inline std::vector<float> last_row(const Tensor<float>& logits) {
  return logits.select(0, 0).select(0, logits.size(1) - 1).contiguous().to_vector();
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

inline double max_abs(const std::vector<float>& a) {
  double largest = 0;
  for (float x : a) largest = std::max(largest, std::fabs(double(x)));
  return largest;
}

// The best logit minus the second best.
inline double margin(std::vector<float> row) {
  std::partial_sort(row.begin(), row.begin() + 2, row.end(), [](float a, float b) { return a > b; });
  return double(row[0]) - double(row[1]);
}

inline bool bitwise_equal(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && a.contiguous().to_vector() == b.contiguous().to_vector();
}

// The prompt in one pass, then `tokens` one at a time, through a float cache and an int8
// one: the worst relative and absolute logit differences and float's smallest margin.
struct Comparison {
  double relative = 0, absolute = 0, float_margin = 1e30;
  bool prompt_bitwise = false;
};
inline Comparison compare_caches(models::GPT<float>& m, const Tokens& prompt, const Tokens& tokens) {
  NoGradGuard no_grad;
  models::GPTCache<float> in_float, in_int8;
  in_int8.int8 = true;
  Tensor<float> f = m.forward(ids(prompt), in_float), q = m.forward(ids(prompt), in_int8);
  Comparison c;
  c.prompt_bitwise = bitwise_equal(f, q);
  for (std::size_t i = 0;; ++i) {
    const std::vector<float> a = last_row(f), b = last_row(q);
    c.absolute = std::max(c.absolute, max_abs_diff(b, a));
    c.relative = std::max(c.relative, max_abs_diff(b, a) / max_abs(a));
    c.float_margin = std::min(c.float_margin, margin(a));
    if (i == tokens.size()) break;
    f = m.forward(ids({tokens[i]}), in_float);
    q = m.forward(ids({tokens[i]}), in_int8);
  }
  CHECK(in_int8.length() == in_float.length());
  return c;
}

}  // namespace gpt_int8_kv_test

TEST_CASE("GPT int8 key/value cache: logits within 1.5% of the float cache's, token by token") {
  using namespace gpt_int8_kv_test;
  Tokens tokens;  // a varied sequence that fills the block: 3 + 29 tokens
  for (int i = 0; i < 29; ++i) tokens.push_back((7 * i + 3) % 50);
  for (bool rotary : {false, true}) {
    INFO("rotary ", rotary);
    auto m = random_model(small(rotary), rotary ? 2 : 1);
    const Comparison c = compare_caches(*m, {1, 2, 3}, tokens);
    CHECK(c.prompt_bitwise);  // positions of one pass attend to each other unrounded
    CHECK(c.relative > 0);    // and later ones do read rounded keys and values
    CHECK(c.relative < 0.015);
  }
}

TEST_CASE("GPT int8 key/value cache: greedy decoding and beam search pick float's tokens") {
  using namespace gpt_int8_kv_test;
  auto m = random_model(small(), 3);
  sample::SamplerChain chain;
  chain.greedy();
  Generator gen(0);
  CHECK(!m->int8_kv_cache());
  CHECK(!m->make_cache().int8);
  const Tokens in_float = m->generate({1, 2, 3}, 80, chain, gen);  // past the block: two window hops
  const std::set<std::int64_t> distinct(in_float.begin(), in_float.end());
  CHECK(distinct.size() >= 3);
  // Within the first window float's choices win by a margin far above the error, so the
  // int8 cache cannot change them.
  const Comparison c = compare_caches(*m, {1, 2, 3}, Tokens(in_float.begin(), in_float.begin() + 28));
  CHECK(c.float_margin > 4 * c.absolute);
  m->use_int8_kv_cache();
  CHECK(m->make_cache().int8);
  CHECK(m->generate({1, 2, 3}, 80, chain, gen) == in_float);

  sample::BeamSearchOptions o;
  o.beam_width = 3;
  o.max_new_tokens = 20;
  const auto int8_beams = models::beam_search(*m, {4, 5}, o);  // forks and truncates int8 caches
  m->use_int8_kv_cache(false);
  const auto float_beams = models::beam_search(*m, {4, 5}, o);
  REQUIRE(int8_beams.size() == float_beams.size());
  for (std::size_t i = 0; i < float_beams.size(); ++i) {
    CHECK(int8_beams[i].tokens == float_beams[i].tokens);
    CHECK(std::fabs(int8_beams[i].log_prob - float_beams[i].log_prob) < 0.01 * std::fabs(float_beams[i].log_prob));
  }
}

TEST_CASE("GPT int8 key/value cache: truncating and copying") {
  using namespace gpt_int8_kv_test;
  auto m = random_model(small(true), 4);
  NoGradGuard no_grad;
  models::GPTCache<float> cache;
  cache.int8 = true;
  m->forward(ids({1, 2, 3, 4, 5, 6}), cache);
  models::GPTCache<float> copy = cache;
  cache.truncate(3);
  CHECK(cache.length() == 3);
  CHECK(copy.length() == 6);
  // Each position has a scale of its own, so the kept ones are exactly those of a cache
  // that saw only them.
  models::GPTCache<float> fresh;
  fresh.int8 = true;
  m->forward(ids({1, 2, 3}), fresh);
  CHECK(bitwise_equal(m->forward(ids({9, 8}), cache), m->forward(ids({9, 8}), fresh)));
  models::GPTCache<float> six;
  six.int8 = true;
  m->forward(ids({1, 2, 3, 4, 5, 6}), six);
  CHECK(bitwise_equal(m->forward(ids({7}), copy), m->forward(ids({7}), six)));  // the copy saw none of it
  CHECK(cache.length() == 5);
  CHECK(copy.length() == 7);
  cache.truncate(0);
  CHECK(cache.length() == 0);
  CHECK(cache.int8);  // clear() keeps the choice
  CHECK(latent_test::error_message([&] { cache.truncate(1); }) == "GPTCache::truncate: cannot keep 1 of 0 positions");

  // GPTLogits resumes from an int8 cache truncated where a sequence departs.
  m->use_int8_kv_cache();
  models::GPTLogits<float> logits(*m, 2);
  const Tensor<float> a = logits.logits({1, 2, 3, 4, 5, 6}, 1);
  const Tensor<float> b = logits.logits({1, 2, 3, 9, 8}, 1);
  CHECK(logits.tokens_run() == 6 + 2);
  models::GPTCache<float> resumed = m->make_cache();
  m->forward(ids({1, 2, 3}), resumed);
  CHECK(bitwise_equal(b, m->forward(ids({9, 8}), resumed).select(0, 0).narrow(0, 1, 1)));
  CHECK(a.shape() == (Shape{1, 50}));
}

TEST_CASE("GPT int8 key/value cache: its bytes are (D + 4) / 4D of float's") {
  using namespace gpt_int8_kv_test;
  auto m = random_model(small(), 5);
  NoGradGuard no_grad;
  models::GPTCache<float> in_float, in_int8;
  in_int8.int8 = true;
  Tokens tokens;
  for (int i = 0; i < 20; ++i) tokens.push_back(i);
  m->forward(ids(tokens), in_float);
  m->forward(ids(tokens), in_int8);
  m->forward(ids({7}), in_float);
  m->forward(ids({7}), in_int8);
  // 2 layers x (keys, values) x 21 positions x 64 channels: 4 bytes each in float; 1 byte
  // each as int8, plus a float scale per head and position (2 heads of 32 channels).
  CHECK(in_float.nbytes() == 2 * 2 * 21 * 64 * 4);
  CHECK(in_int8.nbytes() == 2 * 2 * 21 * (64 + 2 * 4));
  CHECK(double(in_int8.nbytes()) / double(in_float.nbytes()) == doctest::Approx(36.0 / 128.0));
  CHECK(models::GPTCache<float>().nbytes() == 0);

  // A step's float cache has room for its new positions: the layer appends in place.
  const nn::Int8KVCache<float>& layer = in_int8.int8_layers.front();
  nn::KVCache<float> step = layer.dequantized(2);
  CHECK(step.length() == 21);
  const Storage<float>* storage = step.k.storage().get();
  Generator gen(1);
  step.append(randn<float>({1, 2, 2, 32}, gen), randn<float>({1, 2, 2, 32}, gen));
  CHECK(step.length() == 23);
  CHECK(step.k.storage().get() == storage);
  CHECK(bitwise_equal(step.k.narrow(2, 0, 21), layer.k.dequantized()));
}

TEST_CASE("GPT int8 key/value cache: errors") {
  using namespace gpt_int8_kv_test;
  auto m = random_model(small(), 6);
  {
    NoGradGuard no_grad;
    models::GPTCache<float> cache;
    m->forward(ids({1, 2}), cache);
    cache.int8 = true;
    CHECK(latent_test::error_message([&] { m->forward(ids({3}), cache); }) ==
          "GPT: the cache holds float keys and values but int8 is set; set it before the first forward, or clear() "
          "the cache");
    cache.clear();
    m->forward(ids({1, 2}), cache);  // int8 now
    CHECK(cache.int8_layers.size() == 2);
    CHECK(cache.layers.empty());
    cache.int8 = false;
    CHECK(latent_test::error_message([&] { m->forward(ids({3}), cache); }) ==
          "GPT: the cache holds int8 keys and values but int8 is unset; set it before the first forward, or clear() "
          "the cache");
    CHECK(latent_test::error_message([&] { cache.truncate(3); }) == "GPTCache::truncate: cannot keep 3 of 2 positions");

    nn::Int8KVCache<float>& layer = cache.int8_layers.front();
    CHECK(latent_test::error_message([&] { layer.dequantized(-1); }) ==
          "Int8KVCache: new_positions must be >= 0, got -1");
    CHECK(latent_test::error_message([&] { layer.truncate(5); }) == "Int8KVCache: cannot keep 5 of 2 positions");
    CHECK(latent_test::error_message([&] { layer.append_from(nn::KVCache<float>()); }) ==
          "Int8KVCache: the step's cache holds 0 positions, fewer than the 2 held here");
    CHECK(latent_test::error_message([&] { layer.k.dequantized(1); }) ==
          "Int8KVRows: room for 1 positions cannot hold the 2 held");
  }
  // With grad mode on the layers' keys require grad: an int8 cache cannot carry them.
  models::GPTCache<float> cache;
  cache.int8 = true;
  CHECK(latent_test::error_message([&] { m->forward(ids({1, 2}), cache); }) ==
        "Int8KVCache: inference only, but the keys and values require grad with grad mode on; run under "
        "NoGradGuard");
}
