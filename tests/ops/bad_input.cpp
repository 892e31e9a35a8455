// Bad input at the API, walked from a table: every call below passes a wrong rank, a
// mismatched shape, an out-of-range dim or index, a negative size, an empty tensor where
// none is allowed, or NaN in anomaly mode. Each must raise latent::Error (never crash or
// return garbage) with a message that names the function and says what is wrong.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace bad_input_test {
using namespace latent;
namespace F = latent::nn::functional;
using I64 = std::int64_t;

struct BadCall {
  const char* what;                // the mistake, for the report
  std::function<void()> call;      // the call that must fail
  std::vector<std::string> words;  // the message must contain each of these
};

inline void walk(const std::vector<BadCall>& table) {
  for (const BadCall& row : table) {
    const std::string message = latent_test::error_message(row.call);
    const std::string report = std::string(row.what) + ": " + message;
    INFO(report);
    CHECK(message != "no error");
    for (const std::string& word : row.words) CHECK(message.find(word) != std::string::npos);
  }
}

inline Tensor<float> t(const Shape& shape) { return zeros<float>(shape); }
inline Tensor<I64> idx(std::vector<I64> values) {
  const I64 n = static_cast<I64>(values.size());
  return tensor<I64>(std::move(values), {n});
}
}  // namespace bad_input_test

TEST_CASE("bad input: tensor creation, views and shapes") {
  using namespace bad_input_test;
  walk({
      {"negative size", [] { (void)zeros<float>({2, -1}); }, {"-1"}},
      {"data and shape disagree", [] { (void)tensor<float>({1, 2, 3}, {2, 2}); }, {"3", "[2, 2]"}},
      {"reshape to a different count", [] { (void)t({2, 3}).reshape({4, 2}); }, {"reshape", "[2, 3]"}},
      {"reshape with two -1", [] { (void)t({2, 3}).reshape({-1, -1}); }, {"reshape"}},
      {"view of a non-contiguous tensor", [] { (void)t({2, 3}).t().view({6}); }, {"view"}},
      {"transpose dim out of range", [] { (void)t({2, 3}).transpose(0, 2); }, {"transpose", "2"}},
      {"permute not a permutation", [] { (void)t({2, 3}).permute({0, 0}); }, {"permute"}},
      {"permute wrong length", [] { (void)t({2, 3}).permute({0}); }, {"permute"}},
      {"slice dim out of range", [] { (void)t({2, 3}).slice(2, 0, 1); }, {"slice"}},
      {"slice step zero", [] { (void)t({2, 3}).slice(1, 0, 3, 0); }, {"slice", "step"}},
      {"narrow past the end", [] { (void)t({2, 3}).narrow(1, 2, 2); }, {"narrow"}},
      {"select index out of range", [] { (void)t({2, 3}).select(0, 2); }, {"select", "2"}},
      {"expand to a smaller rank", [] { (void)t({2, 3}).expand({3}); }, {"expand"}},
      {"expand a non-1 dim", [] { (void)t({2, 3}).expand({4, 3}); }, {"expand"}},
      {"squeeze dim out of range", [] { (void)t({2, 1}).squeeze(3); }, {"squeeze"}},
      {"unsqueeze dim out of range", [] { (void)t({2, 3}).unsqueeze(4); }, {"unsqueeze"}},
      {"flatten start after end", [] { (void)t({2, 3, 4}).flatten(2, 1); }, {"flatten"}},
      {"item of many elements", [] { (void)t({2}).item(); }, {"item"}},
      {"rank above 8", [] { (void)zeros<float>({1, 1, 1, 1, 1, 1, 1, 1, 1}); }, {"8"}},
  });
}

TEST_CASE("bad input: arithmetic, reductions, joins, indexing") {
  using namespace bad_input_test;
  walk({
      {"broadcast mismatch", [] { (void)(t({2, 3}) + t({4})); }, {"[2, 3]", "[4]"}},
      {"matmul inner sizes differ", [] { (void)matmul(t({2, 3}), t({4, 5})); }, {"matmul", "3", "4"}},
      {"matmul of a scalar", [] { (void)matmul(t({}), t({2})); }, {"matmul"}},
      {"sum dim out of range", [] { (void)t({2, 3}).sum({2}); }, {"sum"}},
      {"sum dim repeated", [] { (void)t({2, 3}).sum({1, 1}); }, {"sum"}},
      {"argmax of an empty tensor", [] { (void)t({0}).argmax(0); }, {"argmax", "empty"}},
      {"amax of an empty tensor", [] { (void)t({0, 3}).amax({0}); }, {"amax"}},
      {"var dim out of range", [] { (void)t({2}).var({1}); }, {"var"}},
      {"cat of nothing", [] { (void)cat(std::vector<Tensor<float>>{}, 0); }, {"cat"}},
      {"cat with mismatched sizes", [] { (void)cat(std::vector<Tensor<float>>{t({2, 3}), t({2, 4})}, 0); }, {"cat"}},
      {"stack with different shapes", [] { (void)stack(std::vector<Tensor<float>>{t({2}), t({3})}, 0); }, {"stack"}},
      {"gather index out of range", [] { (void)gather(t({2, 3}), 1, tensor<I64>({0, 3}, {2, 1})); }, {"gather", "3"}},
      {"gather negative index", [] { (void)gather(t({2, 3}), 1, tensor<I64>({0, -1}, {2, 1})); }, {"gather", "-1"}},
      {"index_select out of range", [] { (void)index_select(t({2, 3}), 0, idx({5})); }, {"index_select", "5"}},
      {"scatter_add shape mismatch", [] { (void)scatter_add(t({2, 3}), 1, tensor<I64>({0, 1, 1, 0}, {2, 2}), t({2, 1})); }, {"scatter_add"}},
      {"masked_fill mask shape", [] { (void)masked_fill(t({2, 3}), zeros<bool>({4}), 1.0f); }, {"masked_fill"}},
      {"topk k above the size", [] { (void)topk(t({2, 3}), 4); }, {"topk", "4"}},
      {"multinomial of negative weights", [] {
         Generator gen(0);
         (void)multinomial(tensor<float>({0.5f, -1.0f}, {2}), 1, false, gen);
       }, {"multinomial"}},
      {"tril of a vector", [] { (void)tril(t({3})); }, {"tril"}},
      {"cumsum dim out of range", [] { (void)cumsum(t({3}), 1); }, {"cumsum"}},
  });
}

TEST_CASE("bad input: nn functional and layers") {
  using namespace bad_input_test;
  Generator gen(0);
  walk({
      {"linear weight columns", [] { (void)F::linear(t({2, 3}), t({4, 5})); }, {"linear"}},
      {"conv2d input rank", [] { (void)F::conv2d(t({28, 28}), t({4, 1, 3, 3})); }, {"conv2d"}},
      {"conv2d channels", [] { (void)F::conv2d(t({1, 2, 8, 8}), t({4, 1, 3, 3})); }, {"conv2d"}},
      {"conv2d kernel larger than the image", [] { (void)F::conv2d(t({1, 1, 2, 2}), t({4, 1, 3, 3})); }, {"conv2d"}},
      {"conv2d stride zero", [] { (void)F::conv2d(t({1, 1, 8, 8}), t({4, 1, 3, 3}), Tensor<float>(), 0); }, {"conv2d", "stride"}},
      {"conv_transpose2d channels", [] { (void)F::conv_transpose2d(t({1, 3, 4, 4}), t({2, 1, 4, 4})); }, {"conv_transpose2d"}},
      {"max_pool2d on a vector", [] { (void)F::max_pool2d(t({4}), 2); }, {"max_pool2d"}},
      {"softmax dim out of range", [] { (void)F::softmax(t({2, 3}), 2); }, {"softmax"}},
      {"layer_norm shape", [] { (void)F::layer_norm(t({2, 3}), {4}); }, {"layer_norm"}},
      {"group_norm groups do not divide", [] { (void)F::group_norm(t({1, 6, 2, 2}), 4); }, {"group_norm"}},
      {"batch_norm channels", [] {
         (void)F::batch_norm(t({2, 3}), t({4}), t({4}), Tensor<float>(), Tensor<float>(), true);
       }, {"batch_norm"}},
      {"embedding index out of range", [] { (void)F::embedding(idx({0, 7}), t({5, 2})); }, {"embedding", "7"}},
      {"cross_entropy target out of range", [] { (void)F::cross_entropy(t({2, 3}), idx({0, 3})); }, {"cross_entropy", "3"}},
      {"cross_entropy batch mismatch", [] { (void)F::cross_entropy(t({2, 3}), idx({0})); }, {"cross_entropy"}},
      {"mse_loss shapes", [] { (void)F::mse_loss(t({2, 3}), t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
      {"binary_cross_entropy outside [0, 1]", [] {
         (void)F::binary_cross_entropy(full<float>({2}, 1.5f), t({2}));
       }, {"binary_cross_entropy"}},
      {"dropout probability above 1", [&gen] { (void)F::dropout(t({2}), 1.5, true, gen); }, {"dropout", "1.5"}},
      {"scaled_dot_product_attention head dims", [] {
         (void)F::scaled_dot_product_attention(t({1, 2, 4, 8}), t({1, 2, 4, 6}), t({1, 2, 4, 8}));
       }, {"attention"}},
      {"Linear of a zero size", [&gen] { nn::Linear<float> fc(0, 3, gen); }, {"Linear"}},
      {"Linear forward width", [&gen] {
         nn::Linear<float> fc(4, 3, gen);
         (void)fc.forward(t({2, 5}));
       }, {"Linear", "[2, 5]"}},
      {"Conv2d negative channels", [&gen] { nn::Conv2d<float> conv(-1, 3, 3, gen); }, {"Conv2d"}},
      {"GroupNorm groups do not divide", [] { nn::GroupNorm<float> norm(4, 6); }, {"GroupNorm"}},
      {"MultiheadAttention heads do not divide", [&gen] { nn::MultiheadAttention<float> mha(10, 3, gen); }, {"MultiheadAttention"}},
      {"Embedding negative size", [&gen] { nn::Embedding<float> emb(-2, 3, gen); }, {"Embedding"}},
  });
}

TEST_CASE("bad input: optimisers, samplers, data, files, anomaly mode") {
  using namespace bad_input_test;
  walk({
      {"Adam negative learning rate", [] {
         Tensor<float> w = zeros<float>({2}).requires_grad_(true);
         optim::Adam<float> opt({w}, optim::AdamOptions().lr(-1));
       }, {"Adam", "-1"}},
      {"SGD negative momentum", [] {
         Tensor<float> w = zeros<float>({2}).requires_grad_(true);
         optim::SGD<float> opt({w}, optim::SGDOptions().lr(0.1).momentum(-0.5));
       }, {"SGD"}},
      {"top-k of zero", [] { (void)sample::SamplerChain().top_k(0); }, {"top_k"}},
      {"top-p above 1", [] { (void)sample::SamplerChain().top_p(1.5); }, {"top_p"}},
      {"temperature negative", [] { (void)sample::SamplerChain().temperature(-1); }, {"temperature"}},
      {"slerp shapes", [] { (void)sample::slerp(t({2}), t({3}), 0.5f); }, {"slerp"}},
      {"DataLoader batch size zero", [] { data::DataLoader<float> loader(t({4, 2}), idx({0, 1, 0, 1}), 0); }, {"DataLoader"}},
      {"DataLoader labels count", [] { data::DataLoader<float> loader(t({4, 2}), idx({0, 1}), 2); }, {"DataLoader"}},
      {"missing file", [] { (void)io::load_safetensors("/nonexistent/latent/x.safetensors"); }, {"/nonexistent/latent/x.safetensors"}},
      {"truncated safetensors", [] {
         const std::vector<std::uint8_t> bytes = {8, 0, 0, 0, 0, 0, 0, 0, '{'};
         (void)io::parse_safetensors(bytes.data(), bytes.size(), "bytes");
       }, {"safetensors"}},
      {"NaN in anomaly mode", [] {
         DetectAnomalyGuard anomaly;
         (void)log(tensor<float>({-1.0f}, {1}));
       }, {"anomaly", "log"}},
      {"NaN in a backward in anomaly mode", [] {
         DetectAnomalyGuard anomaly;
         Tensor<float> x = tensor<float>({0.0f}, {1}).requires_grad_(true);
         sqrt(x).sum().backward();
       }, {"anomaly", "sqrt"}},
      {"backward of a non-scalar without a gradient", [] {
         Tensor<float> x = zeros<float>({2}).requires_grad_(true);
         (x * 2.0f).backward();
       }, {"backward"}},
  });
}
