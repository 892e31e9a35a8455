// .npy and .npz: files written by NumPy load with the right values; ours round-trip;
// corrupt files are clear errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace npy_test {
inline std::string fixture(const std::string& name) { return std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/npy/" + name; }
inline std::vector<float> expected_a() {  // arange(12).reshape(3, 4) / 4 - 1
  std::vector<float> v;
  for (int i = 0; i < 12; ++i) v.push_back(i / 4.0f - 1);
  return v;
}
}  // namespace npy_test

TEST_CASE("npy files written by NumPy load in every dtype, byte order and layout") {
  using npy_test::fixture;
  const Tensor<float> a = io::load_npy<float>(fixture("f4_c.npy"));
  CHECK(a.shape() == Shape{3, 4});
  CHECK(a.to_vector() == npy_test::expected_a());
  // Fortran order: the file holds (a.T * 3) of shape [4, 3].
  const Tensor<double> f = io::load_npy<double>(fixture("f8_fortran.npy"));
  CHECK(f.shape() == Shape{4, 3});
  CHECK(f(1, 2) == doctest::Approx(3 * (9 / 4.0 - 1)));
  CHECK(f(3, 0) == doctest::Approx(3 * (3 / 4.0 - 1)));
  CHECK(io::load_npy<float>(fixture("f8_big.npy")).to_vector() == npy_test::expected_a());
  CHECK(io::load_npy<std::int64_t>(fixture("i8.npy")).to_vector() == std::vector<std::int64_t>{-5, 0, 7, 1LL << 40});
  // Floats into an integer type are refused (found by the npy fuzzer: tests/fuzz/crashes/npy-1).
  CHECK_THROWS_WITH_AS(io::load_npy<std::int64_t>(fixture("f4_c.npy")), doctest::Contains("cannot be read as int64"), Error);
  CHECK(io::load_npy<std::int64_t>(fixture("i2_big.npy")).to_vector() == std::vector<std::int64_t>{-300, 2, 3, 32000});
  CHECK(io::load_npy<double>(fixture("u1.npy")).to_vector() == std::vector<double>{0, 1, 255});
  CHECK(io::load_npy<std::int64_t>(fixture("b1.npy")).to_vector() == std::vector<std::int64_t>{1, 0, 1});
  const std::vector<float> half = io::load_npy<float>(fixture("f2.npy")).to_vector();
  CHECK(half[0] == 1.5f);
  CHECK(half[1] == -2.0f);
  CHECK(half[2] == 65504.0f);
  CHECK(half[3] == doctest::Approx(5.96e-8).epsilon(0.01));  // a subnormal half
  const Tensor<double> s = io::load_npy<double>(fixture("scalar.npy"));
  CHECK(s.dim() == 0);
  CHECK(s.item() == 2.5);
}

TEST_CASE("npz archives, stored and deflated, load; ours round-trip") {
  using npy_test::fixture;
  auto stored = io::load_npz<double>(fixture("stored.npz"));
  CHECK(stored.size() == 2);
  CHECK(stored["b"].to_vector() == std::vector<double>{1, 2, 3});
  auto deflated = io::load_npz<double>(fixture("deflated.npz"));
  CHECK(deflated["big"].numel() == 5000);
  CHECK(deflated["big"](4999) == 99);
  CHECK(deflated["a"](2, 3) == doctest::Approx(11 / 4.0 - 1));

  const std::string npy_path = "latent_test_roundtrip.npy", npz_path = "latent_test_roundtrip.npz";
  Generator gen(1);
  const Tensor<float> x = randn<float>({3, 1, 5}, gen);
  io::save_npy(npy_path, x);
  CHECK(io::load_npy<float>(npy_path).to_vector() == x.to_vector());
  CHECK(io::load_npy<float>(npy_path).shape() == Shape{3, 1, 5});
  io::save_npy(npy_path, tensor<std::int64_t>({4}));
  CHECK(io::load_npy<std::int64_t>(npy_path).shape() == Shape{1});
  for (bool compress : {false, true}) {
    io::save_npz<float>(npz_path, {{"x", x}, {"t", x.transpose(0, 2).contiguous().transpose(0, 2)}}, compress);
    auto back = io::load_npz<float>(npz_path);
    CHECK(back["x"].to_vector() == x.to_vector());
    CHECK(back["t"].shape() == Shape{3, 1, 5});
  }
  std::remove(npy_path.c_str());
  std::remove(npz_path.c_str());
}

TEST_CASE("corrupt npy and npz data are clear errors") {
  const std::vector<std::uint8_t> good = io::npy_bytes(tensor<float>({1, 2, 3}));
  CHECK(io::parse_npy(good.data(), good.size()).to_tensor<float>().to_vector() == std::vector<float>{1, 2, 3});
  for (std::size_t cut = 0; cut < good.size(); cut += 7) CHECK_THROWS_AS(io::parse_npy(good.data(), cut), Error);
  std::vector<std::uint8_t> bad = good;
  bad[0] = 'X';
  CHECK_THROWS_WITH_AS(io::parse_npy(bad.data(), bad.size()), "npy: array: not a .npy file (bad magic)", Error);
  auto with_header = [&](const std::string& header) {
    std::vector<std::uint8_t> v = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(header.size()), 0};
    v.insert(v.end(), header.begin(), header.end());
    return v;
  };
  const auto bad_dtype = with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }");
  CHECK_THROWS_WITH_AS(io::parse_npy(bad_dtype.data(), bad_dtype.size()), "npy: array: unsupported dtype '<c8'", Error);
  const auto big_shape = with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }");
  CHECK_THROWS_AS(io::parse_npy(big_shape.data(), big_shape.size()), Error);
  const auto no_shape = with_header("{'descr': '<f4', 'fortran_order': False, }");
  CHECK_THROWS_AS(io::parse_npy(no_shape.data(), no_shape.size()), Error);

  const std::vector<std::uint8_t> zip = io::zip_bytes({{"a.npy", good}}, true);
  CHECK(io::read_zip(zip.data(), zip.size()).at("a.npy") == good);
  for (std::size_t cut = 0; cut + 1 < zip.size(); cut += 5) CHECK_THROWS_AS(io::read_zip(zip.data(), cut), Error);
  for (std::size_t i = 0; i < zip.size(); ++i) {  // flip each byte: an error or (rarely) the same data, never a crash
    std::vector<std::uint8_t> z = zip;
    z[i] ^= 0x5A;
    (void)latent_test::error_message([&] { io::read_zip(z.data(), z.size()); });
  }
}
