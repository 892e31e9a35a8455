// Checksums of the file formats: CRC-32 (gzip, PNG, zip) and Adler-32 (zlib).
//
// Both take a running value so that a long stream can be summed piece by piece:
//   crc32(b, nb, crc32(a, na)) == crc32(a ++ b)   and the same for adler32.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace latent::io {

// CRC-32 (the IEEE 802.3 one): the message, read as a polynomial over GF(2), times x^32,
// modulo the generator x^32 + x^26 + x^23 + x^22 + x^16 + x^12 + x^11 + x^10 + x^8 + x^7 +
// x^5 + x^4 + x^2 + x + 1. Bits are taken least significant first, so the generator is
// written bit-reversed (0xEDB88320), and the register starts at and ends xored with
// 0xFFFFFFFF. A byte at a time: table[0][i] is the remainder of the 8 bits of i, and
//   crc = table[0][(crc ^ byte) & 0xFF] ^ (crc >> 8).
// Eight bytes at a time ("slicing by 8"): table[k][i] is the remainder of byte i followed
// by k zero bytes, so the eight bytes' remainders can be looked up independently and
// xored together.
namespace detail {
using Crc32Tables = std::array<std::array<std::uint32_t, 256>, 8>;

inline Crc32Tables make_crc32_tables() {
  Crc32Tables table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t remainder = i;
    for (int bit = 0; bit < 8; ++bit) {
      remainder = (remainder & 1u) ? (remainder >> 1) ^ 0xEDB88320u : remainder >> 1;
    }
    table[0][i] = remainder;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t i = 0; i < 256; ++i) {
      const std::uint32_t previous = table[k - 1][i];
      table[k][i] = table[0][previous & 0xFFu] ^ (previous >> 8);
    }
  }
  return table;
}
// Built on first use (thread-safe): working them out at compile time instead would slow
// down the compilation of every program that includes the library.
inline const Crc32Tables& crc32_tables() {
  static const Crc32Tables tables = make_crc32_tables();
  return tables;
}
}  // namespace detail

inline std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0) {
  const auto& t = detail::crc32_tables();
  crc = ~crc;
  for (; size >= 8; size -= 8, data += 8) {
    const std::uint32_t low = crc ^ (std::uint32_t(data[0]) | std::uint32_t(data[1]) << 8 |
                                     std::uint32_t(data[2]) << 16 | std::uint32_t(data[3]) << 24);
    crc = t[7][low & 0xFFu] ^ t[6][(low >> 8) & 0xFFu] ^ t[5][(low >> 16) & 0xFFu] ^
          t[4][low >> 24] ^ t[3][data[4]] ^ t[2][data[5]] ^ t[1][data[6]] ^ t[0][data[7]];
  }
  for (std::size_t i = 0; i < size; ++i) crc = t[0][(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

// Adler-32: two sums modulo 65521 (the largest prime below 2^16): a = 1 + the sum of the
// bytes, b = the sum of the successive values of a; the checksum is b << 16 | a. Reducing
// only every 5552 bytes is safe: that is the longest run for which b cannot pass 2^32.
inline std::uint32_t adler32(const std::uint8_t* data, std::size_t size, std::uint32_t adler = 1) {
  constexpr std::uint32_t kModulus = 65521;
  constexpr std::size_t kMaxRun = 5552;
  std::uint32_t a = adler & 0xFFFFu;
  std::uint32_t b = adler >> 16;
  while (size > 0) {
    const std::size_t run = size < kMaxRun ? size : kMaxRun;
    for (std::size_t i = 0; i < run; ++i) {
      a += data[i];
      b += a;
    }
    a %= kModulus;
    b %= kModulus;
    data += run;
    size -= run;
  }
  return (b << 16) | a;
}

}  // namespace latent::io
