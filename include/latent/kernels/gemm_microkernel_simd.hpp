// The register-blocked GEMM micro-kernel, written once for every SIMD instruction set.
//
// The tile is up to MR rows by NV vectors of V::lanes values. For each p of the shared
// dimension the kernel loads the NV vectors of row p of the B sliver, then for each row r
// broadcasts the single value A(r, p) and does NV fused multiply-adds:
//
//   acc[r][v] += broadcast(A(r, p)) * B(p, v*lanes .. v*lanes + lanes-1)
//
// The MR * NV accumulators stay in registers for the whole loop, so each value of A is
// used NV * lanes times and each vector of B MR times per load. The vector set V supplies
// the register type and seven operations (zero, load, store, broadcast, splat, fma, mul);
// the per-ISA files (gemm_microkernel_avx2.hpp, ...) define V and pick MR and NV so that
// the accumulators, the B row and one broadcast fill the register file.
//
// The kernel is compiled once for every row count 1..MR, so the last, partial panel of rows
// costs only its real rows. It is ScalarMicroKernel (gemm_microkernel_scalar.hpp) with the
// loop over columns done a vector at a time: the same terms, added in the same order.
#pragma once

#include <cstdint>

#include "../core/config.hpp"
#include "gemm_microkernel_scalar.hpp"

namespace latent::kernels::gemm_detail {

template <class V, int MR, int NV>
struct SimdMicroKernel {
  using T = typename V::Scalar;
  using Reg = typename V::Reg;
  static constexpr int mr = MR;
  static constexpr int nr = NV * V::lanes;

  static void run(const MicroTile<T>& t) { run_rows_at_most<MR>(t); }

 private:
  // Calls run_rows<t.rows>, choosing among the compiled row counts.
  template <int Rows>
  static LATENT_ALWAYS_INLINE void run_rows_at_most(const MicroTile<T>& t) {
    if constexpr (Rows > 1) {
      if (t.rows < Rows) {
        run_rows_at_most<Rows - 1>(t);
        return;
      }
    }
    run_rows<Rows>(t);
  }

  template <int Rows>
  static void run_rows(const MicroTile<T>& t) {
    Reg acc[Rows][NV];
    const T* a_row[Rows];
    LATENT_GEMM_UNROLL(32)
    for (int r = 0; r < Rows; ++r) {
      LATENT_GEMM_UNROLL(32)
      for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();
      a_row[r] = t.a + r * t.a_row_stride;
      // Ask for this row of the C tile now, so that it has arrived when the sums are done.
      LATENT_GEMM_PREFETCH_L1(t.c + r * t.c_row_stride);
      LATENT_GEMM_PREFETCH_L1(t.c + r * t.c_row_stride + (t.cols - 1) * t.c_col_stride);
    }

    const std::int64_t a_k_stride = t.a_k_stride;
    const std::int64_t b_k_stride = t.b_k_stride;
    const std::int64_t k_len = t.k_len;
    const T* b = t.b;
    LATENT_GEMM_UNROLL(4)
    for (std::int64_t p = 0; p < k_len; ++p, b += b_k_stride) {
      Reg b_row[NV];
      LATENT_GEMM_UNROLL(32)
      for (int v = 0; v < NV; ++v) b_row[v] = V::load(b + v * V::lanes);
      const std::int64_t a_offset = p * a_k_stride;
      LATENT_GEMM_UNROLL(32)
      for (int r = 0; r < Rows; ++r) {
        const Reg a_rp = V::broadcast(a_row[r] + a_offset);
        LATENT_GEMM_UNROLL(32)
        for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(a_rp, b_row[v], acc[r][v]);
      }
    }

    if (t.cols == nr && t.c_col_stride == 1) {
      // Whole rows of contiguous C: update C straight from the registers,
      // C = alpha * acc (+ beta * C, fused).
      const Reg alpha = V::splat(t.alpha);
      const Reg beta = V::splat(t.beta);
      const bool scale = t.alpha != T(1);
      const bool read_c = t.beta != T(0);
      LATENT_GEMM_UNROLL(32)
      for (int r = 0; r < Rows; ++r) {
        T* c_row = t.c + r * t.c_row_stride;
        LATENT_GEMM_UNROLL(32)
        for (int v = 0; v < NV; ++v) {
          Reg value = scale ? V::mul(alpha, acc[r][v]) : acc[r][v];
          if (read_c) value = V::fma(beta, V::load(c_row + v * V::lanes), value);
          V::store(c_row + v * V::lanes, value);
        }
      }
    } else {
      // Partial or strided rows: spill the registers and let the scalar code write.
      alignas(64) T spilled[Rows * nr];
      LATENT_GEMM_UNROLL(32)
      for (int r = 0; r < Rows; ++r) {
        LATENT_GEMM_UNROLL(32)
        for (int v = 0; v < NV; ++v) V::store(spilled + r * nr + v * V::lanes, acc[r][v]);
      }
      write_back_tile(spilled, nr, t);
    }
  }
};

}  // namespace latent::kernels::gemm_detail
