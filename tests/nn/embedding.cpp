// embedding (lookup, accumulated row gradients, padding_idx) and one_hot.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

using namespace latent;
namespace F = latent::nn::functional;

namespace embedding_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

TEST_CASE("embedding looks up rows for indices of any shape") {
  const Tensor<double> w = tensor<double>({0, 1, 10, 11, 20, 21, 30, 31}, Shape{4, 2});
  const Tensor<std::int64_t> idx = tensor<std::int64_t>({1, 3, 1, 0}, Shape{2, 2});
  const Tensor<double> out = F::embedding(idx, w);
  CHECK(out.shape() == Shape{2, 2, 2});
  CHECK(values(out) == std::vector<double>{10, 11, 30, 31, 10, 11, 0, 1});
  CHECK(values(F::embedding(tensor<std::int64_t>({2}), w)) == std::vector<double>{20, 21});
  // A scalar index gives one row; a transposed (non-contiguous) index tensor works too.
  CHECK(F::embedding(full<std::int64_t>(Shape{}, 3), w).shape() == Shape{2});
  CHECK(values(F::embedding(idx.t(), w)) == std::vector<double>{10, 11, 10, 11, 30, 31, 0, 1});
}

TEST_CASE("embedding gradients accumulate into the rows read; padding_idx gets none") {
  Tensor<double> w = arange<double>(8).reshape(Shape{4, 2}).detach().requires_grad_(true);
  const Tensor<std::int64_t> idx = tensor<std::int64_t>({1, 3, 1, 0}, Shape{2, 2});
  const Tensor<double> g = tensor<double>({1, 2, 3, 4, 5, 6, 7, 8}, Shape{2, 2, 2});
  F::embedding(idx, w).backward(g);
  CHECK(values(w.grad()) == std::vector<double>{7, 8, 6, 8, 0, 0, 3, 4});
  w.zero_grad();
  F::embedding(idx, w, std::int64_t(1)).backward(g);
  CHECK(values(w.grad()) == std::vector<double>{7, 8, 0, 0, 0, 0, 3, 4});
  w.zero_grad();
  F::embedding(idx, w, std::int64_t(-1)).backward(g);  // -1 is the last row, 3
  CHECK(values(w.grad()) == std::vector<double>{7, 8, 6, 8, 0, 0, 0, 0});
  // The padding row still reads its values.
  CHECK(values(F::embedding(tensor<std::int64_t>({1}), w, std::int64_t(1)).detach()) == std::vector<double>{2, 3});

  const Tensor<std::int64_t> rep = tensor<std::int64_t>({2, 0, 2, 2, 1}, Shape{5});
  const GradcheckFn f = [&](const std::vector<Tensor<double>>& in) { return F::embedding(rep, in[0] * in[0]); };
  Generator gen(1);
  const std::vector<Tensor<double>> in{randn<double>(Shape{3, 4}, gen).requires_grad_(true)};
  const GradcheckResult first = gradcheck(f, in), second = gradgradcheck(f, in);
  INFO(first.message, second.message);
  CHECK(first.ok);
  CHECK(second.ok);
  // With padding_idx the padding row's gradient is zero on purpose (so gradcheck would
  // fail); the other rows match the plain gradient, also in second order.
  const Tensor<double> x = randn<double>(Shape{3, 2}, gen).requires_grad_(true);
  const Tensor<double> g_out = randn<double>(Shape{5, 2}, gen);
  const Tensor<double> plain = autograd::grad<double>({F::embedding(rep, x * x)}, {x}, {g_out})[0];
  const Tensor<double> padded = autograd::grad<double>({F::embedding(rep, x * x, std::int64_t(2))}, {x}, {g_out}, true)[0];
  const std::vector<double> pv = values(plain), dv = values(padded.detach());
  CHECK(dv == std::vector<double>{pv[0], pv[1], pv[2], pv[3], 0, 0});
  const Tensor<double> hess = autograd::grad<double>({padded.sum()}, {x})[0];
  CHECK(values(hess)[4] == 0);
  CHECK(values(hess)[0] != 0);
}

TEST_CASE("embedding rejects bad indices and shapes") {
  const Tensor<float> w = zeros<float>(Shape{5, 3});
  CHECK(error_of([&] { F::embedding(tensor<std::int64_t>({0, 5}), w); }) == "embedding: index 5 is out of range for 5 embeddings");
  CHECK(error_of([&] { F::embedding(tensor<std::int64_t>({-1}), w); }) == "embedding: index -1 is out of range for 5 embeddings");
  CHECK(error_of([&] { F::embedding(tensor<std::int64_t>({0}), zeros<float>(Shape{5})); }) ==
        "embedding: weight must be a matrix [num_embeddings, embedding_dim], got shape [5]");
  CHECK(error_of([&] { F::embedding(tensor<std::int64_t>({0}), w, std::int64_t(5)); }) ==
        "embedding: padding_idx 5 is out of range for 5 embeddings");
}

TEST_CASE("one_hot as PyTorch: int64, num_classes inferred or given") {
  const Tensor<std::int64_t> idx = tensor<std::int64_t>({0, 2, 1});
  const Tensor<std::int64_t> oh = F::one_hot(idx);
  CHECK(oh.shape() == Shape{3, 3});
  CHECK(values(oh) == std::vector<std::int64_t>{1, 0, 0, 0, 0, 1, 0, 1, 0});
  const Tensor<std::int64_t> wide = F::one_hot(tensor<std::int64_t>({1, 0}, Shape{2, 1}), 4);
  CHECK(wide.shape() == Shape{2, 1, 4});
  CHECK(values(wide) == std::vector<std::int64_t>{0, 1, 0, 0, 1, 0, 0, 0});
  CHECK(values(F::one_hot(idx, 3).to<float>()) == std::vector<float>{1, 0, 0, 0, 0, 1, 0, 1, 0});
  CHECK(error_of([&] { F::one_hot(tensor<std::int64_t>({0, 3}), 3); }) == "one_hot: class value 3 is not smaller than num_classes 3");
  CHECK(error_of([&] { F::one_hot(tensor<std::int64_t>({-1, 1}), 3); }) == "one_hot: class values must be non-negative, got -1");
}

}  // namespace embedding_test
