// im2col / col2im: the data movement that turns a 2-d convolution into one matrix product.
//
// A convolution reads, for output position (oh, ow) and kernel tap (i, j), the input pixel
//
//   x[c, oh * stride_h - pad_h + i * dilation_h, ow * stride_w - pad_w + j * dilation_w]
//
// (zero where that falls outside the image). im2col copies those pixels into a matrix
//
//   columns[(c * kernel_h + i) * kernel_w + j, oh * out_w + ow]
//
// of shape [channels * kernel_h * kernel_w, out_h * out_w], so that the convolution is
// weight[O, C*kh*kw] @ columns. For `count` images the matrices sit side by side, image n
// in columns n * out_h * out_w + [0, out_h * out_w), making one wider product. col2im is
// the transpose: it adds every column entry back onto the pixel it was read from (pixels
// read by several taps receive the sum). It is the core of the transposed convolution and
// of the input gradient.
//
// The output grid (out_h, out_w) is given, not derived, so the same kernels serve every
// face of the convolution: positions that map outside the image read zeros (im2col) or are
// dropped (col2im). Each image is contiguous [channels, height, width]; consecutive images
// are image_stride elements apart.
#pragma once

#include <algorithm>
#include <cstdint>

namespace latent::kernels {

// Sizes of one convolution between an image [channels, height, width] and an output grid
// [out_h, out_w], with the kernel's size, padding, stride and dilation.
struct ConvGeometry {
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t out_h = 0, out_w = 0;

  std::int64_t column_rows() const { return channels * kernel_h * kernel_w; }
  std::int64_t column_cols() const { return out_h * out_w; }
  // A 1x1 kernel that reads every pixel once, in place: the image is its own column matrix.
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && pad_h == 0 && pad_w == 0 && stride_h == 1 &&
           stride_w == 1 && out_h == height && out_w == width;
  }
};

namespace im2col_detail {

// The output positions o in [0, count) whose input position o * stride + offset lies in
// [0, size): a range [begin, end) (empty when begin >= end).
struct Span {
  std::int64_t begin, end;
};

inline std::int64_t first_at_least(std::int64_t limit, std::int64_t offset, std::int64_t stride,
                                   std::int64_t count) {
  // Smallest o >= 0 with o * stride + offset >= limit, capped at count.
  if (offset >= limit) return 0;
  return std::min(count, (limit - offset + stride - 1) / stride);
}

inline Span inside(std::int64_t offset, std::int64_t stride, std::int64_t size,
                   std::int64_t count) {
  const std::int64_t begin = first_at_least(0, offset, stride, count);
  const std::int64_t end = first_at_least(size, offset, stride, count);
  return Span{begin, std::max(begin, end)};
}

// The two inner loops of im2col and col2im: each copies one run of a column row from (or
// adds it back onto) an image row read with the convolution's stride. (AVX2 versions of
// them gave no measurable gain: the rows are 7 to 28 values, and the per-row work
// dominates.)
//
//   copy_strided:  dst[k] = src[k * stride]        for k in [0, n)
//   add_strided:   dst[k * stride] += src[k]       for k in [0, n)
template <class T>
inline void copy_strided(const T* src, std::int64_t stride, T* dst, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) dst[k] = src[k * stride];
}
template <class T>
inline void add_strided(const T* src, T* dst, std::int64_t stride, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) dst[k * stride] += src[k];
}

}  // namespace im2col_detail

// columns[c*kh*kw + i*kw + j, n*out_h*out_w + oh*out_w + ow] = image n [c, ih, iw] (or 0
// outside the image), with ih = oh*stride_h - pad_h + i*dilation_h and
// iw = ow*stride_w - pad_w + j*dilation_w. Each row is written in one sweep over the images.
template <class T>
void im2col(const ConvGeometry& g, const T* images, std::int64_t image_stride, std::int64_t count,
            T* columns) {
  const std::int64_t plane = g.height * g.width, out_plane = g.out_h * g.out_w;
  for (std::int64_t c = 0; c < g.channels; ++c) {
    for (std::int64_t i = 0; i < g.kernel_h; ++i) {
      for (std::int64_t j = 0; j < g.kernel_w; ++j) {
        T* row = columns + ((c * g.kernel_h + i) * g.kernel_w + j) * count * out_plane;
        const std::int64_t w_offset = j * g.dilation_w - g.pad_w;
        const im2col_detail::Span cols =
            im2col_detail::inside(w_offset, g.stride_w, g.width, g.out_w);
        for (std::int64_t n = 0; n < count; ++n) {
          for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
            T* dst = row + n * out_plane + oh * g.out_w;
            const std::int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
            std::int64_t ow = 0;
            if (ih >= 0 && ih < g.height) {
              // Pixel iw = ow * stride_w + w_offset of this image row.
              const T* src = images + n * image_stride + c * plane + ih * g.width;
              for (; ow < cols.begin; ++ow) dst[ow] = T(0);
              if (ow < cols.end) {
                im2col_detail::copy_strided(src + ow * g.stride_w + w_offset, g.stride_w,
                                            dst + ow, cols.end - ow);
                ow = cols.end;
              }
            }
            for (; ow < g.out_w; ++ow) dst[ow] = T(0);
          }
        }
      }
    }
  }
}

// The transpose of im2col: image n [c, ih, iw] += columns[...] for every column entry that
// im2col would have read from there. The images must be initialised by the caller.
template <class T>
void col2im(const ConvGeometry& g, const T* columns, std::int64_t count, T* images,
            std::int64_t image_stride) {
  const std::int64_t plane = g.height * g.width, out_plane = g.out_h * g.out_w;
  for (std::int64_t c = 0; c < g.channels; ++c) {
    for (std::int64_t i = 0; i < g.kernel_h; ++i) {
      for (std::int64_t j = 0; j < g.kernel_w; ++j) {
        const T* row = columns + ((c * g.kernel_h + i) * g.kernel_w + j) * count * out_plane;
        const std::int64_t w_offset = j * g.dilation_w - g.pad_w;
        const im2col_detail::Span cols =
            im2col_detail::inside(w_offset, g.stride_w, g.width, g.out_w);
        for (std::int64_t n = 0; n < count; ++n) {
          for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
            const std::int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
            if (ih < 0 || ih >= g.height) continue;
            const T* src = row + n * out_plane + oh * g.out_w;
            T* dst = images + n * image_stride + c * plane + ih * g.width;
            if (cols.begin < cols.end) {
              im2col_detail::add_strided(src + cols.begin, dst + cols.begin * g.stride_w + w_offset,
                                         g.stride_w, cols.end - cols.begin);
            }
          }
        }
      }
    }
  }
}

}  // namespace latent::kernels
