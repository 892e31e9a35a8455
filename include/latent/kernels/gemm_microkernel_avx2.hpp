// The GEMM micro-kernel for AVX2 with FMA: 16 registers of 256 bits.
//
// Tile: 6 rows by 2 vectors (6 x 16 floats, 6 x 8 doubles). The 12 accumulators, the 2
// vectors of the B row and 1 broadcast of A use 15 of the 16 registers; 12 independent
// FMA chains hide the FMA latency (4-5 cycles on 2 ports needs at least 10).
//
// Blocking (float / double), sized for 32 KiB of L1 and 512 KiB or more of L2 per core:
//   kc = 256: a B sliver (kc x 16 floats = 16 KiB, kc x 8 doubles = 16 KiB) stays in L1;
//   mc = 144 / 72: an A block (mc x kc = 144 KiB) stays in L2;
//   nc = 4080: a packed B panel (kc x nc, 4 / 8 MiB) lives in L3.
#pragma once

#include "../core/config.hpp"

#if defined(LATENT_SIMD_AVX2)

#include <immintrin.h>

#include <cstdint>

#include "gemm_microkernel_simd.hpp"

namespace latent::kernels::gemm_detail {

template <class T>
struct Avx2Vector;

template <>
struct Avx2Vector<float> {
  using Scalar = float;
  using Reg = __m256;
  static constexpr int lanes = 8;
  static LATENT_ALWAYS_INLINE Reg zero() { return _mm256_setzero_ps(); }
  static LATENT_ALWAYS_INLINE Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static LATENT_ALWAYS_INLINE void store(float* p, Reg x) { _mm256_storeu_ps(p, x); }
  static LATENT_ALWAYS_INLINE Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static LATENT_ALWAYS_INLINE Reg splat(float x) { return _mm256_set1_ps(x); }
  // a * b + c with one rounding
  static LATENT_ALWAYS_INLINE Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static LATENT_ALWAYS_INLINE Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
};

template <>
struct Avx2Vector<double> {
  using Scalar = double;
  using Reg = __m256d;
  static constexpr int lanes = 4;
  static LATENT_ALWAYS_INLINE Reg zero() { return _mm256_setzero_pd(); }
  static LATENT_ALWAYS_INLINE Reg load(const double* p) { return _mm256_loadu_pd(p); }
  static LATENT_ALWAYS_INLINE void store(double* p, Reg x) { _mm256_storeu_pd(p, x); }
  static LATENT_ALWAYS_INLINE Reg broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static LATENT_ALWAYS_INLINE Reg splat(double x) { return _mm256_set1_pd(x); }
  static LATENT_ALWAYS_INLINE Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_pd(a, b, c); }
  static LATENT_ALWAYS_INLINE Reg mul(Reg a, Reg b) { return _mm256_mul_pd(a, b); }
};

template <class T>
struct Avx2Gemm;

template <>
struct Avx2Gemm<float> : SimdMicroKernel<Avx2Vector<float>, 6, 2> {
  static constexpr std::int64_t mc = 144;
  static constexpr std::int64_t kc = 256;
  static constexpr std::int64_t nc = 4080;
};

template <>
struct Avx2Gemm<double> : SimdMicroKernel<Avx2Vector<double>, 6, 2> {
  static constexpr std::int64_t mc = 72;
  static constexpr std::int64_t kc = 256;
  static constexpr std::int64_t nc = 4080;
};

}  // namespace latent::kernels::gemm_detail

#endif  // LATENT_SIMD_AVX2
