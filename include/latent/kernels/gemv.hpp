// Matrix-vector products: C = alpha * A @ B + beta * C when A has only a few rows, as when
// a model decodes one token at a time (x[1, K] @ W^T). The blocked gemm (gemm.hpp) copies
// B into slivers before using it; with one row of A each value of B is used once, so the
// copy would cost as much as the product. Here B is read once, where it lies, in either
// of its contiguous layouts:
//
//   columns of B contiguous (b_row_stride = 1: a weight W [N, K] read transposed), a dot
//   product per output:
//
//     C[m, n] = alpha * sum_k A[m, k] B[k, n] + beta * C[m, n]
//
//     several columns n at a time, so that each vector of A's row, once loaded, meets all
//     of them; a vector register sums the terms k = l (mod lanes) in lane l, and its lanes
//     are added at the end, then the last K mod lanes terms;
//
//   rows of B contiguous (b_col_stride = 1), scaled rows of B added up (an "axpy" per k):
//
//     acc[m, n : n+w] += A[m, k] * B[k, n : n+w]        for k = 0, 1, ..., K-1
//
//     a block of w columns held in registers for the whole of K.
//
// Rows of A are taken up to four at a time, so each value of B is loaded once per group
// of rows. A tile holds about eight accumulators (eight columns for one row of A, four
// for two, ...), enough independent sums to keep the multiply-add units busy.
//
// The scalar tiles are the readable reference; the SIMD tiles are the same loops a vector
// of lanes at a time, on the vector types of the GEMM micro-kernels (gemm_microkernel_*.hpp)
// plus a sum of lanes.
//
// Threads: the columns of C are shared out in fixed chunks of whole tiles, K is never
// split, and every element of C is summed by the same tile code wherever it falls, so the
// result is bitwise the same on 1 or N threads. Small products stay on the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "gemm_microkernel_avx2.hpp"
#include "gemm_microkernel_avx512.hpp"
#include "gemm_microkernel_neon.hpp"
#include "gemm_microkernel_scalar.hpp"
#include "gemm_pack.hpp"

namespace latent::kernels {

namespace gemv_detail {

// Rows of A taken together; a tile of Rows rows has 8 / Rows columns (or vectors).
inline constexpr int max_rows = 4;

template <int Rows>
inline constexpr int tile_width = 8 / Rows;

// Products with fewer multiply-adds than this run on the calling thread (as in gemm.hpp),
// and a chunk of columns given to a thread holds at least chunk_min_work of them.
inline constexpr std::int64_t parallel_min_work = std::int64_t(1) << 21;
inline constexpr std::int64_t chunk_min_work = std::int64_t(1) << 17;

// ---- the scalar tiles (the readable reference) -----------------------------------------

template <class T>
struct ScalarTiles {
  static constexpr int lanes = 1;

  // sums[r][c] = sum_k x_r[k] w_c[k], with x_r = x + r * x_stride and w_c = w + c * w_stride
  // both contiguous in k (rows of A, columns of B).
  template <int Rows, int Cols>
  static void dot(std::int64_t K, const T* x, std::int64_t x_stride, const T* w,
                  std::int64_t w_stride, T (&sums)[Rows][Cols]) {
    for (int r = 0; r < Rows; ++r) {
      for (int c = 0; c < Cols; ++c) {
        T sum = T(0);
        for (std::int64_t k = 0; k < K; ++k) sum += x[r * x_stride + k] * w[c * w_stride + k];
        sums[r][c] = sum;
      }
    }
  }

  // sums[r][c] = sum_k x_r(k) b_k[c], with x_r(k) = x[r * x_row_stride + k * x_k_stride]
  // and b_k = b + k * b_stride the row k of B, contiguous (Cols columns of it).
  template <int Rows, int Cols>
  static void axpy(std::int64_t K, const T* x, std::int64_t x_row_stride, std::int64_t x_k_stride,
                   const T* b, std::int64_t b_stride, T (&sums)[Rows][Cols]) {
    T acc[Rows][Cols] = {};
    for (std::int64_t k = 0; k < K; ++k) {
      for (int r = 0; r < Rows; ++r) {
        const T x_rk = x[r * x_row_stride + k * x_k_stride];
        for (int c = 0; c < Cols; ++c) acc[r][c] += x_rk * b[k * b_stride + c];
      }
    }
    for (int r = 0; r < Rows; ++r)
      for (int c = 0; c < Cols; ++c) sums[r][c] = acc[r][c];
  }
};

// ---- the SIMD tiles ----------------------------------------------------------------------

// The sum of a register's lanes, in a fixed order (halves added until one lane is left).
#if defined(LATENT_SIMD_AVX512) || defined(LATENT_SIMD_AVX2)
LATENT_ALWAYS_INLINE float sum_lanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
LATENT_ALWAYS_INLINE double sum_lanes(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#endif
#if defined(LATENT_SIMD_AVX512)
// GCC 12.1-12.2 warn that the _mm512_undefined_*() inside these intrinsics "is" or "may
// be" used uninitialised once inlined (GCC bug 105593, fixed in 12.3): a false positive,
// silenced here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
LATENT_ALWAYS_INLINE float sum_lanes(__m512 v) {
  const __m256 upper = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  return sum_lanes(_mm256_add_ps(_mm512_castps512_ps256(v), upper));
}
LATENT_ALWAYS_INLINE double sum_lanes(__m512d v) {
  return sum_lanes(_mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1)));
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
#if defined(LATENT_SIMD_NEON)
LATENT_ALWAYS_INLINE float sum_lanes(float32x4_t v) { return vaddvq_f32(v); }
LATENT_ALWAYS_INLINE double sum_lanes(float64x2_t v) { return vaddvq_f64(v); }
#endif

// The scalar tiles a vector V (V::lanes values of V::Scalar) at a time.
template <class V>
struct SimdTiles {
  using T = typename V::Scalar;
  using Reg = typename V::Reg;
  static constexpr int lanes = V::lanes;

  // As ScalarTiles::dot, lane l of acc[r][c] summing the terms k = l (mod lanes).
  template <int Rows, int Cols>
  static void dot(std::int64_t K, const T* x, std::int64_t x_stride, const T* w,
                  std::int64_t w_stride, T (&sums)[Rows][Cols]) {
    Reg acc[Rows][Cols];
    LATENT_GEMM_UNROLL(32)
    for (int r = 0; r < Rows; ++r) {
      LATENT_GEMM_UNROLL(32)
      for (int c = 0; c < Cols; ++c) acc[r][c] = V::zero();
    }
    std::int64_t k = 0;
    LATENT_GEMM_UNROLL(4)
    for (; k + lanes <= K; k += lanes) {
      Reg x_k[Rows];
      LATENT_GEMM_UNROLL(32)
      for (int r = 0; r < Rows; ++r) x_k[r] = V::load(x + r * x_stride + k);
      LATENT_GEMM_UNROLL(32)
      for (int c = 0; c < Cols; ++c) {
        const Reg w_k = V::load(w + c * w_stride + k);
        LATENT_GEMM_UNROLL(32)
        for (int r = 0; r < Rows; ++r) acc[r][c] = V::fma(x_k[r], w_k, acc[r][c]);
      }
    }
    LATENT_GEMM_UNROLL(32)
    for (int r = 0; r < Rows; ++r) {
      LATENT_GEMM_UNROLL(32)
      for (int c = 0; c < Cols; ++c) sums[r][c] = sum_lanes(acc[r][c]);
    }
    for (; k < K; ++k) {
      for (int r = 0; r < Rows; ++r)
        for (int c = 0; c < Cols; ++c) sums[r][c] += x[r * x_stride + k] * w[c * w_stride + k];
    }
  }

  // As ScalarTiles::axpy, Cols a multiple of lanes: one broadcast of x_r(k) meets the row
  // of B in Cols / lanes registers.
  template <int Rows, int Cols>
  static void axpy(std::int64_t K, const T* x, std::int64_t x_row_stride, std::int64_t x_k_stride,
                   const T* b, std::int64_t b_stride, T (&sums)[Rows][Cols]) {
    static_assert(Cols % lanes == 0, "gemv: an axpy tile is whole vectors wide");
    constexpr int NV = Cols / lanes;
    Reg acc[Rows][NV];
    LATENT_GEMM_UNROLL(32)
    for (int r = 0; r < Rows; ++r) {
      LATENT_GEMM_UNROLL(32)
      for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();
    }
    LATENT_GEMM_UNROLL(4)
    for (std::int64_t k = 0; k < K; ++k, b += b_stride) {
      Reg b_k[NV];
      LATENT_GEMM_UNROLL(32)
      for (int v = 0; v < NV; ++v) b_k[v] = V::load(b + v * lanes);
      LATENT_GEMM_UNROLL(32)
      for (int r = 0; r < Rows; ++r) {
        const Reg x_rk = V::broadcast(x + r * x_row_stride + k * x_k_stride);
        LATENT_GEMM_UNROLL(32)
        for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(x_rk, b_k[v], acc[r][v]);
      }
    }
    LATENT_GEMM_UNROLL(32)
    for (int r = 0; r < Rows; ++r) {
      LATENT_GEMM_UNROLL(32)
      for (int v = 0; v < NV; ++v) V::store(&sums[r][v * lanes], acc[r][v]);
    }
  }
};

// The tiles this build uses.
#if defined(LATENT_SIMD_AVX512)
template <class T>
using NativeTiles = SimdTiles<gemm_detail::Avx512Vector<T>>;
#elif defined(LATENT_SIMD_AVX2)
template <class T>
using NativeTiles = SimdTiles<gemm_detail::Avx2Vector<T>>;
#elif defined(LATENT_SIMD_NEON)
template <class T>
using NativeTiles = SimdTiles<gemm_detail::NeonVector<T>>;
#else
template <class T>
using NativeTiles = ScalarTiles<T>;
#endif

// ---- the drivers -------------------------------------------------------------------------

// The arguments of one product, as gemv() receives them.
template <class T>
struct Product {
  std::int64_t M, N, K;
  T alpha;
  const T* A;
  std::int64_t a_row_stride, a_col_stride;
  const T* B;
  std::int64_t b_row_stride, b_col_stride;
  T beta;
  T* C;
  std::int64_t c_row_stride, c_col_stride;
};

// C[m + r, n + c] = alpha * sums[r][c] + beta * C[m + r, n + c] (C not read when beta == 0).
template <int Rows, int Cols, class T>
LATENT_ALWAYS_INLINE void write_tile(const Product<T>& p, std::int64_t m, std::int64_t n,
                                     const T (&sums)[Rows][Cols]) {
  for (int r = 0; r < Rows; ++r) {
    T* c_row = p.C + (m + r) * p.c_row_stride + n * p.c_col_stride;
    for (int c = 0; c < Cols; ++c) {
      T& out = c_row[c * p.c_col_stride];
      out = (p.beta == T(0)) ? p.alpha * sums[r][c] : p.alpha * sums[r][c] + p.beta * out;
    }
  }
}

// Columns [n, n_end) of rows [m, m + Rows) of C, B's columns contiguous, in tiles of
// Width columns while they last, then of Width / 2, ... down to single columns. x holds
// the Rows rows of A, contiguous, x_stride apart.
template <class Tiles, int Rows, int Width, class T>
void dot_rows(const Product<T>& p, std::int64_t m, const T* x, std::int64_t x_stride,
              std::int64_t n, std::int64_t n_end) {
  for (; n + Width <= n_end; n += Width) {
    T sums[Rows][Width];
    Tiles::template dot<Rows, Width>(p.K, x, x_stride, p.B + n * p.b_col_stride,
                                     p.b_col_stride, sums);
    write_tile(p, m, n, sums);
  }
  if constexpr (Width > 1) dot_rows<Tiles, Rows, Width / 2>(p, m, x, x_stride, n, n_end);
}

// The same with B's rows contiguous: tiles of Width vectors while they last, then of
// Width / 2, ... down to one vector; the last columns (fewer than a vector) one at a time
// through the scalar tile.
template <class Tiles, int Rows, int Width, class T>
void axpy_rows(const Product<T>& p, std::int64_t m, std::int64_t n, std::int64_t n_end) {
  constexpr int Cols = Width * Tiles::lanes;
  const T* x = p.A + m * p.a_row_stride;
  for (; n + Cols <= n_end; n += Cols) {
    T sums[Rows][Cols];
    Tiles::template axpy<Rows, Cols>(p.K, x, p.a_row_stride, p.a_col_stride, p.B + n,
                                     p.b_row_stride, sums);
    write_tile(p, m, n, sums);
  }
  if constexpr (Width > 1) {
    axpy_rows<Tiles, Rows, Width / 2>(p, m, n, n_end);
  } else {
    for (; n < n_end; ++n) {
      T sums[Rows][1];
      ScalarTiles<T>::template axpy<Rows, 1>(p.K, x, p.a_row_stride, p.a_col_stride, p.B + n,
                                             p.b_row_stride, sums);
      write_tile(p, m, n, sums);
    }
  }
}

// Calls f(std::integral_constant<int, rows>{}) for 1 <= rows <= max_rows.
template <class F>
LATENT_ALWAYS_INLINE void with_rows(std::int64_t rows, F&& f) {
  static_assert(max_rows == 4, "gemv: with_rows lists every row count");
  switch (rows) {
    case 1: f(std::integral_constant<int, 1>()); break;
    case 2: f(std::integral_constant<int, 2>()); break;
    case 3: f(std::integral_constant<int, 3>()); break;
    default: f(std::integral_constant<int, 4>()); break;
  }
}

// Columns [n_begin, n_end) of C, every row, a group of up to max_rows rows at a time.
// x: A's rows, contiguous, x_stride apart (used when B's columns are contiguous).
template <class Tiles, class T>
void gemv_columns(const Product<T>& p, bool columns_contiguous, const T* x, std::int64_t x_stride,
                  std::int64_t n_begin, std::int64_t n_end) {
  for (std::int64_t m = 0; m < p.M; m += max_rows) {
    with_rows(std::min<std::int64_t>(max_rows, p.M - m), [&](auto rows) {
      constexpr int Rows = decltype(rows)::value;
      if (columns_contiguous) {
        dot_rows<Tiles, Rows, tile_width<Rows>>(p, m, x + m * x_stride, x_stride, n_begin, n_end);
      } else {
        axpy_rows<Tiles, Rows, tile_width<Rows>>(p, m, n_begin, n_end);
      }
    });
  }
}

// Which layout a B of N columns has: its columns contiguous (a dot product per output) or
// its rows (axpy). A single column of B is a dot product whatever its column stride.
inline bool columns_contiguous(std::int64_t b_row_stride, std::int64_t b_col_stride,
                               std::int64_t N) {
  return b_row_stride == 1 && (b_col_stride != 1 || N == 1);
}

template <class T>
void gemv_product(const Product<T>& p) {
  // Types other than float and double have no SIMD tiles.
  using Tiles = std::conditional_t<std::is_same_v<T, float> || std::is_same_v<T, double>,
                                   NativeTiles<T>, ScalarTiles<T>>;
  const bool by_dots = columns_contiguous(p.b_row_stride, p.b_col_stride, p.N);
  // The dot products read A's rows as vectors: gather them if they are not contiguous
  // (M * K values, small beside B's N * K).
  const T* x = p.A;
  std::int64_t x_stride = p.a_row_stride;
  if (by_dots && p.a_col_stride != 1) {
    T* gathered = gemm_detail::thread_scratch_a().get<T>(p.M * p.K);
    for (std::int64_t m = 0; m < p.M; ++m)
      for (std::int64_t k = 0; k < p.K; ++k)
        gathered[m * p.K + k] = p.A[m * p.a_row_stride + k * p.a_col_stride];
    x = gathered;
    x_stride = p.K;
  }
  // Chunks of whole tiles of every width used (8 vectors of columns), so that the columns
  // left over for the narrower tiles are those of the serial loop.
  const std::int64_t unit = std::int64_t(tile_width<1>) * Tiles::lanes;
  const double work = double(p.M) * double(p.N) * double(p.K);
  if (work < double(parallel_min_work) || in_parallel_region() || get_num_threads() == 1) {
    gemv_columns<Tiles>(p, by_dots, x, x_stride, 0, p.N);
    return;
  }
  const std::int64_t units = (p.N + unit - 1) / unit;
  const std::int64_t unit_work = std::max<std::int64_t>(1, p.M * p.K * unit);
  const std::int64_t grain =
      std::max<std::int64_t>(1, (chunk_min_work + unit_work - 1) / unit_work);
  parallel_for(0, units, grain, [&](std::int64_t first, std::int64_t last) {
    gemv_columns<Tiles>(p, by_dots, x, x_stride, first * unit, std::min(p.N, last * unit));
  });
}

}  // namespace gemv_detail

// True when gemv() takes B with these strides: its rows or its columns contiguous.
inline bool gemv_supports(std::int64_t b_row_stride, std::int64_t b_col_stride) {
  return b_row_stride == 1 || b_col_stride == 1;
}

// C[M,N] = alpha * A[M,K] @ B[K,N] + beta * C, for A with few rows (any M works; each
// group of four rows reads B once), without packing. A and C have arbitrary strides; B
// must have unit row or column stride (gemv_supports). The conventions of gemm: beta == 0
// never reads C; alpha == 0 or K == 0 gives C = beta * C without reading A or B. Bitwise
// identical results for any thread count.
template <class T>
void gemv(std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t a_row_stride, std::int64_t a_col_stride,
          const T* B, std::int64_t b_row_stride, std::int64_t b_col_stride,
          T beta, T* C, std::int64_t c_row_stride, std::int64_t c_col_stride) {
  LATENT_CHECK(M >= 0 && N >= 0 && K >= 0, "gemv: negative size M=", M, " N=", N, " K=", K);
  LATENT_CHECK(gemv_supports(b_row_stride, b_col_stride), "gemv: B needs a unit stride, has (",
               b_row_stride, ", ", b_col_stride, ")");
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == T(0)) {
    for (std::int64_t m = 0; m < M; ++m) {
      for (std::int64_t n = 0; n < N; ++n) {
        T& c = C[m * c_row_stride + n * c_col_stride];
        c = (beta == T(0)) ? T(0) : beta * c;
      }
    }
    return;
  }
  gemv_detail::gemv_product(gemv_detail::Product<T>{M, N, K, alpha, A, a_row_stride, a_col_stride,
                                                    B, b_row_stride, b_col_stride, beta, C,
                                                    c_row_stride, c_col_stride});
}

}  // namespace latent::kernels
