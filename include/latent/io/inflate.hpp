// Inflate: the decompressor for DEFLATE (RFC 1951) and for the two containers around it,
// zlib (RFC 1950) and gzip (RFC 1952), whose checksums are verified.
//
//   std::vector<std::uint8_t> inflate_raw (data, size, max_output)   bare DEFLATE
//   std::vector<std::uint8_t> inflate_zlib(data, size, max_output)   zlib, Adler-32 checked
//   std::vector<std::uint8_t> inflate_gzip(data, size, max_output)   gzip, CRC-32 and size
//                                                                    checked, any members
//
// `max_output` caps the bytes produced, so that a decompression bomb (a few kilobytes that
// expand to terabytes) is stopped by a clear error. Every malformed stream (truncated, bad
// block type, bad Huffman code lengths, a distance reaching before the start, a wrong
// checksum) ends in a latent::Error; nothing is ever read outside the input or the output.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/error.hpp"
#include "bytes.hpp"
#include "checksum.hpp"

namespace latent::io {

inline constexpr std::size_t kDefaultMaxInflateOutput = std::size_t(1) << 30;  // 1 GiB

namespace detail {

// DEFLATE packs bits from the least significant bit of each byte up. The reader keeps up
// to 64 bits in a buffer and fails when asked for bits that the input does not have.
// Refilling takes 8 bytes with one little-endian load while 8 remain, and keeps the whole
// bytes that fit; near the end it goes a byte at a time.
class InflateBitReader {
 public:
  InflateBitReader(const std::uint8_t* data, std::size_t size, std::size_t pos)
      : data_(data), size_(size), pos_(pos) {}

  // Makes sure that at least n bits (n <= 56) are buffered, when the input has them.
  void ensure(int n) {
    if (count_ < n) refill();
  }
  void refill() {
    if (size_ - pos_ >= 8) {
      const std::uint8_t* p = data_ + pos_;
      const std::uint64_t word = std::uint64_t(p[0]) | std::uint64_t(p[1]) << 8 |
                                 std::uint64_t(p[2]) << 16 | std::uint64_t(p[3]) << 24 |
                                 std::uint64_t(p[4]) << 32 | std::uint64_t(p[5]) << 40 |
                                 std::uint64_t(p[6]) << 48 | std::uint64_t(p[7]) << 56;
      const int taken = (63 - count_) / 8;
      buffer_ |= (word << count_) & (~std::uint64_t(0) >> (64 - count_ - 8 * taken));
      pos_ += static_cast<std::size_t>(taken);
      count_ += 8 * taken;
      return;
    }
    while (count_ <= 56 && pos_ < size_) {
      buffer_ |= std::uint64_t(data_[pos_++]) << count_;
      count_ += 8;
    }
  }
  // The next n bits (n <= 32) without using them; past the end of the input they are 0.
  std::uint32_t peek(int n) const {
    return static_cast<std::uint32_t>(buffer_ & ((std::uint64_t(1) << n) - 1));
  }
  void consume(int n) {
    if (n > count_) {
      fail("inflate: truncated input: the stream stops inside a block (input is ", size_,
           " bytes)");
    }
    buffer_ >>= n;
    count_ -= n;
  }
  std::uint32_t bits(int n) {
    ensure(n);
    const std::uint32_t value = peek(n);
    consume(n);
    return value;
  }
  // Drops the bits up to the next byte boundary and gives the whole bytes still buffered
  // back to the input; returns the input position of that boundary.
  std::size_t align_to_byte() {
    pos_ -= static_cast<std::size_t>(count_ / 8);
    buffer_ = 0;
    count_ = 0;
    return pos_;
  }
  void set_byte_position(std::size_t pos) { pos_ = pos; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_;
  std::uint64_t buffer_ = 0;
  int count_ = 0;
};

// Canonical Huffman codes (RFC 1951, 3.2.2). A code is fully given by each symbol's code
// length: codes of one length are consecutive integers in symbol order, and the first code
// of length L is (first code of length L-1 + number of codes of length L-1) * 2. Lengths
// are valid when they satisfy Kraft's equality, sum over symbols of 2^-length = 1: more
// ("over-subscribed") would give two symbols one code; less ("incomplete") leaves bit
// patterns that mean nothing, which DEFLATE allows only for a code with a single symbol
// of length 1, or none at all (a block without distances).
//
// Decoding: codes are sent most significant bit first, so the next kFastBits input bits,
// read as an integer, are a code bit-reversed. A table indexed by them holds
// (symbol << 4 | length) for every code of at most kFastBits bits (the common case).
// Longer codes walk the canonical order one bit at a time: after L bits, the codes of
// length L are exactly the integers in [first(L), first(L) + count(L)).
struct HuffmanTable {
  static constexpr int kMaxBits = 15;
  static constexpr int kFastBits = 9;
  std::array<std::uint16_t, kMaxBits + 1> count{};     // number of codes of each length
  std::array<std::uint16_t, 288> symbols{};            // symbols by (length, value)
  std::array<std::uint16_t, 1 << kFastBits> fast{};    // 0: not a short code
};

inline std::uint32_t reverse_bits(std::uint32_t code, int length) {
  std::uint32_t reversed = 0;
  for (int i = 0; i < length; ++i) {
    reversed = (reversed << 1) | (code & 1u);
    code >>= 1;
  }
  return reversed;
}

// `allow_sparse`: accept the empty code and the single code of length 1.
inline void build_huffman(HuffmanTable& table, const std::uint8_t* lengths, int n,
                          const char* name, bool allow_sparse) {
  table = HuffmanTable{};
  int used = 0;
  for (int s = 0; s < n; ++s) {
    if (lengths[s] == 0) continue;
    ++table.count[lengths[s]];
    ++used;
  }
  int unused_patterns = 1;  // in units of 2^-length, doubled at each length
  for (int length = 1; length <= HuffmanTable::kMaxBits; ++length) {
    unused_patterns = 2 * unused_patterns - table.count[length];
    LATENT_CHECK(unused_patterns >= 0, "inflate: over-subscribed ", name,
                 " code: its code lengths ask for more codes of length ", length,
                 " than exist");
  }
  const bool sparse_ok = allow_sparse && (used == 0 || (used == 1 && table.count[1] == 1));
  LATENT_CHECK(unused_patterns == 0 || sparse_ok, "inflate: incomplete ", name, " code: its ",
               used, " code lengths leave bit patterns that decode to nothing");

  std::array<int, HuffmanTable::kMaxBits + 2> offset{};
  for (int length = 1; length <= HuffmanTable::kMaxBits; ++length) {
    offset[length + 1] = offset[length] + table.count[length];
  }
  for (int s = 0; s < n; ++s) {
    if (lengths[s] != 0) table.symbols[offset[lengths[s]]++] = static_cast<std::uint16_t>(s);
  }

  std::uint32_t code = 0;
  int k = 0;
  for (int length = 1; length <= HuffmanTable::kMaxBits; ++length) {
    for (int j = 0; j < table.count[length]; ++j, ++k, ++code) {
      if (length > HuffmanTable::kFastBits) continue;
      const auto entry = static_cast<std::uint16_t>(table.symbols[k] << 4 | length);
      for (std::uint32_t index = reverse_bits(code, length);
           index < (1u << HuffmanTable::kFastBits); index += 1u << length) {
        table.fast[index] = entry;
      }
    }
    code <<= 1;
  }
}

// Codes longer than kFastBits, and invalid ones.
inline int decode_long_symbol(InflateBitReader& in, const HuffmanTable& table, const char* name) {
  int code = 0, first = 0, index = 0;
  for (int length = 1; length <= HuffmanTable::kMaxBits; ++length) {
    code |= static_cast<int>(in.bits(1));
    const int count = table.count[length];
    if (code < first + count) return table.symbols[index + code - first];
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  fail("inflate: invalid ", name, " code in the compressed data");
}

inline int decode_symbol(InflateBitReader& in, const HuffmanTable& table, const char* name) {
  in.ensure(HuffmanTable::kMaxBits);
  const std::uint16_t entry = table.fast[in.peek(HuffmanTable::kFastBits)];
  if (LATENT_LIKELY(entry != 0)) {
    in.consume(entry & 15);
    return entry >> 4;
  }
  return decode_long_symbol(in, table, name);
}

// Where decoded bytes go: into `bytes`, which grows by doubling (its first `size` bytes
// are the output so far) but never past `limit` bytes in all. Matches may reach back only
// to the start of this stream (`start`).
struct InflateOutput {
  std::vector<std::uint8_t>& bytes;
  std::size_t start;
  std::size_t limit;
  std::size_t size;

  InflateOutput(std::vector<std::uint8_t>& out, std::size_t max_output)
      : bytes(out), start(out.size()), limit(max_output), size(out.size()) {}

  // Makes room for n more bytes.
  void reserve(std::size_t n) {
    if (n <= bytes.size() - size) return;
    LATENT_CHECK(size <= limit && n <= limit - size, "inflate: output exceeds the limit of ",
                 limit, " bytes (corrupt data or a decompression bomb; raise max_output if "
                 "the data is genuine)");
    std::size_t capacity = bytes.size() <= limit / 2 ? 2 * bytes.size() : limit;
    capacity = std::min(std::max<std::size_t>(capacity, 65536), limit);
    bytes.resize(std::max(size + n, capacity));
  }
  void literal(std::uint8_t value) {
    reserve(1);
    bytes[size++] = value;
  }
  void append(const std::uint8_t* data, std::size_t n) {
    reserve(n);
    for (std::size_t i = 0; i < n; ++i) bytes[size + i] = data[i];
    size += n;
  }
  // Copies `length` bytes from `distance` back; the copy may overlap what it writes, which
  // repeats a pattern (distance 1, length 10: ten copies of the last byte).
  void match(std::size_t distance, std::size_t length) {
    LATENT_CHECK(distance <= size - start, "inflate: invalid distance ", distance,
                 " reaches before the start of the output (", size - start,
                 " bytes produced so far)");
    reserve(length);
    std::uint8_t* out = bytes.data() + size;
    const std::uint8_t* from = out - distance;
    if (distance >= length) {
      std::memcpy(out, from, length);
    } else {
      for (std::size_t i = 0; i < length; ++i) out[i] = from[i];
    }
    size += length;
  }
  // Trims `bytes` to the output.
  void finish() { bytes.resize(size); }
};

// A compressed block is a sequence of literal/length symbols: 0..255 a literal byte, 256
// the end of the block, 257..285 a match whose length is a base plus extra bits, followed
// by a distance symbol 0..29 (a base plus extra bits, 1..32768).
inline constexpr std::uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11, 13,
                                                  15, 17, 19, 23, 27, 31, 35, 43,  51, 59,
                                                  67, 83, 99, 115, 131, 163, 195, 227, 258};
inline constexpr std::uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
inline constexpr std::uint16_t kDistanceBase[30] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
inline constexpr std::uint8_t kDistanceExtra[30] = {0, 0, 0, 0, 1, 1, 2,  2,  3,  3,
                                                    4, 4, 5, 5, 6, 6, 7,  7,  8,  8,
                                                    9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

inline void inflate_block(InflateBitReader& in, const HuffmanTable& litlen,
                          const HuffmanTable& distances, InflateOutput& out) {
  for (;;) {
    const int symbol = decode_symbol(in, litlen, "literal/length");
    if (symbol < 256) {
      out.literal(static_cast<std::uint8_t>(symbol));
    } else if (symbol == 256) {
      return;
    } else {
      const int l = symbol - 257;
      LATENT_CHECK(l < 29, "inflate: invalid length symbol ", symbol);
      const std::size_t length = kLengthBase[l] + in.bits(kLengthExtra[l]);
      const int d = decode_symbol(in, distances, "distance");
      LATENT_CHECK(d < 30, "inflate: invalid distance symbol ", d);
      const std::size_t distance = kDistanceBase[d] + in.bits(kDistanceExtra[d]);
      out.match(distance, length);
    }
  }
}

// The fixed code (block type 1): literal/length code lengths 8 for 0..143, 9 for
// 144..255, 7 for 256..279, 8 for 280..287; distance codes all 5 bits.
inline const HuffmanTable& fixed_litlen_table() {
  static const HuffmanTable table = [] {
    std::uint8_t lengths[288];
    for (int s = 0; s < 288; ++s) lengths[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    HuffmanTable t;
    build_huffman(t, lengths, 288, "fixed literal/length", false);
    return t;
  }();
  return table;
}
inline const HuffmanTable& fixed_distance_table() {
  static const HuffmanTable table = [] {
    std::uint8_t lengths[32];
    for (auto& length : lengths) length = 5;
    HuffmanTable t;
    build_huffman(t, lengths, 32, "fixed distance", false);
    return t;
  }();
  return table;
}

// A dynamic block (type 2) sends its two codes' lengths first, themselves Huffman coded:
// HLIT + 257 literal/length and HDIST + 1 distance lengths form one sequence, written
// with a 19-symbol code-length code: 0..15 a length, 16 repeats the previous length 3..6
// times, 17 and 18 give runs of 3..10 and 11..138 zeros. The code-length code's own
// lengths (3 bits each, HCLEN + 4 of them) come first, in the order kCodeLengthOrder.
inline constexpr std::uint8_t kCodeLengthOrder[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                      11, 4,  12, 3, 13, 2, 14, 1, 15};

inline void read_dynamic_tables(InflateBitReader& in, HuffmanTable& litlen,
                                HuffmanTable& distances) {
  const int nlit = static_cast<int>(in.bits(5)) + 257;
  const int ndist = static_cast<int>(in.bits(5)) + 1;
  const int nclen = static_cast<int>(in.bits(4)) + 4;
  LATENT_CHECK(nlit <= 286 && ndist <= 30, "inflate: dynamic block declares ", nlit,
               " literal/length and ", ndist, " distance codes (at most 286 and 30)");
  std::uint8_t code_length_lengths[19] = {};
  for (int i = 0; i < nclen; ++i) {
    code_length_lengths[kCodeLengthOrder[i]] = static_cast<std::uint8_t>(in.bits(3));
  }
  HuffmanTable code_lengths;
  build_huffman(code_lengths, code_length_lengths, 19, "code-length", false);

  std::uint8_t lengths[286 + 30] = {};
  const int total = nlit + ndist;
  int i = 0;
  while (i < total) {
    const int symbol = decode_symbol(in, code_lengths, "code-length");
    if (symbol < 16) {
      lengths[i++] = static_cast<std::uint8_t>(symbol);
      continue;
    }
    std::uint8_t value = 0;
    int repeat = 0;
    if (symbol == 16) {
      LATENT_CHECK(i > 0, "inflate: code-length repeat (symbol 16) with no previous length");
      value = lengths[i - 1];
      repeat = 3 + static_cast<int>(in.bits(2));
    } else if (symbol == 17) {
      repeat = 3 + static_cast<int>(in.bits(3));
    } else {
      repeat = 11 + static_cast<int>(in.bits(7));
    }
    LATENT_CHECK(repeat <= total - i, "inflate: code-length repeat of ", repeat,
                 " runs past the ", total, " lengths the block declares");
    for (int r = 0; r < repeat; ++r) lengths[i++] = value;
  }
  LATENT_CHECK(lengths[256] != 0, "inflate: dynamic block has no end-of-block code");
  build_huffman(litlen, lengths, nlit, "literal/length", true);
  build_huffman(distances, lengths + nlit, ndist, "distance", true);
}

// Decodes the DEFLATE stream starting at data[pos], appending to `out`; returns the
// position of the first byte after it. Each block starts with 3 bits: BFINAL (1 on the
// last block) and BTYPE (0 stored, 1 fixed code, 2 dynamic code, 3 invalid).
inline std::size_t inflate_stream(const std::uint8_t* data, std::size_t size, std::size_t pos,
                                  std::vector<std::uint8_t>& bytes, std::size_t max_output) {
  InflateBitReader in(data, size, pos);
  InflateOutput out(bytes, max_output);
  HuffmanTable litlen, distances;
  bool last = false;
  while (!last) {
    last = in.bits(1) == 1;
    const std::uint32_t type = in.bits(2);
    if (type == 0) {
      // Stored: from the next byte boundary, LEN and its ones' complement NLEN (16 bits
      // little-endian each), then LEN bytes as they are.
      ByteReader reader(data, size, "inflate");
      reader.seek(in.align_to_byte());
      const std::uint16_t length = reader.u16_le("stored block length");
      const std::uint16_t complement = reader.u16_le("stored block length complement");
      LATENT_CHECK(length == static_cast<std::uint16_t>(~complement),
                   "inflate: stored block length ", length, " does not match its complement ",
                   complement);
      out.append(reader.take(length, "stored block data"), length);
      in.set_byte_position(reader.position());
    } else if (type == 1) {
      inflate_block(in, fixed_litlen_table(), fixed_distance_table(), out);
    } else if (type == 2) {
      read_dynamic_tables(in, litlen, distances);
      inflate_block(in, litlen, distances, out);
    } else {
      fail("inflate: invalid block type 3 (reserved) at input byte ", in.align_to_byte());
    }
  }
  out.finish();
  return in.align_to_byte();
}

}  // namespace detail

inline std::vector<std::uint8_t> inflate_raw(const std::uint8_t* data, std::size_t size,
                                             std::size_t max_output = kDefaultMaxInflateOutput) {
  std::vector<std::uint8_t> out;
  const std::size_t end = detail::inflate_stream(data, size, 0, out, max_output);
  LATENT_CHECK(end == size, "inflate: ", size - end, " bytes of trailing data after the stream");
  return out;
}

// zlib: CMF (method 8 = DEFLATE, window 2^(8 + CINFO) <= 32 KiB), FLG (with CMF * 256 + FLG
// a multiple of 31, no preset dictionary), the DEFLATE stream, then the Adler-32 of the
// output, big-endian.
inline std::vector<std::uint8_t> inflate_zlib(const std::uint8_t* data, std::size_t size,
                                              std::size_t max_output = kDefaultMaxInflateOutput) {
  ByteReader reader(data, size, "zlib");
  const unsigned cmf = reader.u8("header");
  const unsigned flg = reader.u8("header");
  LATENT_CHECK((cmf * 256 + flg) % 31 == 0, "zlib: bad header check (", hex_bytes(data, 2),
               " is not a multiple of 31): not a zlib stream");
  LATENT_CHECK((cmf & 15) == 8 && (cmf >> 4) <= 7, "zlib: unsupported method ", cmf & 15,
               " / window ", cmf >> 4, " (need DEFLATE, 8, with a window of at most 32 KiB)");
  LATENT_CHECK((flg & 0x20) == 0, "zlib: streams with a preset dictionary are not supported");
  std::vector<std::uint8_t> out;
  reader.seek(detail::inflate_stream(data, size, reader.position(), out, max_output));
  const std::uint32_t expected = reader.u32_be("Adler-32 trailer");
  const std::uint32_t actual = adler32(out.data(), out.size());
  LATENT_CHECK(actual == expected, "zlib: Adler-32 mismatch: the data sums to ", actual,
               " but the stream says ", expected, " (corrupt data)");
  LATENT_CHECK(reader.at_end(), "zlib: ", reader.remaining(),
               " bytes of trailing data after the stream");
  return out;
}

inline bool is_gzip(const std::uint8_t* data, std::size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

// gzip: one or more members, each a header (magic 1f 8b, method 8, flags, time, extra
// flags, OS, then the optional extra field, file name, comment and header CRC that the
// flags announce), a DEFLATE stream, and a trailer: the CRC-32 and the size modulo 2^32
// of the member's output, little-endian. The outputs of all members are concatenated.
inline std::vector<std::uint8_t> inflate_gzip(const std::uint8_t* data, std::size_t size,
                                              std::size_t max_output = kDefaultMaxInflateOutput) {
  enum : unsigned { kHeaderCrc = 2, kExtra = 4, kName = 8, kComment = 16 };
  ByteReader reader(data, size, "gzip");
  std::vector<std::uint8_t> out;
  // The last member's size (the final 4 bytes) is a hint for the output's capacity, only
  // trusted as far as DEFLATE can expand (at most 1032 times) and the cap allow.
  if (size >= 18) {
    ByteReader trailer(data + size - 4, 4, "gzip");
    const std::size_t hint = trailer.u32_le("size trailer");
    out.reserve(std::min({hint, max_output, size < max_output / 1032 ? 1032 * size : max_output}));
  }
  do {
    const std::size_t header_start = reader.position();
    LATENT_CHECK(is_gzip(data + header_start, reader.remaining()), "gzip: bad magic ",
                 hex_bytes(data + header_start, reader.remaining() < 2 ? reader.remaining() : 2),
                 " at offset ", header_start, " (expected 0x1f 0x8b): not a gzip stream");
    reader.skip(2, "magic");
    const unsigned method = reader.u8("compression method");
    LATENT_CHECK(method == 8, "gzip: unsupported compression method ", method, " (need 8)");
    const unsigned flags = reader.u8("flags");
    LATENT_CHECK((flags & 0xE0) == 0, "gzip: reserved flag bits set (flags ", flags, ")");
    reader.skip(6, "time, extra flags and OS");
    if (flags & kExtra) reader.skip(reader.u16_le("extra field length"), "extra field");
    for (unsigned field : {unsigned(kName), unsigned(kComment)}) {
      if (flags & field) {
        while (reader.u8(field == kName ? "file name" : "comment") != 0) {
        }
      }
    }
    if (flags & kHeaderCrc) {
      const std::uint32_t expected = crc32(data + header_start, reader.position() - header_start);
      const std::uint16_t stored = reader.u16_le("header CRC");
      LATENT_CHECK(stored == (expected & 0xFFFFu), "gzip: header CRC mismatch (", stored,
                   " stored, ", expected & 0xFFFFu, " computed)");
    }
    const std::size_t member_start = out.size();
    reader.seek(detail::inflate_stream(data, size, reader.position(), out, max_output));
    const std::uint32_t expected_crc = reader.u32_le("CRC-32 trailer");
    const std::uint32_t expected_size = reader.u32_le("size trailer");
    const std::size_t produced = out.size() - member_start;
    const std::uint32_t actual_crc = crc32(out.data() + member_start, produced);
    LATENT_CHECK(actual_crc == expected_crc, "gzip: CRC-32 mismatch: the data gives ",
                 actual_crc, " but the trailer says ", expected_crc, " (corrupt data)");
    LATENT_CHECK(static_cast<std::uint32_t>(produced) == expected_size, "gzip: size mismatch: ",
                 produced, " bytes decoded but the trailer says ", expected_size,
                 " (modulo 2^32)");
  } while (!reader.at_end());
  return out;
}

inline std::vector<std::uint8_t> inflate_raw(const std::vector<std::uint8_t>& data,
                                             std::size_t max_output = kDefaultMaxInflateOutput) {
  return inflate_raw(data.data(), data.size(), max_output);
}
inline std::vector<std::uint8_t> inflate_zlib(const std::vector<std::uint8_t>& data,
                                              std::size_t max_output = kDefaultMaxInflateOutput) {
  return inflate_zlib(data.data(), data.size(), max_output);
}
inline std::vector<std::uint8_t> inflate_gzip(const std::vector<std::uint8_t>& data,
                                              std::size_t max_output = kDefaultMaxInflateOutput) {
  return inflate_gzip(data.data(), data.size(), max_output);
}

}  // namespace latent::io
