// linear: the affine map of a fully connected layer (torch.nn.functional.linear),
//   y = x W^T + b,   x [..., in], weight W [out, in], bias b [out] (optional), y [..., out].
// The forward is one GEMM over all leading dims at once, with the bias written into the
// output first and accumulated into (beta = 1), so the bias add costs no extra pass.
//
// Gradient, with output gradient G [..., out] and X, G flattened to rows:
//   dx = G W,   dW = G^T X,   db = sum of G over rows.
// They are written with matmul and sum, so second derivatives work.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../../kernels/gemm.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/matmul.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"

namespace latent::nn::functional {

template <class T>
Tensor<T> linear(const Tensor<T>& input, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>()) {
  static_assert(std::is_floating_point<T>::value, "linear: needs a floating-point tensor");
  LATENT_CHECK(weight.dim() == 2, "linear: weight must be a matrix [out_features, in_features], got shape ",
               weight.shape());
  const std::int64_t out_features = weight.shape()[0], in_features = weight.shape()[1];
  LATENT_CHECK(input.dim() >= 1 && input.shape()[input.dim() - 1] == in_features, "linear: input of shape ",
               input.shape(), " does not end in in_features = ", in_features, " (weight of shape ",
               weight.shape(), ")");
  LATENT_CHECK(!bias.defined() || bias.shape() == Shape{out_features}, "linear: bias must have shape [",
               out_features, "], got ", bias.shape());

  Shape out_shape = input.shape();
  out_shape[out_shape.size() - 1] = out_features;
  Tensor<T> out(out_shape);
  const std::int64_t rows = in_features == 0 ? input.numel() : input.numel() / in_features;
  if (out.numel() > 0) {
    // C starts as the bias in every row (or is ignored, beta = 0), then C += X W^T.
    T* c = out.data();
    if (bias.defined()) {
      const std::vector<T> b = bias.to_vector();
      for (std::int64_t r = 0; r < rows; ++r) std::copy(b.begin(), b.end(), c + r * out_features);
    }
    const T beta = bias.defined() ? T(1) : T(0);
    if (in_features == 0) {
      if (!bias.defined()) std::fill(c, c + out.numel(), T(0));
    } else {
      const Tensor<T> x = input.is_contiguous() ? input.detach() : latent::detail::contiguous_copy(input);
      // B[k, o] = W[o, k]: W read through its strides, transposed for free.
      kernels::gemm<T>(rows, out_features, in_features, T(1), x.data(), in_features, 1, weight.data(),
                       weight.strides()[1], weight.strides()[0], beta, c, out_features, 1);
    }
  }

  const bool gx = input.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
  return record<T>(out, "linear", {&input, &weight, &bias}, [input, weight, gx, gw, gb, rows, out_features,
                                                             in_features](const Tensor<T>& g) {
    const Tensor<T> g_rows = g.reshape({rows, out_features});
    return std::vector<Tensor<T>>{
        gx ? matmul(g, weight) : Tensor<T>(),
        gw ? matmul(g_rows.t(), input.reshape({rows, in_features})) : Tensor<T>(),
        gb ? g_rows.sum(0) : Tensor<T>()};
  });
}

}  // namespace latent::nn::functional
