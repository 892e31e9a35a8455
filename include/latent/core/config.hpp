// Configuration: version, feature detection and the switches a user may set before
// including any latent header. Every switch is a macro, so an installed target never
// loses it: define it in your own code (or on your command line) before the include.
//
//   LATENT_NO_EXCEPTIONS   report errors through the handler (error.hpp), never throw
//   LATENT_NO_OPENMP       run every loop on the calling thread even when OpenMP is on
//   LATENT_SIMD_NONE       use only the scalar kernels (the readable reference)
//   LATENT_SIMD_AVX2, LATENT_SIMD_AVX512, LATENT_SIMD_NEON
//                          force one SIMD level (the compiler must allow it); AVX-512
//                          is used only when asked for this way
#pragma once

#define LATENT_VERSION_MAJOR 0
#define LATENT_VERSION_MINOR 1
#define LATENT_VERSION_PATCH 0
#define LATENT_VERSION_STRING "0.1.0"

// Exceptions: on when the compiler has them and the user has not turned them off.
#if !defined(LATENT_HAS_EXCEPTIONS)
#if defined(__cpp_exceptions) && !defined(LATENT_NO_EXCEPTIONS)
#define LATENT_HAS_EXCEPTIONS 1
#else
#define LATENT_HAS_EXCEPTIONS 0
#endif
#endif

// OpenMP: on when the compiler was given -fopenmp and the user has not turned it off.
#if !defined(LATENT_HAS_OPENMP)
#if defined(_OPENMP) && !defined(LATENT_NO_OPENMP)
#define LATENT_HAS_OPENMP 1
#else
#define LATENT_HAS_OPENMP 0
#endif
#endif

// SIMD level, from the compiler's own macros unless the user forces one.
// Exactly one of LATENT_SIMD_AVX512 / _AVX2 / _NEON / _NONE ends up defined as 1.
#if defined(LATENT_SIMD_NONE)
#undef LATENT_SIMD_NONE
#define LATENT_SIMD_NONE 1
#elif defined(LATENT_SIMD_AVX512) || defined(LATENT_SIMD_AVX2) || defined(LATENT_SIMD_NEON)
// forced by the user
#elif defined(__AVX2__) && defined(__FMA__)
// Also on AVX-512 machines: the AVX-512 kernels are compiled and tested for agreement with
// the scalar ones only where such a CPU is at hand, so they are chosen by defining
// LATENT_SIMD_AVX512 (with -mavx512f -mavx512bw -mavx512dq -mfma) until they have been.
#define LATENT_SIMD_AVX2 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define LATENT_SIMD_NEON 1
#else
#define LATENT_SIMD_NONE 1
#endif

#if defined(LATENT_SIMD_AVX512)
#define LATENT_SIMD_NAME "avx512"
#elif defined(LATENT_SIMD_AVX2)
#define LATENT_SIMD_NAME "avx2"
#elif defined(LATENT_SIMD_NEON)
#define LATENT_SIMD_NAME "neon"
#else
#define LATENT_SIMD_NAME "scalar"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LATENT_RESTRICT __restrict__
#define LATENT_ALWAYS_INLINE inline __attribute__((always_inline))
#define LATENT_LIKELY(x) __builtin_expect(!!(x), 1)
#define LATENT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LATENT_RESTRICT
#define LATENT_ALWAYS_INLINE inline
#define LATENT_LIKELY(x) (x)
#define LATENT_UNLIKELY(x) (x)
#endif

namespace latent {

// What this build of the library uses, for printing in benchmarks and examples.
struct BuildInfo {
  const char* version = LATENT_VERSION_STRING;
  const char* simd = LATENT_SIMD_NAME;
  bool openmp = LATENT_HAS_OPENMP != 0;
  bool exceptions = LATENT_HAS_EXCEPTIONS != 0;
};

inline BuildInfo build_info() { return BuildInfo{}; }

}  // namespace latent
