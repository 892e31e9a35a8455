// Tests for nn/quantize.hpp: QuantizedLinear against its Linear (to the error bound) and
// against the float product of its dequantised weight (to rounding), quantize_int8 and
// restore_float on a small GPT (logits within a stated relative error of float, and back
// to float bitwise), inference-only errors, and int8 key/value rows.
#include <latent/latent.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace quantize_test {

using namespace latent;

// ||a - b|| / ||b|| over all elements.
template <class T>
double relative_error(const Tensor<T>& a, const Tensor<T>& b) {
  const std::vector<T> va = a.contiguous().to_vector(), vb = b.contiguous().to_vector();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    diff += (double(va[i]) - double(vb[i])) * (double(va[i]) - double(vb[i]));
    norm += double(vb[i]) * double(vb[i]);
  }
  return std::sqrt(diff / norm);
}

template <class T>
bool bitwise_equal(const Tensor<T>& a, const Tensor<T>& b) {
  const std::vector<T> va = a.contiguous().to_vector(), vb = b.contiguous().to_vector();
  return va.size() == vb.size() && std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0;
}

inline models::GPTConfig small_gpt() {
  models::GPTConfig c;
  c.vocab_size = 23;
  c.block_size = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 32;
  return c;
}

}  // namespace quantize_test

TEST_CASE("QuantizedLinear computes x (sQ)^T + b, within the weight-rounding bound of the Linear") {
  using namespace latent;
  using quantize_test::relative_error;
  Generator gen(3);
  for (bool with_bias : {true, false}) {
    nn::Linear<double> linear(37, 19, gen, with_bias);
    nn::QuantizedLinear<double> q(linear);
    CHECK(q.name() == "QuantizedLinear");
    CHECK(q.in_features() == 37);
    CHECK(q.out_features() == 19);
    CHECK(q.nbytes() == 37 * 19 + (with_bias ? 2 : 1) * 19 * 8);
    CHECK(q.bias.defined() == with_bias);
    const Tensor<double> x = randn<double>({2, 3, 37}, gen);
    NoGradGuard no_grad;
    const Tensor<double> y = q.forward(x);
    CHECK(y.shape() == (Shape{2, 3, 19}));
    // Exactly the float linear of the dequantised weight (to rounding).
    const Tensor<double> y_dequant = nn::functional::linear(x, q.dequantized_weight(), linear.bias);
    CHECK(relative_error(y, y_dequant) < 1e-14);
    // Within (s_n / 2) sum_k |x_k| of the float layer, element by element.
    const Tensor<double> y_float = linear.forward(x);
    const std::vector<double> xs = x.to_vector(), ys = y.to_vector(), fs = y_float.to_vector();
    const std::vector<double> scales = q.weight_scale.to_vector();
    bool within = true;
    double worst_ratio = 0;
    for (std::int64_t r = 0; r < 6; ++r) {
      double abs_x = 0;
      for (std::int64_t k = 0; k < 37; ++k) abs_x += std::fabs(xs[r * 37 + k]);
      for (std::int64_t n = 0; n < 19; ++n) {
        const double err = std::fabs(ys[r * 19 + n] - fs[r * 19 + n]), bound = 0.5 * scales[n] * abs_x;
        within = within && err <= bound * (1 + 1e-9);
        worst_ratio = std::max(worst_ratio, err / bound);
      }
    }
    CHECK(within);
    CHECK(worst_ratio > 0.01);
    CHECK(relative_error(y, y_float) < 0.02);
  }
}

TEST_CASE("QuantizedLinear with int8 activations: integer products, a little more error") {
  using namespace latent;
  using quantize_test::relative_error;
  Generator gen(4);
  nn::Linear<float> linear(64, 48, gen);
  nn::QuantizeOptions options;
  options.int8_activations = true;
  nn::QuantizedLinear<float> q8(linear, options), q(linear);
  CHECK(q8.options().int8_activations);
  NoGradGuard no_grad;
  const Tensor<float> x = randn<float>({5, 64}, gen);
  const Tensor<float> y_float = linear.forward(x), y_w8 = q.forward(x), y_w8a8 = q8.forward(x);
  const double e_w8 = relative_error(y_w8, y_float), e_w8a8 = relative_error(y_w8a8, y_float);
  CHECK(e_w8 < 0.02);
  CHECK(e_w8a8 < 0.04);
  CHECK(e_w8a8 > e_w8);
  CHECK(e_w8 > 1e-4);  // the rounding is real
}

TEST_CASE("quantize_int8 on a small GPT: logits within 3% (int8 weights) and 5% (and activations) of float") {
  using namespace latent;
  using namespace quantize_test;
  Generator gen(11);
  models::GPT<float> model(small_gpt(), gen);
  // Larger weights than GPT-2's N(0, 0.02), so that the logits are far from uniform.
  {
    NoGradGuard no_grad;
    for (Tensor<float>& p : model.parameters())
      if (p.dim() == 2) p.mul_(8.0f);
  }
  model.eval();
  const Tensor<std::int64_t> idx = randint<std::int64_t>(0, 23, {2, 16}, gen);
  NoGradGuard no_grad;
  const Tensor<float> float_logits = model.forward(idx);

  CHECK(nn::quantize_int8(model) == 2 * 4);  // qkv, attn.proj, fc, mlp.proj in each block
  const auto layers = nn::quantized_layers(model);
  REQUIRE(layers.size() == 8);
  CHECK(layers.front().first == "blocks.0.attn.qkv");
  CHECK(model.state_dict().size() == 2 + 2 * 12 + 2 + 1);  // unchanged: wte, wpe, blocks, ln_f, lm_head
  const Tensor<float> int8_logits = model.forward(idx);
  const double e_w8 = relative_error(int8_logits, float_logits);

  nn::QuantizeOptions options;
  options.int8_activations = true;
  CHECK(nn::quantize_int8(model, options) == 8);
  const double e_w8a8 = relative_error(model.forward(idx), float_logits);
  CHECK(e_w8 > 1e-4);
  CHECK(e_w8 < 0.03);
  CHECK(e_w8a8 < 0.05);

  // Greedy next tokens mostly agree.
  const Tensor<std::int64_t> a = int8_logits.argmax(-1), b = float_logits.argmax(-1);
  const std::vector<std::int64_t> va = a.to_vector(), vb = b.to_vector();
  std::int64_t same = 0;
  for (std::size_t i = 0; i < va.size(); ++i) same += va[i] == vb[i];
  CHECK(same >= 30);  // of 32

  CHECK(nn::restore_float(model) == 8);
  CHECK(nn::quantized_layers(model).empty());
  CHECK(bitwise_equal(model.forward(idx), float_logits));
  CHECK(nn::restore_float(model) == 0);
}

TEST_CASE("quantized layers are inference only") {
  using namespace latent;
  Generator gen(5);
  auto linear = std::make_shared<nn::Linear<float>>(4, 3, gen);
  nn::Sequential<float> net;
  net.push_back(linear);
  CHECK(nn::quantize_int8(net) == 1);
  const Tensor<float> x = randn<float>({2, 4}, gen).requires_grad_(true);
  CHECK_THROWS_WITH_AS(net.forward(x),
                       "QuantizedLinear: inference only, but the input requires grad with grad mode on; run the model "
                       "under NoGradGuard (or restore_float() to train)",
                       Error);
  {
    NoGradGuard no_grad;
    CHECK(net.forward(x).shape() == (Shape{2, 3}));
  }
  CHECK(net.forward(x.detach()).shape() == (Shape{2, 3}));  // nothing to record: fine
  CHECK_THROWS_WITH_AS(linear->replacement->forward(randn<float>({2, 5}, gen)),
                       "QuantizedLinear: expects inputs [..., 4], got [2, 5]", Error);
  CHECK_THROWS_WITH_AS(linear->forward(randn<float>({2, 5}, gen)), "Linear: expects inputs [..., 4], got [2, 5]",
                       Error);
}

TEST_CASE("Int8KVRows: appended keys come back within max|row| / 254, and attention barely moves") {
  using namespace latent;
  using quantize_test::relative_error;
  Generator gen(6);
  const Tensor<double> k1 = randn<double>({2, 3, 5, 8}, gen), k2 = randn<double>({2, 3, 2, 8}, gen);
  nn::Int8KVRows<double> rows;
  CHECK(rows.empty());
  CHECK(!rows.dequantized().defined());
  rows.append(k1);
  rows.append(k2);
  CHECK(rows.length() == 7);
  CHECK(rows.nbytes() == 2 * 3 * 7 * (8 + 8));
  const Tensor<double> all = cat<double>({k1, k2}, 2), back = rows.dequantized();
  REQUIRE(back.shape() == (Shape{2, 3, 7, 8}));
  const std::vector<double> va = all.contiguous().to_vector(), vb = back.to_vector();
  bool within = true;
  for (std::size_t r = 0; r < va.size() / 8; ++r) {
    double largest = 0;
    for (std::size_t d = 0; d < 8; ++d) largest = std::max(largest, std::fabs(va[r * 8 + d]));
    for (std::size_t d = 0; d < 8; ++d) within = within && std::fabs(va[r * 8 + d] - vb[r * 8 + d]) <= largest / 254 * (1 + 1e-12);
  }
  CHECK(within);

  // Attention over int8 keys and values.
  const Tensor<double> q = randn<double>({2, 3, 7, 8}, gen), v = randn<double>({2, 3, 7, 8}, gen);
  nn::Int8KVRows<double> values;
  values.append(v);
  const Tensor<double> exact = nn::functional::scaled_dot_product_attention(q, all, v, Tensor<double>(), 0.0, true);
  const Tensor<double> approx =
      nn::functional::scaled_dot_product_attention(q, back, values.dequantized(), Tensor<double>(), 0.0, true);
  CHECK(relative_error(approx, exact) < 0.01);

  rows.truncate(5);
  CHECK(rows.length() == 5);
  CHECK(quantize_test::bitwise_equal(rows.dequantized(), back.narrow(2, 0, 5)));
  CHECK_THROWS_WITH_AS(rows.truncate(6), "Int8KVRows: cannot keep 6 of 5 positions", Error);
  CHECK_THROWS_WITH_AS(rows.append(randn<double>({2, 4, 1, 8}, gen)),
                       "Int8KVRows: new rows of shape [2, 4, 1, 8] do not continue the held [2, 3, 5, 8]", Error);
  CHECK_THROWS_WITH_AS(rows.append(randn<double>({2, 8}, gen)), "Int8KVRows: expects [B, H, T, D], got [2, 8]", Error);
  rows.truncate(0);
  CHECK(rows.empty());
  rows.append(randn<double>({1, 1, 1, 4}, gen));  // a new shape after clearing
  CHECK(rows.length() == 1);
}
