// Metrics on inputs with known answers: matrix square roots and Fréchet distances
// against SciPy, energy distance and MMD, mode coverage, perplexity, bits per dimension.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace metrics_test {
inline metrics::Matrix to_matrix(const Tensor<double>& t) {
  metrics::Matrix m(t.shape()[0]);
  for (std::int64_t i = 0; i < m.n; ++i)
    for (std::int64_t j = 0; j < m.n; ++j) m(i, j) = t(i, j);
  return m;
}
}  // namespace metrics_test

TEST_CASE("sqrtm_psd and frechet_distance agree with SciPy") {
  auto f = io::load_npz<double>(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/metrics/frechet.npz");
  for (int k = 0; k < 3; ++k) {
    const metrics::Matrix m = metrics_test::to_matrix(f["psd" + std::to_string(k)]);
    const metrics::Matrix want = metrics_test::to_matrix(f["sqrt" + std::to_string(k)]);
    const metrics::Matrix got = metrics::sqrtm_psd(m);
    double worst = 0;
    for (std::size_t i = 0; i < got.a.size(); ++i) worst = std::max(worst, std::fabs(got.a[i] - want.a[i]));
    CHECK(worst < 1e-8);
    const metrics::Matrix square = metrics::multiply(got, got);
    for (std::size_t i = 0; i < m.a.size(); ++i) CHECK(square.a[i] == doctest::Approx(m.a[i]).epsilon(1e-9));
  }
  const double fd = metrics::frechet_distance(f["x"], f["y"]);
  CHECK(fd == doctest::Approx(f["fd"](0)).epsilon(1e-8));
  // Identical sets: zero. Shifted by a constant vector c: ||c||^2.
  CHECK(std::fabs(metrics::frechet_distance(f["x"], f["x"])) < 1e-8);
  CHECK(metrics::frechet_distance(f["x"], f["x"] + 2.0) == doctest::Approx(6 * 4.0).epsilon(1e-9));
  CHECK_THROWS_AS(metrics::frechet_distance(f["x"], f["x"].narrow(1, 0, 5)), Error);
}

TEST_CASE("energy distance and MMD are zero-ish for one distribution and grow with a shift") {
  Generator gen(2);
  const Tensor<double> a = randn<double>({400, 2}, gen), b = randn<double>({400, 2}, gen);
  const double same = metrics::energy_distance(a, b), shifted = metrics::energy_distance(a, b + 1.0);
  CHECK(std::fabs(same) < 0.02);
  // For N(0, I) vs N(mu, I) in 2-D with ||mu|| = sqrt 2 the energy distance is about 0.78.
  CHECK(shifted == doctest::Approx(0.78).epsilon(0.15));
  CHECK(std::fabs(metrics::mmd_squared(a, b)) < 0.01);
  CHECK(metrics::mmd_squared(a, b + 1.0) > 0.1);
  // Hand-computed: {0, 2} vs {1, 3} in 1-D: 2 * mean|x-y| = 2 * (1+3+1+1)/4 = 3, minus
  // mean|x-x'| = 2 and mean|y-y'| = 2: 3 - 2 - 2 = -1 (the unbiased within-set means).
  CHECK(metrics::energy_distance(tensor<double>({0, 2}, {2, 1}), tensor<double>({1, 3}, {2, 1})) == doctest::Approx(-1));
}

TEST_CASE("mode coverage counts covered modes and high-quality samples") {
  const auto centres = data::ring_centres(8, 2.0);
  // 300 samples at mode 0, 3 at mode 1 (under 1% of 400: not covered), 97 far away.
  Tensor<double> s = zeros<double>({400, 2});
  for (int i = 0; i < 400; ++i) {
    const auto& c = i < 300 ? centres[0] : i < 303 ? centres[1] : std::array<double, 2>{10.0, 10.0};
    s.at({i, 0}) = c[0] + 0.01;
    s.at({i, 1}) = c[1];
  }
  const metrics::ModeCoverage r = metrics::mode_coverage(s, centres, 0.02);
  CHECK(r.modes_total == 8);
  CHECK(r.modes_covered == 1);
  CHECK(r.high_quality == doctest::Approx(303.0 / 400));
  CHECK(metrics::perplexity(std::log(5.0)) == doctest::Approx(5.0));
  CHECK(metrics::bits_per_dim(784 * std::log(2.0) * 3, 784) == doctest::Approx(3.0));
}
