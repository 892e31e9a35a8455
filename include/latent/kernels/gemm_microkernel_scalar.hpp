// The GEMM micro-kernel: the innermost piece of the blocked product, and its plain scalar
// version (the readable reference that the SIMD kernels must agree with).
//
// A micro-kernel computes one small MR x NR tile of C from a sliver of A (MR rows, k_len
// columns) and a sliver of B (k_len rows, NR columns), keeping the whole tile in registers
// while it runs down the shared dimension:
//
//   acc[r][c] = sum_{p < k_len} A(r, p) * B(p, c)       (one multiply-add per term, p in
//                                                         increasing order)
//   C(r, c)   = alpha * acc[r][c] + beta * C(r, c)      for the valid r < rows, c < cols
//
// Every element of C is thus summed in the same order whichever tile, block or thread
// computes it, which is what makes the result independent of the thread count.
#pragma once

#include <cstdint>

#include "../core/config.hpp"

// Fully unrolls the loop that follows (a compile-time trip count) so that arrays indexed
// by its counter live in registers.
#define LATENT_GEMM_PRAGMA_(text) _Pragma(#text)
#if defined(__clang__) || defined(__GNUC__)
#define LATENT_GEMM_UNROLL(n) LATENT_GEMM_PRAGMA_(GCC unroll n)
#else
#define LATENT_GEMM_UNROLL(n)
#endif

// Hints that the cache line holding *address will soon be used: _L1 wants it in the
// nearest cache, _L2 only in the second level (which it will not crowd out of L1).
#if defined(__clang__) || defined(__GNUC__)
#define LATENT_GEMM_PREFETCH_L1(address) __builtin_prefetch((address), 0, 3)
#define LATENT_GEMM_PREFETCH_L2(address) __builtin_prefetch((address), 0, 2)
#else
#define LATENT_GEMM_PREFETCH_L1(address) ((void)(address))
#define LATENT_GEMM_PREFETCH_L2(address) ((void)(address))
#endif

namespace latent::kernels::gemm_detail {

// Where one micro-kernel call reads and writes.
template <class T>
struct MicroTile {
  std::int64_t k_len;  // length of the summed dimension
  // A(r, p) = a[r * a_row_stride + p * a_k_stride] for r < rows.
  const T* a;
  std::int64_t a_row_stride;
  std::int64_t a_k_stride;
  // B(p, c) = b[p * b_k_stride + c] for all c < NR: unit column stride, NR values readable.
  const T* b;
  std::int64_t b_k_stride;
  // C(r, c) = c[r * c_row_stride + c * c_col_stride], written for r < rows, c < cols.
  T* c;
  std::int64_t c_row_stride;
  std::int64_t c_col_stride;
  int rows;  // 1 <= rows <= MR
  int cols;  // 1 <= cols <= NR
  T alpha;
  T beta;    // beta == 0: C is written without being read
};

// C = alpha * acc + beta * C for the valid part of the tile; acc is row-major with rows of
// `acc_stride` values. Used by every kernel for tiles that are partial or strided.
template <class T>
void write_back_tile(const T* acc, int acc_stride, const MicroTile<T>& t) {
  for (int r = 0; r < t.rows; ++r) {
    for (int c = 0; c < t.cols; ++c) {
      T& out = t.c[r * t.c_row_stride + c * t.c_col_stride];
      const T product = t.alpha * acc[r * acc_stride + c];
      out = (t.beta == T(0)) ? product : product + t.beta * out;
    }
  }
}

// The scalar micro-kernel: the same register tile, one value at a time.
template <class T, int MR, int NR>
struct ScalarMicroKernel {
  static constexpr int mr = MR;
  static constexpr int nr = NR;

  static void run(const MicroTile<T>& t) {
    T acc[MR][NR] = {};
    const T* b = t.b;
    for (std::int64_t p = 0; p < t.k_len; ++p, b += t.b_k_stride) {
      for (int r = 0; r < t.rows; ++r) {
        const T a_rp = t.a[r * t.a_row_stride + p * t.a_k_stride];
        LATENT_GEMM_UNROLL(32)
        for (int c = 0; c < NR; ++c) acc[r][c] += a_rp * b[c];
      }
    }
    write_back_tile(&acc[0][0], NR, t);
  }
};

// The scalar kernel with its cache blocking: a C block of mc x nc is built from packed
// A blocks of mc x kc (meant to stay in L2) and B panels of kc x nc (in L3).
template <class T>
struct ScalarGemm : ScalarMicroKernel<T, 4, 4> {
  static constexpr std::int64_t mc = 64;
  static constexpr std::int64_t kc = 256;
  static constexpr std::int64_t nc = 1024;
};

}  // namespace latent::kernels::gemm_detail
