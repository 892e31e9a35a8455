// The GEMM micro-kernel for AVX-512: 32 registers of 512 bits.
//
// Tile: 12 rows by 2 vectors (12 x 32 floats, 12 x 16 doubles). The 24 accumulators, the
// 2 vectors of the B row and 1 broadcast of A use 27 of the 32 registers; 24 independent
// FMA chains cover the latency of two 512-bit FMA pipes.
//
// Blocking (float / double), sized for 32-48 KiB of L1 and 1 MiB or more of L2 per core:
//   kc = 192: a B sliver (kc x 32 floats = 24 KiB, kc x 16 doubles = 24 KiB) stays in L1;
//   mc = 240 / 120: an A block (mc x kc, 180 KiB) stays in L2;
//   nc = 4096: a packed B panel (kc x nc, 3 / 6 MiB) lives in L3.
#pragma once

#include "../core/config.hpp"

#if defined(LATENT_SIMD_AVX512)

#include <immintrin.h>

#include <cstdint>

#include "gemm_microkernel_simd.hpp"

namespace latent::kernels::gemm_detail {

template <class T>
struct Avx512Vector;

template <>
struct Avx512Vector<float> {
  using Scalar = float;
  using Reg = __m512;
  static constexpr int lanes = 16;
  static LATENT_ALWAYS_INLINE Reg zero() { return _mm512_setzero_ps(); }
  static LATENT_ALWAYS_INLINE Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static LATENT_ALWAYS_INLINE void store(float* p, Reg x) { _mm512_storeu_ps(p, x); }
  static LATENT_ALWAYS_INLINE Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static LATENT_ALWAYS_INLINE Reg splat(float x) { return _mm512_set1_ps(x); }
  // a * b + c with one rounding
  static LATENT_ALWAYS_INLINE Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static LATENT_ALWAYS_INLINE Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
};

template <>
struct Avx512Vector<double> {
  using Scalar = double;
  using Reg = __m512d;
  static constexpr int lanes = 8;
  static LATENT_ALWAYS_INLINE Reg zero() { return _mm512_setzero_pd(); }
  static LATENT_ALWAYS_INLINE Reg load(const double* p) { return _mm512_loadu_pd(p); }
  static LATENT_ALWAYS_INLINE void store(double* p, Reg x) { _mm512_storeu_pd(p, x); }
  static LATENT_ALWAYS_INLINE Reg broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static LATENT_ALWAYS_INLINE Reg splat(double x) { return _mm512_set1_pd(x); }
  static LATENT_ALWAYS_INLINE Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_pd(a, b, c); }
  static LATENT_ALWAYS_INLINE Reg mul(Reg a, Reg b) { return _mm512_mul_pd(a, b); }
};

template <class T>
struct Avx512Gemm;

template <>
struct Avx512Gemm<float> : SimdMicroKernel<Avx512Vector<float>, 12, 2> {
  static constexpr std::int64_t mc = 240;
  static constexpr std::int64_t kc = 192;
  static constexpr std::int64_t nc = 4096;
};

template <>
struct Avx512Gemm<double> : SimdMicroKernel<Avx512Vector<double>, 12, 2> {
  static constexpr std::int64_t mc = 120;
  static constexpr std::int64_t kc = 192;
  static constexpr std::int64_t nc = 4096;
};

}  // namespace latent::kernels::gemm_detail

#endif  // LATENT_SIMD_AVX512
