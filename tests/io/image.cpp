// Pictures from tensors: grid layout and value mapping, scatter plots, heat maps.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <vector>

using namespace latent;

TEST_CASE("image_grid tiles images with padding and maps [low, high] to 0..255") {
  // Three 1x2x2 images with values 0, 0.5 and 1 (and one out of range), 2 per row.
  Tensor<float> images = zeros<float>({3, 1, 2, 2});
  images.select(0, 1).fill_(0.5f);
  images.select(0, 2).fill_(1.0f);
  images.at({2, 0, 1, 1}) = 7.0f;  // clamped
  const io::Image g = io::image_grid(images, 2, 1, 0.0, 1.0, 9);
  CHECK(g.height == 2 * 3 + 1);
  CHECK(g.width == 2 * 3 + 1);
  CHECK(g.channels == 1);
  CHECK(g.pixels[0] == 9);                            // padding
  CHECK(*const_cast<io::Image&>(g).at(1, 1) == 0);    // image 0
  CHECK(*const_cast<io::Image&>(g).at(1, 4) == 128);  // image 1: 0.5 -> 127.5 rounds to 128
  CHECK(*const_cast<io::Image&>(g).at(4, 1) == 255);  // image 2, row 2
  CHECK(*const_cast<io::Image&>(g).at(5, 2) == 255);  // the clamped 7.0
  CHECK(*const_cast<io::Image&>(g).at(4, 4) == 9);    // empty slot keeps the pad value
  // [-1, 1] mapping for RGB images.
  const io::Image rgb = io::image_grid(full<double>({1, 3, 1, 1}, 0.0), 8, 0, -1.0, 1.0);
  CHECK(rgb.pixels == std::vector<std::uint8_t>{128, 128, 128});
  CHECK_THROWS_AS(io::image_grid(zeros<float>({2, 2, 4, 4})), Error);
}

TEST_CASE("scatter plots put points where they belong, in their label's colour") {
  const Tensor<double> pts = tensor<double>({0.5, 0.5, -0.75, -0.75}, {2, 2});
  io::Image img = io::scatter_plot(pts, -1.0, 1.0, 100, tensor<std::int64_t>({1, 3}), 0);
  const auto c1 = io::palette(1), c3 = io::palette(3);
  CHECK(img.at(24, 75)[0] == c1[0]);  // (0.5, 0.5): x pixel 75, y pixel 99 - 75
  CHECK(img.at(24, 75)[2] == c1[2]);
  CHECK(img.at(87, 12)[1] == c3[1]);  // (-0.75, -0.75): pixel 12, row 99 - 12
  CHECK(img.at(10, 10)[0] == 255);    // background
  const io::Image h = io::heatmap(tensor<double>({0, 1, 2, 3}, {2, 2}), 2);
  CHECK(h.height == 4);
  CHECK(h.width == 4);
  const auto lowest = io::colour_map(0.0), highest = io::colour_map(1.0);
  CHECK(std::vector<std::uint8_t>(h.pixels.begin(), h.pixels.begin() + 3) ==
        std::vector<std::uint8_t>(lowest.begin(), lowest.end()));
  CHECK(std::vector<std::uint8_t>(h.pixels.end() - 3, h.pixels.end()) ==
        std::vector<std::uint8_t>(highest.begin(), highest.end()));
}
