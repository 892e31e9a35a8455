// The reference matrix product: the plain triple loop. Read this first; gemm.hpp computes
// the same thing, only faster.
//
//   C[i,j] = alpha * sum_p A[i,p] * B[p,j] + beta * C[i,j]      0 <= i < M, 0 <= j < N
//
// Every operand is addressed through a row stride and a column stride, in elements:
// element (i, p) of A is A[i*a_row_stride + p*a_col_stride]. A transposed operand is the
// same memory with its two strides swapped, so no transpose flags are needed.
//
// The BLAS conventions, shared by every gemm in this library:
//   beta == 0   C is never read (it may hold NaN or be uninitialised) and is overwritten;
//   alpha == 0  A and B are never read, C = beta * C;
//   K == 0      the sum is empty, C = beta * C.
#pragma once

#include <cstdint>

#include "../core/error.hpp"

namespace latent::kernels {

template <class T>
void gemm_reference(std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                    std::int64_t a_row_stride, std::int64_t a_col_stride, const T* B,
                    std::int64_t b_row_stride, std::int64_t b_col_stride, T beta, T* C,
                    std::int64_t c_row_stride, std::int64_t c_col_stride) {
  LATENT_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm_reference: negative size M=", M, " N=", N,
               " K=", K);
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      T sum = T(0);
      if (alpha != T(0)) {
        for (std::int64_t p = 0; p < K; ++p) {
          sum += A[i * a_row_stride + p * a_col_stride] * B[p * b_row_stride + j * b_col_stride];
        }
      }
      T& c = C[i * c_row_stride + j * c_col_stride];
      c = (beta == T(0)) ? alpha * sum : alpha * sum + beta * c;
    }
  }
}

}  // namespace latent::kernels
