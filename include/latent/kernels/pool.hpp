// 2-d pooling on one plane [height, width] (contiguous), and the transposes used by the
// gradients. Output position (oh, ow) looks at the window of input rows
// oh * stride_h - pad_h + [0, kernel_h) and columns ow * stride_w - pad_w + [0, kernel_w);
// the part of the window in the padding is skipped (max) or counts as zeros (average).
//
//   max pooling      out[oh, ow] = max over the window,  argmax[oh, ow] = ih * width + iw
//                    (the first maximum in row-major order wins; a NaN wins over numbers)
//   average pooling  out[oh, ow] = (sum over the window) / (kernel_h * kernel_w)
//                    (the zero padding counts in the divisor, PyTorch's count_include_pad)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace latent::kernels {

// Sizes of a pooling from a plane [height, width] to a grid [out_h, out_w].
struct PoolGeometry {
  std::int64_t height = 0, width = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t out_h = 0, out_w = 0;

  std::int64_t plane() const { return height * width; }
  std::int64_t out_plane() const { return out_h * out_w; }
};

namespace pool_detail {

// The rows (or columns) of window o that lie inside the input: [begin, end).
struct Window {
  std::int64_t begin, end;
};

inline Window window(std::int64_t o, std::int64_t stride, std::int64_t pad, std::int64_t kernel,
                     std::int64_t size) {
  const std::int64_t start = o * stride - pad;
  return Window{std::max<std::int64_t>(start, 0), std::min(start + kernel, size)};
}

}  // namespace pool_detail

// out[oh, ow] = max of the window; argmax[oh, ow] = its flat index ih * width + iw.
template <class T>
void max_pool2d_plane(const PoolGeometry& g, const T* in, T* out, std::int64_t* argmax) {
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    const pool_detail::Window rows =
        pool_detail::window(oh, g.stride_h, g.pad_h, g.kernel_h, g.height);
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      const pool_detail::Window cols =
          pool_detail::window(ow, g.stride_w, g.pad_w, g.kernel_w, g.width);
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t best_index = rows.begin * g.width + cols.begin;
      for (std::int64_t ih = rows.begin; ih < rows.end; ++ih) {
        for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) {
          const T v = in[ih * g.width + iw];
          if (v > best || std::isnan(v)) {
            best = v;
            best_index = ih * g.width + iw;
          }
        }
      }
      out[oh * g.out_w + ow] = best;
      argmax[oh * g.out_w + ow] = best_index;
    }
  }
}

// The transpose of max pooling: in_grad[argmax[k]] += out_grad[k]. in_grad must be
// initialised (zeroed) by the caller.
template <class T>
void max_pool2d_scatter(std::int64_t out_plane, const T* out_grad, const std::int64_t* argmax,
                        T* in_grad) {
  for (std::int64_t k = 0; k < out_plane; ++k) in_grad[argmax[k]] += out_grad[k];
}

// The gather that max pooling's gradient is the transpose of: out[k] = in[argmax[k]].
template <class T>
void max_pool2d_gather(std::int64_t out_plane, const T* in, const std::int64_t* argmax, T* out) {
  for (std::int64_t k = 0; k < out_plane; ++k) out[k] = in[argmax[k]];
}

// out[oh, ow] = sum of the window / (kernel_h * kernel_w).
template <class T>
void avg_pool2d_plane(const PoolGeometry& g, const T* in, T* out) {
  const T divisor = static_cast<T>(g.kernel_h * g.kernel_w);
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    const pool_detail::Window rows =
        pool_detail::window(oh, g.stride_h, g.pad_h, g.kernel_h, g.height);
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      const pool_detail::Window cols =
          pool_detail::window(ow, g.stride_w, g.pad_w, g.kernel_w, g.width);
      T sum = 0;
      for (std::int64_t ih = rows.begin; ih < rows.end; ++ih)
        for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) sum += in[ih * g.width + iw];
      out[oh * g.out_w + ow] = sum / divisor;
    }
  }
}

// The transpose of average pooling: every input pixel of window (oh, ow) receives
// out_grad[oh, ow] / (kernel_h * kernel_w). Writes (not adds) the whole of in_grad.
template <class T>
void avg_pool2d_transpose_plane(const PoolGeometry& g, const T* out_grad, T* in_grad) {
  const T divisor = static_cast<T>(g.kernel_h * g.kernel_w);
  std::fill(in_grad, in_grad + g.plane(), T(0));
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    const pool_detail::Window rows =
        pool_detail::window(oh, g.stride_h, g.pad_h, g.kernel_h, g.height);
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      const pool_detail::Window cols =
          pool_detail::window(ow, g.stride_w, g.pad_w, g.kernel_w, g.width);
      const T share = out_grad[oh * g.out_w + ow] / divisor;
      for (std::int64_t ih = rows.begin; ih < rows.end; ++ih)
        for (std::int64_t iw = cols.begin; iw < cols.end; ++iw) in_grad[ih * g.width + iw] += share;
    }
  }
}

// Nearest-neighbour upsampling by integer factors: out[oh, ow] = in[oh / scale_h, ow / scale_w]
// for an output plane [height * scale_h, width * scale_w].
template <class T>
void upsample_nearest2d_plane(std::int64_t height, std::int64_t width, std::int64_t scale_h,
                              std::int64_t scale_w, const T* in, T* out) {
  const std::int64_t out_w = width * scale_w;
  for (std::int64_t ih = 0; ih < height; ++ih) {
    T* first = out + ih * scale_h * out_w;
    for (std::int64_t iw = 0; iw < width; ++iw)
      std::fill(first + iw * scale_w, first + (iw + 1) * scale_w, in[ih * width + iw]);
    for (std::int64_t r = 1; r < scale_h; ++r) std::copy(first, first + out_w, first + r * out_w);
  }
}

}  // namespace latent::kernels
