// layer_norm, rms_norm, batch_norm (training, running statistics, evaluation), group_norm:
// values from PyTorch 1.13, first and second derivatives, errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

using namespace latent;
namespace F = latent::nn::functional;

namespace norm_test {
template <class T>
std::vector<T> values(const Tensor<T>& t) { return t.to_vector(); }

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline Tensor<double> input(const Shape& shape, std::uint64_t seed, double scale = 1.0) {
  Generator gen(seed);
  return (randn<double>(shape, gen) * scale).detach().requires_grad_(true);
}

// A transposed copy that requires grad: a non-contiguous leaf of shape [cols, rows].
inline Tensor<double> transposed_input(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  return input({rows, cols}, seed).detach().t().requires_grad_(true);
}

template <class T>
void check_close(const Tensor<T>& got, const std::vector<double>& want, double tol = 1e-9) {
  const std::vector<T> g = got.to_vector();
  REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(static_cast<double>(g[i]) == doctest::Approx(want[i]).epsilon(tol));
}

inline void expect_grads(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs, bool second_order = true) {
  const GradcheckResult first = gradcheck(f, inputs);
  INFO(first.message);
  CHECK(first.ok);
  if (second_order) {
    const GradcheckResult second = gradgradcheck(f, inputs);
    INFO(second.message);
    CHECK(second.ok);
  }
}

TEST_CASE("layer_norm matches PyTorch, with and without affine parameters") {
  const Tensor<double> x = tensor<double>({1, 2, 3, 4, 2, -1, 0, 5}, Shape{2, 4});
  check_close(F::layer_norm(x, Shape{4}), {-1.341635419969, -0.447211806656, 0.447211806656, 1.341635419969,
                                           0.218217682410, -1.091088412049, -0.654653047229, 1.527523776868});
  const Tensor<double> w = tensor<double>({1, 2, -1, 0.5}), b = tensor<double>({0, 1, 0, -1});
  check_close(F::layer_norm(x, Shape{4}, w, b), {-1.341635419969, 0.105576386687, -0.447211806656, -0.329182290016,
                                                 0.218217682410, -1.182176824097, 0.654653047229, -0.236238111566});
  // Over both dims of a [2, 4] block at once: one group of 8.
  const Tensor<float> all = F::layer_norm(x.to<float>(), Shape{2, 4});
  CHECK(all.to_vector()[0] == doctest::Approx(-0.5345217202).epsilon(1e-5));
  // A large offset changes nothing (two-pass statistics).
  check_close(F::layer_norm(x + 1e8, Shape{4}), values(F::layer_norm(x, Shape{4})), 1e-7);
}

TEST_CASE("layer_norm: first and second derivatives") {
  for (const Shape& shape : {Shape{3, 5}, Shape{2, 3, 4}, Shape{1, 7}}) {
    const Shape last{shape[shape.size() - 1]};
    expect_grads([&](const std::vector<Tensor<double>>& in) { return F::layer_norm(in[0], last, in[1], in[2]); },
                 {input(shape, 1), input(last, 2), input(last, 3)});
  }
  // Over two dims, without bias; on a non-contiguous input.
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::layer_norm(in[0], Shape{3, 2}, in[1]); },
               {input({2, 3, 2}, 4), input({3, 2}, 5)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::layer_norm(in[0], Shape{4}); },
               {transposed_input(4, 3, 6)});
  // Differentiating a gradient (as a gradient penalty does) goes through layer_norm twice.
  Tensor<double> x = input({2, 4}, 7);
  const Tensor<double> y = F::layer_norm(x, Shape{4});
  const Tensor<double> gx = autograd::grad<double>({(y * y * y).sum()}, {x}, {}, true)[0];
  const Tensor<double> h = autograd::grad<double>({gx.square().sum()}, {x})[0];
  CHECK(h.shape() == Shape{2, 4});
  CHECK(std::isfinite(h.sum().item()));
}

TEST_CASE("rms_norm: values, default eps, derivatives") {
  // [3, 4]: mean of squares 12.5, so y = x / sqrt(12.5 + eps).
  const Tensor<double> x = tensor<double>({3, 4});
  check_close(F::rms_norm(x, Shape{2}, Tensor<double>(), 0.0), {3 / std::sqrt(12.5), 4 / std::sqrt(12.5)});
  // The default eps is the machine epsilon of the type.
  check_close(F::rms_norm(x, Shape{2}), {3 / std::sqrt(12.5 + 2.220446049250313e-16), 4 / std::sqrt(12.5 + 2.220446049250313e-16)});
  check_close(F::rms_norm(x, Shape{2}, tensor<double>({2, -1}), 1e-6), {6 / std::sqrt(12.5 + 1e-6), -4 / std::sqrt(12.5 + 1e-6)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::rms_norm(in[0], Shape{5}, in[1], 1e-6); },
               {input({3, 5}, 8), input({5}, 9)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::rms_norm(in[0], Shape{2, 3}); },
               {input({2, 2, 3}, 10)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::rms_norm(in[0], Shape{2}, Tensor<double>(), 1e-3); },
               {transposed_input(2, 3, 11)});
}

TEST_CASE("batch_norm in training updates the running statistics as PyTorch") {
  // x [N=3, C=2, L=2].
  const Tensor<double> x = tensor<double>({1, 2, 3, 4, 0, 5, -2, 1, 2, 2, 6, 0}, Shape{3, 2, 2});
  Tensor<double> rm = zeros<double>(Shape{2}), rv = ones<double>(Shape{2});
  const Tensor<double> y = F::batch_norm(x, rm, rv, Tensor<double>(), Tensor<double>(), true, 0.1, 1e-5);
  check_close(y, {-0.654652267883, 0, 0.377964203035, 0.755928406070, -1.309304535766, 1.963956803650,
                  -1.511856812140, -0.377964203035, 0, 0, 1.511856812140, -0.755928406070});
  // running_var gets the unbiased variance (n / (n - 1)), the output uses the biased one.
  check_close(rm, {0.2, 0.2});
  check_close(rv, {1.18, 1.74});
  F::batch_norm(x, rm, rv, Tensor<double>(), Tensor<double>(), true, 0.1, 1e-5);
  check_close(rm, {0.38, 0.38});
  check_close(rv, {1.342, 2.406});
  // Evaluation uses the running statistics and leaves them alone.
  const Tensor<double> w = tensor<double>({2, -1}), b = tensor<double>({0.5, 0});
  check_close(F::batch_norm(x, rm, rv, w, b, false),
              {1.570394352779, 3.296836857262, -1.689089169794, -2.333779692616, -0.156048151703, 8.476164370709,
               1.534363444317, -0.399708124150, 3.296836857262, 3.296836857262, -3.623160738260, 0.244982398672});
  check_close(rm, {0.38, 0.38});
  // Training without running statistics is allowed; evaluation without them is not.
  CHECK(F::batch_norm(x, Tensor<double>(), Tensor<double>(), w, b, true).shape() == Shape{3, 2, 2});
  CHECK(error_of([&] { F::batch_norm(x, Tensor<double>(), Tensor<double>()); }) ==
        "batch_norm: evaluation mode needs running_mean and running_var");
  CHECK(error_of([&] { F::batch_norm(ones<double>(Shape{1, 3}), Tensor<double>(), Tensor<double>(), Tensor<double>(),
                                     Tensor<double>(), true); }) ==
        "batch_norm: expected more than 1 value per channel when training, got input of shape [1, 3]");
}

TEST_CASE("batch_norm: derivatives in training and evaluation") {
  expect_grads([](const std::vector<Tensor<double>>& in) {
    return F::batch_norm(in[0], Tensor<double>(), Tensor<double>(), in[1], in[2], true);
  }, {input({3, 2, 2}, 12), input({2}, 13), input({2}, 14)});
  expect_grads([](const std::vector<Tensor<double>>& in) {
    return F::batch_norm(in[0], Tensor<double>(), Tensor<double>(), Tensor<double>(), Tensor<double>(), true);
  }, {transposed_input(3, 4, 15)});
  const Tensor<double> rm = tensor<double>({0.1, -0.2}), rv = tensor<double>({1.5, 0.5});
  expect_grads([&](const std::vector<Tensor<double>>& in) {
    return F::batch_norm(in[0], rm, rv, in[1], in[2], false);
  }, {input({2, 2, 3}, 16), input({2}, 17), input({2}, 18)});
}

TEST_CASE("group_norm matches PyTorch; derivatives") {
  Tensor<double> x = arange<double>(12).reshape(Shape{1, 4, 3});
  x = x * x.sqrt();  // x^1.5
  check_close(F::group_norm(x, 2, tensor<double>({1, 2, 3, 4}), tensor<double>({0, 0, 1, 1})),
              {-1.197790303133, -0.942985752623, -0.477094200961, 0.252425958634, 1.681292201897, 3.302022352904,
               -3.210628782435, -1.671778870902, -0.018687249670, 1.988313947728, 4.469144926560, 7.077334329721});
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::group_norm(in[0], 2, in[1], in[2]); },
               {input({2, 4, 3}, 19), input({4}, 20), input({4}, 21)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::group_norm(in[0], 3); },
               {input({1, 3, 2, 2}, 22)});
  expect_grads([](const std::vector<Tensor<double>>& in) { return F::group_norm(in[0], 1, in[1]); },
               {transposed_input(2, 2, 23).unsqueeze(0), input({2}, 24)}, false);
}

// The ordinary backward (fused loops) and the differentiable one (create_graph) must agree,
// on shapes long enough to run the vectorised blocks of 8 and their tails.
inline void check_backward_paths(const std::function<Tensor<double>(const std::vector<Tensor<double>>&)>& f,
                                 const std::vector<Tensor<double>>& inputs, std::uint64_t seed) {
  const Tensor<double> out = f(inputs);
  Generator gen(seed);
  const Tensor<double> g = randn<double>(out.shape(), gen);
  const std::vector<Tensor<double>> fused = autograd::grad<double>({out}, inputs, {g}, false, true);
  const std::vector<Tensor<double>> composed = autograd::grad<double>({out}, inputs, {g}, true);
  for (std::size_t k = 0; k < inputs.size(); ++k) check_close(fused[k], values(composed[k].detach()), 1e-10);
}

TEST_CASE("fused and differentiable backward passes agree; forward matches its formula") {
  const Tensor<double> x = input({5, 37}, 26, 2.0), w = input({37}, 27), b = input({37}, 28);
  check_backward_paths([](const std::vector<Tensor<double>>& in) { return F::layer_norm(in[0], Shape{37}, in[1], in[2]); },
                       {x, w, b}, 1);
  const Tensor<double> centred = x.detach() - x.detach().mean(std::int64_t(1), true);
  const Tensor<double> formula = centred / sqrt(centred.square().mean(std::int64_t(1), true) + 1e-5) * w.detach() + b.detach();
  check_close(F::layer_norm(x, Shape{37}, w, b).detach(), values(formula), 1e-12);

  const Tensor<double> xg = input({3, 6, 11}, 29), wc = input({6}, 30), bc = input({6}, 31);
  check_backward_paths([](const std::vector<Tensor<double>>& in) { return F::group_norm(in[0], 3, in[1], in[2]); },
                       {xg, wc, bc}, 2);
  check_backward_paths([](const std::vector<Tensor<double>>& in) {
    return F::batch_norm(in[0], Tensor<double>(), Tensor<double>(), in[1], in[2], true);
  }, {xg, wc, bc}, 3);
  check_backward_paths([](const std::vector<Tensor<double>>& in) { return F::batch_norm(in[0], Tensor<double>(), Tensor<double>(), in[1], Tensor<double>(), true); },
                       {input({17, 6}, 32), wc}, 4);
  check_backward_paths([](const std::vector<Tensor<double>>& in) { return F::rms_norm(in[0], Shape{19}, in[1]); },
                       {input({6, 19}, 33), input({19}, 34)}, 5);
  const Tensor<double> xr = input({6, 19}, 35);
  const Tensor<double> rms = xr.detach() / sqrt(xr.detach().square().mean(std::int64_t(1), true) + 1e-6);
  check_close(F::rms_norm(xr, Shape{19}, Tensor<double>(), 1e-6).detach(), values(rms), 1e-12);
}

TEST_CASE("normalisation results do not depend on the thread count") {
  const Tensor<float> x = input({64, 33}, 25, 3.0).detach().to<float>();
  const int threads = get_num_threads();
  set_num_threads(1);
  const std::vector<float> one = values(F::layer_norm(x, Shape{33}));
  const std::vector<float> bn_one = values(F::batch_norm(x.reshape(Shape{8, 8, 33}), Tensor<float>(), Tensor<float>(),
                                                         Tensor<float>(), Tensor<float>(), true));
  set_num_threads(4);
  CHECK(values(F::layer_norm(x, Shape{33})) == one);
  CHECK(values(F::batch_norm(x.reshape(Shape{8, 8, 33}), Tensor<float>(), Tensor<float>(), Tensor<float>(),
                             Tensor<float>(), true)) == bn_one);
  set_num_threads(threads);
}

TEST_CASE("normalisation errors name the op and the shapes") {
  const Tensor<double> x = zeros<double>(Shape{2, 3});
  CHECK(error_of([&] { F::layer_norm(x, Shape{4}); }) ==
        "layer_norm: normalized_shape [4] does not match the last dims of the input [2, 3]");
  CHECK(error_of([&] { F::layer_norm(x, Shape{3}, ones<double>(Shape{4})); }) ==
        "layer_norm: weight of shape [4] does not match the expected shape [3]");
  CHECK(error_of([&] { F::rms_norm(x, Shape{2, 3, 1}); }) ==
        "rms_norm: normalized_shape [2, 3, 1] does not match the last dims of the input [2, 3]");
  CHECK(error_of([&] { F::group_norm(zeros<double>(Shape{2, 6, 7}), 4); }) ==
        "group_norm: 6 channels cannot be split into 4 groups (input of shape [2, 6, 7])");
  CHECK(error_of([&] { F::group_norm(zeros<double>(Shape{6}), 2); }) ==
        "group_norm: expects an input of shape [N, C, ...], got [6]");
  CHECK(error_of([&] { F::batch_norm(x, zeros<double>(Shape{2}), ones<double>(Shape{3})); }) ==
        "batch_norm: running_mean of shape [2] does not match the expected shape [3]");
}

}  // namespace norm_test
