// Tests of io/idx.hpp: tiny committed IDX files of every element type (made by
// tools/gen_io_fixtures.py), hand-corrupted headers, and the real Fashion-MNIST files when
// they are installed (/usr/share/datasets/fashion-mnist, or LATENT_FASHION_MNIST_DIR).
#include <latent/latent.hpp>
#include <latent/io/idx.hpp>

#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#ifndef LATENT_TEST_FIXTURES_DIR
#define LATENT_TEST_FIXTURES_DIR "tests/fixtures"
#endif

namespace idx_test {

using Bytes = std::vector<std::uint8_t>;
namespace io = latent::io;

inline std::string fixture_path(const std::string& name) {
  return std::string(LATENT_TEST_FIXTURES_DIR) + "/io/" + name;
}

// The elements of an IdxData as values of type T (host byte order, as parse_idx gives).
template <class T>
std::vector<T> values(const io::IdxData& idx) {
  REQUIRE(idx.data.size() % sizeof(T) == 0);
  std::vector<T> out(idx.data.size() / sizeof(T));
  std::memcpy(out.data(), idx.data.data(), idx.data.size());
  return out;
}

inline std::string parse_error(const Bytes& bytes) {
  return latent_test::error_message([&] { io::parse_idx(bytes.data(), bytes.size(), "hand-made"); }, "<no error>");
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace idx_test

TEST_CASE("io idx: tiny files of every element type") {
  using namespace idx_test;
  const io::IdxData images = io::read_idx(fixture_path("tiny-images-idx3-ubyte"));
  CHECK(images.type == io::IdxType::UInt8);
  CHECK(images.dims == std::vector<std::size_t>{3, 4, 5});
  CHECK(images.numel() == 60);
  for (std::size_t i = 0; i < 60; ++i) CHECK(images.data[i] == (i * 7) % 256);

  const io::IdxData gzipped = io::read_idx(fixture_path("tiny-images-idx3-ubyte.gz"));
  CHECK(gzipped.dims == images.dims);
  CHECK(gzipped.data == images.data);

  CHECK(values<std::uint8_t>(io::read_idx(fixture_path("tiny-labels-idx1-ubyte"))) ==
        std::vector<std::uint8_t>{9, 0, 3});
  CHECK(values<std::int8_t>(io::read_idx(fixture_path("tiny-int8-idx1"))) ==
        std::vector<std::int8_t>{-128, -1, 127});
  CHECK(values<std::int16_t>(io::read_idx(fixture_path("tiny-int16-idx1"))) ==
        std::vector<std::int16_t>{1, -2, 300, -32768});
  CHECK(values<std::int32_t>(io::read_idx(fixture_path("tiny-int32-idx1"))) ==
        std::vector<std::int32_t>{1, -2, 100000, INT32_MIN});
  const io::IdxData floats = io::read_idx(fixture_path("tiny-float-idx2"));
  CHECK(floats.type == io::IdxType::Float32);
  CHECK(floats.dims == std::vector<std::size_t>{2, 3});
  const std::vector<float> f = values<float>(floats);
  CHECK(f == std::vector<float>{0.5f, -1.25f, 3.0f, 0.001f, 65504.0f, -0.0f});
  CHECK(std::signbit(f[5]));
  CHECK(values<double>(io::read_idx(fixture_path("tiny-double-idx1"))) ==
        std::vector<double>{3.141592653589793, -2.5e-300});
}

TEST_CASE("io idx: hand-corrupted headers give clear errors") {
  using namespace idx_test;
  const Bytes good = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
  CHECK(io::parse_idx(good.data(), good.size()).dims == std::vector<std::size_t>{2, 3});

  CHECK(parse_error({}) == "idx: hand-made: truncated: reading magic number needs 4 bytes at offset 0, 0 remain");
  Bytes bad = good;
  bad[1] = 1;
  CHECK(contains(parse_error(bad), "bad magic 0x00 0x01 0x08 0x02 (an IDX file starts with two zero bytes)"));
  bad = good;
  bad[2] = 0x0A;
  CHECK(contains(parse_error(bad), "unknown element type code 0x0a"));
  bad = good;
  bad[3] = 0;
  CHECK(contains(parse_error(bad), "the header declares no dimensions"));
  bad = good;
  bad[3] = 5;  // five dimensions: the header runs into the data and off the end
  CHECK(contains(parse_error(bad), "truncated: reading a dimension needs 4 bytes at offset 16, 2 remain"));

  bad = good;
  bad.pop_back();
  CHECK(parse_error(bad) == "idx: hand-made: the header says 2 x 3 uint8 = 6 bytes of data, but 5 "
                            "bytes follow the 12-byte header");
  bad = good;
  bad.push_back(7);
  CHECK(contains(parse_error(bad), "6 bytes of data, but 7 bytes follow"));
  bad = good;
  bad[2] = 0x0D;  // float32: 24 bytes wanted
  CHECK(contains(parse_error(bad), "2 x 3 float32 = 24 bytes of data, but 6 bytes follow"));

  // Sizes whose product does not fit in size_t: 2^32-1 four times.
  const Bytes huge = {0, 0, 0x08, 4, 255, 255, 255, 255, 255, 255, 255, 255,
                      255, 255, 255, 255, 255, 255, 255, 255};
  CHECK(contains(parse_error(huge), "idx: hand-made: size overflow"));
  // 2^31 x 2^31 x 2 elements fit in a 64-bit size_t, their 8 bytes each do not.
  const Bytes wide = {0, 0, 0x0E, 3, 128, 0, 0, 0, 128, 0, 0, 0, 0, 0, 0, 2};
  CHECK(contains(parse_error(wide), "size overflow"));

  // A gzipped file with a broken trailer.
  Bytes gz = latent::io::read_file(fixture_path("tiny-images-idx3-ubyte.gz"));
  gz[gz.size() - 6] ^= 1;
  CHECK(contains(parse_error(gz), "gzip: CRC-32 mismatch"));
  CHECK(contains(parse_error(Bytes{0x1f, 0x8b, 8}), "gzip: truncated"));
  CHECK(contains(latent_test::error_message([] { io::read_idx(fixture_path("no-such-file-idx")); }),
                 "read_file: cannot open '" + fixture_path("no-such-file-idx") + "'"));
}

TEST_CASE("io idx: the real Fashion-MNIST files, when installed") {
  using namespace idx_test;
  const char* override_dir = std::getenv("LATENT_FASHION_MNIST_DIR");
  const std::string dir = override_dir ? override_dir : "/usr/share/datasets/fashion-mnist";
  const std::string train_images = dir + "/train-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(train_images)) {
    MESSAGE("skipped: no Fashion-MNIST in ", dir);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  const io::IdxData images = io::read_idx(train_images);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("read_idx(train-images-idx3-ubyte.gz): 26 MB gzip -> 47 MB in ", seconds, " s");
  CHECK(images.type == io::IdxType::UInt8);
  CHECK(images.dims == std::vector<std::size_t>{60000, 28, 28});
  CHECK(images.data.size() == 47040000);
  // The first image: its pixel sum and the middle of row 14, from Python's gzip module.
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < 784; ++i) sum += images.data[i];
  CHECK(sum == 76247);
  CHECK(images.data[14 * 28 + 12] == 0xED);
  CHECK(images.data[14 * 28 + 26] == 0x4D);
  CHECK(io::crc32(images.data.data(), images.data.size()) == 2925911245u);

  const io::IdxData labels = io::read_idx(dir + "/train-labels-idx1-ubyte.gz");
  CHECK(labels.dims == std::vector<std::size_t>{60000});
  CHECK(std::vector<std::uint8_t>(labels.data.begin(), labels.data.begin() + 12) ==
        std::vector<std::uint8_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9});
  const io::IdxData test_images = io::read_idx(dir + "/t10k-images-idx3-ubyte.gz");
  CHECK(test_images.dims == std::vector<std::size_t>{10000, 28, 28});
  const io::IdxData test_labels = io::read_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  CHECK(std::vector<std::uint8_t>(test_labels.data.begin(), test_labels.data.begin() + 12) ==
        std::vector<std::uint8_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5});
}
