// Scores of generative models.
//   Mode coverage on a mixture with known centres (unrolled-GAN / VEEGAN protocol): a
//   sample is high quality when it lies within 3 standard deviations of some centre; a
//   mode is covered when at least 1% of the samples lie within 3 standard deviations of it.
//   Perplexity of a language model: exp(mean negative log-likelihood per token, in nats).
//   Bits per dimension: negative log-likelihood in nats / (dims * ln 2).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../tensor/tensor.hpp"

namespace latent::metrics {

struct ModeCoverage {
  int modes_covered = 0;
  int modes_total = 0;
  double high_quality = 0;  // fraction of samples near some centre
};

template <class T>
ModeCoverage mode_coverage(const Tensor<T>& samples, const std::vector<std::array<double, 2>>& centres, double std) {
  LATENT_CHECK(samples.dim() == 2 && samples.shape()[1] == 2, "mode_coverage: expects samples [n, 2], got ",
               samples.shape());
  LATENT_CHECK(!centres.empty() && std > 0, "mode_coverage: needs centres and a positive standard deviation");
  const Tensor<T> s = samples.contiguous();
  const std::int64_t n = s.shape()[0];
  std::vector<std::int64_t> near(centres.size(), 0);
  std::int64_t good = 0;
  const double radius2 = 9 * std * std;
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = double(s.data()[2 * i]), y = double(s.data()[2 * i + 1]);
    bool any = false;
    for (std::size_t c = 0; c < centres.size(); ++c) {
      const double dx = x - centres[c][0], dy = y - centres[c][1];
      if (dx * dx + dy * dy <= radius2) {
        ++near[c];
        any = true;
      }
    }
    good += any;
  }
  ModeCoverage r;
  r.modes_total = static_cast<int>(centres.size());
  for (std::int64_t count : near) r.modes_covered += (n > 0 && double(count) >= 0.01 * double(n));
  r.high_quality = n > 0 ? double(good) / double(n) : 0;
  return r;
}

inline double perplexity(double mean_nll_nats) { return std::exp(mean_nll_nats); }

inline double bits_per_dim(double nll_nats, std::int64_t dims) {
  LATENT_CHECK(dims > 0, "bits_per_dim: dims must be positive, got ", dims);
  return nll_nats / (double(dims) * std::log(2.0));
}

}  // namespace latent::metrics
