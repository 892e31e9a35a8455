// General matrix multiply, C = alpha * A @ B + beta * C, for float and double.
//
// gemm_reference.hpp holds the triple loop that defines the result; this file computes it
// the way fast BLAS libraries do (the BLIS blocking), in five nested loops:
//
//   for jc in N, step nc                      a panel of nc columns of C and B
//     for pc in K, step kc                    a slice of the shared dimension
//       pack B[pc:+kc, jc:+nc]                -> slivers of NR columns   (L2 / L3)
//       for ic in M, step mc                  a block of rows
//         pack A[ic:+mc, pc:+kc]              -> slivers of MR rows      (L2)
//         for jr in nc, step NR               one sliver of B            (L1)
//           for ir in mc, step MR             one sliver of A
//             C[ic+ir:+MR, jc+jr:+NR] = A sliver @ B sliver (+ C)   (the micro-kernel)
//
// The micro-kernel (gemm_microkernel_*.hpp) keeps its MR x NR tile of C in registers; the
// block sizes keep its operands in cache; packing (gemm_pack.hpp) lays them out in the
// order the kernel reads them. An operand that the kernels would read only once or twice,
// or a row-major A block small enough to stay in cache, is used where it lies instead
// (see make_plan), which is what keeps small products cheap. A product with only a few
// rows of A (or columns of B), such as one token's step through a Linear layer, has no
// reuse for packing to pay for: it goes to the matrix-vector kernels of gemv.hpp instead
// (see gemv_max_rows).
//
// Threads: C is cut into a grid of rectangles, one per thread, along tile boundaries, and
// each thread runs the loops above on its own rectangle (packing the A rows and B columns
// it needs). K is never split, and K slices depend on K alone, so every element of C is
// summed in the same order by the same kind of tile whatever the thread count: the result
// is bitwise the same on 1 or N threads.
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
#include "gemm_reference.hpp"
#include "gemv.hpp"

namespace latent::kernels {

namespace gemm_detail {

// The micro-kernel and blocking of the instruction set this build targets.
#if defined(LATENT_SIMD_AVX512)
template <class T>
using NativeGemm = Avx512Gemm<T>;
#elif defined(LATENT_SIMD_AVX2)
template <class T>
using NativeGemm = Avx2Gemm<T>;
#elif defined(LATENT_SIMD_NEON)
template <class T>
using NativeGemm = NeonGemm<T>;
#else
template <class T>
using NativeGemm = ScalarGemm<T>;
#endif

// The arguments of one product, as gemm() receives them.
template <class T>
struct Problem {
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

// C^T = B^T @ A^T: the same product seen through swapped strides, every element of C
// summed in the same order. Gives the micro-kernel contiguous rows of a column-major C.
template <class T>
Problem<T> transposed(const Problem<T>& p) {
  Problem<T> t = p;
  t.M = p.N;
  t.N = p.M;
  t.A = p.B;
  t.a_row_stride = p.b_col_stride;
  t.a_col_stride = p.b_row_stride;
  t.B = p.A;
  t.b_row_stride = p.a_col_stride;
  t.b_col_stride = p.a_row_stride;
  t.c_row_stride = p.c_col_stride;
  t.c_col_stride = p.c_row_stride;
  return t;
}

// The rectangle C[m_begin:m_end, n_begin:n_end] of the product, as a product of its own.
template <class T>
Problem<T> sub_problem(const Problem<T>& p, std::int64_t m_begin, std::int64_t m_end,
                       std::int64_t n_begin, std::int64_t n_end) {
  Problem<T> s = p;
  s.M = m_end - m_begin;
  s.N = n_end - n_begin;
  s.A = p.A + m_begin * p.a_row_stride;
  s.B = p.B + n_begin * p.b_col_stride;
  s.C = p.C + m_begin * p.c_row_stride + n_begin * p.c_col_stride;
  return s;
}

// C = beta * C (beta == 0 writes zeros without reading C).
template <class T>
void scale_c(const Problem<T>& p) {
  if (p.beta == T(1)) return;
  for (std::int64_t i = 0; i < p.M; ++i) {
    for (std::int64_t j = 0; j < p.N; ++j) {
      T& c = p.C[i * p.c_row_stride + j * p.c_col_stride];
      c = (p.beta == T(0)) ? T(0) : p.beta * c;
    }
  }
}

// `total` cut into ceil(total / step) nearly equal pieces, each rounded up to a multiple
// of `unit`; returns the piece size. Depends on its arguments alone.
inline std::int64_t balanced_step(std::int64_t total, std::int64_t step, std::int64_t unit) {
  const std::int64_t pieces = std::max<std::int64_t>(1, (total + step - 1) / step);
  const std::int64_t size = (total + pieces - 1) / pieces;
  return (size + unit - 1) / unit * unit;
}

// What the driver decided for one product.
struct Plan {
  std::int64_t kc = 0;  // length of a K slice (the same for every thread count)
  bool pack_a = true;   // false: the micro-kernel reads A where it lies
  bool pack_b = true;   // false: ... and B, whose rows must then be contiguous
};

template <class G, class T>
Plan make_plan(const Problem<T>& p) {
  Plan plan;
  plan.kc = balanced_step(p.K, G::kc, 1);
  // An A sliver is read through broadcasts, so A could be used in any layout; a row-major
  // A is read as MR forward streams. Packing pays for itself when the A block is reused
  // by more than two B slivers, unless the block is small enough (64 KiB) to stay in cache
  // where it lies, whatever its row stride.
  const bool small_a = p.M * plan.kc * std::int64_t(sizeof(T)) <= 64 * 1024;
  plan.pack_a = !(p.a_col_stride == 1 && (p.N <= 2 * G::nr || small_a));
  // A B sliver is read one row of NR values at a time, so B must have contiguous rows to
  // be used in place, and its rows then land anywhere in L1: only worth it when the
  // sliver serves at most two A slivers.
  plan.pack_b = !(p.b_col_stride == 1 && p.M <= 2 * G::mr);
  return plan;
}

// Where the micro-kernels of one block find their operands, packed or in place:
//   A sliver s (MR rows):    A(r, p) = a[s * a_sliver_step + r * a_row_stride + p * a_k_stride]
//   B sliver q (NR columns): B(p, c) = b[q * b_sliver_step + p * b_k_stride + c],
//                            except a ragged last sliver read in place, taken from b_edge.
template <class T>
struct BlockView {
  const T* a;
  std::int64_t a_sliver_step, a_row_stride, a_k_stride;
  const T* b;
  std::int64_t b_sliver_step, b_k_stride;
  const T* b_edge;
  bool b_packed;
};

// The two inner loops: C[0:mc, 0:nc] (at c) = A block @ B panel (+ beta C), one micro-tile
// per pair of slivers, each B sliver kept in L1 while every A sliver passes it.
template <class G, class T>
void multiply_block(const BlockView<T>& v, std::int64_t mc, std::int64_t nc, std::int64_t kc,
                    T* c, std::int64_t c_row_stride, std::int64_t c_col_stride, T alpha, T beta) {
  constexpr int MR = G::mr;
  constexpr int NR = G::nr;
  const std::int64_t slivers = (nc + NR - 1) / NR;
  const std::int64_t calls = (mc + MR - 1) / MR;  // micro-kernel calls per B sliver
  for (std::int64_t q = 0; q < slivers; ++q) {
    const int cols = static_cast<int>(std::min<std::int64_t>(NR, nc - q * NR));
    const T* b_sliver = (cols < NR && !v.b_packed) ? v.b_edge : v.b + q * v.b_sliver_step;
    const std::int64_t b_k_stride = (cols < NR && !v.b_packed) ? NR : v.b_k_stride;
    // While the micro-kernels use this sliver, pull the next packed one from L3 toward L2,
    // a share of its cache lines before each call.
    const char* next = (v.b_packed && q + 1 < slivers)
                           ? reinterpret_cast<const char*>(b_sliver + v.b_sliver_step)
                           : nullptr;
    const std::int64_t next_lines = NR * kc * std::int64_t(sizeof(T)) / 64;
    for (std::int64_t s = 0; s < calls; ++s) {
      if (next != nullptr) {
        for (std::int64_t line = s * next_lines / calls; line < (s + 1) * next_lines / calls;
             ++line) {
          LATENT_GEMM_PREFETCH_L2(next + 64 * line);
        }
      }
      MicroTile<T> tile;
      tile.k_len = kc;
      tile.a = v.a + s * v.a_sliver_step;
      tile.a_row_stride = v.a_row_stride;
      tile.a_k_stride = v.a_k_stride;
      tile.b = b_sliver;
      tile.b_k_stride = b_k_stride;
      tile.c = c + s * MR * c_row_stride + q * NR * c_col_stride;
      tile.c_row_stride = c_row_stride;
      tile.c_col_stride = c_col_stride;
      tile.rows = static_cast<int>(std::min<std::int64_t>(MR, mc - s * MR));
      tile.cols = cols;
      tile.alpha = alpha;
      tile.beta = beta;
      G::run(tile);
    }
  }
}

// The five loops on one rectangle of C, on the calling thread.
template <class G, class T>
void gemm_serial(const Problem<T>& p, const Plan& plan) {
  static_assert(G::mc % G::mr == 0 && G::nc % G::nr == 0, "gemm: blocks must hold whole slivers");
  constexpr int MR = G::mr;
  constexpr int NR = G::nr;
  const std::int64_t mc_step = balanced_step(p.M, G::mc, MR);
  const std::int64_t nc_step = std::min<std::int64_t>(G::nc, (p.N + NR - 1) / NR * NR);
  // This thread's scratch: one packed block of A, one packed panel of B (or, when B is
  // read in place, room for the one sliver at a ragged right edge).
  T* a_packed = plan.pack_a ? thread_scratch_a().get<T>(mc_step * plan.kc) : nullptr;
  T* b_packed = thread_scratch_b().get<T>((plan.pack_b ? nc_step : NR) * plan.kc);

  for (std::int64_t jc = 0; jc < p.N; jc += nc_step) {
    const std::int64_t nc = std::min(nc_step, p.N - jc);
    for (std::int64_t pc = 0; pc < p.K; pc += plan.kc) {
      const std::int64_t kc = std::min(plan.kc, p.K - pc);
      // The first slice applies the caller's beta; later ones add to what it left.
      const T beta = (pc == 0) ? p.beta : T(1);

      BlockView<T> v;
      v.b_packed = plan.pack_b;
      v.b_edge = b_packed;
      const T* b_panel = p.B + pc * p.b_row_stride + jc * p.b_col_stride;
      if (plan.pack_b) {
        pack_b<NR>(kc, nc, b_panel, p.b_row_stride, p.b_col_stride, b_packed);
        v.b = b_packed;
        v.b_sliver_step = NR * kc;
        v.b_k_stride = NR;
      } else {
        v.b = b_panel;  // unit column stride
        v.b_sliver_step = NR;
        v.b_k_stride = p.b_row_stride;
        const std::int64_t edge = nc / NR * NR;
        if (edge < nc) {
          pack_b_sliver<NR>(kc, static_cast<int>(nc - edge), b_panel + edge, p.b_row_stride,
                            1, b_packed);
        }
      }

      for (std::int64_t ic = 0; ic < p.M; ic += mc_step) {
        const std::int64_t mc = std::min(mc_step, p.M - ic);
        const T* a_block = p.A + ic * p.a_row_stride + pc * p.a_col_stride;
        if (plan.pack_a) {
          pack_a<MR>(mc, kc, a_block, p.a_row_stride, p.a_col_stride, a_packed);
          v.a = a_packed;
          v.a_sliver_step = MR * kc;
          v.a_row_stride = 1;
          v.a_k_stride = MR;
        } else {
          v.a = a_block;
          v.a_sliver_step = MR * p.a_row_stride;
          v.a_row_stride = p.a_row_stride;
          v.a_k_stride = p.a_col_stride;
        }
        multiply_block<G>(v, mc, nc, kc, p.C + ic * p.c_row_stride + jc * p.c_col_stride,
                          p.c_row_stride, p.c_col_stride, p.alpha, beta);
      }
    }
  }
}

// How C is shared out: a grid of m_parts x n_parts rectangles, one per thread.
struct Split {
  std::int64_t m_parts = 1;
  std::int64_t n_parts = 1;
};

// The grid whose busiest rectangle has the least work: its tiles (MR x NR multiply-adds
// each, per step of K) plus the rows of A and columns of B it packs (about as costly as
// 16 multiply-adds per value).
template <class G>
Split choose_split(std::int64_t m_tiles, std::int64_t n_tiles, int threads, const Plan& plan) {
  Split best;
  double best_cost = -1;
  const std::int64_t most_m_parts = std::min<std::int64_t>(threads, m_tiles);
  for (std::int64_t m_parts = 1; m_parts <= most_m_parts; ++m_parts) {
    const std::int64_t n_parts = std::min<std::int64_t>(threads / m_parts, n_tiles);
    const std::int64_t rows = (m_tiles + m_parts - 1) / m_parts;  // in tiles
    const std::int64_t cols = (n_tiles + n_parts - 1) / n_parts;
    const double packed = (plan.pack_a ? rows * G::mr : 0) + (plan.pack_b ? cols * G::nr : 0);
    const double cost = double(rows) * double(cols) * G::mr * G::nr + 16.0 * packed;
    if (best_cost < 0 || cost < best_cost) {
      best = Split{m_parts, n_parts};
      best_cost = cost;
    }
  }
  return best;
}

// Products with fewer multiply-adds than this run on the calling thread: waking the others
// would cost more than they save.
inline constexpr std::int64_t parallel_min_work = std::int64_t(1) << 21;

// The blocked product (M, N, K > 0, alpha != 0), on as many threads as it is worth.
template <class G, class T>
void gemm_blocked(const Problem<T>& p) {
  constexpr int MR = G::mr;
  constexpr int NR = G::nr;
  const Plan plan = make_plan<G>(p);
  const bool big = double(p.M) * double(p.N) * double(p.K) >= double(parallel_min_work);
  const int threads = (big && !in_parallel_region()) ? get_num_threads() : 1;
  if (threads == 1) {
    gemm_serial<G>(p, plan);
    return;
  }
  const std::int64_t m_tiles = (p.M + MR - 1) / MR;
  const std::int64_t n_tiles = (p.N + NR - 1) / NR;
  const Split split = choose_split<G>(m_tiles, n_tiles, threads, plan);
  parallel_for(0, split.m_parts * split.n_parts, 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t part = first; part < last; ++part) {
      // Rectangle (i, j) gets an even share of the tile rows and tile columns.
      const std::int64_t i = part / split.n_parts;
      const std::int64_t j = part % split.n_parts;
      const std::int64_t m_begin = i * m_tiles / split.m_parts * MR;
      const std::int64_t m_end = std::min(p.M, (i + 1) * m_tiles / split.m_parts * MR);
      const std::int64_t n_begin = j * n_tiles / split.n_parts * NR;
      const std::int64_t n_end = std::min(p.N, (j + 1) * n_tiles / split.n_parts * NR);
      gemm_serial<G>(sub_problem(p, m_begin, m_end, n_begin, n_end), plan);
    }
  });
}

// Rows of A up to which the matrix-vector path (gemv.hpp, nothing packed) is faster than
// the blocked one, measured with AVX2 for K and N from 96 to 768: when B's columns are
// contiguous (W [N, K] read transposed, which the blocked path would have to pack), up to
// 16 for K >= 256 (1.2x faster at 16 rows, K = N = 768) and 8 below (2x faster at 8 rows,
// 6x at 1); up to 2 when B's rows are (the blocked path then reads B in place, and its
// micro-kernel wins from 3 rows on). 0: B has neither layout.
template <class T>
std::int64_t gemv_row_limit(const Problem<T>& p) {
  if (gemv_detail::columns_contiguous(p.b_row_stride, p.b_col_stride, p.N)) return p.K >= 256 ? 16 : 8;
  return p.b_col_stride == 1 ? 2 : 0;
}

template <class T>
void run_gemv(const Problem<T>& p) {
  gemv(p.M, p.N, p.K, p.alpha, p.A, p.a_row_stride, p.a_col_stride, p.B, p.b_row_stride,
       p.b_col_stride, p.beta, p.C, p.c_row_stride, p.c_col_stride);
}

template <class T>
void gemm_dispatch(const Problem<T>& p) {
  LATENT_CHECK(p.M >= 0 && p.N >= 0 && p.K >= 0, "gemm: negative size M=", p.M, " N=", p.N,
               " K=", p.K);
  if (p.M == 0 || p.N == 0) return;
  if constexpr (!std::is_same_v<T, float> && !std::is_same_v<T, double>) {
    gemm_reference(p.M, p.N, p.K, p.alpha, p.A, p.a_row_stride, p.a_col_stride, p.B,
                   p.b_row_stride, p.b_col_stride, p.beta, p.C, p.c_row_stride,
                   p.c_col_stride);
  } else if (p.K == 0 || p.alpha == T(0)) {
    scale_c(p);
  } else if (p.M <= gemv_row_limit(p)) {
    run_gemv(p);  // a few rows of A: a matrix-vector product
  } else if (p.N <= gemv_row_limit(transposed(p))) {
    run_gemv(transposed(p));  // a few columns of B: C^T = B^T A^T, the same
  } else if (p.c_col_stride != 1 && p.c_row_stride == 1) {
    gemm_blocked<NativeGemm<T>>(transposed(p));  // column-major C
  } else {
    gemm_blocked<NativeGemm<T>>(p);
  }
}

}  // namespace gemm_detail

// C[M,N] = alpha * A[M,K] @ B[K,N] + beta * C, every operand with arbitrary row and column
// strides (in elements), so a transposed operand is the same memory with swapped strides.
// beta == 0 never reads C; alpha == 0 never reads A or B; K == 0 gives C = beta * C.
// Bitwise identical results for any thread count. T other than float and double uses the
// reference loop.
template <class T>
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t a_row_stride, std::int64_t a_col_stride,
          const T* B, std::int64_t b_row_stride, std::int64_t b_col_stride,
          T beta, T* C, std::int64_t c_row_stride, std::int64_t c_col_stride) {
  gemm_detail::gemm_dispatch(gemm_detail::Problem<T>{M, N, K, alpha, A, a_row_stride,
                                                     a_col_stride, B, b_row_stride,
                                                     b_col_stride, beta, C, c_row_stride,
                                                     c_col_stride});
}

// `batch` independent products; product i reads A + i * a_batch_stride and
// B + i * b_batch_stride and writes C + i * c_batch_stride. Many small products run one per
// thread; a few large ones are each shared out.
template <class T>
void gemm_batched(std::int64_t batch, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
                  const T* A, std::int64_t a_batch_stride, std::int64_t a_row_stride,
                  std::int64_t a_col_stride,
                  const T* B, std::int64_t b_batch_stride, std::int64_t b_row_stride,
                  std::int64_t b_col_stride,
                  T beta, T* C, std::int64_t c_batch_stride, std::int64_t c_row_stride,
                  std::int64_t c_col_stride) {
  LATENT_CHECK(batch >= 0 && M >= 0 && N >= 0 && K >= 0, "gemm_batched: negative size batch=",
               batch, " M=", M, " N=", N, " K=", K);
  auto product = [&](std::int64_t i) {
    gemm(M, N, K, alpha, A + i * a_batch_stride, a_row_stride, a_col_stride,
         B + i * b_batch_stride, b_row_stride, b_col_stride, beta, C + i * c_batch_stride,
         c_row_stride, c_col_stride);
  };
  const int threads = in_parallel_region() ? 1 : get_num_threads();
  const bool small = double(M) * double(N) * double(K) < double(gemm_detail::parallel_min_work);
  const bool even = batch % threads == 0 || batch >= 4 * threads;
  if (threads > 1 && batch > 1 && (small || even)) {
    // One product per thread at a time (each then runs on its thread alone).
    const std::int64_t grain = (batch + threads - 1) / threads;
    parallel_for(0, batch, grain, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t i = first; i < last; ++i) product(i);
    });
  } else {
    for (std::int64_t i = 0; i < batch; ++i) product(i);
  }
}

}  // namespace latent::kernels
