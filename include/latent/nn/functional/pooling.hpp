// Pooling and nearest-neighbour upsampling over the last two dims of input[N, C, H, W]
// (or unbatched [C, H, W]), as torch.nn.functional: max_pool2d, avg_pool2d,
// upsample_nearest2d. Each plane [H, W] is pooled on its own (kernels/pool.hpp), planes
// in parallel. Output sizes round down: floor((in + 2 padding - kernel) / stride) + 1.
//
// Gradients, all differentiable again:
//   max_pool2d   the output gradient goes to the position of each window's maximum
//                (a scatter); the scatter's own gradient is the gather out[k] = in[argmax[k]]
//   avg_pool2d   each window's gradient is shared equally by its pixels (the transpose of
//                the average, itself linear, and its gradient is avg_pool2d again)
//   upsample     each output block's gradient is summed back onto its source pixel
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../../core/parallel.hpp"
#include "../../kernels/pool.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"
#include "../../tensor/creation.hpp"
#include "pair.hpp"

namespace latent::nn::functional {

namespace pooling_detail {

// The values of t, contiguous (t itself when it already is), cut from the graph.
template <class T>
Tensor<T> plane_values(const Tensor<T>& t) {
  return t.is_contiguous() ? t.detach() : latent::detail::contiguous_copy(t);
}

// Runs fn(plane) for planes [0, planes), in parallel chunks of about 32768 units of work
// (each plane costing work_per_plane); planes are independent, so any split is exact.
template <class Fn>
void for_each_plane(std::int64_t planes, std::int64_t work_per_plane, Fn fn) {
  const std::int64_t grain =
      std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, work_per_plane));
  parallel_for(0, planes, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = begin; k < end; ++k) fn(k);
  });
}

// Checks a pooling's arguments on a 4-d input and returns its geometry.
inline kernels::PoolGeometry pool_geometry(const char* op, const Shape& shape, IntPair kernel,
                                           IntPair stride, IntPair padding) {
  LATENT_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel_size must be positive, got ", kernel);
  LATENT_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be positive, got ", stride);
  LATENT_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ",
               padding);
  LATENT_CHECK(2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w, op, ": padding ", padding,
               " must be at most half of kernel_size ", kernel);
  kernels::PoolGeometry g;
  g.height = shape[2];
  g.width = shape[3];
  g.kernel_h = kernel.h;
  g.kernel_w = kernel.w;
  g.stride_h = stride.h;
  g.stride_w = stride.w;
  g.pad_h = padding.h;
  g.pad_w = padding.w;
  LATENT_CHECK(g.height + 2 * g.pad_h >= g.kernel_h && g.width + 2 * g.pad_w >= g.kernel_w, op,
               ": input of shape ", shape, " padded by ", padding, " is smaller than kernel_size ",
               kernel, " (the output would be empty)");
  g.out_h = (g.height + 2 * g.pad_h - g.kernel_h) / g.stride_h + 1;
  g.out_w = (g.width + 2 * g.pad_w - g.kernel_w) / g.stride_w + 1;
  return g;
}

inline void check_pool_input(const char* op, const Shape& shape) {
  LATENT_CHECK(shape.size() == 4 || shape.size() == 3, op,
               ": expected a 4-d input [N, C, H, W] or 3-d [C, H, W], got shape ", shape);
}

template <class T>
Tensor<T> max_pool2d_gather(const Tensor<T>& in, const Tensor<std::int64_t>& argmax,
                            const kernels::PoolGeometry& geo);

// in_grad[n, c] = zeros with out_grad[n, c, k] added at argmax[n, c, k]: the gradient of
// max pooling. Differentiable: its gradient is the gather.
template <class T>
Tensor<T> max_pool2d_scatter(const Tensor<T>& out_grad, const Tensor<std::int64_t>& argmax,
                             const kernels::PoolGeometry& geo, const Shape& in_shape) {
  Tensor<T> in_grad = zeros<T>(in_shape);
  const Tensor<T> g = plane_values(out_grad);
  const T* gd = g.data();
  const std::int64_t* ad = argmax.data();
  T* id = in_grad.data();
  for_each_plane(in_shape[0] * in_shape[1], geo.out_plane(), [&](std::int64_t k) {
    kernels::max_pool2d_scatter(geo.out_plane(), gd + k * geo.out_plane(), ad + k * geo.out_plane(),
                                id + k * geo.plane());
  });
  return record<T>(in_grad, "max_pool2d_backward", {&out_grad}, [argmax, geo](const Tensor<T>& gg) {
    return std::vector<Tensor<T>>{max_pool2d_gather(gg, argmax, geo)};
  });
}

// out[n, c, k] = in[n, c, argmax[n, c, k]]. Differentiable: its gradient is the scatter.
template <class T>
Tensor<T> max_pool2d_gather(const Tensor<T>& in, const Tensor<std::int64_t>& argmax,
                            const kernels::PoolGeometry& geo) {
  Tensor<T> out(argmax.shape());
  const Tensor<T> x = plane_values(in);
  const T* xd = x.data();
  const std::int64_t* ad = argmax.data();
  T* od = out.data();
  for_each_plane(argmax.shape()[0] * argmax.shape()[1], geo.out_plane(), [&](std::int64_t k) {
    kernels::max_pool2d_gather(geo.out_plane(), xd + k * geo.plane(), ad + k * geo.out_plane(),
                               od + k * geo.out_plane());
  });
  return record<T>(out, "max_pool2d_gather", {&in},
                   [argmax, geo, in_shape = in.shape()](const Tensor<T>& g) {
                     return std::vector<Tensor<T>>{max_pool2d_scatter(g, argmax, geo, in_shape)};
                   });
}

template <class T>
Tensor<T> avg_pool2d_forward(const Tensor<T>& input, const kernels::PoolGeometry& geo);

// The transpose of average pooling: each window's value shared by its pixels. Its
// gradient is average pooling.
template <class T>
Tensor<T> avg_pool2d_transpose(const Tensor<T>& out_grad, const kernels::PoolGeometry& geo,
                               const Shape& in_shape) {
  Tensor<T> in_grad(in_shape);
  const Tensor<T> g = plane_values(out_grad);
  const T* gd = g.data();
  T* id = in_grad.data();
  for_each_plane(in_shape[0] * in_shape[1],
                 geo.plane() + geo.out_plane() * geo.kernel_h * geo.kernel_w, [&](std::int64_t k) {
                   kernels::avg_pool2d_transpose_plane(geo, gd + k * geo.out_plane(),
                                                       id + k * geo.plane());
                 });
  return record<T>(in_grad, "avg_pool2d_backward", {&out_grad}, [geo](const Tensor<T>& gg) {
    return std::vector<Tensor<T>>{avg_pool2d_forward(gg, geo)};
  });
}

template <class T>
Tensor<T> avg_pool2d_forward(const Tensor<T>& input, const kernels::PoolGeometry& geo) {
  const Shape in_shape = input.shape();
  Tensor<T> out(Shape{in_shape[0], in_shape[1], geo.out_h, geo.out_w});
  const Tensor<T> x = plane_values(input);
  const T* xd = x.data();
  T* od = out.data();
  for_each_plane(in_shape[0] * in_shape[1], geo.out_plane() * geo.kernel_h * geo.kernel_w,
                 [&](std::int64_t k) {
                   kernels::avg_pool2d_plane(geo, xd + k * geo.plane(), od + k * geo.out_plane());
                 });
  return record<T>(out, "avg_pool2d", {&input}, [geo, in_shape](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{avg_pool2d_transpose(g, geo, in_shape)};
  });
}

}  // namespace pooling_detail

// Max pooling (torch.nn.functional.max_pool2d, floor mode): the largest value of each
// kernel_size window, windows `stride` apart (default: kernel_size), the input padded by
// `padding` on each side with -inf (at most half the kernel). The gradient goes to the
// first maximum of each window.
template <class T>
Tensor<T> max_pool2d(const Tensor<T>& input, IntPair kernel_size,
                     OptionalIntPair stride = std::nullopt, IntPair padding = 0) {
  static_assert(std::is_floating_point<T>::value, "max_pool2d: needs a floating-point tensor");
  pooling_detail::check_pool_input("max_pool2d", input.shape());
  if (input.dim() == 3)
    return max_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0);
  const kernels::PoolGeometry geo = pooling_detail::pool_geometry(
      "max_pool2d", input.shape(), kernel_size, stride.value_or(kernel_size), padding);
  const Shape in_shape = input.shape();
  const Shape out_shape{in_shape[0], in_shape[1], geo.out_h, geo.out_w};
  Tensor<T> out(out_shape);
  Tensor<std::int64_t> argmax(out_shape);
  const Tensor<T> x = pooling_detail::plane_values(input);
  const T* xd = x.data();
  T* od = out.data();
  std::int64_t* ad = argmax.data();
  pooling_detail::for_each_plane(
      in_shape[0] * in_shape[1], geo.out_plane() * geo.kernel_h * geo.kernel_w,
      [&](std::int64_t k) {
        kernels::max_pool2d_plane(geo, xd + k * geo.plane(), od + k * geo.out_plane(),
                                  ad + k * geo.out_plane());
      });
  return record<T>(out, "max_pool2d", {&input}, [argmax, geo, in_shape](const Tensor<T>& g) {
    return std::vector<Tensor<T>>{pooling_detail::max_pool2d_scatter(g, argmax, geo, in_shape)};
  });
}

// Average pooling (torch.nn.functional.avg_pool2d, floor mode, count_include_pad): the
// mean of each kernel_size window, windows `stride` apart (default: kernel_size), the
// input padded by `padding` zeros on each side (at most half the kernel), which count in
// the divisor kernel_h * kernel_w.
template <class T>
Tensor<T> avg_pool2d(const Tensor<T>& input, IntPair kernel_size,
                     OptionalIntPair stride = std::nullopt, IntPair padding = 0) {
  static_assert(std::is_floating_point<T>::value, "avg_pool2d: needs a floating-point tensor");
  pooling_detail::check_pool_input("avg_pool2d", input.shape());
  if (input.dim() == 3)
    return avg_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0);
  const kernels::PoolGeometry geo = pooling_detail::pool_geometry(
      "avg_pool2d", input.shape(), kernel_size, stride.value_or(kernel_size), padding);
  return pooling_detail::avg_pool2d_forward(input, geo);
}

// Nearest-neighbour upsampling of input[N, C, H, W] by integer factors
// (torch.nn.functional.interpolate(mode="nearest", scale_factor=...)):
//   out[n, c, oh, ow] = input[n, c, oh / scale_h, ow / scale_w],  out: [N, C, H sh, W sw].
template <class T>
Tensor<T> upsample_nearest2d(const Tensor<T>& input, IntPair scale_factor) {
  LATENT_CHECK(input.dim() == 4,
               "upsample_nearest2d: expected a 4-d input [N, C, H, W], got shape ", input.shape());
  LATENT_CHECK(scale_factor.h > 0 && scale_factor.w > 0,
               "upsample_nearest2d: scale_factor must be positive, got ", scale_factor);
  const Shape in_shape = input.shape();
  const std::int64_t height = in_shape[2], width = in_shape[3];
  const std::int64_t sh = scale_factor.h, sw = scale_factor.w;
  Tensor<T> out(Shape{in_shape[0], in_shape[1], height * sh, width * sw});
  const Tensor<T> x = pooling_detail::plane_values(input);
  const T* xd = x.data();
  T* od = out.data();
  const std::int64_t plane = height * width, out_plane = plane * sh * sw;
  pooling_detail::for_each_plane(in_shape[0] * in_shape[1], out_plane, [&](std::int64_t k) {
    kernels::upsample_nearest2d_plane(height, width, sh, sw, xd + k * plane, od + k * out_plane);
  });
  // Output pixel (ih*sh + r, iw*sw + q) copies input (ih, iw): the gradient sums each
  // sh x sw block, seen as dims 3 and 5 of [N, C, H, sh, W, sw].
  return record<T>(out, "upsample_nearest2d", {&input}, [in_shape, sh, sw](const Tensor<T>& g) {
    const Shape blocks{in_shape[0], in_shape[1], in_shape[2], sh, in_shape[3], sw};
    return std::vector<Tensor<T>>{g.reshape(blocks).sum({3, 5})};
  });
}

}  // namespace latent::nn::functional
