// Losses of nn::functional: values by hand and from PyTorch 1.13 (weights, ignore_index,
// label smoothing, pos_weight, probability targets), gradients and second derivatives by
// finite differences, the ELBO, GAN losses and gradient penalties, errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace loss_test {
using namespace latent;
namespace F = latent::nn::functional;
using TensorList = std::vector<Tensor<double>>;

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-14) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::fabs(got[i] - want[i]) <= tol * (1 + std::fabs(want[i])));
  }
}
inline void check_close(const Tensor<double>& got, double want, double tol = 1e-14) {
  check_close(got.to_vector(), std::vector<double>{want}, tol);
}

// gradcheck (and gradgradcheck) of f over the inputs that require grad.
inline void expect_derivatives(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs,
                               bool second_order = true) {
  const GradcheckResult first = gradcheck(f, inputs);
  INFO(first.message);
  CHECK(first.ok);
  if (second_order) {
    const GradcheckResult second = gradgradcheck(f, inputs);
    INFO(second.message);
    CHECK(second.ok);
  }
}

inline Tensor<double> input(const Shape& shape, std::uint64_t seed, double scale = 1) {
  Generator gen(seed);
  return randn<double>(shape, gen, 0.0, scale).requires_grad_(true);
}

inline Tensor<double> uniform(const Shape& shape, std::uint64_t seed, double low, double high) {
  Generator gen(seed);
  return rand<double>(shape, gen, low, high);
}

// The 4 x 3 logits and targets of the PyTorch reference values below.
inline Tensor<double> logits() {
  return tensor<double>({1.0, 2.0, 0.5, 0.1, -1.0, 2.0, 0.3, 0.3, -0.4, 2.0, 1.0, 0.0}, Shape{4, 3});
}
inline Tensor<std::int64_t> targets() { return tensor<std::int64_t>({2, 0, -100, 1}); }
inline Tensor<double> class_weights() { return tensor<double>({0.5, 2.0, 1.5}); }
TEST_CASE("reduction: none, mean, sum; unknown values are errors") {
  const Tensor<double> x = tensor<double>({1, 2, 3}), y = tensor<double>({1, 1, 1});
  check_close(F::mse_loss(x, y, "none").to_vector(), {0, 1, 4});
  check_close(F::mse_loss(x, y, "sum"), 5.0);
  check_close(F::mse_loss(x, y), 5.0 / 3);
  check_close(F::mse_loss(x, y, std::string("mean")), 5.0 / 3);
  check_close(F::mse_loss(x, y, F::Reduction::Sum), 5.0);
  CHECK(error_of([&] { F::mse_loss(x, y, "avg"); }) ==
        "mse_loss: \"avg\" is not a valid value for reduction (expected \"none\", \"mean\" or \"sum\")");
  CHECK(error_of([&] {
          F::l1_loss(x, y, "batchmean");
        }).find("l1_loss: \"batchmean\" is not a valid value") == 0);
  CHECK(error_of([&] { F::kl_div(x, y, "avg"); }).find("or \"batchmean\")") != std::string::npos);
}

TEST_CASE("regression losses: values") {
  // Broadcasting, as in PyTorch.
  check_close(
      F::mse_loss(tensor<double>({1, 2, 3, 4}, Shape{2, 2}), tensor<double>({1, 0}), "none").to_vector(),
      {0, 4, 4, 16});
  const Tensor<double> d = tensor<double>({0.2, 1.0, -3.0}), zero = latent::zeros<double>({3});
  check_close(F::l1_loss(d, zero, "none").to_vector(), {0.2, 1.0, 3.0});
  check_close(F::smooth_l1_loss(d, zero, "none", 0.5).to_vector(), {0.04, 0.75, 2.75});
  check_close(F::smooth_l1_loss(d, zero, "none", 0.0).to_vector(), {0.2, 1.0, 3.0});
  check_close(F::huber_loss(d, zero, "none", 2.0).to_vector(), {0.02, 0.5, 4.0});
  // l1's gradient at 0 is 0 (sign), as in PyTorch.
  const Tensor<double> x = tensor<double>({0.0, 2.0}).requires_grad_(true);
  F::l1_loss(x, latent::zeros<double>({2}), "sum").backward();
  check_close(x.grad().to_vector(), {0.0, 1.0});
}

TEST_CASE("binary cross-entropy on probabilities") {
  const Tensor<double> p = tensor<double>({0.3, 0.7}).requires_grad_(true);
  const Tensor<double> t = tensor<double>({0.2, 1.0}).requires_grad_(true);
  const Tensor<double> loss = F::binary_cross_entropy(p, t);
  check_close(loss, 0.44140472997745284);  // PyTorch 1.13
  loss.backward();
  check_close(p.grad().to_vector(), {0.1 / 0.21 / 2, -0.3 / 0.21 / 2});  // (p - t) / (p (1 - p)) / N
  check_close(t.grad().to_vector(),
              {(std::log(0.7) - std::log(0.3)) / 2, (std::log(0.3) - std::log(0.7)) / 2});
  // Each log is clamped at -100, so certainty that is wrong costs 100, not inf.
  check_close(
      F::binary_cross_entropy(tensor<double>({0.0, 1.0}), tensor<double>({1.0, 0.0}), {}, "none").to_vector(),
      {100, 100});
  check_close(F::binary_cross_entropy(tensor<double>({0.0, 1.0}), tensor<double>({0.0, 1.0}), {}, "sum"),
              0.0);
  // A weight multiplies each element.
  check_close(F::binary_cross_entropy(tensor<double>({0.5, 0.5}), tensor<double>({1.0, 0.0}),
                                      tensor<double>({2.0, 3.0}), "none")
                  .to_vector(),
              {2 * std::log(2.0), 3 * std::log(2.0)});
  CHECK(error_of([] { F::binary_cross_entropy(tensor<double>({1.5}), tensor<double>({1.0})); }) ==
        "binary_cross_entropy: all elements of input should be between 0 and 1");
  CHECK(error_of([] {
          F::binary_cross_entropy(tensor<double>({0.5}), tensor<double>({1.0, 0.0}));
        }) == "binary_cross_entropy: target of shape [2] must have the input's shape [1]");

  const Tensor<double> q = loss_test::uniform({3, 4}, 1, 0.05, 0.95).requires_grad_(true);
  const Tensor<double> target = loss_test::uniform({3, 4}, 2, 0.0, 1.0).requires_grad_(true);
  const Tensor<double> w = loss_test::uniform({4}, 3, 0.5, 2.0);
  expect_derivatives([&](const TensorList& in) { return F::binary_cross_entropy(in[0], in[1], w); },
                     {q, target});
  expect_derivatives(
      [&](const TensorList& in) { return F::binary_cross_entropy(in[0].t(), in[1].t(), {}, "none"); },
      {q, target});
}

TEST_CASE("binary cross-entropy on logits") {
  const double log2 = std::log(2.0);
  check_close(F::binary_cross_entropy_with_logits(tensor<double>({0.0}), tensor<double>({1.0})), log2);
  // Stable far out: no overflow, no log(0).
  check_close(F::binary_cross_entropy_with_logits(tensor<double>({1000, -1000, 1000}),
                                                  tensor<double>({0, 1, 1}), {}, "none")
                  .to_vector(),
              {1000, 1000, 0});
  // PyTorch 1.13, with weight and pos_weight.
  check_close(
      F::binary_cross_entropy_with_logits(tensor<double>({0.5, -1.0, 2.0}), tensor<double>({1.0, 0.0, 0.3}),
                                          tensor<double>({1.0, 2.0, 0.5}), "none", tensor<double>({3.0}))
          .to_vector(),
      {1.42223095254032006, 0.62652337503644562, 0.80154240883437811});
  // The same as binary_cross_entropy of the probabilities.
  const Tensor<double> x = loss_test::input({3, 5}, 4, 2.0);
  const Tensor<double> t = loss_test::uniform({3, 5}, 5, 0.0, 1.0);
  check_close(F::binary_cross_entropy_with_logits(x, t, {}, "none").to_vector(),
              F::binary_cross_entropy(latent::sigmoid(x.detach()), t, {}, "none").to_vector(), 1e-12);
  CHECK(error_of([] {
          F::binary_cross_entropy_with_logits(tensor<double>({0.5}), tensor<double>({1.0, 0.0}));
        }) == "binary_cross_entropy_with_logits: target of shape [2] must have the input's shape [1]");

  const Tensor<double> tg = t.detach().requires_grad_(true);
  const Tensor<double> pw = loss_test::uniform({5}, 6, 0.5, 3.0).requires_grad_(true);
  const Tensor<double> w = loss_test::uniform({3, 1}, 7, 0.5, 2.0);
  expect_derivatives([](const TensorList& in) { return F::binary_cross_entropy_with_logits(in[0], in[1]); },
                     {x, tg});
  expect_derivatives(
      [&](const TensorList& in) {
        return F::binary_cross_entropy_with_logits(in[0], in[1], w, "sum", in[2]);
      },
      {x, tg, pw});
  expect_derivatives(
      [](const TensorList& in) {
        return F::binary_cross_entropy_with_logits(in[0].t(), in[1].t(), {}, "none");
      },
      {x, tg});
}

TEST_CASE("cross_entropy and nll_loss match PyTorch with weights, ignore_index, label smoothing") {
  using loss_test::class_weights;
  using loss_test::logits;
  using loss_test::targets;
  // PyTorch 1.13 values for the same inputs.
  check_close(F::cross_entropy(logits(), targets(), class_weights()), 1.70066433696130881);
  check_close(F::cross_entropy(logits(), targets(), class_weights(), -100, "sum"), 6.80265734784523524);
  check_close(F::cross_entropy(logits(), targets(), class_weights(), -100, "none").to_vector(),
              {2.94655317616191725, 1.04089224279455661, 0.0, 2.81521192888876071});
  check_close(F::cross_entropy(logits(), targets(), class_weights(), -100, "mean", 0.2), 1.67578208517847638);
  check_close(F::cross_entropy(logits(), targets(), class_weights(), -100, "sum", 0.2), 6.70312834071390551);
  check_close(F::cross_entropy(logits(), targets(), class_weights(), -100, "none", 0.2).to_vector(),
              {2.66440755002498575, 1.34452299039274203, 0.0, 2.69419780029617684});
  check_close(F::cross_entropy(logits(), tensor<std::int64_t>({2, 0, 1, 1}), {}, 1), 2.02307663484852895);

  // Spatial: [N, C, d] logits with [N, d] targets.
  std::vector<double> sines;
  for (int i = 0; i < 12; ++i) sines.push_back(2 * std::sin(double(i)));
  const Tensor<double> xs = tensor<double>(sines, Shape{2, 3, 2});
  const Tensor<std::int64_t> ts = tensor<std::int64_t>({0, 2, 1, 1}, Shape{2, 2});
  check_close(F::cross_entropy(xs, ts), 1.73757640877432951);
  check_close(F::cross_entropy(xs, ts, {}, -100, "none", 0.1).to_vector(),
              {1.98905534075677193, 3.64937439024875365, 0.30515479232805576, 1.06781839222631669});

  // Probability targets.
  const Tensor<double> q = tensor<double>({0.2, 0.3, 0.5, 1.0, 0.0, 0.0}, Shape{2, 3});
  const Tensor<double> two = logits().slice(0, 0, 2);
  check_close(F::cross_entropy(two, q), 1.74807663484852904);
  check_close(F::cross_entropy(two, q, class_weights(), -100, "none", 0.1).to_vector(),
              {1.86208376780859419, 1.19270761659364921});

  // By hand: one sample [C] with a scalar target; nll_loss picks -w[t] x[t].
  check_close(F::cross_entropy(tensor<double>({1, 2, 3}), latent::scalar_tensor<std::int64_t>(2)),
              -std::log(0.66524095577481771));
  check_close(F::nll_loss(tensor<double>({-1, -2, -3, -4}, Shape{2, 2}), tensor<std::int64_t>({1, 0}),
                          tensor<double>({3, 5}), -100, "none")
                  .to_vector(),
              {10, 9});
  check_close(F::nll_loss(tensor<double>({-1, -2, -3, -4}, Shape{2, 2}), tensor<std::int64_t>({1, 0}),
                          tensor<double>({3, 5})),
              19.0 / 8);
  // Every target ignored: the mean is 0 / 0.
  CHECK(std::isnan(F::cross_entropy(logits(), tensor<std::int64_t>({-100, -100, -100, -100})).item()));
  CHECK(F::cross_entropy(logits(), tensor<std::int64_t>({-100, -100, -100, -100}), {}, -100, "sum").item() ==
        0.0);

  // Gradient by hand: softmax - one_hot, over N.
  const Tensor<double> x = tensor<double>({1, 2, 3}, Shape{1, 3}).requires_grad_(true);
  F::cross_entropy(x, tensor<std::int64_t>({0})).backward();
  const std::vector<double> p = {0.090030573170380462, 0.24472847105479767, 0.66524095577481771};
  check_close(x.grad().to_vector(), {p[0] - 1, p[1], p[2]});
}

TEST_CASE("cross_entropy and nll_loss: gradcheck and gradgradcheck") {
  const Tensor<double> x = loss_test::input({4, 3}, 8);
  const Tensor<std::int64_t> t = tensor<std::int64_t>({2, 0, 1, 1});
  const Tensor<std::int64_t> t_ignored = tensor<std::int64_t>({2, -1, 1, -1});
  const Tensor<double> w = tensor<double>({0.5, 2.0, 1.5});
  for (const char* reduction : {"mean", "sum", "none"}) {
    CAPTURE(reduction);
    expect_derivatives([&](const TensorList& in) { return F::cross_entropy(in[0], t, {}, -100, reduction); },
                       {x});
    expect_derivatives(
        [&](const TensorList& in) { return F::cross_entropy(in[0], t_ignored, w, -1, reduction, 0.15); },
        {x});
    expect_derivatives([&](const TensorList& in) { return F::nll_loss(in[0], t_ignored, w, -1, reduction); },
                       {x});
  }
  // Non-contiguous logits, spatial logits, probability targets (gradient for both).
  const Tensor<double> xt = loss_test::input({3, 4}, 9);
  expect_derivatives(
      [&](const TensorList& in) { return F::cross_entropy(in[0].t(), t, w, -100, "mean", 0.1); }, {xt});
  const Tensor<double> xs = loss_test::input({2, 3, 2, 2}, 10);
  const Tensor<std::int64_t> ts = tensor<std::int64_t>({0, 2, 1, 1, 2, 2, 0, 1}, Shape{2, 2, 2});
  expect_derivatives([&](const TensorList& in) { return F::cross_entropy(in[0], ts, w, 1, "mean", 0.2); },
                     {xs});
  const Tensor<double> q = F::softmax(loss_test::input({4, 3}, 11).detach(), 1).requires_grad_(true);
  expect_derivatives(
      [&](const TensorList& in) { return F::cross_entropy(in[0], in[1], w, -100, "mean", 0.1); }, {x, q});
}

TEST_CASE("cross_entropy and nll_loss errors") {
  const Tensor<double> x = latent::zeros<double>({2, 5});
  CHECK(error_of([&] {
          F::cross_entropy(x, tensor<std::int64_t>({1, 5}));
        }) ==
        "cross_entropy: target 5 is out of range for 5 classes (at position 1 of the target, shape [2])");
  CHECK(error_of([&] {
          F::nll_loss(x, tensor<std::int64_t>({-3, 0}));
        }) == "nll_loss: target -3 is out of range for 5 classes (at position 0 of the target, shape [2])");
  CHECK(error_of([&] {
          F::cross_entropy(x, tensor<std::int64_t>({1, 2, 3}));
        }) == "cross_entropy: input of shape [2, 5] needs a target of shape [2], got [3]");
  CHECK(error_of([&] {
          F::cross_entropy(x, tensor<std::int64_t>({1, 2}), latent::ones<double>({4}));
        }) == "cross_entropy: weight must have shape [5] (one per class), got [4]");
  CHECK(error_of([&] {
          F::cross_entropy(x, tensor<std::int64_t>({1, 2}), {}, -100, "mean", 1.5);
        }) == "cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5");
  CHECK(error_of([&] {
          F::cross_entropy(x, latent::zeros<double>({2, 5}), {}, 3);
        }) == "cross_entropy: ignore_index (3) is not supported for probability (floating-point) targets");
  CHECK(error_of([&] {
          F::cross_entropy(x, latent::zeros<double>({2, 4}));
        }) == "cross_entropy: probability targets must have the input's shape [2, 5], got [2, 4]");
  CHECK(error_of([&] {
          F::cross_entropy(latent::scalar_tensor(1.0), latent::scalar_tensor<std::int64_t>(0));
        }) == "cross_entropy: input must have a class dim, got a scalar");
  CHECK(error_of([&] {
          F::cross_entropy(x, tensor<std::int64_t>({1, 2}), {}, -100, "avg");
        }) ==
        "cross_entropy: \"avg\" is not a valid value for reduction (expected \"none\", \"mean\" or \"sum\")");
}

TEST_CASE("KL divergences and the Gaussian negative log-likelihood") {
  // KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1 - log s^2) / 2.
  check_close(
      F::kl_normal(tensor<double>({0, 1, 0}), tensor<double>({0, 0, std::log(4.0)}), "none").to_vector(),
      {0, 0.5, (4 - 1 - std::log(4.0)) / 2});
  check_close(F::kl_normal_pair(tensor<double>({1, 0}), tensor<double>({0.3, 0}), tensor<double>({1, 2}),
                                tensor<double>({0.3, std::log(4.0)}), "none")
                  .to_vector(),
              {0, 0.5 * (std::log(4.0) + (1 + 4) / 4.0 - 1)});
  // kl_normal is kl_normal_pair against N(0, 1).
  const Tensor<double> mu = loss_test::input({3, 4}, 12), logvar = loss_test::input({3, 4}, 13);
  check_close(
      F::kl_normal(mu, logvar, "sum").to_vector(),
      F::kl_normal_pair(mu, logvar, latent::zeros<double>({3, 4}), latent::zeros<double>({3, 4}), "sum")
          .to_vector(),
      1e-13);
  expect_derivatives([](const TensorList& in) { return F::kl_normal(in[0], in[1]); }, {mu, logvar});
  const Tensor<double> mu2 = loss_test::input({3, 4}, 14), logvar2 = loss_test::input({4}, 15);
  expect_derivatives(
      [](const TensorList& in) { return F::kl_normal_pair(in[0], in[1], in[2], in[3], "none"); },
      {mu, logvar, mu2, logvar2});

  // kl_div (PyTorch 1.13 value), with log targets the same.
  const Tensor<double> logq = tensor<double>({-1.0, -0.5}, Shape{1, 2}),
                       p = tensor<double>({0.25, 0.75}, Shape{1, 2});
  check_close(F::kl_div(logq, p, "batchmean"), 0.06266485538119168);
  check_close(F::kl_div(logq, latent::log(p), "batchmean", true), 0.06266485538119168);
  check_close(F::kl_div(logq, tensor<double>({0.0, 1.0}, Shape{1, 2}), "none").to_vector(), {0.0, 0.5});
  const Tensor<double> lq = F::log_softmax(loss_test::input({3, 4}, 16).detach(), 1).requires_grad_(true);
  const Tensor<double> pt = F::softmax(loss_test::input({3, 4}, 17).detach(), 1).requires_grad_(true);
  expect_derivatives([](const TensorList& in) { return F::kl_div(in[0], in[1], "batchmean"); }, {lq, pt});

  // gaussian_nll_loss: PyTorch 1.13 values, var one per row (its last dim dropped).
  const Tensor<double> in = tensor<double>({1, 2, 0, -1}, Shape{2, 2}),
                       tg = tensor<double>({0, 2.5, 1, 1}, Shape{2, 2});
  check_close(F::gaussian_nll_loss(in, tg, tensor<double>({2.0, 0.5}), true, 1e-6, "none").to_vector(),
              {1.51551212348464537, 1.32801212348464537, 1.57236494292469997, 4.57236494292470042});
  check_close(F::gaussian_nll_loss(tensor<double>({1.0}), tensor<double>({0.0}), tensor<double>({1.0})), 0.5);
  // var is clamped at eps, but the gradient passes through the clamp.
  const Tensor<double> var = tensor<double>({1e-9}).requires_grad_(true);
  F::gaussian_nll_loss(tensor<double>({0.0}), tensor<double>({0.0}), var, false, 1e-6).backward();
  check_close(var.grad().to_vector(), {0.5 / 1e-6});
  const Tensor<double> v = loss_test::uniform({3, 4}, 18, 0.2, 2.0).requires_grad_(true);
  expect_derivatives([](const TensorList& t) { return F::gaussian_nll_loss(t[0], t[1], t[2], true); },
                     {mu, logvar, v});
  CHECK(error_of([&] { F::gaussian_nll_loss(in, tg, latent::ones<double>({3})); }) ==
        "gaussian_nll_loss: var of shape [3] does not fit input of shape [2, 2] (expected the input's shape, "
        "or it "
        "without the last dim, or with 1 there)");
  CHECK(error_of([&] {
          F::gaussian_nll_loss(in, tg, tensor<double>({1.0, -1.0}));
        }) == "gaussian_nll_loss: var has negative entries");
}

TEST_CASE("regression losses: gradcheck and gradgradcheck") {
  const Tensor<double> a = loss_test::input({3, 4}, 19), b = loss_test::input({4}, 20);
  for (const char* reduction : {"mean", "sum", "none"}) {
    CAPTURE(reduction);
    expect_derivatives([&](const TensorList& in) { return F::mse_loss(in[0], in[1], reduction); }, {a, b});
    expect_derivatives([&](const TensorList& in) { return F::mse_loss(in[0].t(), in[1].t(), reduction); },
                       {a, a.detach().clone().requires_grad_(true)});
    expect_derivatives([&](const TensorList& in) { return F::l1_loss(in[0], in[1], reduction); }, {a, b});
    expect_derivatives([&](const TensorList& in) { return F::smooth_l1_loss(in[0], in[1], reduction, 0.7); },
                       {a, b});
    expect_derivatives([&](const TensorList& in) { return F::huber_loss(in[0], in[1], reduction, 0.7); },
                       {a, b});
  }
}

TEST_CASE("elbo: reconstruction and KL per sample") {
  const Tensor<double> logits = loss_test::input({4, 6}, 21);
  const Tensor<double> x = loss_test::uniform({4, 6}, 22, 0.0, 1.0);
  const Tensor<double> mu = loss_test::input({4, 2}, 23), logvar = loss_test::input({4, 2}, 24);
  const F::ElboTerms<double> terms = F::elbo(logits, x, mu, logvar, 2.5);
  const double recon = F::binary_cross_entropy_with_logits(logits, x, {}, "sum").item() / 4;
  const double kl = F::kl_normal(mu, logvar, "sum").item() / 4;
  check_close(terms.reconstruction, recon);
  check_close(terms.kl, kl);
  check_close(terms.loss, recon + 2.5 * kl);
  expect_derivatives([&](const TensorList& in) { return F::elbo(in[0], x, in[1], in[2]).loss; },
                     {logits, mu, logvar});
  CHECK(error_of([&] { F::elbo(logits, x, mu.slice(0, 0, 3), logvar.slice(0, 0, 3)); }) ==
        "elbo: mu [3, 2] and logvar [3, 2] must have one shape, with the batch size 4 first");
}

TEST_CASE("GAN losses") {
  const double log2 = std::log(2.0);
  const Tensor<double> zero = latent::zeros<double>({3});
  check_close(F::gan_d_loss(zero, zero), 2 * log2);
  check_close(F::gan_g_loss_minimax(zero), -log2);
  check_close(F::gan_g_loss_nonsaturating(zero), log2);
  const Tensor<double> real = tensor<double>({2.0, 0.5}), fake = tensor<double>({-2.0, 0.5});
  check_close(F::hinge_d_loss(real, fake), 0.25 + 0.75);
  check_close(F::hinge_g_loss(fake), 0.75);
  check_close(F::wasserstein_d_loss(real, fake), -0.75 - 1.25);
  check_close(F::wasserstein_g_loss(fake), 0.75);
  // Non-saturating: a confident rejection still gives a gradient of about -1 / N.
  const Tensor<double> f = tensor<double>({-30.0, -30.0}).requires_grad_(true);
  F::gan_g_loss_nonsaturating(f).backward();
  check_close(f.grad().to_vector(), {-0.5, -0.5}, 1e-12);
  f.zero_grad();
  F::gan_g_loss_minimax(f).backward();  // saturates
  CHECK(std::fabs(f.grad().to_vector()[0]) < 1e-13);
  // The same as BCE on logits with targets 1 and 0.
  const Tensor<double> r = loss_test::input({5}, 25), g = loss_test::input({5}, 26);
  check_close(F::gan_d_loss(r, g).to_vector(),
              (F::binary_cross_entropy_with_logits(r, latent::ones<double>({5})) +
               F::binary_cross_entropy_with_logits(g, latent::zeros<double>({5})))
                  .to_vector());
  expect_derivatives([](const TensorList& in) { return F::gan_d_loss(in[0], in[1]); }, {r, g});
  expect_derivatives([](const TensorList& in) { return F::hinge_d_loss(in[0], in[1]); }, {r, g});
}

TEST_CASE("gradient penalties: values, and their gradients with respect to the critic") {
  latent::Generator gen(27);
  const Tensor<double> real = latent::randn<double>({4, 2}, gen), fake = latent::randn<double>({4, 2}, gen);
  // A linear critic D(x) = x . w has gradient w everywhere: penalty (|w| - 1)^2.
  const Tensor<double> w = tensor<double>({3.0, 4.0}, Shape{2, 1}).requires_grad_(true);
  const auto linear = [&w](const Tensor<double>& x) { return latent::matmul(x, w); };
  const Tensor<double> gp = F::gradient_penalty(linear, real, fake, gen);
  check_close(gp, 16.0);
  gp.backward();  // d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
  check_close(w.grad().to_vector(), {4.8, 6.4});
  check_close(F::r1_penalty(linear, real), 12.5);
  check_close(F::r1_penalty(linear, real, 10.0), 125.0);
  // A critic with zero gradient: norm 0, penalty 1, and a finite gradient.
  const Tensor<double> flat = latent::zeros<double>({2, 1}).requires_grad_(true);
  const Tensor<double> gp0 = F::gradient_penalty(
      [&flat](const Tensor<double>& x) { return latent::matmul(x, flat); }, real, fake, gen);
  check_close(gp0, 1.0);
  gp0.backward();
  check_close(flat.grad().to_vector(), {0.0, 0.0});
  // It works where gradients are off (evaluation).
  {
    latent::NoGradGuard no_grad;
    check_close(F::gradient_penalty(linear, real, fake, gen), 16.0);
  }

  // A small tanh critic: the penalty's gradient with respect to its parameters agrees with
  // finite differences (this needs the critic's second derivatives).
  const Tensor<double> w1 = loss_test::input({2, 3}, 28), b1 = loss_test::input({3}, 29),
                       w2 = loss_test::input({3, 1}, 30);
  const GradcheckFn penalty = [&](const TensorList& p) {
    latent::Generator same(31);  // the same interpolation at every evaluation
    const auto critic = [&p](const Tensor<double>& x) {
      return latent::matmul(latent::tanh(latent::matmul(x, p[0]) + p[1]), p[2]);
    };
    return F::gradient_penalty(critic, real, fake, same);
  };
  expect_derivatives(penalty, {w1, b1, w2}, false);
  const GradcheckFn r1 = [&](const TensorList& p) {
    const auto critic = [&p](const Tensor<double>& x) {
      return latent::matmul(latent::tanh(latent::matmul(x, p[0]) + p[1]), p[2]);
    };
    return F::r1_penalty(critic, real, 10.0);
  };
  expect_derivatives(r1, {w1, b1, w2}, false);
  CHECK(error_of([&] { F::gradient_penalty(linear, real, fake.slice(0, 0, 2), gen); }) ==
        "gradient_penalty: real [4, 2] and fake [2, 2] must have one shape with a batch dim first");
}

TEST_CASE("float losses agree with double ones") {
  latent::Generator gen(32);
  const Tensor<double> x = latent::randn<double>({6, 5}, gen, 0.0, 3.0);
  const Tensor<double> p = latent::rand<double>({6, 5}, gen);
  const Tensor<std::int64_t> t = latent::randint(0, 5, {6}, gen);
  const Tensor<float> xf = x.to<float>(), pf = p.to<float>();
  const auto close = [](const Tensor<float>& f, const Tensor<double>& d) {
    CHECK(std::fabs(double(f.item()) - d.item()) <= 1e-5 * (1 + std::fabs(d.item())));
  };
  close(F::cross_entropy(xf, t, {}, -100, "mean", 0.1), F::cross_entropy(x, t, {}, -100, "mean", 0.1));
  close(F::binary_cross_entropy_with_logits(xf, pf), F::binary_cross_entropy_with_logits(x, p));
  close(F::binary_cross_entropy(pf, pf), F::binary_cross_entropy(p, p));
  close(F::mse_loss(xf, pf), F::mse_loss(x, p));
  close(F::kl_normal(xf, pf), F::kl_normal(x, p));
  close(F::gan_d_loss(xf, pf), F::gan_d_loss(x, p));
  const Tensor<float> w = latent::tensor<float>({0.6f, 0.8f, 0.0f, 0.0f, 0.0f}, Shape{5, 1});
  const auto critic = [&w](const Tensor<float>& in) { return latent::matmul(in, w); };
  CHECK(std::fabs(F::gradient_penalty(critic, xf, pf, gen).item()) < 1e-12f);  // |w| = 1
}

}  // namespace loss_test
