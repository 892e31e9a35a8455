// nn::TransformerBlock: the gpt_step workload's block loaded from PyTorch (with and
// without biases, with rotary embeddings, two blocks stacked), state dict names, the
// key/value cache against the full forward, GPT-2 initialisation, dropout, gradcheck and
// gradgradcheck, errors.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace transformer_test {

inline io::SafetensorsFile fixture(const std::string& name, bool f64) {
  return io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/transformer/" + name + "__" +
                              (f64 ? "f64" : "f32") + ".safetensors");
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
  return worst / std::max(scale, 1.0);
}

inline double max_abs_difference(const Tensor<double>& a, const Tensor<double>& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst;
}

// Two blocks and a final LayerNorm (the fixture's Stack).
template <class T>
struct Stack : nn::Module<T> {
  std::shared_ptr<nn::ModuleList<T>> blocks;
  std::shared_ptr<nn::LayerNorm<T>> ln_f;
  Stack(std::int64_t n_embd, std::int64_t n_head, Generator& gen, const nn::TransformerBlockOptions& o = {}) {
    blocks = this->register_module("blocks", std::make_shared<nn::ModuleList<T>>());
    for (int i = 0; i < 2; ++i) blocks->push_back(std::make_shared<nn::TransformerBlock<T>>(n_embd, n_head, gen, o));
    ln_f = this->register_module("ln_f", std::make_shared<nn::LayerNorm<T>>(n_embd));
  }
  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> h = x;
    for (const auto& b : *blocks) h = b->forward(h);
    return ln_f->forward(h);
  }
  Tensor<T> forward_step(const Tensor<T>& x, std::vector<nn::KVCache<T>>& caches) {
    Tensor<T> h = x;
    for (std::size_t i = 0; i < blocks->size(); ++i)
      h = static_cast<nn::TransformerBlock<T>&>(*(*blocks)[i]).forward_step(h, caches[i]);
    return ln_f->forward(h);
  }
};

template <class T>
std::shared_ptr<nn::Module<T>> make(const std::string& name, Generator& gen) {
  nn::TransformerBlockOptions o;
  if (name == "block_nobias") o.bias = false;
  if (name == "block_rope") o.rope = true;
  if (name == "stack") return std::make_shared<Stack<T>>(8, 2, gen);
  return std::make_shared<nn::TransformerBlock<T>>(8, 2, gen, o);
}

template <class T>
void check_crossover(const std::string& name, double tol) {
  INFO(name, " (", dtype_name<T>(), ")");
  const io::SafetensorsFile f = fixture(name, sizeof(T) == 8);
  Generator gen(0);
  const std::shared_ptr<nn::Module<T>> m = make<T>(name, gen);
  nn::StateDict<T> sd;
  for (const std::string& key : f.names())
    if (key.rfind("sd.", 0) == 0) sd.tensors[key.substr(3)] = f.get<T>(key);
  m->load_state_dict(sd);  // strict: the names are the workload's
  Tensor<T> x = f.get<T>("input").requires_grad_(true);
  const Tensor<T> out = m->forward(x);
  CHECK(max_relative_error(out, f.get<T>("output")) < tol);
  (out * f.get<T>("gout")).sum().backward();
  CHECK(max_relative_error(x.grad(), f.get<T>("grad.input")) < tol);
  for (const auto& p : m->named_parameters()) {
    INFO("parameter ", p.first);
    CHECK(max_relative_error(p.second.grad(), f.get<T>("grad." + p.first)) < tol);
  }
}

// Block outputs position by position (and in chunks) against the full forward.
inline void check_cache(const nn::TransformerBlockOptions& o) {
  Generator gen(7);
  nn::TransformerBlock<double> block(16, 4, gen, o);
  block.eval();
  const Tensor<double> x = randn<double>({2, 9, 16}, gen);
  const Tensor<double> full = block(x);
  nn::KVCache<double> cache;
  std::vector<Tensor<double>> steps;
  for (std::int64_t t = 0; t < 9; ++t) steps.push_back(block.forward_step(x.narrow(1, t, 1), cache));
  CHECK(cache.length() == 9);
  CHECK(max_abs_difference(cat(steps, 1), full) < 1e-12);
  nn::KVCache<double> chunked;
  std::vector<Tensor<double>> chunks{block.forward_step(x.narrow(1, 0, 4), chunked),
                                     block.forward_step(x.narrow(1, 4, 1), chunked),
                                     block.forward_step(x.narrow(1, 5, 4), chunked)};
  CHECK(max_abs_difference(cat(chunks, 1), full) < 1e-12);
}

}  // namespace transformer_test

TEST_CASE("TransformerBlock matches the gpt_step workload's block from PyTorch (float64)") {
  for (const char* name : {"block", "block_nobias", "block_rope", "stack"})
    transformer_test::check_crossover<double>(name, 1e-10);
}

TEST_CASE("TransformerBlock matches the gpt_step workload's block from PyTorch (float32)") {
  for (const char* name : {"block", "block_nobias", "block_rope", "stack"})
    transformer_test::check_crossover<float>(name, 1e-5);
}

TEST_CASE("TransformerBlock state dict names are the workload's") {
  Generator gen(1);
  nn::TransformerBlock<float> block(8, 2, gen);
  CHECK(block.state_dict().keys() ==
        std::vector<std::string>{"attn.proj.bias", "attn.proj.weight", "attn.qkv.bias", "attn.qkv.weight",
                                 "ln1.bias", "ln1.weight", "ln2.bias", "ln2.weight", "mlp.fc.bias",
                                 "mlp.fc.weight", "mlp.proj.bias", "mlp.proj.weight"});
  std::vector<std::string> names;
  for (const auto& p : block.named_parameters()) names.push_back(p.first);
  CHECK(names == std::vector<std::string>{"ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                          "attn.proj.weight", "attn.proj.bias", "ln2.weight", "ln2.bias",
                                          "mlp.fc.weight", "mlp.fc.bias", "mlp.proj.weight", "mlp.proj.bias"});
  CHECK(block.num_parameters() == 2 * 16 + (8 * 24 + 24) + (8 * 8 + 8) + (8 * 32 + 32) + (32 * 8 + 8));
  nn::TransformerBlockOptions o;
  o.bias = false;
  nn::TransformerBlock<float> bare(8, 2, gen, o);
  CHECK(bare.state_dict().keys() == std::vector<std::string>{"attn.proj.weight", "attn.qkv.weight", "ln1.weight",
                                                             "ln2.weight", "mlp.fc.weight", "mlp.proj.weight"});
}

TEST_CASE("TransformerBlock key/value cache equals the full causal forward") {
  nn::TransformerBlockOptions o;
  transformer_test::check_cache(o);
  o.rope = true;  // rotary angles continue from the cached length
  transformer_test::check_cache(o);
  o.rope_dim = 2;
  o.bias = false;
  transformer_test::check_cache(o);

  // Two stacked blocks, each with its own cache.
  Generator gen(8);
  transformer_test::Stack<double> stack(16, 4, gen);
  const Tensor<double> x = randn<double>({1, 6, 16}, gen);
  std::vector<nn::KVCache<double>> caches(2);
  std::vector<Tensor<double>> steps;
  for (std::int64_t t = 0; t < 6; ++t) steps.push_back(stack.forward_step(x.narrow(1, t, 1), caches));
  CHECK(transformer_test::max_abs_difference(cat(steps, 1), stack(x)) < 1e-12);
}

TEST_CASE("TransformerBlock: causality, GPT-2 initialisation, dropout") {
  Generator gen(9);
  nn::TransformerBlock<double> block(16, 4, gen);
  // Position t does not depend on later positions.
  const Tensor<double> x = randn<double>({1, 5, 16}, gen);
  Tensor<double> changed = x.clone();
  {
    NoGradGuard no_grad;
    changed.narrow(1, 3, 2).fill_(5.0);
  }
  CHECK(transformer_test::max_abs_difference(block(x).narrow(1, 0, 3), block(changed).narrow(1, 0, 3)) == 0);
  CHECK(transformer_test::max_abs_difference(block(x).narrow(1, 3, 1), block(changed).narrow(1, 3, 1)) > 0.1);

  // gpt_init_: N(0, 0.02) weights, zero biases, residual projections N(0, 0.02 / sqrt(2 n_layer)).
  nn::TransformerBlock<double> wide(128, 4, gen);
  wide.gpt_init_(gen, 8);
  auto stddev = [](const Tensor<double>& w) { return std::sqrt(w.square().mean().item()); };
  CHECK(stddev(wide.attn->qkv->weight) == doctest::Approx(0.02).epsilon(0.02));
  CHECK(stddev(wide.mlp->fc->weight) == doctest::Approx(0.02).epsilon(0.02));
  CHECK(stddev(wide.attn->proj->weight) == doctest::Approx(0.005).epsilon(0.04));
  CHECK(stddev(wide.mlp->proj->weight) == doctest::Approx(0.005).epsilon(0.02));
  CHECK(wide.attn->qkv->bias.abs().amax().item() == 0);
  CHECK(wide.mlp->proj->bias.abs().amax().item() == 0);
  CHECK(wide.ln1->weight.to_vector() == std::vector<double>(128, 1.0));

  // Dropout acts in training mode only; in eval mode the block is the one without dropout.
  nn::TransformerBlockOptions o;
  o.dropout = 0.3;
  Generator g1(10), g2(10);
  nn::TransformerBlock<double> dropped(16, 4, g1, o), plain(16, 4, g2);
  plain.eval();
  dropped.train();
  CHECK(transformer_test::max_abs_difference(dropped(x), plain(x)) > 1e-3);
  dropped.eval();
  CHECK(transformer_test::max_abs_difference(dropped(x), plain(x)) == 0);
}

TEST_CASE("TransformerBlock gradcheck and gradgradcheck") {
  Generator gen(11);
  nn::TransformerBlockOptions o;
  o.rope = true;
  nn::TransformerBlock<double> block(4, 2, gen, o);
  {
    NoGradGuard no_grad;  // LayerNorm parameters away from 1 and 0
    block.ln1->weight.add_(randn<double>({4}, gen) * 0.3);
    block.ln2->bias.add_(randn<double>({4}, gen) * 0.3);
  }
  const Tensor<double> x = randn<double>({1, 3, 4}, gen).requires_grad_(true);
  const auto f = [&](const std::vector<Tensor<double>>& in) { return block(in[0]); };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
  const auto by_weight = [&](const std::vector<Tensor<double>>& in) {
    block.attn->qkv->weight = in[0];
    block.mlp->fc->bias = in[1];
    return block(x.detach());
  };
  CHECK(gradcheck(by_weight, {block.attn->qkv->weight, block.mlp->fc->bias}));
}

TEST_CASE("TransformerBlock errors") {
  Generator gen(12);
  CHECK_THROWS_WITH_AS(nn::TransformerBlock<double>(10, 4, gen),
                       "CausalSelfAttention: n_embd 10 must be a positive multiple of n_head 4", Error);
  nn::TransformerBlockOptions o;
  o.rope = true;
  o.rope_dim = 6;
  CHECK_THROWS_WITH_AS(nn::TransformerBlock<double>(8, 2, gen, o),
                       "CausalSelfAttention: rope_dim 6 exceeds the head size 4", Error);
  nn::TransformerBlock<double> block(8, 2, gen);
  CHECK_THROWS_AS(block(zeros<double>({2, 3, 6})), Error);
  CHECK_THROWS_WITH_AS(block.attn->forward(zeros<double>({3, 8})),
                       "CausalSelfAttention: expects x [batch, length, 8], got [3, 8]", Error);
}
