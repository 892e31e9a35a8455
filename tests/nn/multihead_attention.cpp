// nn::MultiheadAttention: PyTorch cross-over (self-attention with weights, cross-attention
// with key padding and an additive mask, a boolean causal mask with per-head weights),
// the key/value cache against the full causal forward, masks, dropout, unbatched inputs,
// state dict keys, gradcheck and errors.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace mha_test {

inline io::SafetensorsFile fixture(const std::string& name, bool f64) {
  return io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/transformer/" + name + "__" +
                              (f64 ? "f64" : "f32") + ".safetensors");
}

template <class T>
nn::StateDict<T> state_of(const io::SafetensorsFile& f) {
  nn::StateDict<T> sd;
  for (const std::string& key : f.names())
    if (key.rfind("sd.", 0) == 0) sd.tensors[key.substr(3)] = f.get<T>(key);
  return sd;
}

// Largest difference relative to the largest expected magnitude (at least 1).
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

template <class T>
void check_parameter_grads(const nn::Module<T>& m, const io::SafetensorsFile& f, double tol) {
  for (const auto& p : m.named_parameters()) {
    INFO("parameter ", p.first);
    CHECK(max_relative_error(p.second.grad(), f.get<T>("grad." + p.first)) < tol);
  }
}

// The three PyTorch cases: (name, heads).
template <class T>
void check_crossover(double tol) {
  const bool f64 = sizeof(T) == 8;
  Generator gen(0);
  {
    INFO("mha_self ", dtype_name<T>());
    const io::SafetensorsFile f = fixture("mha_self", f64);
    nn::MultiheadAttention<T> mha(8, 2, gen);
    mha.load_state_dict(state_of<T>(f));
    Tensor<T> x = f.get<T>("input").requires_grad_(true);
    const nn::AttentionOutput<T> r = mha.forward_with_weights(x, x, x);
    CHECK(max_relative_error(r.output, f.get<T>("output")) < tol);
    CHECK(max_relative_error(r.weights, f.get<T>("weights")) < tol);
    (r.output * f.get<T>("gout")).sum().backward();
    CHECK(max_relative_error(x.grad(), f.get<T>("grad.input")) < tol);
    check_parameter_grads(mha, f, tol);
    // The plain forward gives the same output.
    CHECK(max_relative_error(mha(x.detach()), f.get<T>("output")) < tol);
  }
  {
    INFO("mha_cross ", dtype_name<T>());
    const io::SafetensorsFile f = fixture("mha_cross", f64);
    nn::MultiheadAttention<T> mha(8, 2, gen);
    mha.load_state_dict(state_of<T>(f));
    Tensor<T> q = f.get<T>("query").requires_grad_(true), k = f.get<T>("key").requires_grad_(true),
              v = f.get<T>("value").requires_grad_(true);
    const Tensor<T> out = mha.forward(q, k, v, f.get<bool>("key_padding_mask"), f.get<T>("attn_mask"));
    CHECK(max_relative_error(out, f.get<T>("output")) < tol);
    (out * f.get<T>("gout")).sum().backward();
    CHECK(max_relative_error(q.grad(), f.get<T>("grad.query")) < tol);
    CHECK(max_relative_error(k.grad(), f.get<T>("grad.key")) < tol);
    CHECK(max_relative_error(v.grad(), f.get<T>("grad.value")) < tol);
    check_parameter_grads(mha, f, tol);
  }
  {
    INFO("mha_causal ", dtype_name<T>());
    const io::SafetensorsFile f = fixture("mha_causal", f64);
    nn::MultiheadAttention<T> mha(8, 4, gen);
    mha.load_state_dict(state_of<T>(f));
    Tensor<T> x = f.get<T>("input").requires_grad_(true);
    const Tensor<bool> padding = f.get<bool>("key_padding_mask"), forbidden = f.get<bool>("attn_mask");
    const nn::AttentionOutput<T> r = mha.forward_with_weights(x, x, x, padding, forbidden, false);
    CHECK(r.weights.shape() == Shape{2, 4, 5, 5});
    CHECK(max_relative_error(r.output, f.get<T>("output")) < tol);
    CHECK(max_relative_error(r.weights, f.get<T>("weights")) < tol);
    (r.output * f.get<T>("gout")).sum().backward();
    CHECK(max_relative_error(x.grad(), f.get<T>("grad.input")) < tol);
    check_parameter_grads(mha, f, tol);
    // The boolean causal mask is what is_causal applies.
    NoGradGuard no_grad;
    CHECK(max_relative_error(mha.forward(x, x, x, padding, Tensor<T>(), true), f.get<T>("output")) < tol);
  }
}

}  // namespace mha_test

TEST_CASE("MultiheadAttention matches torch.nn.MultiheadAttention (float64 and float32)") {
  mha_test::check_crossover<double>(1e-10);
  mha_test::check_crossover<float>(1e-5);
}

TEST_CASE("MultiheadAttention state dict keys are PyTorch's") {
  Generator gen(1);
  nn::MultiheadAttention<float> mha(12, 3, gen);
  CHECK(mha.state_dict().keys() ==
        std::vector<std::string>{"in_proj_bias", "in_proj_weight", "out_proj.bias", "out_proj.weight"});
  CHECK(mha.in_proj_weight.shape() == Shape{36, 12});
  CHECK(mha.head_dim() == 4);
  nn::MultiheadAttention<float> no_bias(12, 3, gen, 0.0, false);
  CHECK(no_bias.state_dict().keys() == std::vector<std::string>{"in_proj_weight", "out_proj.weight"});
  CHECK(no_bias.num_parameters() == 4 * 12 * 12);
}

TEST_CASE("MultiheadAttention key/value cache: step by step equals the full causal forward") {
  Generator gen(2);
  nn::MultiheadAttention<double> mha(12, 3, gen);
  {
    NoGradGuard no_grad;
    mha.in_proj_bias.copy_(randn<double>({36}, gen));
  }
  const Tensor<double> x = randn<double>({2, 7, 12}, gen);
  const Tensor<double> full = mha.forward(x, x, x, Tensor<bool>(), Tensor<double>(), true);
  // One position at a time.
  nn::KVCache<double> cache;
  std::vector<Tensor<double>> steps;
  for (std::int64_t t = 0; t < 7; ++t) steps.push_back(mha.forward_step(x.narrow(1, t, 1), cache));
  CHECK(cache.length() == 7);
  CHECK(cache.k.shape() == Shape{2, 3, 7, 4});
  CHECK(mha_test::max_abs_difference(cat(steps, 1), full) < 1e-12);
  // A prompt of three, then chunks of one and three.
  nn::KVCache<double> chunked;
  const Tensor<double> a = mha.forward_step(x.narrow(1, 0, 3), chunked);
  const Tensor<double> b = mha.forward_step(x.narrow(1, 3, 1), chunked);
  const Tensor<double> c = mha.forward_step(x.narrow(1, 4, 3), chunked);
  CHECK(mha_test::max_abs_difference(cat<double>({a, b, c}, 1), full) < 1e-12);
  // A copied cache is independent of the original.
  nn::KVCache<double> fork = cache;
  mha.forward_step(x.narrow(1, 0, 1), fork);
  CHECK(fork.length() == 8);
  CHECK(cache.length() == 7);
  cache.clear();
  CHECK(cache.length() == 0);
}

TEST_CASE("MultiheadAttention masks: key padding, boolean and additive masks, causal") {
  Generator gen(3);
  nn::MultiheadAttention<double> mha(8, 2, gen);
  const Tensor<double> q = randn<double>({2, 3, 8}, gen), k = randn<double>({2, 5, 8}, gen);
  const Tensor<double> v = randn<double>({2, 5, 8}, gen);
  const Tensor<bool> padding = tensor<bool>({false, false, false, true, true, false, true, false, false, false}, Shape{2, 5});
  const Tensor<double> out = mha.forward(q, k, v, padding);
  // Padded keys do not matter: changing their keys and values changes nothing.
  Tensor<double> k2 = k.clone(), v2 = v.clone();
  {
    NoGradGuard no_grad;
    k2.select(0, 0).narrow(0, 3, 2).fill_(7.0);
    v2.select(0, 1).select(0, 1).fill_(-9.0);
  }
  CHECK(mha_test::max_abs_difference(mha.forward(q, k2, v2, padding), out) < 1e-14);
  // Batch 0 attends over its first three keys only: the same as cutting the others off.
  const Tensor<double> cut = mha.forward(q.narrow(0, 0, 1), k.narrow(0, 0, 1).narrow(1, 0, 3), v.narrow(0, 0, 1).narrow(1, 0, 3));
  CHECK(mha_test::max_abs_difference(out.narrow(0, 0, 1), cut) < 1e-14);
  // The same padding as a boolean [L, S] mask for batch 1 (true = may not attend), and as
  // an additive mask of -inf.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<bool> forbid_rows;
  for (int i = 0; i < 3; ++i) forbid_rows.insert(forbid_rows.end(), {false, true, false, false, false});
  const Tensor<bool> forbid = tensor<bool>(forbid_rows, Shape{3, 5});
  const Tensor<double> additive = where(forbid, -inf, zeros<double>({3, 5}));
  const Tensor<double> q1 = q.narrow(0, 1, 1), k1 = k.narrow(0, 1, 1), v1 = v.narrow(0, 1, 1);
  const Tensor<double> by_bool = mha.forward(q1, k1, v1, Tensor<bool>(), forbid);
  CHECK(mha_test::max_abs_difference(by_bool, out.narrow(0, 1, 1)) < 1e-14);
  CHECK(mha_test::max_abs_difference(mha.forward(q1, k1, v1, Tensor<bool>(), additive), by_bool) < 1e-14);
  // Per-head masks [B*H, L, S]: the same mask for both heads gives the same output.
  CHECK(mha_test::max_abs_difference(mha.forward(q1, k1, v1, Tensor<bool>(), additive.unsqueeze(0).expand(Shape{2, 3, 5}).contiguous()),
                           by_bool) < 1e-14);
  // An additive mask combined with padding and causality.
  const Tensor<double> soft = randn<double>({3, 5}, gen);
  const Tensor<double> combined = mha.forward(q, k, v, padding, soft, true);
  Tensor<double> folded = soft.unsqueeze(0).expand(Shape{2, 3, 5}).contiguous();
  {
    NoGradGuard no_grad;
    for (std::int64_t b = 0; b < 2; ++b)
      for (std::int64_t i = 0; i < 3; ++i)
        for (std::int64_t j = 0; j < 5; ++j)
          if (j > i || padding(b, j)) folded(b, i, j) = -inf;
  }
  const Tensor<double> by_hand = mha.forward(q, k, v, Tensor<bool>(), folded.unsqueeze(1).expand(Shape{2, 2, 3, 5}).reshape(Shape{4, 3, 5}));
  CHECK(mha_test::max_abs_difference(combined, by_hand) < 1e-14);
  // A query with every key masked gets NaN, as in PyTorch.
  const Tensor<double> all = mha.forward(q, k, v, full<bool>({2, 5}, true));
  CHECK(std::isnan(all(0, 0, 0)));
}

TEST_CASE("MultiheadAttention: unbatched inputs, averaged weights, dropout") {
  Generator gen(4);
  nn::MultiheadAttention<double> mha(6, 2, gen, 0.5);
  mha.eval();
  const Tensor<double> x = randn<double>({4, 6}, gen);
  const nn::AttentionOutput<double> one = mha.forward_with_weights(x, x, x);
  const nn::AttentionOutput<double> batched = mha.forward_with_weights(x.unsqueeze(0), x.unsqueeze(0), x.unsqueeze(0));
  CHECK(one.output.shape() == Shape{4, 6});
  CHECK(one.weights.shape() == Shape{4, 4});
  CHECK(mha_test::max_abs_difference(one.output, batched.output.squeeze(0)) == 0);
  // Averaged weights are rows of a probability distribution.
  const std::vector<double> rows = one.weights.sum(-1).to_vector();
  for (double r : rows) CHECK(r == doctest::Approx(1.0).epsilon(1e-14));
  // Eval mode: no dropout. Training mode: dropped weights, reproducible from the seed.
  CHECK(mha_test::max_abs_difference(mha(x.unsqueeze(0)).squeeze(0), one.output) == 0);
  mha.train();
  gen.manual_seed(9);
  const Tensor<double> d1 = mha(x.unsqueeze(0));
  gen.manual_seed(9);
  const Tensor<double> d2 = mha(x.unsqueeze(0));
  CHECK(mha_test::max_abs_difference(d1, d2) == 0);
  CHECK(mha_test::max_abs_difference(d1.squeeze(0), one.output) > 1e-3);
}

TEST_CASE("MultiheadAttention gradcheck: inputs and projection weights") {
  Generator gen(5);
  nn::MultiheadAttention<double> mha(4, 2, gen);
  {
    NoGradGuard no_grad;
    mha.in_proj_bias.copy_(randn<double>({12}, gen));
  }
  const Tensor<double> q = randn<double>({1, 3, 4}, gen).requires_grad_(true);
  const Tensor<double> kv = randn<double>({1, 4, 4}, gen).requires_grad_(true);
  const Tensor<bool> padding = tensor<bool>({false, true, false, false}, Shape{1, 4});
  const auto f = [&](const std::vector<Tensor<double>>& in) { return mha.forward(in[0], in[1], in[1], padding); };
  CHECK(gradcheck(f, {q, kv}));
  // The weights as inputs: the lambda points the module's members at gradcheck's copies.
  const auto self = [&](const std::vector<Tensor<double>>& in) {
    mha.in_proj_weight = in[0];
    mha.in_proj_bias = in[1];
    mha.out_proj->weight = in[2];
    return mha.forward(q, q, q, Tensor<bool>(), Tensor<double>(), true);
  };
  CHECK(gradcheck(self, {mha.in_proj_weight, mha.in_proj_bias, mha.out_proj->weight}));
}

TEST_CASE("MultiheadAttention errors name the shapes") {
  Generator gen(6);
  CHECK_THROWS_WITH_AS(nn::MultiheadAttention<double>(10, 3, gen),
                       "MultiheadAttention: embed_dim 10 must be a positive multiple of num_heads 3", Error);
  nn::MultiheadAttention<double> mha(8, 2, gen);
  const Tensor<double> x = zeros<double>({2, 3, 8});
  CHECK_THROWS_WITH_AS(mha(zeros<double>({2, 3, 6})), "MultiheadAttention: query must be [batch, length, 8], got [2, 3, 6]",
                       Error);
  CHECK_THROWS_WITH_AS(mha.forward(x, x, x, zeros<bool>({2, 4})),
                       "MultiheadAttention: key_padding_mask must be [2, 3], got [2, 4]", Error);
  CHECK_THROWS_WITH_AS(mha.forward(x, x, x, Tensor<bool>(), zeros<double>({3, 4})),
                       "MultiheadAttention: attn_mask must be [3, 3] or [4, 3, 3], got [3, 4]", Error);
  CHECK_THROWS_AS(mha.forward(x, zeros<double>({1, 3, 8}), zeros<double>({1, 3, 8})), Error);
  nn::KVCache<double> cache;
  mha.forward_step(zeros<double>({2, 1, 8}), cache);
  CHECK_THROWS_AS(mha.forward_step(zeros<double>({1, 1, 8}), cache), Error);
}
