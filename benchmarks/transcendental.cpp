// Throughput of the elementwise transcendental kernels (kernels/transcendental.hpp), in
// elements per second, next to a plain loop over the C library function for comparison:
//
//   exp/float/4096        kernels::exp on 4096 floats
//   std_exp/float/4096    for (i) y[i] = std::exp(x[i]) on the same floats
//
// Inputs are spread over the range where each function does real work (exp over
// [-80, 80], log over [1e-3, 1e3], the activations over [-10, 10]).
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>

namespace transcendental_bench {

namespace kernels = latent::kernels;

constexpr std::int64_t kLength = 4096;

// n points evenly spread over [low, high], shuffled by a fixed stride so that neighbours
// differ (branchy code cannot ride on a sorted input).
template <class T>
std::vector<T> spread(std::int64_t n, double low, double high) {
  std::vector<T> x(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = (i * 1237) % n;
    x[static_cast<std::size_t>(i)] = static_cast<T>(low + (high - low) * (j + 0.5) / n);
  }
  return x;
}

template <class T, class Kernel>
void run_unary(benchmark::State& state, Kernel kernel, double low, double high) {
  const std::int64_t n = state.range(0);
  const std::vector<T> x = spread<T>(n, low, high);
  std::vector<T> y(x.size());
  for (auto _ : state) {
    kernel(x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

template <class T, class Kernel>
void run_binary(benchmark::State& state, Kernel kernel, double low, double high) {
  const std::int64_t n = state.range(0);
  const std::vector<T> x = spread<T>(n, low, high);
  const std::vector<T> g = spread<T>(n, -1.0, 1.0);
  std::vector<T> y(x.size());
  for (auto _ : state) {
    kernel(x.data(), g.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// Registers "<name>/float/4096" and "<name>/double/4096" for a kernel written once for both
// element types: kernel(x, y, n), or kernel(x, g, y, n) for the backward ones.
template <class Kernel>
void register_unary(const std::string& name, Kernel kernel, double low, double high) {
  benchmark::RegisterBenchmark((name + "/float").c_str(), [=](benchmark::State& state) {
    run_unary<float>(state, kernel, low, high);
  })->Arg(kLength);
  benchmark::RegisterBenchmark((name + "/double").c_str(), [=](benchmark::State& state) {
    run_unary<double>(state, kernel, low, high);
  })->Arg(kLength);
}

template <class Kernel>
void register_binary(const std::string& name, Kernel kernel, double low, double high) {
  benchmark::RegisterBenchmark((name + "/float").c_str(), [=](benchmark::State& state) {
    run_binary<float>(state, kernel, low, high);
  })->Arg(kLength);
  benchmark::RegisterBenchmark((name + "/double").c_str(), [=](benchmark::State& state) {
    run_binary<double>(state, kernel, low, high);
  })->Arg(kLength);
}

[[maybe_unused]] const bool registered = [] {
  using Index = std::int64_t;
  register_unary(
      "exp", [](const auto* x, auto* y, Index n) { kernels::exp(x, y, n); }, -80, 80);
  register_unary(
      "log", [](const auto* x, auto* y, Index n) { kernels::log(x, y, n); }, 1e-3, 1e3);
  register_unary(
      "tanh", [](const auto* x, auto* y, Index n) { kernels::tanh(x, y, n); }, -10, 10);
  register_unary(
      "sigmoid", [](const auto* x, auto* y, Index n) { kernels::sigmoid(x, y, n); }, -10, 10);
  register_unary(
      "gelu", [](const auto* x, auto* y, Index n) { kernels::gelu(x, y, n); }, -10, 10);
  register_unary(
      "gelu_tanh", [](const auto* x, auto* y, Index n) { kernels::gelu_tanh(x, y, n); }, -10, 10);
  register_unary(
      "silu", [](const auto* x, auto* y, Index n) { kernels::silu(x, y, n); }, -10, 10);
  register_unary(
      "softplus", [](const auto* x, auto* y, Index n) { kernels::softplus(x, y, n); }, -10, 10);
  register_binary(
      "gelu_backward",
      [](const auto* x, const auto* g, auto* y, Index n) { kernels::gelu_backward(x, g, y, n); },
      -10, 10);
  register_binary(
      "gelu_tanh_backward",
      [](const auto* x, const auto* g, auto* y, Index n) {
        kernels::gelu_tanh_backward(x, g, y, n);
      },
      -10, 10);
  register_binary(
      "silu_backward",
      [](const auto* x, const auto* g, auto* y, Index n) { kernels::silu_backward(x, g, y, n); },
      -10, 10);

  // Plain loops over the C library, for comparison (std_erf_gelu: x (1 + erf(x / sqrt2)) / 2).
  register_unary(
      "std_exp",
      [](const auto* x, auto* y, Index n) {
        for (Index i = 0; i < n; ++i) y[i] = std::exp(x[i]);
      },
      -80, 80);
  register_unary(
      "std_log",
      [](const auto* x, auto* y, Index n) {
        for (Index i = 0; i < n; ++i) y[i] = std::log(x[i]);
      },
      1e-3, 1e3);
  register_unary(
      "std_tanh",
      [](const auto* x, auto* y, Index n) {
        for (Index i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
      },
      -10, 10);
  register_unary(
      "std_erf_gelu",
      [](const auto* x, auto* y, Index n) {
        using T = std::decay_t<decltype(*x)>;
        for (Index i = 0; i < n; ++i)
          y[i] = x[i] * T(0.5) * (T(1) + std::erf(x[i] * T(0.7071067811865476)));
      },
      -10, 10);
  return true;
}();

}  // namespace transcendental_bench
