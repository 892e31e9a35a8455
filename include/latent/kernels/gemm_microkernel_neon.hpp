// The GEMM micro-kernel for NEON (AArch64): 32 registers of 128 bits.
//
// Tile: 8 rows by 3 vectors (8 x 12 floats, 8 x 6 doubles). The 24 accumulators, the 3
// vectors of the B row and 1 broadcast of A use 28 of the 32 registers.
//
// Blocking (float / double), sized for 64 KiB of L1 and 1 MiB or more of L2 per core
// (smaller caches only cost a little speed):
//   kc = 256: a B sliver (kc x 12 floats = 12 KiB, kc x 6 doubles = 12 KiB) stays in L1;
//   mc = 192 / 96: an A block (mc x kc, 192 KiB) stays in L2;
//   nc = 4092 / 4092: a packed B panel (kc x nc, 4 / 8 MiB) lives in L3.
#pragma once

#include "../core/config.hpp"

#if defined(LATENT_SIMD_NEON)

#include <arm_neon.h>

#include <cstdint>

#include "gemm_microkernel_simd.hpp"

namespace latent::kernels::gemm_detail {

template <class T>
struct NeonVector;

template <>
struct NeonVector<float> {
  using Scalar = float;
  using Reg = float32x4_t;
  static constexpr int lanes = 4;
  static LATENT_ALWAYS_INLINE Reg zero() { return vdupq_n_f32(0.0f); }
  static LATENT_ALWAYS_INLINE Reg load(const float* p) { return vld1q_f32(p); }
  static LATENT_ALWAYS_INLINE void store(float* p, Reg x) { vst1q_f32(p, x); }
  static LATENT_ALWAYS_INLINE Reg broadcast(const float* p) { return vld1q_dup_f32(p); }
  static LATENT_ALWAYS_INLINE Reg splat(float x) { return vdupq_n_f32(x); }
  // a * b + c with one rounding
  static LATENT_ALWAYS_INLINE Reg fma(Reg a, Reg b, Reg c) { return vfmaq_f32(c, a, b); }
  static LATENT_ALWAYS_INLINE Reg mul(Reg a, Reg b) { return vmulq_f32(a, b); }
};

template <>
struct NeonVector<double> {
  using Scalar = double;
  using Reg = float64x2_t;
  static constexpr int lanes = 2;
  static LATENT_ALWAYS_INLINE Reg zero() { return vdupq_n_f64(0.0); }
  static LATENT_ALWAYS_INLINE Reg load(const double* p) { return vld1q_f64(p); }
  static LATENT_ALWAYS_INLINE void store(double* p, Reg x) { vst1q_f64(p, x); }
  static LATENT_ALWAYS_INLINE Reg broadcast(const double* p) { return vld1q_dup_f64(p); }
  static LATENT_ALWAYS_INLINE Reg splat(double x) { return vdupq_n_f64(x); }
  static LATENT_ALWAYS_INLINE Reg fma(Reg a, Reg b, Reg c) { return vfmaq_f64(c, a, b); }
  static LATENT_ALWAYS_INLINE Reg mul(Reg a, Reg b) { return vmulq_f64(a, b); }
};

template <class T>
struct NeonGemm;

template <>
struct NeonGemm<float> : SimdMicroKernel<NeonVector<float>, 8, 3> {
  static constexpr std::int64_t mc = 192;
  static constexpr std::int64_t kc = 256;
  static constexpr std::int64_t nc = 4092;
};

template <>
struct NeonGemm<double> : SimdMicroKernel<NeonVector<double>, 8, 3> {
  static constexpr std::int64_t mc = 96;
  static constexpr std::int64_t kc = 256;
  static constexpr std::int64_t nc = 4092;
};

}  // namespace latent::kernels::gemm_detail

#endif  // LATENT_SIMD_NEON
