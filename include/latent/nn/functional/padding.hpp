// pad: constant padding, as torch.nn.functional.pad(input, pad, mode="constant", value).
//
// `pads` holds (before, after) pairs for the last dims, last dim first:
// {left, right} pads the last dim, {left, right, top, bottom} the last two, and so on.
// A negative amount crops instead (at most the whole dim). Along each padded dim,
//
//   out[i] = input[i - before]   when 0 <= i - before < size,   value otherwise,
//   out size = size + before + after.
//
// The gradient is pad(g, -pads): it crops what was added and puts zeros where the input
// was cropped, and being a pad itself it is differentiable again.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../../ops/autograd.hpp"
#include "../../ops/elementwise.hpp"
#include "../../ops/shape_ops.hpp"
#include "../../tensor/creation.hpp"

namespace latent::nn::functional {

template <class T>
Tensor<T> pad(const Tensor<T>& input, const std::vector<std::int64_t>& pads, Scalar<T> value = 0) {
  const int rank = input.dim();
  const int padded_dims = static_cast<int>(pads.size() / 2);
  LATENT_CHECK(pads.size() % 2 == 0, "pad: the padding list must hold (before, after) pairs, got ",
               pads.size(), " values");
  LATENT_CHECK(padded_dims <= rank, "pad: ", pads.size(), " padding values pad ", padded_dims,
               " dims, but the input of shape ", input.shape(), " has only ", rank);
  Shape out_shape = input.shape();
  // The overlap of input and output along each dim: `length` elements, starting at
  // `from` in the input and `to` in the output.
  Shape length = input.shape(), from = Dims::filled(rank, 0), to = Dims::filled(rank, 0);
  for (int k = 0; k < padded_dims; ++k) {
    const int d = rank - 1 - k;
    const std::int64_t before = pads[2 * k], after = pads[2 * k + 1], size = input.shape()[d];
    LATENT_CHECK(size + std::min<std::int64_t>(before, 0) + std::min<std::int64_t>(after, 0) >= 0,
                 "pad: padding (", before, ", ", after, ") of dim ", d,
                 " crops more than its size ", size, " (input of shape ", input.shape(), ")");
    out_shape[d] = size + before + after;
    to[d] = std::max<std::int64_t>(before, 0);
    from[d] = to[d] - before;
    length[d] = std::max<std::int64_t>(0, std::min(size - from[d], out_shape[d] - to[d]));
  }

  Tensor<T> out = full<T>(out_shape, static_cast<T>(value));
  if (length.numel() > 0) {
    std::int64_t out_offset = 0, in_offset = input.offset();
    for (int d = 0; d < rank; ++d) {
      out_offset += to[d] * out.strides()[d];
      in_offset += from[d] * input.strides()[d];
    }
    latent::detail::copy_into(
        latent::detail::strided_view(out, length, out.strides(), out_offset),
        latent::detail::strided_view(input, length, input.strides(), in_offset));
  }

  std::vector<std::int64_t> inverse(pads.size());
  for (std::size_t i = 0; i < pads.size(); ++i) inverse[i] = -pads[i];
  return record<T>(out, "pad", {&input}, [inverse](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{pad(g, inverse, T(0))};
  });
}

}  // namespace latent::nn::functional
