// matmul with torch.matmul's rules: 1-d operands are promoted to matrices (a row for the
// left one, a column for the right one) and the promoted dim removed from the result;
// dims before the last two are batch dims and broadcast. Every product is one call of
// the packed GEMM kernel (kernels/gemm.hpp), which reads transposed operands through
// their strides, so transposes cost no copy.
//
// Gradient of C = A B with output gradient G: dA = G B^T, dB = A^T G (summed over
// broadcast batch dims).
#pragma once

#include <cstdint>
#include <vector>

#include "../kernels/gemm.hpp"
#include "autograd.hpp"
#include "reduce_ops.hpp"
#include "shape_ops.hpp"

namespace latent {

namespace detail {

// C[..., M, N] = A[..., M, K] @ B[..., K, N] on rank >= 2 operands with broadcast batches.
template <class T>
Tensor<T> batched_matmul(const Tensor<T>& a, const Tensor<T>& b) {
  const int ra = a.dim(), rb = b.dim();
  const std::int64_t m = a.shape()[ra - 2], k = a.shape()[ra - 1];
  const std::int64_t k2 = b.shape()[rb - 2], n = b.shape()[rb - 1];
  LATENT_CHECK(k == k2, "matmul: ", a.shape(), " @ ", b.shape(), ": inner sizes ", k, " and ", k2,
               " differ");
  Shape batch_a, batch_b;
  for (int i = 0; i < ra - 2; ++i) batch_a.push_back(a.shape()[i]);
  for (int i = 0; i < rb - 2; ++i) batch_b.push_back(b.shape()[i]);
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor<T> out(out_shape);

  // Batch element i of each operand starts at a fixed offset (broadcast dims step by 0).
  const std::int64_t batches = batch.numel();
  auto offsets = [&](const Tensor<T>& t) {
    Shape full_shape = batch;
    full_shape.push_back(t.shape()[t.dim() - 2]);
    full_shape.push_back(t.shape()[t.dim() - 1]);
    const Strides s = broadcast_strides(t, full_shape);
    std::vector<std::int64_t> off(static_cast<std::size_t>(batches), 0);
    for (std::int64_t i = 0; i < batches; ++i) {
      std::int64_t rest = i, o = 0;
      for (int d = batch.size() - 1; d >= 0; --d) {
        o += (rest % batch[d]) * s[d];
        rest /= batch[d];
      }
      off[static_cast<std::size_t>(i)] = o;
    }
    return off;
  };
  const std::vector<std::int64_t> off_a = offsets(a), off_b = offsets(b);
  const std::int64_t as0 = a.strides()[ra - 2], as1 = a.strides()[ra - 1];
  const std::int64_t bs0 = b.strides()[rb - 2], bs1 = b.strides()[rb - 1];
  const T* pa = a.data();
  const T* pb = b.data();
  T* pc = out.data();
  auto one = [&](std::int64_t i) {
    kernels::gemm<T>(m, n, k, T(1), pa + off_a[static_cast<std::size_t>(i)], as0, as1,
                     pb + off_b[static_cast<std::size_t>(i)], bs0, bs1, T(0), pc + i * m * n, n, 1);
  };
  if (batches == 1) {
    one(0);  // the kernel spreads one large product over the threads itself
  } else {
    parallel_for(0, batches, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) one(i);
    });
  }
  return out;
}

}  // namespace detail

template <class T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
  LATENT_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
               a.shape(), " @ ", b.shape());
  if (a.dim() == 1 || b.dim() == 1) {
    const Tensor<T> a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Tensor<T> b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    Tensor<T> c = matmul(a2, b2);
    if (b.dim() == 1) c = c.squeeze(-1);
    if (a.dim() == 1) c = c.squeeze(a.dim() == 1 && b.dim() == 1 ? -1 : -2);
    return c;
  }
  Tensor<T> out = detail::batched_matmul(a, b);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record<T>(out, "matmul", {&a, &b}, [a, b, ga, gb](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{
        ga ? sum_to(matmul(g, b.transpose(-1, -2)), a.shape()) : Tensor<T>(),
        gb ? sum_to(matmul(a.transpose(-1, -2), g), b.shape()) : Tensor<T>()};
  });
}

template <class T>
Tensor<T> Tensor<T>::matmul(const Tensor<T>& other) const {
  return latent::matmul(*this, other);
}

// Matrix product of two 2-d tensors (torch.mm).
template <class T>
Tensor<T> mm(const Tensor<T>& a, const Tensor<T>& b) {
  LATENT_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expects two matrices, got ", a.shape(), " @ ",
               b.shape());
  return matmul(a, b);
}

}  // namespace latent
