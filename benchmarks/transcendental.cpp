// Throughput of the elementwise transcendental kernels (kernels/transcendental.hpp), in
// elements per second, next to a plain loop over the C library function for comparison:
//
//   exp/float/4096        kernels::exp on 4096 floats
//   std_exp/float/4096    for (i) y[i] = std::exp(x[i]) on the same floats
//
// Inputs are spread over the range where each function does real work (exp over
// [-80, 80], log over [1e-3, 1e3], the activations over [-10, 10]).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <latent/latent.hpp>
#include <vector>

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

// Registers "<name>/float/4096" and "<name>/double/4096" for an array kernel.
#define TRANSCENDENTAL_BENCH_UNARY(name, call, low, high)                        \
  benchmark::RegisterBenchmark(#name "/float", [](benchmark::State& s) {         \
    run_unary<float>(                                                            \
        s, [](const float* x, float* y, std::int64_t n) { call; }, low, high);   \
  })->Arg(kLength);                                                              \
  benchmark::RegisterBenchmark(#name "/double", [](benchmark::State& s) {        \
    run_unary<double>(                                                           \
        s, [](const double* x, double* y, std::int64_t n) { call; }, low, high); \
  })->Arg(kLength)

#define TRANSCENDENTAL_BENCH_BINARY(name, call, low, high)                                        \
  benchmark::RegisterBenchmark(#name "/float", [](benchmark::State& s) {                          \
    run_binary<float>(                                                                            \
        s, [](const float* x, const float* g, float* y, std::int64_t n) { call; }, low, high);    \
  })->Arg(kLength);                                                                               \
  benchmark::RegisterBenchmark(#name "/double", [](benchmark::State& s) {                         \
    run_binary<double>(                                                                           \
        s, [](const double* x, const double* g, double* y, std::int64_t n) { call; }, low, high); \
  })->Arg(kLength)

// A plain loop over a C library function, for comparison.
#define TRANSCENDENTAL_BENCH_STD(name, expression, low, high) \
  TRANSCENDENTAL_BENCH_UNARY(                                 \
      name,                                                   \
      for (std::int64_t i = 0; i < n; ++i) {                  \
        const auto v = x[i];                                  \
        y[i] = (expression);                                  \
      },                                                      \
      low, high)

[[maybe_unused]] const bool registered = [] {
  TRANSCENDENTAL_BENCH_UNARY(exp, kernels::exp(x, y, n), -80.0, 80.0);
  TRANSCENDENTAL_BENCH_UNARY(log, kernels::log(x, y, n), 1e-3, 1e3);
  TRANSCENDENTAL_BENCH_UNARY(tanh, kernels::tanh(x, y, n), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_UNARY(sigmoid, kernels::sigmoid(x, y, n), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_UNARY(gelu, kernels::gelu(x, y, n), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_UNARY(gelu_tanh, kernels::gelu_tanh(x, y, n), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_UNARY(silu, kernels::silu(x, y, n), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_UNARY(softplus, kernels::softplus(x, y, n), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_BINARY(gelu_backward, kernels::gelu_backward(x, g, y, n), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_BINARY(gelu_tanh_backward, kernels::gelu_tanh_backward(x, g, y, n), -10.0,
                              10.0);
  TRANSCENDENTAL_BENCH_BINARY(silu_backward, kernels::silu_backward(x, g, y, n), -10.0, 10.0);

  TRANSCENDENTAL_BENCH_STD(std_exp, std::exp(v), -80.0, 80.0);
  TRANSCENDENTAL_BENCH_STD(std_log, std::log(v), 1e-3, 1e3);
  TRANSCENDENTAL_BENCH_STD(std_tanh, std::tanh(v), -10.0, 10.0);
  TRANSCENDENTAL_BENCH_STD(std_erf_gelu, v * 0.5f * (1 + std::erf(v * 0.70710678f)), -10.0, 10.0);
  return true;
}();

}  // namespace transcendental_bench
