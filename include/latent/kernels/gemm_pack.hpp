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
// Packing reads the source through its two strides, so a transposed operand never needs a
// full extra copy. Where the source runs along k (a row-major A, a B with contiguous
// columns) packing is a transposition, done a square tile at a time in SIMD registers
// (see pack_transposed). The buffers come from a per-thread scratch area that only grows,
// so a program in steady state allocates nothing here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "../core/config.hpp"
#include "gemm_microkernel_scalar.hpp"

#if defined(LATENT_SIMD_AVX2) || defined(LATENT_SIMD_AVX512)
#include <immintrin.h>
#elif defined(LATENT_SIMD_NEON)
#include <arm_neon.h>
#endif

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

// ---- Transposing packs -------------------------------------------------------------------
//
// Two layouts make packing a transposition: a row-major A, whose MR rows each run along k
// while the packed sliver wants the MR values of one k side by side, and a B with
// contiguous columns (W^T of a Linear layer), whose NR columns each run along k. Both are
// the same job on `Lines` contiguous source lines, line l starting at first + l * stride:
//
//   packed[p * Lines + l] = line_l[p]                     for p < k, l < Lines
//
// The scalar version reads the lines side by side, one value at a time. The SIMD version
// takes a square tile, L values from each of L lines (L values to a vector), transposes it
// in registers and stores L rows of the packed sliver, L values each; a last group of fewer
// than L lines reads zeros in place of the missing lines and stores only its real values.
// The last k % L rows go through the scalar version.

template <int Lines, class T>
void pack_transposed_scalar(std::int64_t k, const T* first, std::int64_t stride,
                            T* LATENT_RESTRICT packed) {
  const T* line[Lines];
  for (int l = 0; l < Lines; ++l) line[l] = first + l * stride;
  for (std::int64_t p = 0; p < k; ++p) {
    LATENT_GEMM_UNROLL(32)
    for (int l = 0; l < Lines; ++l) packed[p * Lines + l] = line[l][p];
  }
}

// The square tile of this build's instruction set: `size` values from each of `size`
// lines, and
//   run<Count>(src, stride, dst, dst_stride):
//     dst[i * dst_stride + l] = src[l * stride + i]        for i < size, l < Count <= size
// reading nothing of the lines from Count on. size == 0: none (the scalar build).
template <class T>
struct TransposeTile {
  static constexpr int size = 0;
};

#if defined(LATENT_SIMD_AVX2) || defined(LATENT_SIMD_AVX512)

// x86: an 8 x 8 tile of floats, a 4 x 4 tile of doubles, in 256-bit registers (AVX-512
// builds use them too: a 16 x 16 tile would take as many shuffles per value).
//
// Each register pairs line l in its low 128-bit half with line l + size/2 in its high
// half, so that one transpose inside each half (the unpack and shuffle instructions work
// half by half) finishes the job without moving values across halves.
template <>
struct TransposeTile<float> {
  static constexpr int size = 8;

  template <int Count>
  static LATENT_ALWAYS_INLINE void run(const float* src, std::int64_t stride, float* dst,
                                       std::int64_t dst_stride) {
    // quarters[l]     = values 0..3 of line l | values 0..3 of line l + 4
    // quarters[4 + l] = values 4..7 of line l | values 4..7 of line l + 4      (l < 4)
    __m256 quarters[8];
    LATENT_GEMM_UNROLL(4)
    for (int l = 0; l < 4; ++l) {
      quarters[l] = pair(four_values<Count>(src, stride, l, 0),
                         four_values<Count>(src, stride, l + 4, 0));
      quarters[4 + l] = pair(four_values<Count>(src, stride, l, 4),
                             four_values<Count>(src, stride, l + 4, 4));
    }
    store_rows<Count>(quarters, dst, dst_stride);
    store_rows<Count>(quarters + 4, dst + 4 * dst_stride, dst_stride);
  }

 private:
  // A 4 x 4 transpose in each half, of lines a, b, c, d | e, f, g, h, stores 4 rows.
  template <int Count>
  static LATENT_ALWAYS_INLINE void store_rows(const __m256* q, float* dst,
                                              std::int64_t dst_stride) {
    const __m256 ab_01 = _mm256_unpacklo_ps(q[0], q[1]);  // a0 b0 a1 b1 | e0 f0 e1 f1
    const __m256 ab_23 = _mm256_unpackhi_ps(q[0], q[1]);  // a2 b2 a3 b3 | e2 f2 e3 f3
    const __m256 cd_01 = _mm256_unpacklo_ps(q[2], q[3]);  // c0 d0 c1 d1 | g0 h0 g1 h1
    const __m256 cd_23 = _mm256_unpackhi_ps(q[2], q[3]);  // c2 d2 c3 d3 | g2 h2 g3 h3
    store_first<Count>(dst, _mm256_shuffle_ps(ab_01, cd_01, 0x44));  // a0 b0 c0 d0 | e0 ..
    store_first<Count>(dst + dst_stride, _mm256_shuffle_ps(ab_01, cd_01, 0xEE));
    store_first<Count>(dst + 2 * dst_stride, _mm256_shuffle_ps(ab_23, cd_23, 0x44));
    store_first<Count>(dst + 3 * dst_stride, _mm256_shuffle_ps(ab_23, cd_23, 0xEE));
  }

  static LATENT_ALWAYS_INLINE __m256 pair(__m128 low, __m128 high) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1);
  }

  // Values offset..offset+3 of a line, zeros for a line past Count.
  template <int Count>
  static LATENT_ALWAYS_INLINE __m128 four_values(const float* src, std::int64_t stride,
                                                 int line, int offset) {
    return line < Count ? _mm_loadu_ps(src + line * stride + offset) : _mm_setzero_ps();
  }

  // The first Count values of v.
  template <int Count>
  static LATENT_ALWAYS_INLINE void store_first(float* dst, __m256 v) {
    if constexpr (Count == 8) {
      _mm256_storeu_ps(dst, v);
    } else {
      __m128 part = _mm256_castps256_ps128(v);
      if constexpr (Count >= 4) {
        _mm_storeu_ps(dst, part);
        part = _mm256_extractf128_ps(v, 1);
        dst += 4;
      }
      if constexpr (Count % 4 >= 2) {
        _mm_storel_pi(reinterpret_cast<__m64*>(dst), part);
        part = _mm_movehl_ps(part, part);
        dst += 2;
      }
      if constexpr (Count % 2 == 1) _mm_store_ss(dst, part);
    }
  }
};

template <>
struct TransposeTile<double> {
  static constexpr int size = 4;

  template <int Count>
  static LATENT_ALWAYS_INLINE void run(const double* src, std::int64_t stride, double* dst,
                                       std::int64_t dst_stride) {
    // halves[l]     = values 0, 1 of line l | values 0, 1 of line l + 2
    // halves[2 + l] = values 2, 3 of line l | values 2, 3 of line l + 2        (l < 2)
    __m256d halves[4];
    LATENT_GEMM_UNROLL(2)
    for (int l = 0; l < 2; ++l) {
      halves[l] = pair(two_values<Count>(src, stride, l, 0),
                       two_values<Count>(src, stride, l + 2, 0));
      halves[2 + l] = pair(two_values<Count>(src, stride, l, 2),
                           two_values<Count>(src, stride, l + 2, 2));
    }
    // Lines a, b | c, d: interleaving halves 0, 1 gives rows 0, 1; halves 2, 3 rows 2, 3.
    store_first<Count>(dst, _mm256_unpacklo_pd(halves[0], halves[1]));  // a0 b0 | c0 d0
    store_first<Count>(dst + dst_stride, _mm256_unpackhi_pd(halves[0], halves[1]));
    store_first<Count>(dst + 2 * dst_stride, _mm256_unpacklo_pd(halves[2], halves[3]));
    store_first<Count>(dst + 3 * dst_stride, _mm256_unpackhi_pd(halves[2], halves[3]));
  }

 private:
  static LATENT_ALWAYS_INLINE __m256d pair(__m128d low, __m128d high) {
    return _mm256_insertf128_pd(_mm256_castpd128_pd256(low), high, 1);
  }

  template <int Count>
  static LATENT_ALWAYS_INLINE __m128d two_values(const double* src, std::int64_t stride,
                                                 int line, int offset) {
    return line < Count ? _mm_loadu_pd(src + line * stride + offset) : _mm_setzero_pd();
  }

  template <int Count>
  static LATENT_ALWAYS_INLINE void store_first(double* dst, __m256d v) {
    if constexpr (Count == 4) {
      _mm256_storeu_pd(dst, v);
    } else {
      __m128d part = _mm256_castpd256_pd128(v);
      if constexpr (Count >= 2) {
        _mm_storeu_pd(dst, part);
        part = _mm256_extractf128_pd(v, 1);
        dst += 2;
      }
      if constexpr (Count % 2 == 1) _mm_store_sd(dst, part);
    }
  }
};

#elif defined(LATENT_SIMD_NEON)

// NEON: a 4 x 4 tile of floats, a 2 x 2 tile of doubles, in 128-bit registers.
template <>
struct TransposeTile<float> {
  static constexpr int size = 4;

  template <int Count>
  static LATENT_ALWAYS_INLINE void run(const float* src, std::int64_t stride, float* dst,
                                       std::int64_t dst_stride) {
    // Lines a, b, c, d; trn1/trn2 interleave the even/odd elements of two registers (pairs
    // of floats, then of doubles = pairs of pairs).
    float32x4_t line[4];
    LATENT_GEMM_UNROLL(4)
    for (int l = 0; l < 4; ++l) line[l] = l < Count ? vld1q_f32(src + l * stride) : vdupq_n_f32(0);
    const float64x2_t ab_02 = vreinterpretq_f64_f32(vtrn1q_f32(line[0], line[1]));  // a0 b0 a2 b2
    const float64x2_t ab_13 = vreinterpretq_f64_f32(vtrn2q_f32(line[0], line[1]));  // a1 b1 a3 b3
    const float64x2_t cd_02 = vreinterpretq_f64_f32(vtrn1q_f32(line[2], line[3]));  // c0 d0 c2 d2
    const float64x2_t cd_13 = vreinterpretq_f64_f32(vtrn2q_f32(line[2], line[3]));  // c1 d1 c3 d3
    store_first<Count>(dst, vreinterpretq_f32_f64(vtrn1q_f64(ab_02, cd_02)));  // a0 b0 c0 d0
    store_first<Count>(dst + dst_stride, vreinterpretq_f32_f64(vtrn1q_f64(ab_13, cd_13)));
    store_first<Count>(dst + 2 * dst_stride, vreinterpretq_f32_f64(vtrn2q_f64(ab_02, cd_02)));
    store_first<Count>(dst + 3 * dst_stride, vreinterpretq_f32_f64(vtrn2q_f64(ab_13, cd_13)));
  }

 private:
  template <int Count>
  static LATENT_ALWAYS_INLINE void store_first(float* dst, float32x4_t v) {
    if constexpr (Count == 4) {
      vst1q_f32(dst, v);
    } else {
      if constexpr (Count >= 2) vst1_f32(dst, vget_low_f32(v));
      if constexpr (Count == 3) vst1q_lane_f32(dst + 2, v, 2);
      if constexpr (Count == 1) vst1q_lane_f32(dst, v, 0);
    }
  }
};

template <>
struct TransposeTile<double> {
  static constexpr int size = 2;

  template <int Count>
  static LATENT_ALWAYS_INLINE void run(const double* src, std::int64_t stride, double* dst,
                                       std::int64_t dst_stride) {
    const float64x2_t a = vld1q_f64(src);
    const float64x2_t b = Count > 1 ? vld1q_f64(src + stride) : vdupq_n_f64(0);
    store_first<Count>(dst, vtrn1q_f64(a, b));               // a0 b0
    store_first<Count>(dst + dst_stride, vtrn2q_f64(a, b));  // a1 b1
  }

 private:
  template <int Count>
  static LATENT_ALWAYS_INLINE void store_first(double* dst, float64x2_t v) {
    if constexpr (Count == 2) {
      vst1q_f64(dst, v);
    } else {
      vst1q_lane_f64(dst, v, 0);
    }
  }
};

#endif

// The transposing pack. Each step of L along k fills L rows of the packed sliver with
// Lines / L full tiles side by side and one narrower tile for the Lines % L lines left; the
// last k % L rows are the scalar version's. Only moves values: bitwise the scalar result.
template <int Lines, class T>
void pack_transposed(std::int64_t k, const T* first, std::int64_t stride, T* packed) {
  using Tile = TransposeTile<T>;
  constexpr int L = Tile::size;
  std::int64_t p = 0;
  if constexpr (L > 0) {
    constexpr int whole_tiles = Lines / L;
    constexpr int lines_left = Lines % L;
    for (; p + L <= k; p += L) {
      LATENT_GEMM_UNROLL(8)
      for (int t = 0; t < whole_tiles; ++t) {
        Tile::template run<L>(first + t * L * stride + p, stride, packed + p * Lines + t * L,
                              Lines);
      }
      if constexpr (lines_left > 0) {
        Tile::template run<lines_left>(first + whole_tiles * L * stride + p, stride,
                                       packed + p * Lines + whole_tiles * L, Lines);
      }
    }
  }
  pack_transposed_scalar<Lines>(k - p, first + p, stride, packed + p * Lines);
}

// One sliver of A: rows [0, rows) of the block at `a` (k columns), rows >= `rows` zero.
template <int MR, class T>
void pack_a_sliver(std::int64_t k, int rows, const T* a, std::int64_t row_stride,
                   std::int64_t col_stride, T* LATENT_RESTRICT packed) {
  if (rows == MR && col_stride == 1) {
    // Row-major source: the MR rows, each contiguous along k, become the sliver's columns.
    pack_transposed<MR>(k, a, row_stride, packed);
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
    // Column-major source (W^T of a Linear layer): the NR columns, each contiguous along k,
    // become the sliver's columns.
    pack_transposed<NR>(k, b, col_stride, packed);
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
