// Pictures from tensors: a grid of images (as torchvision's make_grid + save_image), a
// single image, scatter plots of 2-D points and heat maps, all written as PNG.
//
// Values are mapped linearly from [low, high] to 0..255 and clamped, so a model's
// output in [-1, 1] is saved with low = -1, high = 1.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../ops/shape_ops.hpp"
#include "../tensor/tensor.hpp"
#include "png.hpp"

namespace latent::io {

// An 8-bit picture, row-major, channels interleaved (1 grey, 3 RGB, 4 RGBA).
struct Image {
  std::int64_t height = 0, width = 0, channels = 3;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(std::int64_t h, std::int64_t w, std::int64_t c, std::uint8_t fill = 0)
      : height(h), width(w), channels(c), pixels(static_cast<std::size_t>(h * w * c), fill) {}
  std::uint8_t* at(std::int64_t y, std::int64_t x) { return &pixels[static_cast<std::size_t>((y * width + x) * channels)]; }
  template <class = void>  // compiled only when used, as write_png (png.hpp)
  void save(const std::string& path) const {
    write_png(path, pixels.data(), static_cast<std::size_t>(height), static_cast<std::size_t>(width),
              static_cast<std::size_t>(channels));
  }
};

namespace detail {
inline std::uint8_t to_byte(double v, double low, double high) {
  const double t = (v - low) / (high - low) * 255.0;
  return static_cast<std::uint8_t>(std::lround(std::min(255.0, std::max(0.0, std::isnan(t) ? 0.0 : t))));
}
}  // namespace detail

// Images [N, C, H, W] (C = 1 or 3) tiled `nrow` per row with `padding` pixels between.
template <class T>
Image image_grid(const Tensor<T>& images, std::int64_t nrow = 8, std::int64_t padding = 2, double low = 0,
                 double high = 1, std::uint8_t pad_value = 0) {
  LATENT_CHECK(images.dim() == 4 && (images.shape()[1] == 1 || images.shape()[1] == 3),
               "image_grid: expects images [N, C, H, W] with C = 1 or 3, got shape ", images.shape());
  LATENT_CHECK(nrow > 0 && padding >= 0 && high > low, "image_grid: needs nrow > 0, padding >= 0 and high > low");
  const Tensor<T> x = latent::detail::contiguous_copy(images);
  const std::int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  const std::int64_t cols = std::min(nrow, std::max<std::int64_t>(n, 1)), rows = (n + cols - 1) / cols;
  Image img(rows * (h + padding) + padding, cols * (w + padding) + padding, c, pad_value);
  const T* p = x.data();
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t y0 = padding + (k / cols) * (h + padding), x0 = padding + (k % cols) * (w + padding);
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t xx = 0; xx < w; ++xx)
          img.at(y0 + y, x0 + xx)[ch] = detail::to_byte(double(p[((k * c + ch) * h + y) * w + xx]), low, high);
  }
  return img;
}

// Saves images [N, C, H, W] as a grid, or one image [C, H, W] / [H, W], as PNG.
template <class T>
void save_image(const std::string& path, const Tensor<T>& images, std::int64_t nrow = 8, double low = 0,
                double high = 1) {
  if (images.dim() == 2) return save_image(path, images.unsqueeze(0).unsqueeze(0), 1, low, high);
  if (images.dim() == 3) return image_grid(images.unsqueeze(0), 1, 0, low, high).save(path);
  image_grid(images, nrow, 2, low, high).save(path);
}

// Ten distinct colours (the tab10 palette) for classes and series.
inline std::array<std::uint8_t, 3> palette(std::int64_t i) {
  static const std::uint8_t colours[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                              {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                              {188, 189, 34},  {23, 190, 207}};
  const auto& c = colours[((i % 10) + 10) % 10];
  return {c[0], c[1], c[2]};
}

// A sequential colour map from dark blue through green to yellow (viridis-like), t in [0, 1].
inline std::array<std::uint8_t, 3> colour_map(double t) {
  static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::min(1.0, std::max(0.0, std::isnan(t) ? 0.0 : t)) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  std::array<std::uint8_t, 3> c{};
  for (int k = 0; k < 3; ++k) c[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(std::lround(stops[i][k] * (1 - f) + stops[i + 1][k] * f));
  return c;
}

// Points [n, 2] drawn as dots on a white square picture spanning [lo, hi] in both axes,
// coloured by label (palette) or all in the first colour; light grey axes through 0.
template <class T>
Image scatter_plot(const Tensor<T>& points, double lo, double hi, std::int64_t size = 400,
                   const Tensor<std::int64_t>& labels = Tensor<std::int64_t>(), std::int64_t radius = 1) {
  LATENT_CHECK(points.dim() == 2 && points.shape()[1] == 2, "scatter_plot: expects points [n, 2], got ", points.shape());
  LATENT_CHECK(hi > lo && size > 0, "scatter_plot: needs hi > lo and a positive size");
  Image img(size, size, 3, 255);
  auto pixel = [&](double v) { return static_cast<std::int64_t>(std::floor((v - lo) / (hi - lo) * double(size))); };
  const std::int64_t zero = pixel(0.0);
  for (std::int64_t i = 0; i < size && zero >= 0 && zero < size; ++i) {
    for (std::uint8_t* px : {img.at(size - 1 - zero, i), img.at(i, zero)}) px[0] = px[1] = px[2] = 220;
  }
  const Tensor<T> p = latent::detail::contiguous_copy(points);
  for (std::int64_t k = 0; k < p.shape()[0]; ++k) {
    const std::int64_t cx = pixel(double(p.data()[2 * k])), cy = size - 1 - pixel(double(p.data()[2 * k + 1]));
    const auto colour = palette(labels.defined() ? labels.data()[k] : 0);
    for (std::int64_t dy = -radius; dy <= radius; ++dy)
      for (std::int64_t dx = -radius; dx <= radius; ++dx) {
        const std::int64_t y = cy + dy, x = cx + dx;
        if (y < 0 || y >= size || x < 0 || x >= size) continue;
        std::copy(colour.begin(), colour.end(), img.at(y, x));
      }
  }
  return img;
}

// A matrix [H, W] drawn with the colour map, each cell `cell` pixels wide; values mapped
// from [low, high] (default: the matrix's own range).
template <class T>
Image heatmap(const Tensor<T>& values, std::int64_t cell = 1, double low = NAN, double high = NAN) {
  LATENT_CHECK(values.dim() == 2 && cell > 0, "heatmap: expects a matrix [H, W] and cell > 0, got shape ", values.shape());
  const Tensor<T> v = latent::detail::contiguous_copy(values);
  const std::int64_t h = v.shape()[0], w = v.shape()[1];
  if (std::isnan(low) || std::isnan(high)) {
    low = INFINITY;
    high = -INFINITY;
    for (std::int64_t i = 0; i < v.numel(); ++i) {
      low = std::min(low, double(v.data()[i]));
      high = std::max(high, double(v.data()[i]));
    }
    if (!(high > low)) high = low + 1;
  }
  Image img(h * cell, w * cell, 3);
  for (std::int64_t y = 0; y < h * cell; ++y)
    for (std::int64_t x = 0; x < w * cell; ++x) {
      const auto c = colour_map((double(v.data()[(y / cell) * w + x / cell]) - low) / (high - low));
      std::copy(c.begin(), c.end(), img.at(y, x));
    }
  return img;
}

}  // namespace latent::io
