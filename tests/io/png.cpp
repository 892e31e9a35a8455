// Tests of io/png.hpp: our PNGs are taken apart here by a small independent decoder
// (signature, chunk order and CRCs, IHDR fields, IDAT through our inflater, unfiltering),
// and by PIL through tests/io/check_png_with_pil.py, which runs the "io export" case.
#include <latent/latent.hpp>
#include <latent/io/png.hpp>

#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace png_test {

using Bytes = std::vector<std::uint8_t>;
namespace io = latent::io;

struct Decoded {
  std::size_t width = 0, height = 0;
  int colour_type = -1;
  int idat_chunks = 0;
  std::vector<int> filters;  // the filter type of each row
  Bytes pixels;
};

inline int paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Decodes the 8-bit, non-interlaced PNGs that encode_png writes, checking as it goes.
inline Decoded decode(const Bytes& png) {
  static const Bytes kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  io::ByteReader reader(png.data(), png.size(), "png test");
  const std::uint8_t* signature = reader.take(8, "signature");
  CHECK(Bytes(signature, signature + 8) == kSignature);
  Decoded result;
  Bytes idat;
  std::vector<std::string> order;
  while (!reader.at_end()) {
    const std::uint32_t length = reader.u32_be("chunk length");
    const std::uint8_t* type_and_data = reader.take(4 + std::size_t(length), "chunk");
    const std::string type(type_and_data, type_and_data + 4);
    const std::uint8_t* data = type_and_data + 4;
    CHECK(reader.u32_be("chunk CRC") == io::crc32(type_and_data, 4 + std::size_t(length)));
    if (order.empty() || order.back() != type) order.push_back(type);
    if (type == "IHDR") {
      REQUIRE(length == 13);
      io::ByteReader header(data, length, "IHDR");
      result.width = header.u32_be("width");
      result.height = header.u32_be("height");
      CHECK(header.u8("bit depth") == 8);
      result.colour_type = header.u8("colour type");
      CHECK(header.u8("compression") == 0);
      CHECK(header.u8("filter") == 0);
      CHECK(header.u8("interlace") == 0);
    } else if (type == "IDAT") {
      CHECK(length <= 65536);
      ++result.idat_chunks;
      idat.insert(idat.end(), data, data + length);
    } else if (type == "IEND") {
      CHECK(length == 0);
    }
  }
  CHECK(order == std::vector<std::string>{"IHDR", "IDAT", "IEND"});

  const std::size_t channels = result.colour_type == 0 ? 1 : result.colour_type == 4 ? 2
                               : result.colour_type == 2 ? 3 : 4;
  const std::size_t row_bytes = result.width * channels;
  const Bytes filtered = io::inflate_zlib(idat);
  REQUIRE(filtered.size() == result.height * (row_bytes + 1));
  result.pixels.assign(result.height * row_bytes, 0);
  for (std::size_t y = 0; y < result.height; ++y) {
    const std::uint8_t* in = filtered.data() + y * (row_bytes + 1);
    std::uint8_t* out = result.pixels.data() + y * row_bytes;
    const std::uint8_t* above = y > 0 ? out - row_bytes : nullptr;
    result.filters.push_back(in[0]);
    for (std::size_t i = 0; i < row_bytes; ++i) {
      const int a = i >= channels ? out[i - channels] : 0;
      const int b = above ? above[i] : 0;
      const int c = above && i >= channels ? above[i - channels] : 0;
      const int prediction = in[0] == 1 ? a : in[0] == 2 ? b : in[0] == 3 ? (a + b) / 2
                             : in[0] == 4 ? paeth(a, b, c) : 0;
      out[i] = static_cast<std::uint8_t>(in[1 + i] + prediction);
    }
  }
  return result;
}

enum class Pattern { Noise, Gradient, Constant, Stripes };

inline Bytes picture(std::size_t height, std::size_t width, std::size_t channels, Pattern pattern,
                     unsigned seed = 1) {
  std::mt19937 rng(seed);
  Bytes pixels(height * width * channels);
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x) {
      for (std::size_t c = 0; c < channels; ++c) {
        std::uint8_t value = 0;
        switch (pattern) {
          case Pattern::Noise: value = static_cast<std::uint8_t>(rng()); break;
          case Pattern::Gradient: value = static_cast<std::uint8_t>(x * 3 + y * 2 + c * 40); break;
          case Pattern::Constant: value = static_cast<std::uint8_t>(200 - c); break;
          case Pattern::Stripes: value = (x / 4 + y / 3) % 2 ? 255 : static_cast<std::uint8_t>(c * 60); break;
        }
        pixels[(y * width + x) * channels + c] = value;
      }
    }
  }
  return pixels;
}

template <class F>
std::string error_of(F&& f) {
  return latent_test::error_message(f, "<no error>");
}

}  // namespace png_test

TEST_CASE("io png: pixels survive encoding, for 1 to 4 channels and any size") {
  using namespace png_test;
  const int colour_types[5] = {-1, 0, 4, 2, 6};
  for (std::size_t channels = 1; channels <= 4; ++channels) {
    for (auto size : {std::pair<std::size_t, std::size_t>{1, 1}, {2, 3}, {17, 31}, {64, 48}}) {
      const std::size_t height = size.first, width = size.second;
      for (Pattern pattern : {Pattern::Noise, Pattern::Gradient, Pattern::Constant, Pattern::Stripes}) {
        CAPTURE(channels);
        CAPTURE(height);
        CAPTURE(width);
        CAPTURE(static_cast<int>(pattern));
        const Bytes pixels = picture(height, width, channels, pattern);
        const Decoded decoded = decode(io::encode_png(pixels.data(), height, width, channels));
        CHECK(decoded.width == width);
        CHECK(decoded.height == height);
        CHECK(decoded.colour_type == colour_types[channels]);
        CHECK(decoded.pixels == pixels);
      }
    }
  }
}

TEST_CASE("io png: each row gets the filter with the smallest differences") {
  using namespace png_test;
  // Identical rows rising left to right: Sub on the first row (all differences 3), then
  // Up (all differences 0).
  Bytes rows(8 * 40);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::uint8_t>(3 * (i % 40));
  CHECK(decode(io::encode_png(rows.data(), 8, 40, 1)).filters == std::vector<int>{1, 2, 2, 2, 2, 2, 2, 2});

  // Each row one value, 5 * y: row 0 is all zeros (None, the first of the ties); row 1
  // costs 5 with Sub and with Paeth (Sub comes first); from row 2 on Paeth costs 5 (its
  // first byte predicts from above, the rest from the left) and Sub 5 * y.
  Bytes bands(6 * 30);
  for (std::size_t i = 0; i < bands.size(); ++i) bands[i] = static_cast<std::uint8_t>(5 * (i / 30));
  CHECK(decode(io::encode_png(bands.data(), 6, 30, 1)).filters == std::vector<int>{0, 1, 4, 4, 4, 4});

  // Noise in RGB: whatever is picked, a smooth picture compresses far better than noise.
  const Bytes smooth = picture(64, 64, 3, Pattern::Gradient);
  const Bytes noise = picture(64, 64, 3, Pattern::Noise);
  CHECK(io::encode_png(smooth.data(), 64, 64, 3).size() * 20 < io::encode_png(noise.data(), 64, 64, 3).size());
}

TEST_CASE("io png: a large picture spans several IDAT chunks") {
  using namespace png_test;
  const Bytes noise = picture(300, 300, 3, Pattern::Noise, 7);
  const Bytes png = io::encode_png(noise.data(), 300, 300, 3, 1);
  const Decoded decoded = decode(png);
  CHECK(decoded.idat_chunks == 5);  // 270300 filtered bytes, stored: 5 chunks of <= 64 KiB
  CHECK(decoded.pixels == noise);
}

TEST_CASE("io png: bad sizes and channel counts are errors; write_png writes the file") {
  using namespace png_test;
  const Bytes pixels(12, 7);
  CHECK(error_of([&] { io::encode_png(pixels.data(), 2, 2, 5); }) ==
        "encode_png: channels must be 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA), got 5");
  CHECK(error_of([&] { io::encode_png(pixels.data(), 2, 2, 0); }).find("got 0") != std::string::npos);
  CHECK(error_of([&] { io::encode_png(pixels.data(), 0, 4, 3); }) ==
        "encode_png: size 0 x 4 must be 1 .. 2^31-1 on each side");

  namespace fs = std::filesystem;
  const fs::path folder = fs::temp_directory_path() / ("latent_png_test_" + std::to_string(std::random_device()()));
  fs::create_directories(folder);
  const std::string path = (folder / "picture.png").string();
  io::write_png(path, pixels.data(), 2, 2, 3);
  CHECK(io::read_file(path) == io::encode_png(pixels.data(), 2, 2, 3));
  fs::remove_all(folder);
}

// Run by tests/io/check_png_with_pil.py with LATENT_IO_EXPORT_DIR set: for each picture,
// NAME.png and NAME.pixels (the raw bytes, height x width x channels).
TEST_CASE("io export: PNG pictures for PIL" * doctest::skip()) {
  using namespace png_test;
  const char* folder = std::getenv("LATENT_IO_EXPORT_DIR");
  REQUIRE_MESSAGE(folder != nullptr, "set LATENT_IO_EXPORT_DIR to the folder to write into");
  const char* pattern_names[4] = {"noise", "gradient", "constant", "stripes"};
  for (std::size_t channels = 1; channels <= 4; ++channels) {
    for (auto [height, width] : {std::pair<std::size_t, std::size_t>{1, 1}, {5, 3}, {28, 28}, {97, 130}}) {
      for (Pattern pattern : {Pattern::Noise, Pattern::Gradient, Pattern::Constant, Pattern::Stripes}) {
        const Bytes pixels = picture(height, width, channels, pattern);
        const std::string stem = std::string(folder) + "/png_" + std::to_string(height) + "x" +
                                 std::to_string(width) + "x" + std::to_string(channels) + "_" +
                                 pattern_names[static_cast<int>(pattern)];
        io::write_png(stem + ".png", pixels.data(), height, width, channels);
        io::write_file_atomic(stem + ".pixels", pixels);
      }
    }
  }
}
