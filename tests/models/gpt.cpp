// models/gpt.hpp: the workload's names, parameter count, initialisation and weight-decay
// groups; a PyTorch GPT loaded from its state dict (fixtures, float64 and float32); the
// key/value cache against recomputing the whole sequence (logits to 1e-12 in float64,
// greedy tokens), past the block size too; the GPTLogits adapter; beam search and
// speculative decoding on GPTs; saving and loading; errors.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#ifndef LATENT_TEST_FIXTURES_DIR
#define LATENT_TEST_FIXTURES_DIR "tests/fixtures"
#endif

using namespace latent;

namespace gpt_test {

using Tokens = std::vector<std::int64_t>;

inline models::GPTConfig tiny(bool rotary = false) {
  models::GPTConfig c;
  c.vocab_size = 13;
  c.block_size = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  if (rotary) {
    c.rotary = true;
    c.tied_embeddings = false;
    c.bias = false;
  }
  return c;
}

// A random model whose logits are far from uniform (every matrix drawn with a deviation
// of 2 / sqrt(fan-in), not GPT-2's 0.02), so that greedy choices are clear-cut and vary.
inline std::unique_ptr<models::GPT<double>> random_model(const models::GPTConfig& c, std::uint64_t seed) {
  Generator gen(seed);
  auto m = std::make_unique<models::GPT<double>>(c, gen);
  NoGradGuard no_grad;
  for (Tensor<double>& p : m->parameters())
    if (p.dim() == 2) nn::init::normal_(p, gen, 0.0, 2.0 / std::sqrt(double(p.size(1))));
  m->eval();
  return m;
}

inline Tensor<std::int64_t> ids(const Tokens& t) { return tensor<std::int64_t>(t, Shape{1, std::int64_t(t.size())}); }

inline double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) {
  REQUIRE(a.shape() == b.shape());
  return double(abs(a.detach() - b.detach()).amax().item());
}

template <class T>
double max_relative_error(const Tensor<T>& got, const Tensor<T>& want) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<T> a = got.to_vector(), b = want.to_vector();
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return worst / std::max(scale, 1e-30);
}

inline std::int64_t argmax(const Tensor<double>& row) { return row.argmax().item(); }

// Greedy decoding by recomputing the whole window at every step (window_start's rule).
inline Tokens naive_greedy(models::GPT<double>& m, Tokens tokens, std::int64_t n) {
  NoGradGuard no_grad;
  Tokens out;
  const std::int64_t block = m.config().block_size;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t length = std::int64_t(tokens.size()), start = models::window_start(length, block);
    const Tensor<double> logits = m.forward(ids(Tokens(tokens.begin() + start, tokens.end())));
    const std::int64_t t = argmax(logits.select(0, 0).select(0, length - start - 1));
    tokens.push_back(t);
    out.push_back(t);
  }
  return out;
}

template <class T>
void check_fixture(const std::string& name, double tol) {
  INFO(name, " (", dtype_name<T>(), ")");
  const io::SafetensorsFile f = io::load_safetensors(std::string(LATENT_TEST_FIXTURES_DIR) + "/gpt/" + name + "__" +
                                                     (sizeof(T) == 8 ? "f64" : "f32") + ".safetensors");
  auto meta = [&](const char* key) { return std::stoll(f.metadata.at(key)); };
  models::GPTConfig c;
  c.vocab_size = meta("vocab_size");
  c.block_size = meta("block_size");
  c.n_layer = meta("n_layer");
  c.n_head = meta("n_head");
  c.n_embd = meta("n_embd");
  c.bias = meta("bias") == 1;
  c.tied_embeddings = meta("tied") == 1;
  c.rotary = meta("rotary") == 1;
  Generator gen(0);
  models::GPT<T> m(c, gen);
  nn::StateDict<T> sd;
  for (const std::string& key : f.names())
    if (key.rfind("sd.", 0) == 0) sd.tensors[key.substr(3)] = f.get<T>(key);
  m.load_state_dict(sd);  // strict: every name is PyTorch's
  const Tensor<std::int64_t> idx = f.get<std::int64_t>("idx"), targets = f.get<std::int64_t>("targets");
  CHECK(max_relative_error(m.forward(idx), f.get<T>("logits")) < tol);
  const Tensor<T> loss = m.loss(idx, targets);
  CHECK(max_relative_error(loss, f.get<T>("loss")) < tol);
  loss.backward();
  std::size_t checked = 0;
  for (const auto& p : m.named_parameters()) {
    INFO("parameter ", p.first);
    CHECK(max_relative_error(p.second.grad(), f.get<T>("grad." + p.first)) < tol);
    ++checked;
  }
  std::size_t expected = 0;
  for (const std::string& key : f.names()) expected += key.rfind("grad.", 0) == 0;
  CHECK(checked == expected);
  if (c.tied_embeddings) {  // a file without the shared copy (safetensors' save_model) loads too
    sd.tensors.erase("lm_head.weight");
    Generator other(9);
    models::GPT<T> m2(c, other);
    m2.load_state_dict(sd);
    CHECK(max_relative_error(m2.forward(idx), f.get<T>("logits")) < tol);
  }
}

}  // namespace gpt_test

TEST_CASE("GPT: the gpt_step workload's names, size, initialisation and optimiser groups") {
  Generator gen(1);
  models::GPT<float> m(models::GPTConfig{}, gen);
  CHECK(m.num_parameters() == 813824);  // torch_workloads.py's GPT(): count_parameters
  const auto sd = m.state_dict();
  CHECK(sd.size() == 2 + 4 * 12 + 2 + 1);
  for (const char* key : {"wte.weight", "wpe.weight", "blocks.0.ln1.weight", "blocks.0.attn.qkv.weight",
                          "blocks.0.attn.qkv.bias", "blocks.3.attn.proj.weight", "blocks.3.ln2.bias",
                          "blocks.3.mlp.fc.weight", "blocks.3.mlp.proj.bias", "ln_f.weight", "lm_head.weight"})
    CHECK_MESSAGE(sd.contains(key), key);
  // Tied: the head is the embedding itself, listed once among the parameters.
  CHECK(m.lm_head->weight.storage() == m.wte->weight.storage());
  CHECK(m.parameters().size() == 2 + 4 * 12 + 2);
  auto stddev = [](const Tensor<float>& t) { return double(t.detach().std().item()); };
  CHECK(stddev(m.wte->weight) == doctest::Approx(0.02).epsilon(0.03));
  CHECK(stddev(m.wpe->weight) == doctest::Approx(0.02).epsilon(0.05));
  CHECK(stddev(m.block(0).mlp->fc->weight) == doctest::Approx(0.02).epsilon(0.03));
  CHECK(stddev(m.block(1).attn->proj->weight) == doctest::Approx(0.02 / std::sqrt(8.0)).epsilon(0.05));
  CHECK(stddev(m.block(3).mlp->proj->weight) == doctest::Approx(0.02 / std::sqrt(8.0)).epsilon(0.05));
  CHECK(double(m.block(2).attn->qkv->bias.detach().abs().amax().item()) == 0.0);
  CHECK(double(m.block(2).ln1->weight.detach().amin().item()) == 1.0);
  // Weight decay on the 2-D tensors (embeddings and Linear weights), none on the rest.
  const auto groups = models::gpt_param_groups(m, optim::AdamOptions().lr(1e-3).weight_decay(0.1));
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].params.size() == 2 + 4 * 4);
  CHECK(groups[0].options.weight_decay() == 0.1);
  CHECK(groups[1].params.size() == 4 * 8 + 2);
  CHECK(groups[1].options.weight_decay() == 0.0);
  CHECK(groups[1].options.lr() == 1e-3);
  // Untied, rotary, without biases: a head of its own, no wpe, no biases.
  models::GPTConfig c;
  c.tied_embeddings = false;
  c.rotary = true;
  c.bias = false;
  models::GPT<float> v(c, gen);
  CHECK(v.wpe == nullptr);
  CHECK(v.num_parameters() == 813824 - 8192 - 4 * (384 + 128 + 512 + 128 + 256) - 128 + 96 * 128);
}

TEST_CASE("GPT: a PyTorch GPT loads from its state dict and gives the same logits, loss and gradients") {
  gpt_test::check_fixture<double>("gpt", 1e-10);
  gpt_test::check_fixture<double>("gpt_variant", 1e-10);
  gpt_test::check_fixture<float>("gpt", 2e-5);
  gpt_test::check_fixture<float>("gpt_variant", 2e-5);
}

TEST_CASE("GPT: the key/value cache gives the logits and greedy tokens of recomputing the sequence") {
  using gpt_test::Tokens;
  for (bool rotary : {false, true}) {
    INFO("rotary ", rotary);
    auto m = gpt_test::random_model(gpt_test::tiny(rotary), rotary ? 5 : 4);
    NoGradGuard no_grad;
    Tokens tokens{4, 1, 7};
    models::GPTCache<double> cache;
    Tensor<double> step = m->forward(gpt_test::ids(tokens), cache);  // the prompt in one pass
    CHECK(gpt_test::max_abs_diff(step, m->forward(gpt_test::ids(tokens))) < 1e-12);
    double worst = 0;
    Tokens greedy;
    for (int i = 0; i < 12; ++i) {  // then one token at a time
      const std::int64_t t = gpt_test::argmax(step.select(0, 0).select(0, step.size(1) - 1));
      tokens.push_back(t);
      greedy.push_back(t);
      step = m->forward(gpt_test::ids({t}), cache);
      const Tensor<double> full = m->forward(gpt_test::ids(tokens));
      worst = std::max(worst, gpt_test::max_abs_diff(step.select(1, 0), full.select(1, full.size(1) - 1)));
    }
    CHECK(cache.length() == 15);
    CHECK(worst < 1e-12);
    CHECK(greedy == gpt_test::naive_greedy(*m, {4, 1, 7}, 12));
    sample::SamplerChain chain;
    chain.greedy();
    Generator gen(0);
    CHECK(m->generate({4, 1, 7}, 12, chain, gen) == greedy);
    // Past the block size (16) the window hops by half a block; the cache follows it.
    CHECK(m->generate({4, 1, 7}, 40, chain, gen) == gpt_test::naive_greedy(*m, {4, 1, 7}, 40));
    std::set<std::int64_t> distinct(greedy.begin(), greedy.end());
    CHECK(distinct.size() > 1);  // a test of something: the tokens vary
  }
}

TEST_CASE("GPT: generate with a sampler chain, stop tokens; the cache truncates") {
  using gpt_test::Tokens;
  auto m = gpt_test::random_model(gpt_test::tiny(), 5);
  sample::SamplerChain chain;
  chain.repetition_penalty(1.3).temperature(0.8).top_k(5).top_p(0.95);
  Generator a(42), b(42);
  const Tokens first = m->generate({2, 3}, 30, chain, a);
  CHECK(first.size() == 30);
  CHECK(m->generate({2, 3}, 30, chain, b) == first);  // the same seed, the same tokens
  // Stop tokens end the output, which keeps them.
  Generator c(42);
  const Tokens stopped = m->generate({2, 3}, 30, chain, c, {first[6]});
  const auto at = std::find(first.begin(), first.end(), first[6]) - first.begin();
  CHECK(stopped == Tokens(first.begin(), first.begin() + at + 1));
  // Truncating a cache and going on equals running the new tokens from scratch.
  NoGradGuard no_grad;
  models::GPTCache<double> cache;
  m->forward(gpt_test::ids({1, 2, 3, 4, 5, 6}), cache);
  models::GPTCache<double> copy = cache;
  cache.truncate(3);
  CHECK(cache.length() == 3);
  CHECK(copy.length() == 6);
  const Tensor<double> resumed = m->forward(gpt_test::ids({9, 8}), cache);
  const Tensor<double> full = m->forward(gpt_test::ids({1, 2, 3, 9, 8}));
  CHECK(gpt_test::max_abs_diff(resumed, full.narrow(1, 3, 2)) < 1e-12);
  CHECK(gpt_test::max_abs_diff(m->forward(gpt_test::ids({7}), copy).select(1, 0),
                               m->forward(gpt_test::ids({1, 2, 3, 4, 5, 6, 7})).select(1, 6)) < 1e-12);
  CHECK_THROWS_WITH_AS(cache.truncate(6), "GPTCache::truncate: cannot keep 6 of 5 positions", Error);
}

TEST_CASE("GPTLogits: rows of several prefixes, shared prefixes, and windows") {
  using gpt_test::Tokens;
  auto m = gpt_test::random_model(gpt_test::tiny(true), 8);
  models::GPTLogits<double> logits(*m, 2);
  NoGradGuard no_grad;
  const Tokens a{1, 2, 3, 4, 5, 6, 7};
  const Tensor<double> full = m->forward(gpt_test::ids(a)).select(0, 0);
  const auto rows = logits(a, 3);  // after 5, 6 and 7 tokens
  REQUIRE(rows.size() == 3);
  for (int i = 0; i < 3; ++i)
    CHECK(gpt_test::max_abs_diff(tensor<double>(rows[std::size_t(i)]), full.select(0, 4 + i)) < 1e-12);
  CHECK(logits.tokens_run() == 7);
  // A sequence that differs after 4 tokens resumes from the cache truncated there.
  const Tokens b{1, 2, 3, 4, 9, 9};
  CHECK(gpt_test::max_abs_diff(tensor<double>(logits(b)), m->forward(gpt_test::ids(b)).select(0, 0).select(0, 5)) < 1e-12);
  CHECK(logits.tokens_run() == 7 + 2);
  // Prefixes on both sides of a window hop (block 16: 16 tokens, then a window from 8).
  Tokens c;
  for (int i = 0; i < 18; ++i) c.push_back((i * 5) % 13);
  const Tensor<double> rows_c = logits.logits(c, 4);  // after 15, 16, 17, 18 tokens
  const Tensor<double> first = m->forward(gpt_test::ids(Tokens(c.begin(), c.begin() + 16))).select(0, 0);
  const Tensor<double> second = m->forward(gpt_test::ids(Tokens(c.begin() + 8, c.end()))).select(0, 0);
  CHECK(gpt_test::max_abs_diff(rows_c.narrow(0, 0, 2), first.narrow(0, 14, 2)) < 1e-12);
  CHECK(gpt_test::max_abs_diff(rows_c.narrow(0, 2, 2), second.narrow(0, 8, 2)) < 1e-12);
  CHECK(models::window_start(16, 16) == 0);
  CHECK(models::window_start(17, 16) == 8);
  CHECK(models::window_start(24, 16) == 8);
  CHECK(models::window_start(25, 16) == 16);
  CHECK_THROWS_WITH_AS(logits(Tokens{1, 2}, 3), "GPTLogits: asked for the logits of 3 prefixes of 2 tokens", Error);
}

TEST_CASE("GPT: beam search and speculative decoding") {
  using gpt_test::Tokens;
  auto target = gpt_test::random_model(gpt_test::tiny(), 11);
  models::GPTConfig small = gpt_test::tiny();
  small.n_layer = 1;
  small.n_embd = 8;
  auto draft = gpt_test::random_model(small, 12);
  const Tokens greedy = gpt_test::naive_greedy(*target, {5}, 30);
  // A beam of one is greedy search; a wider beam finds a sequence at least as likely.
  sample::BeamSearchOptions o;
  o.beam_width = 1;
  o.max_new_tokens = 10;
  o.length_penalty = 0;
  const auto one = models::beam_search(*target, {5}, o);
  CHECK(one[0].tokens == Tokens(greedy.begin(), greedy.begin() + 10));
  o.beam_width = 4;
  const auto four = models::beam_search(*target, {5}, o);
  REQUIRE(four.size() == 4);
  CHECK(four[0].log_prob >= one[0].log_prob - 1e-12);
  NoGradGuard no_grad;
  for (const auto& h : four) {  // each log-probability as the full forward gives it
    Tokens all{5};
    all.insert(all.end(), h.tokens.begin(), h.tokens.end());
    const Tensor<double> lp = nn::functional::log_softmax(target->forward(gpt_test::ids(all)).select(0, 0), -1);
    double sum = 0;
    for (std::size_t i = 0; i < h.tokens.size(); ++i) sum += lp(std::int64_t(i), h.tokens[i]);
    CHECK(h.log_prob == doctest::Approx(sum).epsilon(1e-10));
  }
  // Speculative decoding: greedy, it gives the target's greedy tokens (past the block, too).
  sample::SamplerChain chain;
  chain.greedy();
  sample::SpeculativeOptions so;
  so.draft_tokens = 3;
  so.max_new_tokens = 30;
  Generator gen(1);
  const auto r = models::speculative_generate(*target, *draft, {5}, chain, so, gen);
  CHECK(r.tokens == greedy);
  CHECK(r.acceptance_rate() < 1.0);
  const auto self = models::speculative_generate(*target, *target, {5}, chain, so, gen);
  CHECK(self.tokens == greedy);
  CHECK(self.acceptance_rate() == 1.0);
}

TEST_CASE("GPT: save and load with the configuration; errors") {
  auto m = gpt_test::random_model(gpt_test::tiny(true), 4);
  const std::string path = "/tmp/latent_test_gpt_" + std::to_string(reinterpret_cast<std::uintptr_t>(&m)) + ".safetensors";
  models::save_gpt(path, *m, {{"tokenizer", "char"}});
  Generator gen(0);
  const auto loaded = models::load_gpt<double>(path, gen);
  CHECK(loaded->config().rotary);
  CHECK_FALSE(loaded->config().tied_embeddings);
  CHECK(loaded->config().n_embd == 16);
  NoGradGuard no_grad;
  const Tensor<std::int64_t> idx = gpt_test::ids({3, 1, 4, 1, 5});
  CHECK(gpt_test::max_abs_diff(loaded->forward(idx), m->forward(idx)) == 0.0);
  CHECK(io::load_safetensors(path).metadata.at("tokenizer") == "char");
  std::remove(path.c_str());

  models::GPTConfig bad = gpt_test::tiny();
  bad.n_head = 3;
  CHECK_THROWS_WITH_AS(models::GPT<double>(bad, gen), "GPT: n_embd 16 is not a multiple of n_head 3", Error);
  CHECK_THROWS_WITH_AS(m->forward(gpt_test::ids(std::vector<std::int64_t>(17, 1))),
                       "GPT: a sequence of 17 tokens exceeds the block size 16", Error);
  CHECK_THROWS_AS(m->forward(tensor<std::int64_t>({1, 2, 3})), Error);
  CHECK_THROWS_AS(m->forward(gpt_test::ids({1, 13})), Error);  // a token outside the vocabulary
  sample::SamplerChain chain;
  CHECK_THROWS_WITH_AS(m->generate({}, 3, chain, gen), "GPT::generate: the prompt must hold at least one token", Error);
}
