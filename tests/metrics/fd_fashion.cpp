// FD-Fashion without training: an untrained classifier's features (shape, batching), the
// distance of a set to itself, known distances from hand-made shifts and scalings of the
// features, the cached file's round trip and refusals, and errors on bad shapes.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include "../error_check.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace latent;

namespace fd_fashion_test {

// Pixels in [0, 1].
inline Tensor<float> images(std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  return rand<float>({n, 1, 28, 28}, gen);
}

// Adds `shift` to fc1's bias: with a bias large enough that no feature is clipped by the
// ReLU, every feature moves by exactly that much.
inline void add_to_bias(metrics::FashionClassifier<float>& c, float shift) {
  NoGradGuard no_grad;
  c.fc1->bias.add_(shift);
}

}  // namespace fd_fashion_test

TEST_CASE("fashion_features: [N, 128] penultimate activations, in double, independent of batching") {
  Generator gen(5);
  metrics::FashionClassifier<float> c(gen);
  CHECK(c.num_parameters() == 32 * 9 + 32 + 2 * 32 + 64 * 32 * 9 + 64 + 2 * 64 + 3136 * 128 + 128 + 1290);
  const Tensor<float> x = fd_fashion_test::images(503, 1);  // two batches: 500 + 3
  const Tensor<double> f = metrics::fashion_features(c, x);
  CHECK(f.shape() == Shape{503, 128});
  CHECK(f.amin().item() >= 0.0);  // after the ReLU
  CHECK(f.amax().item() > 0.0);
  // The last three rows computed alone, and the flat [N, 784] layout, give the same values.
  const Tensor<double> tail = metrics::fashion_features(c, x.narrow(0, 500, 3).reshape({3, 784}));
  CHECK((tail - f.narrow(0, 500, 3)).abs().amax().item() == 0.0);
  CHECK(c.is_training());  // fashion_features uses eval mode, then puts the mode back
  // The classifier's logits (in eval mode) come from the same features.
  NoGradGuard no_grad;
  c.eval();
  const Tensor<float> logits = c.forward(x.narrow(0, 0, 2));
  const Tensor<float> again = c.fc2->forward(f.narrow(0, 0, 2).to<float>());
  CHECK((logits - again).abs().amax().item() < 1e-5f);
}

TEST_CASE("fd_fashion: zero for a set against itself, known values for shifted and scaled features") {
  Generator gen(6);
  metrics::FashionClassifier<float> c(gen);
  fd_fashion_test::add_to_bias(c, 50.0f);  // every feature positive: no ReLU clipping below
  const Tensor<float> x = fd_fashion_test::images(300, 2);
  const Tensor<double> f = metrics::fashion_features(c, x);
  REQUIRE(f.amin().item() > 1.0);
  const metrics::FeatureStatistics reference = metrics::feature_statistics(f);
  CHECK(reference.count == 300);
  double trace = 0, mean_norm2 = 0;
  for (std::int64_t i = 0; i < 128; ++i) trace += reference.covariance(i, i);
  for (double m : reference.mean) mean_norm2 += m * m;

  CHECK(std::abs(metrics::fd_fashion(c, x, reference)) < 1e-6 * trace);

  // Shift every feature by 0.5: the means differ by 0.5 in each of 128 dims, the
  // covariances are equal, so FD = 128 * 0.25 = 32.
  fd_fashion_test::add_to_bias(c, 0.5f);
  CHECK(metrics::fd_fashion(c, x, reference) == doctest::Approx(32.0).epsilon(1e-3));
  fd_fashion_test::add_to_bias(c, -0.5f);

  // Scale every feature by 1.5 (weights and bias of fc1): mean 1.5 mu, covariance 2.25 C,
  // so FD = 0.25 |mu|^2 + tr(C + 2.25 C - 2 * 1.5 C) = 0.25 (|mu|^2 + tr C).
  {
    NoGradGuard no_grad;
    c.fc1->weight.mul_(1.5f);
    c.fc1->bias.mul_(1.5f);
  }
  CHECK(metrics::fd_fashion(c, x, reference) == doctest::Approx(0.25 * (mean_norm2 + trace)).epsilon(1e-3));
}

TEST_CASE("fd_fashion: the cached classifier round-trips; files that are not one are refused") {
  Generator gen(7);
  metrics::FashionClassifier<float> c(gen);
  c.test_accuracy = 0.9125;
  const std::string path = "/tmp/latent_fd_fashion_test/classifier.safetensors";
  metrics::save_fashion_classifier(path, c);
  const auto loaded = metrics::load_or_train_fashion_classifier<float>(path, /*verbose=*/false);  // loads: no training
  CHECK(loaded->test_accuracy == doctest::Approx(0.9125));
  CHECK((loaded->fc1->weight - c.fc1->weight).abs().amax().item() == 0.0f);
  CHECK((loaded->conv2->bias - c.conv2->bias).abs().amax().item() == 0.0f);
  CHECK_FALSE(loaded->is_training());

  metrics::FashionClassifier<float> other(gen);
  CHECK_FALSE(metrics::detail::load_fashion_classifier("/tmp/latent_fd_fashion_test/missing.safetensors", other));
  // A state dict without the classifier's tag (e.g. from another model) is not taken.
  const std::string untagged = "/tmp/latent_fd_fashion_test/untagged.safetensors";
  nn::save_safetensors(untagged, c);
  CHECK_FALSE(metrics::detail::load_fashion_classifier(untagged, other));
  // Nor a corrupt file (with exceptions off, it is reported to the error handler).
  const std::string corrupt = "/tmp/latent_fd_fashion_test/corrupt.safetensors";
  io::write_file_atomic(corrupt, std::string("not a safetensors file"));
#if LATENT_HAS_EXCEPTIONS
  CHECK_FALSE(metrics::detail::load_fashion_classifier(corrupt, other));
#else
  CHECK(latent_test::error_message([&] { metrics::detail::load_fashion_classifier(corrupt, other); }).find(
            "safetensors") != std::string::npos);
#endif
  for (const std::string& p : {path, untagged, corrupt}) std::remove(p.c_str());
}

TEST_CASE("fd_fashion: bad shapes are errors") {
  Generator gen(8);
  metrics::FashionClassifier<float> c(gen);
  CHECK_THROWS_WITH_AS(metrics::fashion_features(c, zeros<float>({2, 3, 28, 28})),
                       "FashionClassifier: expects images [N, 1, 28, 28] or [N, 784], got shape [2, 3, 28, 28]", Error);
  CHECK_THROWS_AS(metrics::fashion_features(c, zeros<float>({2, 785})), Error);
  CHECK_THROWS_AS(metrics::fashion_features(c, zeros<float>({784})), Error);
  const metrics::FeatureStatistics reference = metrics::feature_statistics(metrics::fashion_features(c, fd_fashion_test::images(4, 3)));
  CHECK_THROWS_WITH_AS(metrics::fd_fashion(c, zeros<float>({1, 1, 28, 28}), reference),
                       "fd_fashion: needs at least 2 images [N, 1, 28, 28] or [N, 784], got shape [1, 1, 28, 28]", Error);
  metrics::FeatureStatistics wrong;
  wrong.mean.assign(10, 0.0);
  wrong.covariance = metrics::Matrix(10);
  CHECK_THROWS_WITH_AS(metrics::fd_fashion(c, zeros<float>({2, 1, 28, 28}), wrong),
                       "fd_fashion: the reference statistics are of 10 features, expected 128", Error);
}
