// Synthetic 2-D distributions, the standard testbeds for GANs and diffusion models. Each
// returns n points [n, 2] drawn from a Generator.
//   ring:         8 Gaussians (std 0.02 by default) at radius 2, evenly spaced in angle
//   grid:         25 Gaussians (std 0.05) at {-4,-2,0,2,4}^2
//   swiss_roll:   t ~ U(1.5 pi, 4.5 pi), (t cos t, t sin t) / 5 + noise
//   two_moons:    two interleaved half circles + noise
//   checkerboard: uniform on the dark squares of a 4x4 board on [-4, 4]^2
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../tensor/creation.hpp"

namespace latent::data {

// Centres of the mixture testbeds (used by the mode-coverage metrics).
inline std::vector<std::array<double, 2>> ring_centres(int modes = 8, double radius = 2.0) {
  std::vector<std::array<double, 2>> c;
  const double pi = 3.14159265358979323846;
  for (int k = 0; k < modes; ++k)
    c.push_back({radius * std::cos(2 * pi * k / modes), radius * std::sin(2 * pi * k / modes)});
  return c;
}
inline std::vector<std::array<double, 2>> grid_centres() {
  std::vector<std::array<double, 2>> c;
  for (int i = -2; i <= 2; ++i)
    for (int j = -2; j <= 2; ++j) c.push_back({2.0 * i, 2.0 * j});
  return c;
}

namespace detail {
template <class T>
Tensor<T> mixture(std::int64_t n, const std::vector<std::array<double, 2>>& centres, double std, Generator& gen) {
  LATENT_CHECK(n >= 0, "synthetic data: negative number of points ", n);
  Tensor<T> out(Shape{n, 2});
  T* p = out.data();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto& c = centres[static_cast<std::size_t>(gen.randint(0, static_cast<std::int64_t>(centres.size())))];
    p[2 * i] = static_cast<T>(c[0] + std * gen.normal<double>());
    p[2 * i + 1] = static_cast<T>(c[1] + std * gen.normal<double>());
  }
  return out;
}
}  // namespace detail

template <class T>
Tensor<T> ring_of_gaussians(std::int64_t n, Generator& gen, int modes = 8, double radius = 2.0, double std = 0.02) {
  return detail::mixture<T>(n, ring_centres(modes, radius), std, gen);
}

template <class T>
Tensor<T> grid_of_gaussians(std::int64_t n, Generator& gen, double std = 0.05) {
  return detail::mixture<T>(n, grid_centres(), std, gen);
}

template <class T>
Tensor<T> swiss_roll(std::int64_t n, Generator& gen, double noise = 0.1) {
  LATENT_CHECK(n >= 0, "swiss_roll: negative number of points ", n);
  Tensor<T> out(Shape{n, 2});
  T* p = out.data();
  const double pi = 3.14159265358979323846;
  for (std::int64_t i = 0; i < n; ++i) {
    const double t = 1.5 * pi * (1 + 2 * gen.uniform<double>());
    p[2 * i] = static_cast<T>(t * std::cos(t) / 5 + noise * gen.normal<double>());
    p[2 * i + 1] = static_cast<T>(t * std::sin(t) / 5 + noise * gen.normal<double>());
  }
  return out;
}

template <class T>
Tensor<T> two_moons(std::int64_t n, Generator& gen, double noise = 0.05) {
  LATENT_CHECK(n >= 0, "two_moons: negative number of points ", n);
  Tensor<T> out(Shape{n, 2});
  T* p = out.data();
  const double pi = 3.14159265358979323846;
  for (std::int64_t i = 0; i < n; ++i) {
    const double a = pi * gen.uniform<double>();
    const bool upper = gen.bernoulli(0.5);
    const double x = upper ? std::cos(a) : 1 - std::cos(a);
    const double y = upper ? std::sin(a) : 0.5 - std::sin(a);
    p[2 * i] = static_cast<T>(x + noise * gen.normal<double>());
    p[2 * i + 1] = static_cast<T>(y + noise * gen.normal<double>());
  }
  return out;
}

template <class T>
Tensor<T> checkerboard(std::int64_t n, Generator& gen) {
  LATENT_CHECK(n >= 0, "checkerboard: negative number of points ", n);
  Tensor<T> out(Shape{n, 2});
  T* p = out.data();
  for (std::int64_t i = 0; i < n; ++i) {
    // A column, a row of the same parity, then a uniform point inside that 2x2 square.
    const std::int64_t col = gen.randint(0, 4), row = 2 * gen.randint(0, 2) + (col % 2);
    p[2 * i] = static_cast<T>(-4 + 2 * col + 2 * gen.uniform<double>());
    p[2 * i + 1] = static_cast<T>(-4 + 2 * row + 2 * gen.uniform<double>());
  }
  return out;
}

}  // namespace latent::data
