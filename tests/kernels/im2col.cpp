// Tests for kernels/im2col.hpp against the definition, element by element, over strides
// 1 to 3, paddings, dilations and widths from 1 to 33, for float and double, several
// images at once.
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include <latent/latent.hpp>

namespace im2col_test {

namespace kernels = latent::kernels;

// The pixel read for column row (c, i, j) and output position (oh, ow), or 0 outside.
template <class T>
T pixel(const kernels::ConvGeometry& g, const T* image, std::int64_t c, std::int64_t i,
        std::int64_t j, std::int64_t oh, std::int64_t ow) {
  const std::int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
  const std::int64_t iw = ow * g.stride_w - g.pad_w + j * g.dilation_w;
  if (ih < 0 || ih >= g.height || iw < 0 || iw >= g.width) return T(0);
  return image[(c * g.height + ih) * g.width + iw];
}

template <class T>
void check_geometry(std::int64_t height, std::int64_t width, std::int64_t kernel, std::int64_t pad,
                    std::int64_t stride, std::int64_t dilation) {
  kernels::ConvGeometry g;
  g.channels = 2;
  g.height = height;
  g.width = width;
  g.kernel_h = g.kernel_w = kernel;
  g.pad_h = g.pad_w = pad;
  g.stride_h = g.stride_w = stride;
  g.dilation_h = g.dilation_w = dilation;
  g.out_h = (height + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
  g.out_w = (width + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
  if (g.out_h <= 0 || g.out_w <= 0) return;
  const std::int64_t count = 3, image_size = g.channels * height * width;
  const std::int64_t image_stride = image_size + 5;  // images need not be adjacent
  std::vector<T> images(count * image_stride);
  for (std::size_t k = 0; k < images.size(); ++k) images[k] = T(int(k * 7 % 23) - 11);
  const std::int64_t rows = g.column_rows(), plane = g.column_cols();
  std::vector<T> columns(rows * count * plane, T(-99));
  kernels::im2col(g, images.data(), image_stride, count, columns.data());

  // im2col: every entry is the pixel it names.
  std::vector<T> expected_images(images.size(), T(1));  // col2im adds onto these
  std::vector<T> back(images.size(), T(1));
  bool all_equal = true;
  for (std::int64_t c = 0; c < g.channels; ++c)
    for (std::int64_t i = 0; i < kernel; ++i)
      for (std::int64_t j = 0; j < kernel; ++j)
        for (std::int64_t n = 0; n < count; ++n)
          for (std::int64_t oh = 0; oh < g.out_h; ++oh)
            for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
              const std::int64_t row = (c * kernel + i) * kernel + j;
              const T value = columns[row * count * plane + n * plane + oh * g.out_w + ow];
              all_equal &= value == pixel(g, images.data() + n * image_stride, c, i, j, oh, ow);
              // col2im: the same entry goes back onto the same pixel.
              const std::int64_t ih = oh * stride - pad + i * dilation;
              const std::int64_t iw = ow * stride - pad + j * dilation;
              if (ih >= 0 && ih < height && iw >= 0 && iw < width)
                expected_images[n * image_stride + (c * height + ih) * width + iw] += value;
            }
  CHECK_MESSAGE(all_equal, "im2col ", height, "x", width, " k", kernel, " p", pad, " s", stride,
                " d", dilation);
  kernels::col2im(g, columns.data(), count, back.data(), image_stride);
  CHECK_MESSAGE(back == expected_images, "col2im ", height, "x", width, " k", kernel, " p", pad,
                " s", stride, " d", dilation);
}

TEST_CASE_TEMPLATE("im2col and col2im match their definition", T, float, double) {
  for (std::int64_t width : {1, 3, 7, 8, 9, 14, 16, 17, 28, 33})
    for (std::int64_t kernel : {1, 3, 4})
      for (std::int64_t pad : {0, 1, 2})
        for (std::int64_t stride : {1, 2, 3})
          for (std::int64_t dilation : {1, 2}) check_geometry<T>(5, width, kernel, pad, stride, dilation);
}

}  // namespace im2col_test
