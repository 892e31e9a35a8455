// Convolutions: conv2d, conv_transpose2d, and their 1-d forms, as torch.nn.functional.
//
// One bilinear form underlies them all. For an image x[N, C, H, W], a weight
// w[O, C/groups, kh, kw] and a grid g[N, O, OH, OW] (groups split C and O into equal
// blocks that only meet their own block),
//
//   B(x, w, g) = sum over n, o, oh, ow, c, i, j of
//                g[n, o, oh, ow] * w[o, c, i, j] * x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
//
// (x is zero outside the image). Its three partial derivatives are the three ops here:
//
//   dB/dg = conv2d(x, w)              the convolution (cross-correlation), a grid
//   dB/dx = conv_transpose2d(g, w)    the input gradient of conv2d, an image
//   dB/dw = conv2d_weight_grad(x, g)  the weight gradient of conv2d, a kernel
//
// and the gradient of each is made of the other two, so gradients of gradients (of any
// order) come for free: e.g. the gradient of conv_transpose2d(g, w) with respect to g is
// conv2d(G, w). Each op is a matrix product, per group, with the im2col matrix of the
// images (kernels/im2col.hpp), columns[C*kh*kw, OH*OW] per image:
//
//   conv2d            y[O, OH*OW]     = w[O, C*kh*kw] @ columns
//   conv_transpose2d  columns         = w^T @ g[O, OH*OW], then col2im into the image
//   weight gradient   dw[O, C*kh*kw] += g[O, OH*OW] @ columns^T   (summed over images)
//
// Small images are put side by side so that each product is wide enough to run fast, and
// a 1x1 kernel with stride 1 and no padding needs no im2col: the image is its own matrix.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../../core/parallel.hpp"
#include "../../kernels/gemm.hpp"
#include "../../kernels/im2col.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"
#include "../../tensor/creation.hpp"
#include "pair.hpp"

namespace latent::nn::functional {

namespace conv_detail {

// Stride, padding, dilation and groups of one convolution.
struct ConvParams {
  IntPair stride{1}, padding{0}, dilation{1};
  std::int64_t groups = 1;
};

// The sizes of one convolution between images [N, C, H, W] and grids [N, O, OH, OW], and
// where each block lives in the contiguous tensors.
struct ConvLayout {
  std::int64_t images, channels, height, width;  // the image side
  std::int64_t out_channels, out_h, out_w;       // the grid side
  std::int64_t groups, group_in, group_out;      // C / groups, O / groups
  kernels::ConvGeometry geo;                     // one group of one image
  std::int64_t rows, cols;                       // its im2col matrix: [group_in kh kw, OH OW]
  std::int64_t per_product, products;            // images side by side in one matrix product

  std::int64_t image_offset(std::int64_t n, std::int64_t grp) const {
    return (n * channels + grp * group_in) * height * width;
  }
  std::int64_t grid_offset(std::int64_t n, std::int64_t grp) const {
    return (n * out_channels + grp * group_out) * cols;
  }
  std::int64_t weight_offset(std::int64_t grp) const { return grp * group_out * rows; }
  std::int64_t first_image(std::int64_t product) const { return product * per_product; }
  std::int64_t images_in(std::int64_t product) const {
    return std::min(per_product, images - product * per_product);
  }
  // A lone image whose 1x1 convolution reads it in place: no im2col matrix needed.
  bool in_place() const { return per_product == 1 && geo.is_pointwise(); }
  // Scratch per worker: an im2col matrix and a grid block for one product.
  std::int64_t column_scratch() const { return in_place() ? 0 : rows * per_product * cols; }
  std::int64_t grid_scratch() const {
    return per_product == 1 ? 0 : group_out * per_product * cols;
  }
  std::int64_t work() const { return images * out_channels * rows * cols; }
};

// A matrix product of a small image is far from the GEMM's best speed, so the im2col
// matrices of several images are put side by side, up to ~512 columns (and a scratch
// budget). The grouping depends on the sizes alone, so the weight gradient's sums run
// in the same order for any thread count.
inline ConvLayout conv_layout(const ConvParams& p, const Shape& image, std::int64_t out_channels,
                              std::int64_t kernel_h, std::int64_t kernel_w, std::int64_t out_h,
                              std::int64_t out_w) {
  constexpr std::int64_t kTargetColumns = 512, kMaxScratch = std::int64_t(1) << 22;
  ConvLayout l;
  l.images = image[0];
  l.channels = image[1];
  l.height = image[2];
  l.width = image[3];
  l.out_channels = out_channels;
  l.out_h = out_h;
  l.out_w = out_w;
  l.groups = p.groups;
  l.group_in = l.channels / p.groups;
  l.group_out = out_channels / p.groups;
  kernels::ConvGeometry& g = l.geo;
  g.channels = l.group_in;
  g.height = l.height;
  g.width = l.width;
  g.kernel_h = kernel_h;
  g.kernel_w = kernel_w;
  g.pad_h = p.padding.h;
  g.pad_w = p.padding.w;
  g.stride_h = p.stride.h;
  g.stride_w = p.stride.w;
  g.dilation_h = p.dilation.h;
  g.dilation_w = p.dilation.w;
  g.out_h = out_h;
  g.out_w = out_w;
  l.rows = g.column_rows();
  l.cols = g.column_cols();
  const std::int64_t wanted = (kTargetColumns + l.cols - 1) / std::max<std::int64_t>(l.cols, 1);
  const std::int64_t affordable = kMaxScratch / std::max<std::int64_t>(l.rows * l.cols, 1);
  l.per_product = std::max<std::int64_t>(1, std::min({wanted, affordable, l.images}));
  l.products = (l.images + l.per_product - 1) / l.per_product;
  return l;
}

// The values of t, contiguous (t itself when it already is), cut from the graph.
template <class T>
Tensor<T> contiguous_values(const Tensor<T>& t) {
  return t.is_contiguous() ? t.detach() : latent::detail::contiguous_copy(t);
}

// Work (multiply-adds) below which a convolution stays on one thread, and values below
// which an im2col matrix is built on one thread.
constexpr std::int64_t kConvParallelWork = std::int64_t(1) << 20;
constexpr std::int64_t kConvParallelCopy = std::int64_t(1) << 15;

// Calls fn(product, columns, grid) for each product of the layout, with scratch buffers
// for its im2col matrix and grid block. With enough work and at least as many products as
// threads, the products are shared out; otherwise they run in turn and each matrix
// product spreads over the threads itself. Every product is computed the same way in both
// cases, so the result does not depend on the thread count.
template <class T, class Fn>
void for_each_product(const ConvLayout& l, Fn fn) {
  const int threads = get_num_threads();
  const bool share_out = threads > 1 && l.products >= threads && !in_parallel_region() &&
                         l.work() >= kConvParallelWork;
  const std::int64_t grain = share_out ? (l.products + threads - 1) / threads : l.products;
  parallel_for(0, l.products, grain, [&](std::int64_t begin, std::int64_t end) {
    Tensor<T> columns(Shape{l.column_scratch()}), grid(Shape{l.grid_scratch()});
    for (std::int64_t k = begin; k < end; ++k) fn(k, columns.data(), grid.data());
  });
}

// The im2col matrix [rows, nb * cols] of group grp of the images of one product: the
// image itself when it needs none, else built in `scratch`. Called outside a parallel
// region (the weight gradient builds one matrix at a time), a large one is built by all
// the threads, a share of the channels each: a plain copy, the same for any thread count.
template <class T>
const T* column_block(const ConvLayout& l, const T* images, std::int64_t product, std::int64_t grp,
                      T* scratch) {
  const std::int64_t n0 = l.first_image(product), nb = l.images_in(product);
  if (l.in_place()) return images + l.image_offset(n0, grp);
  const T* first_image = images + l.image_offset(n0, grp);
  const std::int64_t plane = l.height * l.width;
  const std::int64_t channel_block = l.geo.kernel_h * l.geo.kernel_w * nb * l.cols;  // per channel
  const std::int64_t threads = l.rows * nb * l.cols >= kConvParallelCopy ? get_num_threads() : 1;
  parallel_for(0, l.group_in, (l.group_in + threads - 1) / threads,
               [&](std::int64_t first, std::int64_t last) {
                 kernels::ConvGeometry part = l.geo;
                 part.channels = last - first;
                 kernels::im2col(part, first_image + first * plane, l.image_offset(1, 0), nb,
                                 scratch + first * channel_block);
               });
  return scratch;
}

// The grid block [group_out, nb * cols] of group grp of one product's images: in place
// for a lone image, else gathered into `scratch`.
template <class T>
const T* grid_block(const ConvLayout& l, const T* grids, std::int64_t product, std::int64_t grp,
                    T* scratch) {
  const std::int64_t n0 = l.first_image(product), nb = l.images_in(product);
  if (nb == 1) return grids + l.grid_offset(n0, grp);
  for (std::int64_t j = 0; j < nb; ++j)
    for (std::int64_t o = 0; o < l.group_out; ++o) {
      const T* src = grids + l.grid_offset(n0 + j, grp) + o * l.cols;
      std::copy(src, src + l.cols, scratch + (o * nb + j) * l.cols);
    }
  return scratch;
}

template <class T>
Tensor<T> conv2d_input_grad(const Tensor<T>& grid, const Tensor<T>& weight, const Tensor<T>& bias,
                            const ConvParams& p, std::int64_t height, std::int64_t width);
template <class T>
Tensor<T> conv2d_weight_grad(const Tensor<T>& image, const Tensor<T>& grid, const ConvParams& p,
                             std::int64_t kernel_h, std::int64_t kernel_w);

// dB/dg: y[N, O, out_h, out_w] = conv2d(x, w) + bias. Shapes are checked by the callers.
template <class T>
Tensor<T> conv2d_forward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                         const ConvParams& p, std::int64_t out_h, std::int64_t out_w) {
  const std::int64_t kernel_h = weight.shape()[2], kernel_w = weight.shape()[3];
  const ConvLayout l =
      conv_layout(p, x.shape(), weight.shape()[0], kernel_h, kernel_w, out_h, out_w);
  Tensor<T> out(Shape{l.images, l.out_channels, out_h, out_w});
  const Tensor<T> xs = contiguous_values(x), ws = contiguous_values(weight);
  const Tensor<T> bs = bias.defined() ? contiguous_values(bias) : Tensor<T>();
  const T* xd = xs.data();
  const T* wd = ws.data();
  const T* bd = bs.data();
  T* yd = out.data();
  for_each_product<T>(l, [&](std::int64_t product, T* column_scratch, T* grid_scratch) {
    const std::int64_t n0 = l.first_image(product), nb = l.images_in(product), wide = nb * l.cols;
    for (std::int64_t grp = 0; grp < l.groups; ++grp) {
      // y[group_out, nb * cols] = w[group_out, rows] @ columns[rows, nb * cols]
      const T* columns = column_block(l, xd, product, grp, column_scratch);
      T* y = nb == 1 ? yd + l.grid_offset(n0, grp) : grid_scratch;
      kernels::gemm<T>(l.group_out, wide, l.rows, T(1), wd + l.weight_offset(grp), l.rows, 1,
                       columns, wide, 1, T(0), y, wide, 1);
      // Each image's rows go to their place in the output, plus the bias.
      for (std::int64_t j = 0; j < nb; ++j)
        for (std::int64_t o = 0; o < l.group_out; ++o) {
          const T* src = y + (o * nb + j) * l.cols;
          T* dst = yd + l.grid_offset(n0 + j, grp) + o * l.cols;
          const T b = bd ? bd[grp * l.group_out + o] : T(0);
          if (bd) {
            for (std::int64_t k = 0; k < l.cols; ++k) dst[k] = src[k] + b;
          } else if (src != dst) {
            std::copy(src, src + l.cols, dst);
          }
        }
    }
  });

  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  const std::int64_t height = l.height, width = l.width;
  return record<T>(
      out, "conv2d", {&x, &weight, &bias},
      [x_saved = need_w ? x : Tensor<T>(), w_saved = need_x ? weight : Tensor<T>(), p, need_x,
       need_w, need_b, height, width, kernel_h, kernel_w](const Tensor<T>& g) {
        return std::vector<Tensor<T>>{
            need_x ? conv2d_input_grad(g, w_saved, Tensor<T>(), p, height, width) : Tensor<T>(),
            need_w ? conv2d_weight_grad(x_saved, g, p, kernel_h, kernel_w) : Tensor<T>(),
            need_b ? g.sum({0, 2, 3}) : Tensor<T>()};
      });
}

// dB/dx: the image x[N, C, height, width] whose convolution with w is adjoint to `grid`
// (conv_transpose2d), plus bias[C].
template <class T>
Tensor<T> conv2d_input_grad(const Tensor<T>& grid, const Tensor<T>& weight, const Tensor<T>& bias,
                            const ConvParams& p, std::int64_t height, std::int64_t width) {
  const std::int64_t out_h = grid.shape()[2], out_w = grid.shape()[3];
  const std::int64_t kernel_h = weight.shape()[2], kernel_w = weight.shape()[3];
  const Shape image_shape{grid.shape()[0], weight.shape()[1] * p.groups, height, width};
  const ConvLayout l =
      conv_layout(p, image_shape, grid.shape()[1], kernel_h, kernel_w, out_h, out_w);
  Tensor<T> out(image_shape);
  const Tensor<T> gs = contiguous_values(grid), ws = contiguous_values(weight);
  const Tensor<T> bs = bias.defined() ? contiguous_values(bias) : Tensor<T>();
  const T* gd = gs.data();
  const T* wd = ws.data();
  const T* bd = bs.data();
  T* xd = out.data();
  const std::int64_t plane = height * width;
  for_each_product<T>(l, [&](std::int64_t product, T* column_scratch, T* grid_scratch) {
    const std::int64_t n0 = l.first_image(product), nb = l.images_in(product), wide = nb * l.cols;
    for (std::int64_t grp = 0; grp < l.groups; ++grp) {
      // columns[rows, nb * cols] = w^T[rows, group_out] @ g[group_out, nb * cols]; w^T is w
      // read with strides (1, rows). A 1x1 convolution's columns are the image itself.
      const T* g = grid_block(l, gd, product, grp, grid_scratch);
      T* columns = l.in_place() ? xd + l.image_offset(n0, grp) : column_scratch;
      kernels::gemm<T>(l.rows, wide, l.group_out, T(1), wd + l.weight_offset(grp), 1, l.rows, g,
                       wide, 1, T(0), columns, wide, 1);
      // Start each image from its bias (or zero), then add the columns back onto it.
      for (std::int64_t j = 0; j < nb; ++j) {
        T* image = xd + l.image_offset(n0 + j, grp);
        const T* b = bd ? bd + grp * l.group_in : nullptr;
        for (std::int64_t c = 0; c < l.group_in; ++c) {
          T* channel = image + c * plane;
          if (l.in_place()) {
            if (b)
              for (std::int64_t k = 0; k < plane; ++k) channel[k] += b[c];
          } else {
            std::fill(channel, channel + plane, b ? b[c] : T(0));
          }
        }
      }
      if (!l.in_place())
        kernels::col2im(l.geo, columns, nb, xd + l.image_offset(n0, grp), l.image_offset(1, 0));
    }
  });

  const bool need_g = grid.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  return record<T>(
      out, "conv_transpose2d", {&grid, &weight, &bias},
      [g_saved = need_w ? grid : Tensor<T>(), w_saved = need_g ? weight : Tensor<T>(), p, need_g,
       need_w, need_b, out_h, out_w, kernel_h, kernel_w](const Tensor<T>& g) {
        return std::vector<Tensor<T>>{
            need_g ? conv2d_forward(g, w_saved, Tensor<T>(), p, out_h, out_w) : Tensor<T>(),
            need_w ? conv2d_weight_grad(g, g_saved, p, kernel_h, kernel_w) : Tensor<T>(),
            need_b ? g.sum({0, 2, 3}) : Tensor<T>()};
      });
}

// dB/dw: dw[O, C/groups, kernel_h, kernel_w] = sum over images of grid @ columns(image)^T.
template <class T>
Tensor<T> conv2d_weight_grad(const Tensor<T>& image, const Tensor<T>& grid, const ConvParams& p,
                             std::int64_t kernel_h, std::int64_t kernel_w) {
  const std::int64_t out_h = grid.shape()[2], out_w = grid.shape()[3];
  const ConvLayout l =
      conv_layout(p, image.shape(), grid.shape()[1], kernel_h, kernel_w, out_h, out_w);
  Tensor<T> out = zeros<T>(Shape{l.out_channels, l.group_in, kernel_h, kernel_w});
  const Tensor<T> xs = contiguous_values(image), gs = contiguous_values(grid);
  const T* xd = xs.data();
  const T* gd = gs.data();
  T* wd = out.data();
  // Groups are independent and may run in parallel; the products of one group are summed
  // in order: dw[group_out, rows] += g[group_out, nb * cols] @ columns[rows, nb * cols]^T.
  const std::int64_t grain = l.work() >= kConvParallelWork ? 1 : l.groups;
  parallel_for(0, l.groups, grain, [&](std::int64_t first, std::int64_t last) {
    Tensor<T> column_scratch(Shape{l.column_scratch()}), grid_scratch(Shape{l.grid_scratch()});
    for (std::int64_t grp = first; grp < last; ++grp) {
      for (std::int64_t product = 0; product < l.products; ++product) {
        const std::int64_t wide = l.images_in(product) * l.cols;
        const T* g = grid_block(l, gd, product, grp, grid_scratch.data());
        const T* columns = column_block(l, xd, product, grp, column_scratch.data());
        kernels::gemm<T>(l.group_out, l.rows, wide, T(1), g, wide, 1, columns, 1, wide,
                         product == 0 ? T(0) : T(1), wd + l.weight_offset(grp), l.rows, 1);
      }
    }
  });

  const bool need_x = image.requires_grad(), need_g = grid.requires_grad();
  const std::int64_t height = l.height, width = l.width;
  return record<T>(
      out, "conv2d_weight_grad", {&image, &grid},
      [x_saved = need_g ? image : Tensor<T>(), g_saved = need_x ? grid : Tensor<T>(), p, need_x,
       need_g, height, width, out_h, out_w](const Tensor<T>& g) {
        return std::vector<Tensor<T>>{
            need_x ? conv2d_input_grad(g_saved, g, Tensor<T>(), p, height, width) : Tensor<T>(),
            need_g ? conv2d_forward(x_saved, g, Tensor<T>(), p, out_h, out_w) : Tensor<T>()};
      });
}

inline void check_conv_params(const char* op, const ConvParams& p) {
  LATENT_CHECK(p.stride.h > 0 && p.stride.w > 0, op, ": stride must be positive, got ", p.stride);
  LATENT_CHECK(p.dilation.h > 0 && p.dilation.w > 0, op, ": dilation must be positive, got ",
               p.dilation);
  LATENT_CHECK(p.padding.h >= 0 && p.padding.w >= 0, op, ": padding must be non-negative, got ",
               p.padding);
  LATENT_CHECK(p.groups > 0, op, ": groups must be positive, got ", p.groups);
}

template <class T>
void check_conv_bias(const char* op, const Tensor<T>& bias, std::int64_t channels) {
  if (!bias.defined()) return;
  LATENT_CHECK(bias.dim() == 1 && bias.shape()[0] == channels, op, ": bias must have shape [",
               channels, "], got ", bias.shape());
}

template <class T>
void check_conv_weight(const char* op, const Tensor<T>& weight, const char* layout) {
  LATENT_CHECK(weight.dim() == 4, op, ": expected a 4-d weight ", layout, ", got shape ",
               weight.shape());
  LATENT_CHECK(weight.shape()[2] > 0 && weight.shape()[3] > 0, op,
               ": kernel size must be positive, got weight of shape ", weight.shape());
}

// Output size of a convolution along one dim: floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1.
inline std::int64_t conv_output_size(std::int64_t in, std::int64_t kernel, std::int64_t pad,
                                     std::int64_t stride, std::int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

// Output size of a transposed convolution along one dim.
inline std::int64_t conv_transpose_output_size(std::int64_t in, std::int64_t kernel,
                                               std::int64_t pad, std::int64_t output_pad,
                                               std::int64_t stride, std::int64_t dilation) {
  return (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_pad + 1;
}

}  // namespace conv_detail

// 2-d convolution (cross-correlation, as torch.nn.functional.conv2d) of input[N, C, H, W]
// (or unbatched [C, H, W]) with weight[O, C / groups, kH, kW], plus bias[O] when given
// (pass an undefined tensor for none):
//   y[n, o, oh, ow] = bias[o] + sum over c in o's group, i, j of
//                     w[o, c, i, j] * x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
// Output size per dim: floor((in + 2 padding - dilation (k - 1) - 1) / stride) + 1.
template <class T>
Tensor<T> conv2d(const Tensor<T>& input, const Tensor<T>& weight,
                 const Tensor<T>& bias = Tensor<T>(), IntPair stride = 1, IntPair padding = 0,
                 IntPair dilation = 1, std::int64_t groups = 1) {
  static_assert(std::is_floating_point<T>::value, "conv2d: needs a floating-point tensor");
  if (input.dim() == 3)
    return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  const conv_detail::ConvParams p{stride, padding, dilation, groups};
  conv_detail::check_conv_params("conv2d", p);
  LATENT_CHECK(input.dim() == 4,
               "conv2d: expected a 4-d input [N, C, H, W] or 3-d [C, H, W], got shape ",
               input.shape());
  conv_detail::check_conv_weight("conv2d", weight, "[out_channels, in_channels / groups, kH, kW]");
  const std::int64_t channels = input.shape()[1], out_channels = weight.shape()[0];
  LATENT_CHECK(channels % groups == 0, "conv2d: input channels ", channels, " (input of shape ",
               input.shape(), ") are not divisible by groups=", groups);
  LATENT_CHECK(out_channels % groups == 0, "conv2d: out_channels ", out_channels,
               " (weight of shape ", weight.shape(), ") are not divisible by groups=", groups);
  LATENT_CHECK(weight.shape()[1] * groups == channels, "conv2d: weight of shape ", weight.shape(),
               " expects ", weight.shape()[1] * groups, " input channels (groups=", groups,
               "), but the input of shape ", input.shape(), " has ", channels);
  conv_detail::check_conv_bias("conv2d", bias, out_channels);
  const std::int64_t kernel_h = weight.shape()[2], kernel_w = weight.shape()[3];
  const std::int64_t padded_h = input.shape()[2] + 2 * padding.h,
                     padded_w = input.shape()[3] + 2 * padding.w;
  const std::int64_t span_h = dilation.h * (kernel_h - 1) + 1,
                     span_w = dilation.w * (kernel_w - 1) + 1;
  LATENT_CHECK(padded_h >= span_h && padded_w >= span_w, "conv2d: padded input size [", padded_h,
               ", ", padded_w, "] is smaller than the dilated kernel size [", span_h, ", ", span_w,
               "] (input of shape ", input.shape(), ", weight of shape ", weight.shape(),
               ", padding ", padding, ", dilation ", dilation, ")");
  const std::int64_t out_h =
      conv_detail::conv_output_size(input.shape()[2], kernel_h, padding.h, stride.h, dilation.h);
  const std::int64_t out_w =
      conv_detail::conv_output_size(input.shape()[3], kernel_w, padding.w, stride.w, dilation.w);
  return conv_detail::conv2d_forward(input, weight, bias, p, out_h, out_w);
}

// 2-d transposed convolution (torch.nn.functional.conv_transpose2d) of input[N, Cin, H, W]
// (or [Cin, H, W]) with weight[Cin, Cout / groups, kH, kW], plus bias[Cout]: the gradient
// of conv2d with respect to its input, so it spreads each input pixel over a kernel-sized
// patch of the output. Output size per dim:
//   (in - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
// Note PyTorch's argument order: groups before dilation.
template <class T>
Tensor<T> conv_transpose2d(const Tensor<T>& input, const Tensor<T>& weight,
                           const Tensor<T>& bias = Tensor<T>(), IntPair stride = 1,
                           IntPair padding = 0, IntPair output_padding = 0, std::int64_t groups = 1,
                           IntPair dilation = 1) {
  static_assert(std::is_floating_point<T>::value,
                "conv_transpose2d: needs a floating-point tensor");
  if (input.dim() == 3)
    return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding, output_padding,
                            groups, dilation)
        .squeeze(0);
  const conv_detail::ConvParams p{stride, padding, dilation, groups};
  conv_detail::check_conv_params("conv_transpose2d", p);
  LATENT_CHECK(input.dim() == 4,
               "conv_transpose2d: expected a 4-d input [N, C, H, W] or 3-d [C, H, W], got shape ",
               input.shape());
  conv_detail::check_conv_weight("conv_transpose2d", weight,
                                 "[in_channels, out_channels / groups, kH, kW]");
  const std::int64_t channels = input.shape()[1];
  LATENT_CHECK(weight.shape()[0] == channels, "conv_transpose2d: weight of shape ", weight.shape(),
               " expects ", weight.shape()[0], " input channels, but the input of shape ",
               input.shape(), " has ", channels);
  LATENT_CHECK(channels % groups == 0, "conv_transpose2d: input channels ", channels,
               " (input of shape ", input.shape(), ") are not divisible by groups=", groups);
  const std::int64_t out_channels = weight.shape()[1] * groups;
  conv_detail::check_conv_bias("conv_transpose2d", bias, out_channels);
  LATENT_CHECK(output_padding.h >= 0 && output_padding.w >= 0,
               "conv_transpose2d: output_padding must be non-negative, got ", output_padding);
  LATENT_CHECK((output_padding.h < stride.h || output_padding.h < dilation.h) &&
                   (output_padding.w < stride.w || output_padding.w < dilation.w),
               "conv_transpose2d: output_padding ", output_padding,
               " must be smaller than either stride ", stride, " or dilation ", dilation);
  const std::int64_t kernel_h = weight.shape()[2], kernel_w = weight.shape()[3];
  const std::int64_t out_h = conv_detail::conv_transpose_output_size(
      input.shape()[2], kernel_h, padding.h, output_padding.h, stride.h, dilation.h);
  const std::int64_t out_w = conv_detail::conv_transpose_output_size(
      input.shape()[3], kernel_w, padding.w, output_padding.w, stride.w, dilation.w);
  LATENT_CHECK(out_h > 0 && out_w > 0, "conv_transpose2d: output size [", out_h, ", ", out_w,
               "] is not positive (input of shape ", input.shape(), ", weight of shape ",
               weight.shape(), ", stride ", stride, ", padding ", padding, ", output_padding ",
               output_padding, ", dilation ", dilation, ")");
  return conv_detail::conv2d_input_grad(input, weight, bias, p, out_h, out_w);
}

// 1-d convolution of input[N, C, L] (or [C, L]) with weight[O, C / groups, k]: conv2d on
// images of height 1.
template <class T>
Tensor<T> conv1d(const Tensor<T>& input, const Tensor<T>& weight,
                 const Tensor<T>& bias = Tensor<T>(), std::int64_t stride = 1,
                 std::int64_t padding = 0, std::int64_t dilation = 1, std::int64_t groups = 1) {
  LATENT_CHECK(input.dim() == 2 || input.dim() == 3,
               "conv1d: expected a 3-d input [N, C, L] or 2-d [C, L], got shape ", input.shape());
  LATENT_CHECK(weight.dim() == 3,
               "conv1d: expected a 3-d weight [out_channels, in_channels / groups, k], got shape ",
               weight.shape());
  return conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, IntPair(1, stride),
                IntPair(0, padding), IntPair(1, dilation), groups)
      .squeeze(-2);
}

// 1-d transposed convolution of input[N, Cin, L] (or [Cin, L]) with weight[Cin, Cout / groups, k].
template <class T>
Tensor<T> conv_transpose1d(const Tensor<T>& input, const Tensor<T>& weight,
                           const Tensor<T>& bias = Tensor<T>(), std::int64_t stride = 1,
                           std::int64_t padding = 0, std::int64_t output_padding = 0,
                           std::int64_t groups = 1, std::int64_t dilation = 1) {
  LATENT_CHECK(input.dim() == 2 || input.dim() == 3,
               "conv_transpose1d: expected a 3-d input [N, C, L] or 2-d [C, L], got shape ",
               input.shape());
  LATENT_CHECK(
      weight.dim() == 3,
      "conv_transpose1d: expected a 3-d weight [in_channels, out_channels / groups, k], got shape ",
      weight.shape());
  return conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, IntPair(1, stride),
                          IntPair(0, padding), IntPair(0, output_padding), groups,
                          IntPair(1, dilation))
      .squeeze(-2);
}

}  // namespace latent::nn::functional
