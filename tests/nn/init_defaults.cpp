// Default initialisation of every layer with parameters, checked against PyTorch's rules
// by the statistics of large layers:
//   Linear, Conv1d, Conv2d: weight and bias U(-b, b), b = 1/sqrt(fan_in) (Kaiming-uniform
//     with a = sqrt 5 gives exactly this bound for the weight);
//   ConvTranspose2d: the same with fan_in = weight.size(1) * kernel area (= out_channels
//     * kernel area: PyTorch's rule reads the transposed layout as it is);
//   Embedding, LearnedPositionalEmbedding: N(0, 1);
//   BatchNorm, LayerNorm, GroupNorm, RMSNorm: weight 1, bias 0 (running mean 0, var 1);
//   MultiheadAttention: in_proj_weight Xavier-uniform over [3E, E], out_proj.weight
//     U(-1/sqrt(E), 1/sqrt(E)), both biases 0;
//   LoRALinear: lora_A U(-1/sqrt(in), 1/sqrt(in)), lora_B 0.
// For U(-b, b): every value within the bounds, the extremes near them, mean 0 and variance
// b^2/3 within 4.5 standard errors, half the values in [-b/2, b/2].
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using namespace latent;

namespace init_defaults_test {

template <class T>
void check_uniform(const Tensor<T>& t, double bound, const std::string& what) {
  INFO(what, " of shape ", t.shape(), ", bound ", bound);
  const std::vector<T> v = t.to_vector();
  const double n = double(v.size());
  REQUIRE(n >= 1000);
  double sum = 0, sum_sq = 0, low = 0, high = 0, central = 0;
  for (T e : v) {
    const double x = double(e);
    sum += x;
    sum_sq += x * x;
    low = std::min(low, x);
    high = std::max(high, x);
    central += std::fabs(x) <= bound / 2;
  }
  CHECK(low >= -bound);
  CHECK(high <= bound);
  // The extremes of n uniform draws lie within about bound * 10/n of the bounds.
  CHECK(low < -bound * (1 - 20 / n));
  CHECK(high > bound * (1 - 20 / n));
  const double mean = sum / n, var = sum_sq / n;
  CHECK(std::fabs(mean) < 4.5 * bound / std::sqrt(3 * n));
  // Var(x^2) = 4 b^4 / 45 for x ~ U(-b, b).
  CHECK(std::fabs(var - bound * bound / 3) < 4.5 * std::sqrt(4.0 / 45 / n) * bound * bound);
  CHECK(std::fabs(central / n - 0.5) < 4.5 * 0.5 / std::sqrt(n));
}

// Small tensors (biases): within the bounds, and not all near zero.
template <class T>
void check_uniform_small(const Tensor<T>& t, double bound, const std::string& what) {
  INFO(what, " of shape ", t.shape(), ", bound ", bound);
  const double largest = double(t.abs().amax().item());
  CHECK(largest <= bound);
  CHECK(largest > bound * 0.8);
}

template <class T>
void check_normal(const Tensor<T>& t, double stddev, const std::string& what) {
  INFO(what, " of shape ", t.shape());
  const std::vector<T> v = t.to_vector();
  const double n = double(v.size());
  double sum = 0, sum_sq = 0;
  for (T e : v) {
    sum += double(e);
    sum_sq += double(e) * double(e);
  }
  const double mean = sum / n, sd = std::sqrt(sum_sq / n - mean * mean);
  CHECK(std::fabs(mean) < 4.5 * stddev / std::sqrt(n));
  CHECK(std::fabs(sd - stddev) < 4.5 * stddev / std::sqrt(2 * n));
}

template <class T>
void check_constant(const Tensor<T>& t, double value, const std::string& what) {
  INFO(what);
  REQUIRE(t.defined());
  for (T e : t.to_vector()) REQUIRE(double(e) == value);
}

}  // namespace init_defaults_test

TEST_CASE("default init: Linear and convolutions draw U(-1/sqrt(fan_in), 1/sqrt(fan_in))") {
  Generator gen(1);
  nn::Linear<float> fc(500, 300, gen);
  init_defaults_test::check_uniform(fc.weight, 1 / std::sqrt(500.0), "Linear.weight");
  init_defaults_test::check_uniform_small(fc.bias, 1 / std::sqrt(500.0), "Linear.bias");
  nn::Linear<double> big_bias(4, 4000, gen);  // enough bias values for the statistics
  init_defaults_test::check_uniform(big_bias.bias, 0.5, "Linear.bias");

  nn::Conv1d<float> c1(16, 64, 5, gen);
  init_defaults_test::check_uniform(c1.weight, 1 / std::sqrt(16.0 * 5), "Conv1d.weight");
  init_defaults_test::check_uniform_small(c1.bias, 1 / std::sqrt(16.0 * 5), "Conv1d.bias");
  nn::Conv2d<float> c2(16, 64, 3, gen, 1, 0, 1, 2);  // groups 2: fan_in = 8 * 9
  init_defaults_test::check_uniform(c2.weight, 1 / std::sqrt(8.0 * 9), "Conv2d.weight");
  init_defaults_test::check_uniform_small(c2.bias, 1 / std::sqrt(8.0 * 9), "Conv2d.bias");
  nn::ConvTranspose2d<float> ct(64, 32, 4, gen);  // weight [64, 32, 4, 4]: fan_in = 32 * 16
  init_defaults_test::check_uniform(ct.weight, 1 / std::sqrt(32.0 * 16), "ConvTranspose2d.weight");
  init_defaults_test::check_uniform_small(ct.bias, 1 / std::sqrt(32.0 * 16), "ConvTranspose2d.bias");
}

TEST_CASE("default init: embeddings N(0, 1), norms ones and zeros") {
  Generator gen(2);
  nn::Embedding<double> emb(1000, 64, gen);
  init_defaults_test::check_normal(emb.weight, 1.0, "Embedding.weight");
  nn::LearnedPositionalEmbedding<float> wpe(512, 64, gen);
  init_defaults_test::check_normal(wpe.weight, 1.0, "LearnedPositionalEmbedding.weight");

  nn::BatchNorm2d<float> bn(7);
  init_defaults_test::check_constant(bn.weight, 1, "BatchNorm.weight");
  init_defaults_test::check_constant(bn.bias, 0, "BatchNorm.bias");
  init_defaults_test::check_constant(bn.running_mean, 0, "BatchNorm.running_mean");
  init_defaults_test::check_constant(bn.running_var, 1, "BatchNorm.running_var");
  CHECK(bn.num_batches_tracked.item() == 0);
  nn::LayerNorm<float> ln(Shape{3, 5});
  init_defaults_test::check_constant(ln.weight, 1, "LayerNorm.weight");
  init_defaults_test::check_constant(ln.bias, 0, "LayerNorm.bias");
  CHECK(ln.weight.shape() == Shape{3, 5});
  nn::GroupNorm<float> gn(2, 6);
  init_defaults_test::check_constant(gn.weight, 1, "GroupNorm.weight");
  init_defaults_test::check_constant(gn.bias, 0, "GroupNorm.bias");
  nn::RMSNorm<float> rms(9);
  init_defaults_test::check_constant(rms.weight, 1, "RMSNorm.weight");
  CHECK(rms.named_parameters().size() == 1);
}

TEST_CASE("default init: MultiheadAttention as PyTorch (Xavier in_proj, zero biases)") {
  Generator gen(3);
  nn::MultiheadAttention<float> mha(256, 8, gen);
  init_defaults_test::check_uniform(mha.in_proj_weight, std::sqrt(6.0 / (256 + 3 * 256)), "in_proj_weight");
  init_defaults_test::check_constant(mha.in_proj_bias, 0, "in_proj_bias");
  init_defaults_test::check_uniform(mha.out_proj->weight, 1 / std::sqrt(256.0), "out_proj.weight");
  init_defaults_test::check_constant(mha.out_proj->bias, 0, "out_proj.bias");
}

TEST_CASE("default init: LoRA A as a Linear weight, B zero; blocks as their layers") {
  Generator gen(4);
  nn::LoRALinear<float> lora(std::make_shared<nn::Linear<float>>(400, 300, gen), 8, 16.0, gen);
  init_defaults_test::check_uniform(lora.lora_A->weight, 1 / std::sqrt(400.0), "lora_A.weight");
  init_defaults_test::check_constant(lora.lora_B->weight, 0, "lora_B.weight");
  init_defaults_test::check_uniform(lora.weight, 1 / std::sqrt(400.0), "base weight");

  nn::TransformerBlock<float> block(128, 4, gen);
  init_defaults_test::check_uniform(block.attn->qkv->weight, 1 / std::sqrt(128.0), "attn.qkv.weight");
  init_defaults_test::check_uniform(block.mlp->proj->weight, 1 / std::sqrt(512.0), "mlp.proj.weight");
  init_defaults_test::check_constant(block.ln1->weight, 1, "ln1.weight");
  init_defaults_test::check_constant(block.ln2->bias, 0, "ln2.bias");
}

TEST_CASE("default init: different generators give different weights, equal seeds equal ones") {
  Generator a(5), b(5), c(6);
  nn::Linear<float> la(8, 8, a), lb(8, 8, b), lc(8, 8, c);
  CHECK(la.weight.to_vector() == lb.weight.to_vector());
  CHECK(la.weight.to_vector() != lc.weight.to_vector());
}
