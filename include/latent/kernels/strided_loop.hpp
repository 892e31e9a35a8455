// The loop behind every elementwise op: N operands (output first) that share one shape,
// each with its own strides (a stride of 0 broadcasts), walked row by row.
//
// Dims are first coalesced: dim i merges into dim i+1 when every operand steps over it
// exactly as if the two were one dim (stride[i] == stride[i+1] * size[i+1]), so contiguous
// tensors become one long row and the inner loop is a plain, vectorisable loop. Rows are
// then cut into blocks and the blocks spread over threads by parallel_for; each element is
// computed by exactly one call, so the result never depends on the thread count.
#pragma once

#include <array>
#include <cstdint>

#include "../core/parallel.hpp"
#include "../core/shape.hpp"

namespace latent::kernels {

template <int N>
struct StridedLoop {
  int rank = 0;
  std::int64_t sizes[kMaxRank] = {};
  std::int64_t strides[N][kMaxRank] = {};

  StridedLoop(const Shape& shape, const std::array<Strides, N>& operand_strides) {
    // Drop size-1 dims, then merge dims that are contiguous for every operand.
    for (int d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      sizes[rank] = shape[d];
      for (int k = 0; k < N; ++k) strides[k][rank] = operand_strides[k][d];
      ++rank;
    }
    int merged = 0;
    for (int d = 0; d < rank; ++d) {
      if (merged > 0) {
        bool mergeable = true;
        for (int k = 0; k < N; ++k)
          mergeable = mergeable && strides[k][merged - 1] == strides[k][d] * sizes[d];
        if (mergeable) {
          sizes[merged - 1] *= sizes[d];
          for (int k = 0; k < N; ++k) strides[k][merged - 1] = strides[k][d];
          continue;
        }
      }
      sizes[merged] = sizes[d];
      for (int k = 0; k < N; ++k) strides[k][merged] = strides[k][d];
      ++merged;
    }
    rank = merged;
  }

  // Calls row(offsets, n, inner_strides) for every block of the innermost dim, where
  // offsets[k] is operand k's element offset of the block's first element.
  template <class RowFn>
  void run(RowFn&& row, std::int64_t block = 8192) const {
    if (rank == 0) {  // a single element
      const std::int64_t zero[N] = {};
      const std::int64_t one[N] = {};
      row(zero, std::int64_t(1), one);
      return;
    }
    const std::int64_t inner = sizes[rank - 1];
    if (inner == 0) return;  // an empty tensor: nothing to visit
    const std::int64_t blocks_per_row = (inner + block - 1) / block;
    std::int64_t rows = 1;
    for (int d = 0; d + 1 < rank; ++d) rows *= sizes[d];
    std::int64_t inner_strides[N];
    for (int k = 0; k < N; ++k) inner_strides[k] = strides[k][rank - 1];
    const std::int64_t items = rows * blocks_per_row;
    const std::int64_t work_per_item = inner < block ? inner : block;
    const std::int64_t grain = (32768 + work_per_item - 1) / work_per_item;
    parallel_for(0, items, grain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t item = begin; item < end; ++item) {
        std::int64_t r = item / blocks_per_row;
        const std::int64_t b = item % blocks_per_row;
        std::int64_t offsets[N] = {};
        for (int d = rank - 2; d >= 0; --d) {
          const std::int64_t i = r % sizes[d];
          r /= sizes[d];
          for (int k = 0; k < N; ++k) offsets[k] += i * strides[k][d];
        }
        const std::int64_t start = b * block;
        for (int k = 0; k < N; ++k) offsets[k] += start * inner_strides[k];
        const std::int64_t n = inner - start < block ? inner - start : block;
        row(static_cast<const std::int64_t*>(offsets), n,
            static_cast<const std::int64_t*>(inner_strides));
      }
    });
  }
};

// out[i] = fn(a[i]) over a shape, with strides per operand.
template <class Out, class A, class Fn>
void map_unary(const Shape& shape, Out* out, const Strides& out_strides, const A* a,
               const Strides& a_strides, Fn fn) {
  StridedLoop<2> loop(shape, {out_strides, a_strides});
  loop.run([&](const std::int64_t* off, std::int64_t n, const std::int64_t* st) {
    Out* o = out + off[0];
    const A* x = a + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = fn(x[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] = fn(x[i * st[1]]);
    }
  });
}

// out[i] = fn(a[i], b[i]) over a shape, with strides per operand (0 broadcasts).
template <class Out, class A, class B, class Fn>
void map_binary(const Shape& shape, Out* out, const Strides& out_strides, const A* a,
                const Strides& a_strides, const B* b, const Strides& b_strides, Fn fn) {
  StridedLoop<3> loop(shape, {out_strides, a_strides, b_strides});
  loop.run([&](const std::int64_t* off, std::int64_t n, const std::int64_t* st) {
    Out* o = out + off[0];
    const A* x = a + off[1];
    const B* y = b + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = fn(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const B yv = *y;
      for (std::int64_t i = 0; i < n; ++i) o[i] = fn(x[i], yv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const A xv = *x;
      for (std::int64_t i = 0; i < n; ++i) o[i] = fn(xv, y[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] = fn(x[i * st[1]], y[i * st[2]]);
    }
  });
}

// out[i] = fn(a[i], b[i], c[i]).
template <class Out, class A, class B, class C, class Fn>
void map_ternary(const Shape& shape, Out* out, const Strides& out_strides, const A* a,
                 const Strides& a_strides, const B* b, const Strides& b_strides, const C* c,
                 const Strides& c_strides, Fn fn) {
  StridedLoop<4> loop(shape, {out_strides, a_strides, b_strides, c_strides});
  loop.run([&](const std::int64_t* off, std::int64_t n, const std::int64_t* st) {
    Out* o = out + off[0];
    const A* x = a + off[1];
    const B* y = b + off[2];
    const C* z = c + off[3];
    for (std::int64_t i = 0; i < n; ++i)
      o[i * st[0]] = fn(x[i * st[1]], y[i * st[2]], z[i * st[3]]);
  });
}

}  // namespace latent::kernels
