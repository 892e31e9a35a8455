// The machine's single-core floating-point peak: a loop of independent fused multiply-adds
// on registers only (no memory traffic), in float, at the widest vector width this build
// uses. GEMM efficiency is reported against this figure.
//
// Peak = (FMA units) x (lanes per vector) x 2 flops x clock. 12 (AVX2) or 24 (AVX-512,
// NEON) independent accumulator chains cover the FMA latency on two FMA pipes.
#include <benchmark/benchmark.h>

#include <latent/core/config.hpp>

#include <cstdint>

#if defined(LATENT_SIMD_AVX512) || defined(LATENT_SIMD_AVX2)
#include <immintrin.h>
#elif defined(LATENT_SIMD_NEON)
#include <arm_neon.h>
#endif

namespace peak_bench {

#if defined(LATENT_SIMD_AVX512)
using Reg = __m512;
constexpr int lanes = 16;
constexpr int chains = 24;
inline Reg splat(float x) { return _mm512_set1_ps(x); }
inline Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
#elif defined(LATENT_SIMD_AVX2)
using Reg = __m256;
constexpr int lanes = 8;
constexpr int chains = 12;
inline Reg splat(float x) { return _mm256_set1_ps(x); }
inline Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
#elif defined(LATENT_SIMD_NEON)
using Reg = float32x4_t;
constexpr int lanes = 4;
constexpr int chains = 24;
inline Reg splat(float x) { return vdupq_n_f32(x); }
inline Reg fma(Reg a, Reg b, Reg c) { return vfmaq_f32(c, a, b); }
#else
using Reg = float;
constexpr int lanes = 1;
constexpr int chains = 8;
inline Reg splat(float x) { return x; }
inline Reg fma(Reg a, Reg b, Reg c) { return a * b + c; }
#endif

void fma_peak(benchmark::State& state) {
  constexpr std::int64_t steps = 1 << 16;
  // acc = acc * 0.999999 + 1e-6 converges to 1: no overflow, no subnormals.
  const Reg scale = splat(0.999999f);
  const Reg shift = splat(1e-6f);
  Reg acc[chains];
  for (auto& a : acc) a = splat(1.0f);
  for (auto _ : state) {
    for (std::int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 32
      for (int c = 0; c < chains; ++c) acc[c] = fma(acc[c], scale, shift);
    }
    for (auto& a : acc) benchmark::DoNotOptimize(a);
  }
  const double flops_per_iteration = 2.0 * lanes * chains * steps;
  state.counters["gflops"] = benchmark::Counter(flops_per_iteration * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(LATENT_SIMD_NAME);
}

// Per second of the thread's CPU time, like the one-thread GEMM figures.
BENCHMARK(fma_peak)->Name("peak/fma/threads:1");

}  // namespace peak_bench
