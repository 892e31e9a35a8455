// Tests of io/checksum.hpp, io/bytes.hpp, io/inflate.hpp, io/deflate.hpp and io/file.hpp:
// known checksums, Python-made zlib/gzip/raw streams (tests/fixtures/io, made by
// tools/gen_io_fixtures.py), hand-corrupted streams, and round trips of our compressor.
// The "io export" case (skipped by default) writes our compressed streams for
// tests/io/check_png_with_pil.py, which checks them with Python's zlib.
#include <latent/latent.hpp>
#include <latent/io/deflate.hpp>
#include <latent/io/file.hpp>

#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef LATENT_TEST_FIXTURES_DIR
#define LATENT_TEST_FIXTURES_DIR "tests/fixtures"
#endif

namespace deflate_test {

using Bytes = std::vector<std::uint8_t>;
namespace io = latent::io;

inline Bytes fixture(const std::string& name) {
  return io::read_file(std::string(LATENT_TEST_FIXTURES_DIR) + "/io/" + name);
}

inline Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }

// Random bytes drawn from the first `alphabet` byte values.
inline Bytes random_bytes(std::size_t n, unsigned seed, int alphabet = 256) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pick(0, alphabet - 1);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(pick(rng));
  return out;
}

// Runs of random lengths of random bytes: long matches at distance 1 and far back.
inline Bytes runs(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes out;
  while (out.size() < n) {
    const std::size_t length = 1 + rng() % 400;
    const auto value = static_cast<std::uint8_t>(rng() % 4);
    out.insert(out.end(), std::min(length, n - out.size()), value);
  }
  return out;
}

// The message of the latent::Error that f raises, or "<no error>".
template <class F>
std::string error_of(F&& f) {
  return latent_test::error_message(f, "<no error>");
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Builds DEFLATE streams bit by bit, for the hand-corrupted cases.
struct Stream {
  io::BitWriter bits;
  Stream& put(std::uint32_t value, int n) {
    bits.put(value, n);
    return *this;
  }
  Stream& code(std::uint32_t code, int length) {
    bits.put_code(code, length);
    return *this;
  }
  // A literal/length symbol in the fixed code.
  Stream& fixed(int symbol) {
    if (symbol < 144) return code(0x30 + symbol, 8);
    if (symbol < 256) return code(0x190 + symbol - 144, 9);
    if (symbol < 280) return code(symbol - 256, 7);
    return code(0xC0 + symbol - 280, 8);
  }
  // A final dynamic block's header up to the code-length code: all 19 code-length code
  // lengths are sent, zero except those listed as (symbol, length).
  Stream& dynamic(int nlit, int ndist, std::vector<std::pair<int, int>> code_length_lengths) {
    put(1, 1).put(2, 2).put(nlit - 257, 5).put(ndist - 1, 5).put(15, 4);
    for (int symbol : {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}) {
      int length = 0;
      for (auto [s, l] : code_length_lengths) length = s == symbol ? l : length;
      put(length, 3);
    }
    return *this;
  }
  Bytes done() { return bits.finish(); }
};

}  // namespace deflate_test

TEST_CASE("io checksum: crc32 and adler32 give the known values") {
  using namespace deflate_test;
  const Bytes check = bytes_of("123456789");
  CHECK(io::crc32(check.data(), check.size()) == 0xCBF43926u);  // the standard check value
  const Bytes wiki = bytes_of("Wikipedia");
  CHECK(io::adler32(wiki.data(), wiki.size()) == 0x11E60398u);
  CHECK(io::crc32(nullptr, 0) == 0u);
  CHECK(io::adler32(nullptr, 0) == 1u);

  // Values from Python's zlib.crc32 / zlib.adler32.
  Bytes ramp(100000);
  for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<std::uint8_t>(i % 251);
  CHECK(io::crc32(ramp.data(), ramp.size()) == 0xB353B8FAu);
  CHECK(io::adler32(ramp.data(), ramp.size()) == 0x84CBA994u);
  Bytes squares(1000003);
  for (std::uint64_t i = 0; i < squares.size(); ++i) squares[i] = static_cast<std::uint8_t>((i * i + 7 * i) % 256);
  CHECK(io::crc32(squares.data(), squares.size()) == 0x41FF055Bu);
  CHECK(io::adler32(squares.data(), squares.size()) == 0x419E4DE9u);

  // Summing piece by piece (pieces of 1..13 bytes, so the 8-byte path and the byte path
  // meet everywhere) gives the same as all at once.
  std::uint32_t crc = 0, adler = 1;
  for (std::size_t i = 0, piece = 1; i < ramp.size(); i += piece, piece = piece % 13 + 1) {
    const std::size_t n = std::min(piece, ramp.size() - i);
    crc = io::crc32(ramp.data() + i, n, crc);
    adler = io::adler32(ramp.data() + i, n, adler);
  }
  CHECK(crc == 0xB353B8FAu);
  CHECK(adler == 0x84CBA994u);
}

TEST_CASE("io bytes: the reader reads both byte orders and checks every length") {
  using namespace deflate_test;
  const Bytes data = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
  io::ByteReader reader(data.data(), data.size(), "test");
  CHECK(reader.u16_be("a") == 0x0102u);
  CHECK(reader.u16_le("b") == 0x0403u);
  CHECK(reader.u32_be("c") == 0x05060708u);
  CHECK(reader.remaining() == 1);
  const std::string message = error_of([&] { reader.u32_le("the size field"); });
  CHECK(message == "test: truncated: reading the size field needs 4 bytes at offset 8, 1 remain");
  CHECK(reader.position() == 8);  // a failed read does not move
  CHECK(contains(error_of([&] { reader.seek(10); }), "offset 10 is past the end (size 9)"));
  reader.seek(0);
  CHECK(reader.u64_le("d") == 0x0807060504030201ull);

  io::ByteWriter writer;
  writer.u32_be(0xDEADBEEF);
  writer.u16_le(0x1234);
  writer.patch_u32_be(0, 0x01020304);
  CHECK(writer.buffer() == Bytes{1, 2, 3, 4, 0x34, 0x12});
  CHECK(contains(error_of([&] { writer.patch_u32_be(3, 0); }), "past the end"));

  const std::size_t huge = std::size_t(1) << (sizeof(std::size_t) * 8 - 1);
  CHECK(contains(error_of([&] { io::checked_mul(huge, 2, "op"); }), "op: size overflow"));
  CHECK(contains(error_of([&] { io::checked_add(huge, huge, "op"); }), "op: size overflow"));
  CHECK(io::checked_mul(huge, 1, "op") == huge);
}

TEST_CASE("io inflate: every stream Python's zlib and gzip made decodes exactly") {
  using namespace deflate_test;
  const Bytes listing = fixture("manifest.txt");
  std::istringstream manifest(std::string(listing.begin(), listing.end()));
  std::string compressed_name, kind, original_name;
  int checked = 0;
  while (manifest >> compressed_name >> kind >> original_name) {
    CAPTURE(compressed_name);
    const Bytes compressed = fixture(compressed_name);
    const Bytes original = fixture(original_name);
    Bytes decoded;
    if (kind == "zlib") decoded = io::inflate_zlib(compressed);
    if (kind == "gzip") decoded = io::inflate_gzip(compressed);
    if (kind == "raw") decoded = io::inflate_raw(compressed);
    CHECK(decoded == original);
    ++checked;
  }
  CHECK(checked >= 60);  // 11 kinds of stream from each of 6 originals, and 2 gzip extras
}

TEST_CASE("io inflate: hand-made fixed and stored blocks") {
  using namespace deflate_test;
  // 'a', then a match of length 10 at distance 1: the copy overlaps itself.
  Stream overlapping;
  overlapping.put(1, 1).put(1, 2).fixed('a').fixed(264).put(0, 5).fixed(256);
  CHECK(io::inflate_raw(overlapping.done()) == Bytes(11, 'a'));

  // A non-final stored block "hi", then a final fixed block "!".
  Stream mixed;
  mixed.put(0, 1).put(0, 2).bits.align_to_byte();
  mixed.put(2, 16).put(0xFFFD, 16).put('h', 8).put('i', 8);
  mixed.put(1, 1).put(1, 2).fixed('!').fixed(256);
  CHECK(io::inflate_raw(mixed.done()) == bytes_of("hi!"));

  // An empty stored block is allowed (zlib's flush markers are exactly that).
  CHECK(io::inflate_raw(Bytes{0x01, 0x00, 0x00, 0xFF, 0xFF}).empty());
}

TEST_CASE("io inflate: hand-corrupted streams give clear errors") {
  using namespace deflate_test;
  auto raw_error = [](const Bytes& stream) {
    return error_of([&] { io::inflate_raw(stream); });
  };
  CHECK(contains(raw_error({0x07}), "invalid block type 3"));
  CHECK(contains(raw_error({}), "truncated input"));
  CHECK(contains(raw_error({0x01, 0x05, 0x00, 0x00, 0x00}),
                 "stored block length 5 does not match its complement 0"));
  CHECK(contains(raw_error({0x01, 0x05, 0x00, 0xFA, 0xFF, 'a', 'b'}),
                 "truncated: reading stored block data needs 5 bytes"));

  // Code-length code with 19 codes of length 1.
  std::vector<std::pair<int, int>> all_ones;
  for (int s = 0; s < 19; ++s) all_ones.push_back({s, 1});
  CHECK(contains(raw_error(Stream().dynamic(257, 1, all_ones).done()),
                 "over-subscribed code-length code"));
  // Code-length code with one code of length 2.
  CHECK(contains(raw_error(Stream().dynamic(257, 1, {{0, 2}}).done()),
                 "incomplete code-length code"));

  // Code-length code {0: "0", 1: "1"} then 258 lengths of 1: over-subscribed literals.
  Stream ones;
  ones.dynamic(257, 1, {{0, 1}, {1, 1}});
  for (int i = 0; i < 258; ++i) ones.code(1, 1);
  CHECK(contains(raw_error(ones.done()), "over-subscribed literal/length code"));

  // Code-length code {0: "0", 2: "1"}: literal/length lengths 2, 2, 0..., 2 (for 256) leave
  // a quarter of the bit patterns unused.
  Stream incomplete;
  incomplete.dynamic(257, 1, {{0, 1}, {2, 1}}).code(1, 1).code(1, 1);
  for (int i = 2; i < 256; ++i) incomplete.code(0, 1);
  incomplete.code(1, 1).code(0, 1);
  CHECK(contains(raw_error(incomplete.done()), "incomplete literal/length code"));

  Stream no_end;
  no_end.dynamic(257, 1, {{0, 1}, {2, 1}}).code(1, 1).code(1, 1);
  for (int i = 2; i < 258; ++i) no_end.code(0, 1);
  CHECK(contains(raw_error(no_end.done()), "no end-of-block code"));

  // {0: "0", 16: "1"}: a repeat with nothing to repeat.
  CHECK(contains(raw_error(Stream().dynamic(257, 1, {{0, 1}, {16, 1}}).code(1, 1).put(0, 2).done()),
                 "repeat (symbol 16) with no previous length"));
  // {0: "0", 18: "1"}: 138 + 138 zeros for 258 lengths.
  CHECK(contains(raw_error(Stream().dynamic(257, 1, {{0, 1}, {18, 1}})
                               .code(1, 1).put(127, 7).code(1, 1).put(127, 7).done()),
                 "repeat of 138 runs past the 258 lengths"));
  CHECK(contains(raw_error(Stream().put(1, 1).put(2, 2).put(30, 5).put(0, 5).put(0, 4).done()),
                 "declares 287 literal/length and 1 distance codes"));

  // Literal/length code {0, 256, 257, 258: 2 bits each} and no distance code at all: the
  // length symbol 257 ("10") then needs a distance that cannot be decoded.
  Stream no_distances;
  no_distances.dynamic(259, 1, {{0, 1}, {2, 1}}).code(1, 1);
  for (int i = 1; i < 256; ++i) no_distances.code(0, 1);
  no_distances.code(1, 1).code(1, 1).code(1, 1).code(0, 1);
  no_distances.code(0, 2).code(2, 2).put(0, 16);
  CHECK(contains(raw_error(no_distances.done()), "invalid distance code"));

  // Fixed blocks: a match reaching before the start, and the two unused symbols' codes.
  CHECK(contains(raw_error(Stream().put(1, 1).put(1, 2).fixed('a').fixed(257).code(1, 5).done()),
                 "invalid distance 2 reaches before the start of the output (1 bytes"));
  CHECK(contains(raw_error(Stream().put(1, 1).put(1, 2).fixed('a').fixed(257).code(30, 5).done()),
                 "invalid distance symbol 30"));
  CHECK(contains(raw_error(Stream().put(1, 1).put(1, 2).fixed(286).done()),
                 "invalid length symbol 286"));

  // zlib containers.
  const Bytes good = fixture("text.txt.z6");
  auto zlib_error = [](Bytes stream) { return error_of([&] { io::inflate_zlib(stream); }); };
  Bytes bad = good;
  bad[1] ^= 1;
  CHECK(contains(zlib_error(bad), "zlib: bad header check (0x78 0x9d is not a multiple of 31)"));
  CHECK(contains(zlib_error({0x77, 0x09}), "unsupported method 7"));
  CHECK(contains(zlib_error({0x78, 0xBB}), "preset dictionary"));
  bad = good;
  bad.back() ^= 0x10;
  CHECK(contains(zlib_error(bad), "zlib: Adler-32 mismatch"));
  bad = good;
  bad.push_back(0);
  CHECK(contains(zlib_error(bad), "zlib: 1 bytes of trailing data"));
  bad = good;
  bad.resize(bad.size() - 2);
  CHECK(contains(zlib_error(bad), "zlib: truncated: reading Adler-32 trailer"));

  // gzip containers.
  const Bytes gz = fixture("source.txt.gz");
  auto gzip_error = [](Bytes stream) { return error_of([&] { io::inflate_gzip(stream); }); };
  CHECK(contains(gzip_error(fixture("source.txt.z6")),
                 "gzip: bad magic 0x78 0x9c at offset 0 (expected 0x1f 0x8b)"));
  bad = gz;
  bad[2] = 7;
  CHECK(contains(gzip_error(bad), "unsupported compression method 7"));
  bad = gz;
  bad[3] |= 0x80;
  CHECK(contains(gzip_error(bad), "reserved flag bits set"));
  bad = gz;
  bad[bad.size() - 8] ^= 1;
  CHECK(contains(gzip_error(bad), "gzip: CRC-32 mismatch"));
  bad = gz;
  bad[bad.size() - 4] ^= 1;
  CHECK(contains(gzip_error(bad), "gzip: size mismatch"));
  bad = fixture("all_header_fields.gz");
  bad[40] ^= 1;  // the header CRC, after 10 + 8 (extra) + 12 (name) + 10 (comment) bytes
  CHECK(contains(gzip_error(bad), "gzip: header CRC mismatch"));
  bad = gz;
  bad.push_back('x');
  bad.push_back('y');
  CHECK(contains(gzip_error(bad), "gzip: bad magic 0x78 0x79 at offset 1030"));
  CHECK(contains(gzip_error(Bytes(gz.begin(), gz.begin() + 15)), "truncated"));
}

TEST_CASE("io inflate: every truncation of a stream is an error") {
  using namespace deflate_test;
  for (const std::string name : {"text.txt.z6", "random.bin.deflate", "source.txt.gz", "fmnist8.bin.fixed.z"}) {
    CAPTURE(name);
    const Bytes whole = fixture(name);
    const bool zlib = contains(name, ".z"), gzip = contains(name, ".gz");
    int failures = 0;
    for (std::size_t n = 0; n < whole.size(); ++n) {
      const Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
      const std::string message = error_of([&] {
        if (gzip) io::inflate_gzip(part);
        else if (zlib) io::inflate_zlib(part);
        else io::inflate_raw(part);
      });
      failures += message != "<no error>";
    }
    CHECK(failures == static_cast<int>(whole.size()));
  }
}

TEST_CASE("io inflate: flipped bits never give wrong output, random bytes never crash") {
  using namespace deflate_test;
  const Bytes original = fixture("text.txt");
  const Bytes good = fixture("text.txt.z6");
  std::mt19937 rng(11);
  int caught = 0;
  for (int trial = 0; trial < 400; ++trial) {
    Bytes bad = good;
    bad[rng() % bad.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    Bytes decoded;
    const std::string message = error_of([&] { decoded = io::inflate_zlib(bad); });
    if (message == "<no error>") {
      CHECK(decoded == original);  // only a flip in the final padding bits goes unseen
    } else {
      ++caught;
    }
  }
  CHECK(caught >= 390);

  // Garbage: whatever it decodes to stays within the cap; nothing reads out of bounds
  // (run under -fsanitize=address,undefined to see that).
  for (int trial = 0; trial < 3000; ++trial) {
    const Bytes garbage = random_bytes(rng() % 300, static_cast<unsigned>(trial));
    Bytes decoded;
    error_of([&] { decoded = io::inflate_raw(garbage.data(), garbage.size(), 4096); });
    CHECK(decoded.size() <= 4096);
  }
}

TEST_CASE("io inflate: the output cap stops a decompression bomb") {
  using namespace deflate_test;
  const Bytes text = fixture("text.txt");
  const Bytes z = fixture("text.txt.z6");
  CHECK(io::inflate_zlib(z, text.size()) == text);  // exactly the cap is fine
  CHECK(contains(error_of([&] { io::inflate_zlib(z, text.size() - 1); }),
                 "output exceeds the limit of " + std::to_string(text.size() - 1) + " bytes"));

  // 13 bits for each 258 bytes: 20 kB that would grow to 50 MB.
  Stream bomb;
  bomb.put(1, 1).put(1, 2).fixed(0);
  for (int i = 0; i < 200000; ++i) bomb.fixed(285).put(0, 5);
  bomb.fixed(256);
  const Bytes stream = bomb.done();
  CHECK(stream.size() < 400000);
  CHECK(contains(error_of([&] { io::inflate_raw(stream, 10u << 20); }),
                 "output exceeds the limit of 10485760 bytes"));
}

TEST_CASE("io deflate: round trips at every level through our inflater") {
  using namespace deflate_test;
  std::vector<std::pair<std::string, Bytes>> inputs = {
      {"empty", {}},
      {"one byte", {42}},
      {"three bytes", bytes_of("abc")},
      {"random 1000", random_bytes(1000, 1)},
      {"random 70000", random_bytes(70000, 2)},
      {"alphabet of 4", random_bytes(30000, 3, 4)},
      {"runs", runs(100000, 4)},
      {"zeros", Bytes(200000, 0)},
      {"text", fixture("text.txt")},
      {"source", fixture("source.txt")},
      {"fmnist", fixture("fmnist8.bin")},
  };
  // Sizes at the edges of matches, stored blocks and the window.
  for (std::size_t n : {2, 4, 258, 259, 65535, 65536, 65537, 32768 + 300}) {
    inputs.push_back({"alphabet of 3, " + std::to_string(n), random_bytes(n, 5, 3)});
  }
  for (const auto& named_input : inputs) {
    const std::string& name = named_input.first;
    const Bytes& input = named_input.second;
    for (int level = 0; level <= 9; ++level) {
      CAPTURE(name);
      CAPTURE(level);
      const Bytes raw = io::deflate_raw(input, level);
      CHECK(io::inflate_raw(raw) == input);
      if (level == 0 || level == 6) {
        CHECK(io::inflate_zlib(io::deflate_zlib(input, level)) == input);
        CHECK(io::inflate_gzip(io::deflate_gzip(input, level)) == input);
      }
    }
  }
  CHECK(contains(error_of([] { io::deflate_raw(Bytes{1}, 10); }), "deflate: level must be 0..9, got 10"));
}

TEST_CASE("io deflate: picks stored, fixed or dynamic blocks and compresses like zlib") {
  using namespace deflate_test;
  auto first_block_type = [](const Bytes& raw) { return (raw[0] >> 1) & 3; };
  const Bytes random = fixture("random.bin");
  CHECK(first_block_type(io::deflate_raw(random)) == 0);
  CHECK(io::deflate_raw(random).size() <= random.size() + 5);
  CHECK(first_block_type(io::deflate_raw(bytes_of("abcabcabc"))) == 1);
  CHECK(first_block_type(io::deflate_raw(fixture("text.txt"))) == 2);

  // Against Python's zlib at level 6 (its streams are the committed fixtures).
  for (const std::string name : {"text.txt", "source.txt", "fmnist8.bin"}) {
    CAPTURE(name);
    const double ours = static_cast<double>(io::deflate_zlib(fixture(name), 6).size());
    const double zlib = static_cast<double>(fixture(name + ".z6").size());
    MESSAGE(name, ": ", fixture(name).size(), " bytes -> ours ", ours, ", zlib level 6 ", zlib,
            " (ratio ours/zlib ", ours / zlib, ")");
    CHECK(ours <= 1.05 * zlib);
  }
}

TEST_CASE("io file: atomic writes replace the whole file; errors name the path") {
  using namespace deflate_test;
  namespace fs = std::filesystem;
  const fs::path folder = fs::temp_directory_path() / ("latent_io_file_test_" + std::to_string(std::random_device()()));
  fs::create_directories(folder);
  const std::string path = (folder / "data.bin").string();
  io::write_file_atomic(path, random_bytes(100000, 9));
  CHECK(io::read_file(path) == random_bytes(100000, 9));
  io::write_file_atomic(path, std::string("short"));
  CHECK(io::read_file(path) == bytes_of("short"));
  io::write_file_atomic(path, Bytes{});
  CHECK(io::read_file(path).empty());
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(folder)) entries += entry.is_regular_file();
  CHECK(entries == 1);  // no temporary file left behind

  const std::string missing = (folder / "missing.bin").string();
  CHECK(contains(error_of([&] { io::read_file(missing); }), "read_file: cannot open '" + missing + "'"));
  const std::string no_folder = (folder / "no" / "such" / "file").string();
  CHECK(contains(error_of([&] { io::write_file_atomic(no_folder, bytes_of("x")); }),
                 "write_file_atomic: cannot create"));
  fs::remove_all(folder);
}

// Run by tests/io/check_png_with_pil.py with LATENT_IO_EXPORT_DIR set (see there).
TEST_CASE("io export: deflate streams for Python's zlib" * doctest::skip()) {
  using namespace deflate_test;
  const char* folder = std::getenv("LATENT_IO_EXPORT_DIR");
  REQUIRE_MESSAGE(folder != nullptr, "set LATENT_IO_EXPORT_DIR to the folder to write into");
  Bytes gradient(256 * 256 * 3);  // a smooth picture, as PNG filtering would leave it
  for (std::size_t i = 0; i < gradient.size(); ++i) gradient[i] = static_cast<std::uint8_t>((i / 3 % 256 + i / 768) / 2);
  const std::vector<std::pair<std::string, Bytes>> inputs = {
      {"empty", {}},
      {"random", random_bytes(100000, 21)},
      {"alphabet4", random_bytes(100000, 22, 4)},
      {"runs", runs(300000, 23)},
      {"zeros", Bytes(1 << 20, 0)},
      {"text", fixture("text.txt")},
      {"source", fixture("source.txt")},
      {"fmnist", fixture("fmnist8.bin")},
      {"gradient", gradient},
  };
  for (const auto& [name, input] : inputs) {
    const std::string base = std::string(folder) + "/" + name;
    io::write_file_atomic(base + ".orig", input);
    for (int level : {0, 1, 6, 9}) {
      const std::string stem = base + ".L" + std::to_string(level);
      io::write_file_atomic(stem + ".raw", io::deflate_raw(input, level));
      io::write_file_atomic(stem + ".zlib", io::deflate_zlib(input, level));
      io::write_file_atomic(stem + ".gz", io::deflate_gzip(input, level));
    }
  }
}
