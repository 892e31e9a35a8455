// General matrix multiply, C = alpha * A @ B + beta * C, for float and double.
//
// gemm_reference.hpp holds the triple loop that defines the result; this file computes it
// the way fast BLAS libraries do (the "BLIS" blocking), in five nested loops:
//
//   for jc in N, step nc                       a panel of nc columns of C and B
//     for pc in K, step kc                     a slice of the shared dimension
//       pack B[pc:+kc, jc:+nc]                 -> panels of NR columns (gemm_pack.hpp)
//       for ic in M, step mc                   (split among threads)
//         pack A[ic:+mc, pc:+kc]               -> panels of MR rows
//         for jr in nc, step NR                a sliver of B, kept in L1
//           for ir in mc, step MR              a sliver of A, streamed from L2
//             C[ic+ir:+MR, jc+jr:+NR] += A sliver @ B sliver      (the micro-kernel)
//
// The micro-kernel (gemm_microkernel_*.hpp) keeps its MR x NR tile of C in registers; the
// block sizes keep its operands in cache. Packing is skipped where the source is already
// laid out well enough (see `Plan`), which is what makes small products cheap.
//
// Determinism: K is cut into slices that depend on K alone, and each element of C is
// summed by the micro-kernel in increasing p inside a slice, slice after slice. Threads
// only share out the tiles of C (rows and columns, never K), so the result is bitwise the
// same for any thread count, and whichever packing choice was made.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
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

// C^T = B^T @ A^T: the same product seen through swapped strides, with every element of C
// summed in the same order. Used to give the micro-kernel contiguous rows of C.
template <class T>
Problem<T> transposed(const Problem<T>& p) {
  return Problem<T>{p.N,
                    p.M,
                    p.K,
                    p.alpha,
                    p.B,
                    p.b_col_stride,
                    p.b_row_stride,
                    p.A,
                    p.a_col_stride,
                    p.a_row_stride,
                    p.beta,
                    p.C,
                    p.c_col_stride,
                    p.c_row_stride};
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

// `total` split into ceil(total / step) nearly equal pieces, each rounded up to a multiple
// of `unit`. Depends only on its arguments, so K slices never depend on the thread count.
inline std::int64_t balanced_step(std::int64_t total, std::int64_t step, std::int64_t unit) {
  const std::int64_t pieces = std::max<std::int64_t>(1, (total + step - 1) / step);
  const std::int64_t size = (total + pieces - 1) / pieces;
  return (size + unit - 1) / unit * unit;
}

// How the tiles of one panel of C are shared out: a grid of m_parts x n_parts rectangles,
// one task each. Splitting rows is preferred (each task then packs only its own A rows).
struct Split {
  std::int64_t m_parts = 1;
  std::int64_t n_parts = 1;
};

inline Split choose_split(std::int64_t m_panels, std::int64_t n_panels, int threads) {
  Split best;
  std::int64_t best_cost = m_panels * n_panels;
  for (std::int64_t m_parts = 1; m_parts <= threads; ++m_parts) {
    for (std::int64_t n_parts = 1; m_parts * n_parts <= threads; ++n_parts) {
      if (m_parts > m_panels || n_parts > n_panels) continue;
      // Work of the busiest task, in micro-tiles.
      const std::int64_t cost =
          ((m_panels + m_parts - 1) / m_parts) * ((n_panels + n_parts - 1) / n_parts);
      if (cost < best_cost || (cost == best_cost && n_parts < best.n_parts)) {
        best = Split{m_parts, n_parts};
        best_cost = cost;
      }
    }
  }
  return best;
}

// Products below this many multiply-adds run on the calling thread: waking the others costs
// more than they would save.
constexpr std::int64_t parallel_min_work = std::int64_t(1) << 20;

// What the blocked driver decided for one product.
struct Plan {
  std::int64_t kc = 0;  // length of a K slice
  bool pack_a = true;   // false: the micro-kernel reads A where it lies
  bool pack_b = true;   // false: ... and B (needs a unit column stride)
  int threads = 1;
};

template <class G, class T>
Plan make_plan(const Problem<T>& p) {
  Plan plan;
  plan.kc = balanced_step(p.K, G::kc, 1);
  // An A sliver is read through broadcasts, so any layout works; a row-major one streams
  // MR rows forwards. Packing pays off when the A block is reused across many B slivers.
  plan.pack_a = !(p.a_col_stride == 1 && p.N <= 4 * G::nr);
  // A B sliver is read a row of NR values at a time, which must be contiguous. Unpacked
  // rows land anywhere in L1, so only a small B is read in place.
  plan.pack_b = !(p.b_col_stride == 1 && p.M <= 2 * G::mr);
  if (const char* e = std::getenv("TUNE_PACK_A")) plan.pack_a = e[0] == '1' || p.a_col_stride != 1;
  if (const char* e = std::getenv("TUNE_PACK_B")) plan.pack_b = e[0] == '1' || p.b_col_stride != 1;
  if (const char* e = std::getenv("TUNE_KC")) plan.kc = balanced_step(p.K, std::atoi(e), 1);
  const bool big = p.M * p.N * p.K >= parallel_min_work;
  plan.threads = (big && !in_parallel_region()) ? get_num_threads() : 1;
  return plan;
}

// One task: rows [m_begin, m_end) and columns [n_begin, n_end) of C (n_begin a multiple of
// NR), over the K slice [pc, pc + kc). The task packs the B slivers of its columns while
// it works through its first block of rows, when each packed sliver is fresh in L1, and
// reuses them for its later blocks of rows.
template <class G, class T>
void run_task(const Problem<T>& p, const Plan& plan, std::int64_t pc, std::int64_t kc, T beta,
              std::int64_t m_begin, std::int64_t m_end, std::int64_t n_begin,
              std::int64_t n_end) {
  constexpr int MR = G::mr;
  constexpr int NR = G::nr;
  static const std::int64_t tune_mc =
      std::getenv("TUNE_MC") ? std::atoi(std::getenv("TUNE_MC")) : G::mc;
  static const bool nopack = std::getenv("TUNE_NOPACK") != nullptr;
  const std::int64_t mc_step = balanced_step(m_end - m_begin, tune_mc, MR);
  const std::int64_t slivers = (n_end - n_begin + NR - 1) / NR;
  // This thread's scratch: a packed block of A, and the packed slivers of B (or, when B
  // is read in place, the one sliver at a ragged right edge).
  T* a_packed = plan.pack_a ? thread_scratch_a().get<T>(mc_step * kc) : nullptr;
  T* b_packed = thread_scratch_b().get<T>((plan.pack_b ? slivers : 1) * NR * kc);
  const T* b_slice = p.B + pc * p.b_row_stride;

  for (std::int64_t ic = m_begin; ic < m_end; ic += mc_step) {
    const std::int64_t mc = std::min(mc_step, m_end - ic);
    const T* a_block = p.A + ic * p.a_row_stride + pc * p.a_col_stride;
    std::int64_t a_row_stride = p.a_row_stride, a_k_stride = p.a_col_stride;
    std::int64_t a_sliver_step = MR * p.a_row_stride;
    if (plan.pack_a) {
      if (!nopack) pack_a<MR>(mc, kc, a_block, p.a_row_stride, p.a_col_stride, a_packed);
      a_block = a_packed;
      a_row_stride = 1;
      a_k_stride = MR;
      a_sliver_step = MR * kc;
    }
    const bool first_block = ic == m_begin;
    for (std::int64_t q = 0; q < slivers; ++q) {
      const std::int64_t jr = n_begin + q * NR;
      const int cols = static_cast<int>(std::min<std::int64_t>(NR, n_end - jr));
      const T* b_source = b_slice + jr * p.b_col_stride;
      const T* b_sliver = b_source;
      std::int64_t b_k_stride = p.b_row_stride;
      if (plan.pack_b || cols < NR) {
        T* packed = plan.pack_b ? b_packed + q * NR * kc : b_packed;
        if (first_block && !nopack) {
          pack_b_panel<NR>(kc, cols, b_source, p.b_row_stride, p.b_col_stride, packed);
        }
        b_sliver = packed;
        b_k_stride = NR;
      }
      for (std::int64_t ir = 0; ir < mc; ir += MR) {
        MicroTile<T> tile;
        tile.k_len = kc;
        tile.a = a_block + (ir / MR) * a_sliver_step;
        tile.a_row_stride = a_row_stride;
        tile.a_k_stride = a_k_stride;
        tile.b = b_sliver;
        tile.b_k_stride = b_k_stride;
        tile.c = p.C + (ic + ir) * p.c_row_stride + jr * p.c_col_stride;
        tile.c_row_stride = p.c_row_stride;
        tile.c_col_stride = p.c_col_stride;
        tile.rows = static_cast<int>(std::min<std::int64_t>(MR, mc - ir));
        tile.cols = cols;
        tile.alpha = p.alpha;
        tile.beta = beta;
        G::run(tile);
      }
    }
  }
}

// The blocked product (M, N, K > 0, alpha != 0).
template <class G, class T>
void gemm_blocked(const Problem<T>& p) {
  constexpr int MR = G::mr;
  constexpr int NR = G::nr;
  const Plan plan = make_plan<G>(p);
  const std::int64_t m_panels = (p.M + MR - 1) / MR;

  for (std::int64_t jc = 0; jc < p.N; jc += G::nc) {
    const std::int64_t nc = std::min(G::nc, p.N - jc);
    const std::int64_t n_panels = (nc + NR - 1) / NR;
    const Split split = choose_split(m_panels, n_panels, plan.threads);
    // The panel of C and B this jc iteration works on, columns counted from jc.
    Problem<T> panel = p;
    panel.N = nc;
    panel.B = p.B + jc * p.b_col_stride;
    panel.C = p.C + jc * p.c_col_stride;

    for (std::int64_t pc = 0; pc < p.K; pc += plan.kc) {
      const std::int64_t kc = std::min(plan.kc, p.K - pc);
      // The first slice applies the caller's beta; later ones add to what it left.
      const T beta = (pc == 0) ? p.beta : T(1);
      parallel_for(0, split.m_parts * split.n_parts, 1, [&](std::int64_t first, std::int64_t last) {
        for (std::int64_t task = first; task < last; ++task) {
          // Task (i, j) gets an even share of the row and column panels.
          const std::int64_t i = task / split.n_parts, j = task % split.n_parts;
          const std::int64_t m_begin = i * m_panels / split.m_parts * MR;
          const std::int64_t m_end = std::min(p.M, (i + 1) * m_panels / split.m_parts * MR);
          const std::int64_t n_begin = j * n_panels / split.n_parts * NR;
          const std::int64_t n_end = std::min(nc, (j + 1) * n_panels / split.n_parts * NR);
          run_task<G>(panel, plan, pc, kc, beta, m_begin, m_end, n_begin, n_end);
        }
      });
    }
  }
}

template <class T>
void gemm_dispatch(const Problem<T>& p) {
  LATENT_CHECK(p.M >= 0 && p.N >= 0 && p.K >= 0, "gemm: negative size M=", p.M, " N=", p.N,
               " K=", p.K);
  if (p.M == 0 || p.N == 0) return;
  if constexpr (!std::is_same_v<T, float> && !std::is_same_v<T, double>) {
    gemm_reference(p.M, p.N, p.K, p.alpha, p.A, p.a_row_stride, p.a_col_stride, p.B, p.b_row_stride,
                   p.b_col_stride, p.beta, p.C, p.c_row_stride, p.c_col_stride);
  } else {
    if (p.K == 0 || p.alpha == T(0)) {
      scale_c(p);
    } else if (p.c_col_stride != 1 && p.c_row_stride == 1) {
      gemm_blocked<NativeGemm<T>>(transposed(p));  // column-major C
    } else {
      gemm_blocked<NativeGemm<T>>(p);
    }
  }
}

}  // namespace gemm_detail

// C[M,N] = alpha * A[M,K] @ B[K,N] + beta * C, every operand with arbitrary row and column
// strides (in elements). beta == 0 never reads C; alpha == 0 never reads A or B; K == 0
// gives C = beta * C. Bitwise identical results for any thread count.
template <class T>
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
          std::int64_t a_row_stride, std::int64_t a_col_stride, const T* B,
          std::int64_t b_row_stride, std::int64_t b_col_stride, T beta, T* C,
          std::int64_t c_row_stride, std::int64_t c_col_stride) {
  gemm_detail::gemm_dispatch(gemm_detail::Problem<T>{M, N, K, alpha, A, a_row_stride, a_col_stride,
                                                     B, b_row_stride, b_col_stride, beta, C,
                                                     c_row_stride, c_col_stride});
}

// `batch` independent products: operand i starts at A + i * a_batch_stride (and so on).
// Many small products run one per thread; a few large ones are each split.
template <class T>
void gemm_batched(std::int64_t batch, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
                  const T* A, std::int64_t a_batch_stride, std::int64_t a_row_stride,
                  std::int64_t a_col_stride, const T* B, std::int64_t b_batch_stride,
                  std::int64_t b_row_stride, std::int64_t b_col_stride, T beta, T* C,
                  std::int64_t c_batch_stride, std::int64_t c_row_stride,
                  std::int64_t c_col_stride) {
  LATENT_CHECK(batch >= 0 && M >= 0 && N >= 0 && K >= 0,
               "gemm_batched: negative size batch=", batch, " M=", M, " N=", N, " K=", K);
  auto one = [&](std::int64_t i) {
    gemm(M, N, K, alpha, A + i * a_batch_stride, a_row_stride, a_col_stride, B + i * b_batch_stride,
         b_row_stride, b_col_stride, beta, C + i * c_batch_stride, c_row_stride, c_col_stride);
  };
  const int threads = get_num_threads();
  const bool small = M * N * K < gemm_detail::parallel_min_work;
  const bool per_product = batch >= 4 * threads || batch % threads == 0;
  if (threads > 1 && batch > 1 && (small || per_product)) {
    const std::int64_t grain = (batch + threads - 1) / threads;
    parallel_for(0, batch, grain, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t i = first; i < last; ++i) one(i);
    });
  } else {
    for (std::int64_t i = 0; i < batch; ++i) one(i);
  }
}

}  // namespace latent::kernels
