// Tests of io/safetensors.hpp: round trips of every dtype, float16/bfloat16 rounding
// against torch's (fixtures made by tests/fixtures/safetensors/make_fixtures.py with a
// hand-written Python writer), dtype conversions on reading, and hand-corrupted files, each
// of which must be a clear error, never a crash.
#include <latent/latent.hpp>
#include <latent/io/safetensors.hpp>

#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#ifndef LATENT_TEST_FIXTURES_DIR
#define LATENT_TEST_FIXTURES_DIR "tests/fixtures"
#endif

namespace safetensors_test {

namespace io = latent::io;
using Bytes = std::vector<std::uint8_t>;
using latent::Shape;
using latent::Tensor;

inline std::string fixture(const std::string& name) {
  return std::string(LATENT_TEST_FIXTURES_DIR) + "/safetensors/" + name;
}

// A file with the given header text and data bytes.
inline Bytes make_file(const std::string& header, const Bytes& data = {}) {
  io::ByteWriter w;
  w.u64_le(header.size());
  w.bytes(header);
  w.bytes(data.data(), data.size());
  return w.release();
}

// The message of the error that parsing raises ("" when it parses).
inline std::string parse_error(const Bytes& bytes) {
  return latent_test::error_message([&] { io::parse_safetensors(bytes.data(), bytes.size(), "f"); }, "");
}

inline std::uint16_t bits16(const io::TensorEntry& e, std::size_t i) {
  return static_cast<std::uint16_t>(e.data()[2 * i] | (e.data()[2 * i + 1] << 8));
}

template <class T>
bool same_values(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<T> x = a.to_vector(), y = b.to_vector();
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(static_cast<double>(x[i])) && std::isnan(static_cast<double>(y[i]))) continue;
    if (x[i] != y[i]) return false;
  }
  return true;
}

}  // namespace safetensors_test

TEST_CASE("safetensors: every dtype round-trips through bytes") {
  using namespace safetensors_test;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor<double> d = latent::tensor<double>({-1.5, 0.0, 1.0 / 3.0, 1e300, -inf, nan}, {2, 3});
  const Tensor<float> f = latent::tensor<float>({0.1f, -2.5f, 3e38f, 1e-45f, float(inf), -0.0f}, {3, 2});
  const Tensor<std::int64_t> i64 = latent::tensor<std::int64_t>(
      {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(), 0, -7});
  const Tensor<std::int32_t> i32 = latent::tensor<std::int32_t>({-5, 1 << 30, 7}, {3, 1});
  const Tensor<std::int8_t> i8 = latent::tensor<std::int8_t>({-128, 127, 0});
  const Tensor<std::uint8_t> u8 = latent::tensor<std::uint8_t>({0, 255, 9});
  const Tensor<bool> b = latent::tensor<bool>({true, false, true});
  const Tensor<float> scalar = latent::scalar_tensor<float>(2.75f);
  const Tensor<double> empty = latent::zeros<double>({0, 4});
  const Tensor<float> halves = latent::tensor<float>({1.0f, -2.0f, 0.5f, 49152.0f, float(inf), -0.0f});
  const Tensor<double> transposed = latent::arange<double>(6.0).reshape({2, 3}).t();  // not contiguous

  io::SafetensorsWriter w;
  w.add("d", d).add("f", f).add("i64", i64).add("i32", i32).add("i8", i8).add("u8", u8).add("b", b);
  w.add("scalar", scalar).add("empty", empty).add_f16("h", halves).add_bf16("bh", halves);
  w.add("t", transposed).metadata("format", "pt").metadata({{"k", "v"}});
  const Bytes bytes = w.to_bytes();
  const io::SafetensorsFile file = io::parse_safetensors(bytes.data(), bytes.size());

  CHECK(file.names() == std::vector<std::string>{"b", "bh", "d", "empty", "f", "h", "i32", "i64", "i8", "scalar", "t", "u8"});
  CHECK(file.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"k", "v"}});
  CHECK(file.entry("h").dtype == io::Dtype::F16);
  CHECK(file.entry("bh").dtype == io::Dtype::BF16);
  CHECK(file.entry("i8").dtype == io::Dtype::I8);
  CHECK(same_values(file.get<double>("d"), d));
  CHECK(same_values(file.get<float>("f"), f));
  CHECK(std::signbit(file.get<float>("f").to_vector()[5]));
  CHECK(same_values(file.get<std::int64_t>("i64"), i64));
  CHECK(same_values(file.get<std::int32_t>("i32"), i32));
  CHECK(same_values(file.get<std::int8_t>("i8"), i8));
  CHECK(same_values(file.get<std::uint8_t>("u8"), u8));
  CHECK(same_values(file.get<bool>("b"), b));
  CHECK(file.get<float>("scalar").dim() == 0);
  CHECK(file.get<float>("scalar").item() == 2.75f);
  CHECK(file.get<double>("empty").shape() == Shape{0, 4});
  CHECK(same_values(file.get<float>("h"), halves));  // all exactly representable in 16 bits
  CHECK(same_values(file.get<float>("bh"), halves));
  CHECK(same_values(file.get<double>("t"), transposed.contiguous()));
  CHECK(file.get<double>("t").shape() == Shape{3, 2});

  // The header is padded to 8 bytes and each tensor starts aligned to its element size.
  const std::uint64_t header_length = io::detail::load_le(bytes.data(), 8);
  CHECK(header_length % 8 == 0);
  for (const auto& t : file.tensors) CHECK((t.second.begin - 8 - header_length) % io::dtype_size(t.second.dtype) == 0);
}

TEST_CASE("safetensors: saving and loading files") {
  using namespace safetensors_test;
  const std::string path =
      (std::filesystem::temp_directory_path() / "latent_safetensors_test_save.safetensors").string();
  std::map<std::string, Tensor<float>> named{{"w", latent::tensor<float>({1, 2, 3, 4}, {2, 2})},
                                             {"b", latent::tensor<float>({-1, 1})}};
  io::save_safetensors(path, named, {{"epoch", "3"}});
  const io::SafetensorsFile file = io::load_safetensors(path);
  CHECK(file.source == path);
  CHECK(file.metadata.at("epoch") == "3");
  CHECK(same_values(file.get<float>("w"), named["w"]));
  const auto all = io::load_safetensors_as<double>(path);
  CHECK(all.size() == 2);
  CHECK(all.at("b").to_vector() == std::vector<double>{-1, 1});
  std::remove(path.c_str());
  CHECK_THROWS_AS(io::load_safetensors("no/such/file.safetensors"), latent::Error);
  CHECK_THROWS_WITH_AS(file.get<float>("nope"), ("safetensors: '" + path + "' has no tensor named 'nope'").c_str(),
                       latent::Error);
}

TEST_CASE("safetensors: files written by a Python writer load with their values") {
  using namespace safetensors_test;
  const io::SafetensorsFile f = io::load_safetensors(fixture("all_dtypes.safetensors"));
  CHECK(f.metadata.at("format") == "pt");
  CHECK(f.metadata.at("note") == "made by make_fixtures.py");
  const std::vector<double> f64 = f.get<double>("f64").to_vector();
  CHECK(f.get<double>("f64").shape() == Shape{2, 3});
  CHECK(f64[0] == -1.5);
  CHECK(f64[2] == 1.0 / 3.0);
  CHECK(f64[3] == 1e300);
  CHECK(f64[4] == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(f64[5]));
  const std::vector<float> f32 = f.get<float>("f32").to_vector();
  CHECK(f32[0] == 0.1f);
  CHECK(f32[2] == std::numeric_limits<float>::max());
  CHECK(f32[3] == std::numeric_limits<float>::denorm_min());
  CHECK((f32[5] == 0.0f && std::signbit(f32[5])));
  CHECK(f.get<double>("f16").to_vector() ==
        std::vector<double>{1.0, -2.0, 0.5, 65504.0, 5.9604644775390625e-08, -std::numeric_limits<double>::infinity()});
  const std::vector<double> bf = f.get<double>("bf16").to_vector();
  CHECK(f.get<double>("bf16").shape() == Shape{2, 1, 3});
  CHECK(bf[0] == 1.0);
  CHECK(bf[2] == 0.15625);
  CHECK(bf[3] == 3.3895313892515355e38);
  CHECK(std::isnan(bf[4]));
  CHECK(bf[5] == std::ldexp(1.0, -133));
  CHECK(f.get<std::int64_t>("i64").to_vector() ==
        std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(), 0, -7});
  CHECK(f.get<std::int64_t>("i32").to_vector() == std::vector<std::int64_t>{-2147483648LL, 2147483647, 5, -5});
  CHECK(f.get<std::int64_t>("i8").to_vector() == std::vector<std::int64_t>{-128, 127, -1});
  CHECK(f.get<std::int64_t>("u8").to_vector() == std::vector<std::int64_t>{0, 255, 17});
  CHECK(f.get<std::int64_t>("bool").to_vector() == std::vector<std::int64_t>{1, 0, 0, 1});
  CHECK(f.get<float>("scalar").item() == 2.75f);
  CHECK(f.get<float>("empty").shape() == Shape{0, 3});

  const io::SafetensorsFile p = io::load_safetensors(fixture("pretty_header.safetensors"));
  CHECK(p.names() == std::vector<std::string>{"layer.0.bias", "layer.0.weight", "t\xc3\xb6k\xc3\xa9n/ids"});
  CHECK(p.metadata.at("quote\"and\\slash") == "line\nbreak \xc3\xa9\xe4\xb8\xad");
  CHECK(p.get<float>("layer.0.weight").to_vector() == std::vector<float>{1, 2, 3, 4});
  CHECK(p.get<double>("layer.0.bias").to_vector() == std::vector<double>{-0.25, 0.75});
  CHECK(p.get<std::int64_t>("t\xc3\xb6k\xc3\xa9n/ids").to_vector() == std::vector<std::int64_t>{3, 1, 2});
}

TEST_CASE("safetensors: float16 and bfloat16 round as torch does") {
  using namespace safetensors_test;
  const io::SafetensorsFile f = io::load_safetensors(fixture("rounding.safetensors"));
  const Tensor<float> source = f.get<float>("source");
  const Bytes ours = io::SafetensorsWriter().add_f16("f16", source).add_bf16("bf16", source).to_bytes();
  const io::SafetensorsFile g = io::parse_safetensors(ours.data(), ours.size());
  const auto n = static_cast<std::size_t>(source.numel());
  REQUIRE(n == 230);
  // Bits must agree, except that any NaN matches any NaN (torch's vectorised bfloat16
  // conversion makes 0xFFFF, its scalar one and ours 0x7FC0).
  int f16_mismatches = 0, bf16_mismatches = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t h = bits16(g.entry("f16"), i), h_torch = bits16(f.entry("f16"), i);
    const std::uint16_t b = bits16(g.entry("bf16"), i), b_torch = bits16(f.entry("bf16"), i);
    if (h != h_torch && !(std::isnan(io::float16_value(h)) && std::isnan(io::float16_value(h_torch)))) ++f16_mismatches;
    if (b != b_torch && !(std::isnan(io::bfloat16_value(b)) && std::isnan(io::bfloat16_value(b_torch)))) ++bf16_mismatches;
  }
  CHECK(f16_mismatches == 0);
  CHECK(bf16_mismatches == 0);
  // Reading is exact: each 16-bit value read back and rounded again gives the same bits.
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t h = bits16(f.entry("f16"), i), b = bits16(f.entry("bf16"), i);
    if (!std::isnan(io::float16_value(h))) CHECK(io::float16_bits(io::float16_value(h)) == h);
    if (!std::isnan(io::bfloat16_value(b))) CHECK(io::bfloat16_bits(io::bfloat16_value(b)) == b);
  }
}

TEST_CASE("safetensors: 16-bit rounding by hand: ties to even, overflow, subnormals, one rounding from double") {
  CHECK(latent::io::float16_bits(1.0) == 0x3C00);
  CHECK(latent::io::float16_bits(1.0 + std::ldexp(1.0, -11)) == 0x3C00);      // tie, to even
  CHECK(latent::io::float16_bits(1.0 + 3 * std::ldexp(1.0, -11)) == 0x3C02);  // tie, to even (up)
  CHECK(latent::io::float16_bits(65504.0) == 0x7BFF);
  CHECK(latent::io::float16_bits(65519.99) == 0x7BFF);
  CHECK(latent::io::float16_bits(65520.0) == 0x7C00);  // rounds past the largest: infinity
  CHECK(latent::io::float16_bits(-1e10) == 0xFC00);
  CHECK(latent::io::float16_bits(std::ldexp(1.0, -24)) == 0x0001);  // smallest subnormal
  CHECK(latent::io::float16_bits(std::ldexp(1.0, -25)) == 0x0000);  // tie with zero: even
  CHECK(latent::io::float16_bits(std::ldexp(3.0, -25)) == 0x0002);
  CHECK(latent::io::float16_bits(std::ldexp(1.0, -14) - std::ldexp(1.0, -25)) == 0x0400);  // carries to normal
  CHECK(latent::io::float16_bits(-0.0) == 0x8000);
  CHECK(latent::io::float16_bits(std::nan("")) == 0x7E00);
  CHECK(latent::io::bfloat16_bits(1.0 + std::ldexp(1.0, -8)) == 0x3F80);
  CHECK(latent::io::bfloat16_bits(1.0 + 3 * std::ldexp(1.0, -8)) == 0x3F82);
  CHECK(latent::io::bfloat16_bits(3.4028234663852886e38) == 0x7F80);
  CHECK(latent::io::bfloat16_bits(std::nan("")) == 0x7FC0);
  // Just above a tie: correct rounding goes up; rounding to float first would land on the
  // tie and then go down to even.
  const double above_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  CHECK(latent::io::float16_bits(above_tie) == 0x3C01);
  CHECK(latent::io::float16_bits(static_cast<float>(above_tie)) == 0x3C00);
  CHECK(latent::io::bfloat16_bits(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)) == 0x3F81);
  CHECK(latent::io::float16_value(0x7BFF) == 65504.0);
  CHECK(latent::io::float16_value(0x0001) == std::ldexp(1.0, -24));
  CHECK(latent::io::float16_value(0xFC00) == -std::numeric_limits<double>::infinity());
  CHECK(latent::io::bfloat16_value(0x0001) == std::ldexp(1.0, -133));
}

TEST_CASE("safetensors: reading converts between dtypes, refusing lossy ones") {
  using namespace safetensors_test;
  io::SafetensorsWriter w;
  w.add("d", latent::tensor<double>({0.1, 1e300}));
  w.add("i", latent::tensor<std::int64_t>({1, 0, 300}));
  w.add("bits", latent::tensor<std::int64_t>({1, 0, 1}));
  w.add_as("u8", latent::tensor<std::int64_t>({0, 1, 17}), io::Dtype::U8);
  w.add_as("i_as_f32", latent::tensor<std::int64_t>({3, -4}), io::Dtype::F32);
  const Bytes bytes = w.to_bytes();
  const io::SafetensorsFile f = io::parse_safetensors(bytes.data(), bytes.size(), "conv");
  CHECK(f.get<float>("d").to_vector() == std::vector<float>{0.1f, std::numeric_limits<float>::infinity()});
  CHECK(f.get<double>("i").to_vector() == std::vector<double>{1, 0, 300});
  CHECK(f.get<std::int32_t>("i").to_vector() == std::vector<std::int32_t>{1, 0, 300});
  CHECK(f.get<bool>("bits").to_vector() == std::vector<bool>{true, false, true});
  CHECK(f.get<double>("i_as_f32").to_vector() == std::vector<double>{3, -4});
  CHECK_THROWS_WITH_AS(f.get<std::int64_t>("d"),
                       "safetensors: 'conv': tensor 'd' holds F64 values, which cannot be read as I64 without losing their fractions",
                       latent::Error);
  CHECK_THROWS_WITH_AS(f.get<std::uint8_t>("i"), "safetensors: 'conv': tensor 'i' element 2 = 300 does not fit U8",
                       latent::Error);
  CHECK_THROWS_WITH_AS(f.get<bool>("u8"), "safetensors: 'conv': tensor 'u8' element 2 = 17 does not fit BOOL",
                       latent::Error);
}

TEST_CASE("safetensors: the writer refuses what it cannot store") {
  using namespace safetensors_test;
  io::SafetensorsWriter w;
  w.add("x", latent::ones<float>({2}));
  CHECK_THROWS_WITH_AS(w.add("x", latent::ones<float>({2})), "safetensors: a tensor named 'x' was already added",
                       latent::Error);
  CHECK_THROWS_AS(w.add("__metadata__", latent::ones<float>({2})), latent::Error);
  CHECK_THROWS_AS(w.add("undefined", Tensor<float>()), latent::Error);
  CHECK_THROWS_AS(w.add_as("f", latent::ones<float>({2}), io::Dtype::I64), latent::Error);
  CHECK_THROWS_WITH_AS(w.add_as("i", latent::tensor<std::int64_t>({5, 200}), io::Dtype::I8),
                       "safetensors: tensor 'i' element 1 = 200 does not fit I8", latent::Error);
}

TEST_CASE("safetensors: corrupt files are clear errors") {
  using namespace safetensors_test;
  const Bytes eight(8, 0);
  const std::string ok_entry = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  CHECK(parse_error(make_file("{" + ok_entry + "}", eight)) == "");
  CHECK(parse_error(make_file("{" + ok_entry + "}    ", eight)) == "");  // space padding
  CHECK(parse_error(make_file("{}")) == "");                               // no tensors at all

  CHECK(parse_error(Bytes{1, 0, 0}) == "safetensors: 'f': file has 3 bytes, too short for the 8-byte header length");
  Bytes long_header = make_file("{}");
  long_header[0] = 3;
  CHECK(parse_error(long_header) == "safetensors: 'f': header length 3 exceeds the 2 bytes that follow it");
  Bytes huge = make_file("{}");
  huge[7] = 0xFF;
  CHECK(parse_error(huge).find("exceeds the") != std::string::npos);
  CHECK(parse_error(make_file("")) == "safetensors: 'f': the header must be a JSON object starting with '{'");
  CHECK(parse_error(make_file("[1]")) == "safetensors: 'f': the header must be a JSON object starting with '{'");
  CHECK(parse_error(make_file("{\"x\":")) ==
        "safetensors: 'f': header: invalid JSON at line 1, column 6 (byte 5): unexpected end of input, expected a value");
  CHECK(parse_error(make_file("{" + ok_entry + "," + ok_entry + "}", eight)).find("duplicate key \"x\"") !=
        std::string::npos);

  auto entry_error = [](const std::string& entry, std::size_t data_size) {
    return parse_error(make_file("{\"x\":" + entry + "}", Bytes(data_size, 0)));
  };
  CHECK(entry_error(R"({"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]})", 2) ==
        "safetensors: 'f': tensor 'x': unknown dtype \"F8_E4M3\" (supported: F64 F32 F16 BF16 I64 I32 I8 U8 BOOL)");
  CHECK(entry_error(R"({"dtype":3,"shape":[2],"data_offsets":[0,2]})", 2).find("unknown dtype 3") != std::string::npos);
  CHECK(entry_error(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})", 8) ==
        "safetensors: 'f': tensor 'x': shape [-2] must hold non-negative integers");
  CHECK(entry_error(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})", 8).find("non-negative integers") !=
        std::string::npos);
  CHECK(entry_error(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})", 8) ==
        "safetensors: 'f': tensor 'x': shape [4294967296,4294967296] has too many elements");
  CHECK(entry_error(R"({"dtype":"F64","shape":[1152921504606846976],"data_offsets":[0,8]})", 8)
            .find("does not fit") == std::string::npos);  // 2^60 x 8 bytes: too big, but no overflow
  CHECK(entry_error(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]})", 4) ==
        "safetensors: 'f': tensor 'x': rank 9 is beyond the supported maximum of 8");
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4) ==
        "safetensors: 'f': tensor 'x': data_offsets [0, 4] hold 4 bytes, but F32 [2] needs 8");
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0,16]})", 8) ==
        "safetensors: 'f': tensor 'x': data_offsets [0, 16] are out of range for a data section of 8 bytes");
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})", 8).find("out of range") != std::string::npos);
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]})", 8)
            .find("two non-negative integers") != std::string::npos);
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})", 8).find("two non-negative integers") !=
        std::string::npos);
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})", 8).find("two non-negative integers") !=
        std::string::npos);
  CHECK(entry_error(R"({"dtype":"F32","shape":[2]})", 8) == "safetensors: 'f': tensor 'x': missing field 'data_offsets'");
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1})", 8) ==
        "safetensors: 'f': tensor 'x': unknown field 'extra'");
  CHECK(entry_error(R"({"dtype":"F32","shape":2,"data_offsets":[0,4]})", 4) ==
        "safetensors: 'f': tensor 'x': shape must be an array");
  CHECK(entry_error(R"([1])", 0) == "safetensors: 'f': tensor 'x': expected an object, got an array");
  CHECK(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 12) ==
        "safetensors: 'f': the data section has 4 bytes after the last tensor (12 bytes in all)");

  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string b_overlap = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]})";
  const std::string b_gap = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]})";
  CHECK(parse_error(make_file("{" + a + "," + b_overlap + "}", Bytes(12, 0))) ==
        "safetensors: 'f': tensor 'b' (bytes [4, 12)) overlaps tensor 'a', which ends at byte 8");
  CHECK(parse_error(make_file("{" + a + "," + b_gap + "}", Bytes(20, 0))) ==
        "safetensors: 'f': tensor 'b' starts at byte 12, leaving a gap of 4 bytes after tensor 'a'");
  CHECK(parse_error(make_file("{" + b_gap + "}", Bytes(20, 0))).find("after the header") != std::string::npos);
  CHECK(parse_error(make_file(R"({"__metadata__":{"k":1}})")) ==
        "safetensors: 'f': __metadata__ value of 'k' must be a string, got a number");
  CHECK(parse_error(make_file(R"({"__metadata__":[]})")) == "safetensors: 'f': __metadata__ must be an object of strings");

  // BOOL data must be 0 or 1; the check runs when the tensor is read.
  const Bytes bad_bool = make_file(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", Bytes{1, 2});
  const io::SafetensorsFile f = io::parse_safetensors(bad_bool.data(), bad_bool.size(), "f");
  CHECK_THROWS_WITH_AS(f.get<bool>("m"), "safetensors: 'f': tensor 'm' is BOOL but element 1 holds byte 2 (expected 0 or 1)",
                       latent::Error);
}

TEST_CASE("safetensors: truncated and damaged files never crash") {
  using namespace safetensors_test;
  io::SafetensorsWriter w;
  w.add("a", latent::arange<float>(5.0f)).add("b", latent::tensor<std::int64_t>({1, 2})).metadata("m", "v");
  const Bytes good = w.to_bytes();
  REQUIRE(parse_error(good) == "");
  int errors = 0;
  for (std::size_t n = 0; n < good.size(); ++n) {
    const Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    if (!parse_error(cut).empty()) ++errors;
  }
  CHECK(errors == static_cast<int>(good.size()));  // every truncation is an error
  // Flip each header byte in a few ways: the parser either accepts the result or raises a
  // latent::Error, and anything it accepts can be read.
  const std::size_t header_end = 8 + static_cast<std::size_t>(io::detail::load_le(good.data(), 8));
  for (std::size_t i = 0; i < header_end; ++i) {
    for (std::uint8_t mask : {0x01, 0x10, 0x80, 0xFF}) {
      Bytes damaged = good;
      damaged[i] ^= mask;
      (void)latent_test::error_message([&] {
        const io::SafetensorsFile f = io::parse_safetensors(damaged.data(), damaged.size());
        for (const std::string& name : f.names()) {
          (void)latent_test::error_message([&] { (void)f.get<double>(name); });
        }
      });
    }
  }
}
