// Packing for the blocked GEMM: copying a block of A or a panel of B into the order the
// micro-kernel reads it, so that its innermost loop walks memory strictly forwards.
//
// An m x k block of A becomes slivers of MR rows. Sliver q holds, for p = 0, 1, ..., k-1,
// the MR values A(q*MR + 0 .. q*MR + MR-1, p) side by side:
//
//   packed[q*MR*k + p*MR + r] = A(q*MR + r, p)            (0 where q*MR + r >= m)
//
// A k x n panel of B becomes slivers of NR columns. Sliver q holds, for each p, the NR
// values B(p, q*NR + 0 .. q*NR + NR-1):
//
//   packed[q*NR*k + p*NR + c] = B(p, q*NR + c)            (0 where q*NR + c >= n)
//
// Packing reads the source through its two strides, so a transposed operand costs no more
// than a plain one and never needs a full extra copy. The buffers come from a per-thread
// scratch area that only grows, so a program in steady state allocates nothing here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "../core/config.hpp"
#include "gemm_microkernel_scalar.hpp"

namespace latent::kernels::gemm_detail {

// A grow-only, 64-byte aligned scratch area. Its contents do not survive a call to get()
// that grows it.
class AlignedScratch {
 public:
  static constexpr std::size_t alignment = 64;

  AlignedScratch() = default;
  AlignedScratch(const AlignedScratch&) = delete;
  AlignedScratch& operator=(const AlignedScratch&) = delete;
  ~AlignedScratch() { release(); }

  // Room for at least `count` values of T.
  template <class T>
  T* get(std::int64_t count) {
    const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
    if (bytes > capacity_) {
      release();
      // Round up to whole 4 KiB pages so that slowly growing requests settle quickly.
      const std::size_t rounded = (bytes + 4095) / 4096 * 4096;
      data_ = ::operator new(rounded, std::align_val_t(alignment));
      capacity_ = rounded;
    }
    return static_cast<T*>(data_);
  }

 private:
  void release() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t(alignment));
    data_ = nullptr;
    capacity_ = 0;
  }

  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// Each thread owns two scratch areas, one for the block of A and one for the panel of B it
// is working on (threads never share packed data).
inline AlignedScratch& thread_scratch_a() {
  thread_local AlignedScratch scratch;
  return scratch;
}
inline AlignedScratch& thread_scratch_b() {
  thread_local AlignedScratch scratch;
  return scratch;
}

// One sliver of A: rows [0, rows) of the block at `a` (k columns), rows >= `rows` zero.
template <int MR, class T>
void pack_a_sliver(std::int64_t k, int rows, const T* a, std::int64_t row_stride,
                   std::int64_t col_stride, T* LATENT_RESTRICT packed) {
  if (rows == MR && col_stride == 1) {
    // Row-major source: MR rows read side by side, each forwards.
    const T* row[MR];
    for (int r = 0; r < MR; ++r) row[r] = a + r * row_stride;
    for (std::int64_t p = 0; p < k; ++p) {
      LATENT_GEMM_UNROLL(32)
      for (int r = 0; r < MR; ++r) packed[p * MR + r] = row[r][p];
    }
  } else if (rows == MR && row_stride == 1) {
    // Column-major source: each column of the sliver is MR contiguous values.
    for (std::int64_t p = 0; p < k; ++p) {
      std::memcpy(packed + p * MR, a + p * col_stride, MR * sizeof(T));
    }
  } else {
    for (std::int64_t p = 0; p < k; ++p) {
      for (int r = 0; r < MR; ++r) {
        packed[p * MR + r] = (r < rows) ? a[r * row_stride + p * col_stride] : T(0);
      }
    }
  }
}

// The whole m x k block of A, as ceil(m / MR) slivers.
template <int MR, class T>
void pack_a(std::int64_t m, std::int64_t k, const T* a, std::int64_t row_stride,
            std::int64_t col_stride, T* packed) {
  for (std::int64_t i = 0; i < m; i += MR) {
    const int rows = static_cast<int>(std::min<std::int64_t>(MR, m - i));
    pack_a_sliver<MR>(k, rows, a + i * row_stride, row_stride, col_stride, packed + i * k);
  }
}

// One sliver of B: columns [0, cols) of the panel at `b` (k rows), columns >= `cols` zero.
template <int NR, class T>
void pack_b_sliver(std::int64_t k, int cols, const T* b, std::int64_t row_stride,
                   std::int64_t col_stride, T* LATENT_RESTRICT packed) {
  if (cols == NR && col_stride == 1) {
    // Row-major source: each row of the sliver is NR contiguous values.
    for (std::int64_t p = 0; p < k; ++p) {
      std::memcpy(packed + p * NR, b + p * row_stride, NR * sizeof(T));
    }
  } else if (cols == NR && row_stride == 1) {
    // Column-major source: NR columns read side by side, each forwards.
    const T* column[NR];
    for (int c = 0; c < NR; ++c) column[c] = b + c * col_stride;
    for (std::int64_t p = 0; p < k; ++p) {
      LATENT_GEMM_UNROLL(32)
      for (int c = 0; c < NR; ++c) packed[p * NR + c] = column[c][p];
    }
  } else {
    for (std::int64_t p = 0; p < k; ++p) {
      for (int c = 0; c < NR; ++c) {
        packed[p * NR + c] = (c < cols) ? b[p * row_stride + c * col_stride] : T(0);
      }
    }
  }
}

// The whole k x n panel of B, as ceil(n / NR) slivers.
template <int NR, class T>
void pack_b(std::int64_t k, std::int64_t n, const T* b, std::int64_t row_stride,
            std::int64_t col_stride, T* packed) {
  std::int64_t j = 0;
  if (col_stride == 1) {
    // Whole slivers of a row-major source: walk B row by row, so that the reads stream
    // forwards through memory (and the prefetchers see it) rather than jumping a row at
    // every step.
    const std::int64_t whole = n / NR * NR;
    for (std::int64_t p = 0; p < k; ++p) {
      const T* row = b + p * row_stride;
      for (std::int64_t c = 0; c < whole; c += NR) {
        std::memcpy(packed + c * k + p * NR, row + c, NR * sizeof(T));
      }
    }
    j = whole;
  }
  for (; j < n; j += NR) {
    const int cols = static_cast<int>(std::min<std::int64_t>(NR, n - j));
    pack_b_sliver<NR>(k, cols, b + j * col_stride, row_stride, col_stride, packed + j * k);
  }
}

}  // namespace latent::kernels::gemm_detail
