// PNG writer: 8-bit pictures (grey, grey + alpha, RGB, RGBA) from a buffer of
// height x width x channels bytes (rows top to bottom, channels interleaved), for the
// samples that the examples draw.
//
//   std::vector<std::uint8_t> encode_png(pixels, height, width, channels, level)
//   void write_png(path, pixels, height, width, channels, level)      atomic write
//
// A PNG file is an 8-byte signature and a sequence of chunks, each: the length of its data
// (4 bytes, big-endian), a 4-letter type, the data, and the CRC-32 of type and data. We
// write IHDR (width, height, bit depth 8, colour type, compression 0, filter 0, no
// interlace), IDAT chunks that together hold one zlib stream of the filtered rows, and
// IEND.
//
// encode_png and write_png are templated on an unused parameter only so that they (and
// the compressor under them) are compiled when a program writes a PNG, not in every
// program that includes the library.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "bytes.hpp"
#include "checksum.hpp"
#include "deflate.hpp"
#include "file.hpp"

namespace latent::io {

namespace detail {

// Filtering: each row is stored as a filter-type byte and the differences of its bytes
// from their neighbours, which compress better than the bytes themselves. With x the byte,
// a the same channel one pixel left, b the byte above, c the one above-left (0 outside
// the picture), all modulo 256:
//   0 None: x   1 Sub: x - a   2 Up: x - b   3 Average: x - floor((a + b) / 2)
//   4 Paeth: x - paeth(a, b, c), where paeth is whichever of a, b, c is nearest to
//     a + b - c (ties prefer a, then b).
// For each row we keep the filter whose output has the least sum of |byte as signed|,
// the heuristic the PNG specification suggests.
inline int paeth_predictor(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

inline void filter_row(int type, const std::uint8_t* row, const std::uint8_t* above,
                       std::size_t length, std::size_t pixel_bytes, std::uint8_t* out) {
  for (std::size_t i = 0; i < length; ++i) {
    const int a = i >= pixel_bytes ? row[i - pixel_bytes] : 0;
    const int b = above[i];
    const int c = i >= pixel_bytes ? above[i - pixel_bytes] : 0;
    int prediction = 0;
    switch (type) {
      case 1: prediction = a; break;
      case 2: prediction = b; break;
      case 3: prediction = (a + b) / 2; break;
      case 4: prediction = paeth_predictor(a, b, c); break;
      default: break;
    }
    out[i] = static_cast<std::uint8_t>(row[i] - prediction);
  }
}

inline std::size_t filter_cost(const std::uint8_t* bytes, std::size_t length) {
  std::size_t cost = 0;
  for (std::size_t i = 0; i < length; ++i) cost += bytes[i] < 128 ? bytes[i] : 256 - bytes[i];
  return cost;
}

inline void write_png_chunk(ByteWriter& out, const char* type, const std::uint8_t* data,
                            std::size_t size) {
  out.u32_be(static_cast<std::uint32_t>(size));
  const std::size_t type_start = out.size();
  out.bytes(reinterpret_cast<const std::uint8_t*>(type), 4);
  out.bytes(data, size);
  out.u32_be(crc32(out.buffer().data() + type_start, 4 + size));
}

inline constexpr std::size_t kIdatChunkSize = 65536;

}  // namespace detail

template <class = void>
std::vector<std::uint8_t> encode_png(const std::uint8_t* pixels, std::size_t height,
                                     std::size_t width, std::size_t channels,
                                     int level = 6) {
  constexpr std::size_t kMaxSide = 0x7FFFFFFF;  // PNG's limit, 2^31 - 1
  LATENT_CHECK(channels >= 1 && channels <= 4, "encode_png: channels must be 1 (grey), ",
               "2 (grey + alpha), 3 (RGB) or 4 (RGBA), got ", channels);
  LATENT_CHECK(height >= 1 && width >= 1 && height <= kMaxSide && width <= kMaxSide,
               "encode_png: size ", height, " x ", width, " must be 1 .. 2^31-1 on each side");
  const std::size_t row_bytes = checked_mul(width, channels, "encode_png");
  const std::size_t filtered_size =
      checked_mul(checked_add(row_bytes, 1, "encode_png"), height, "encode_png");

  std::vector<std::uint8_t> filtered(filtered_size);
  std::vector<std::uint8_t> zero_row(row_bytes, 0), candidate(row_bytes);
  for (std::size_t y = 0; y < height; ++y) {
    const std::uint8_t* row = pixels + y * row_bytes;
    const std::uint8_t* above = y > 0 ? row - row_bytes : zero_row.data();
    std::uint8_t* out = filtered.data() + y * (row_bytes + 1);
    std::size_t best_cost = 0;
    for (int type = 0; type <= 4; ++type) {
      detail::filter_row(type, row, above, row_bytes, channels, candidate.data());
      const std::size_t cost = detail::filter_cost(candidate.data(), row_bytes);
      if (type == 0 || cost < best_cost) {
        best_cost = cost;
        out[0] = static_cast<std::uint8_t>(type);
        std::copy(candidate.begin(), candidate.end(), out + 1);
      }
    }
  }
  const std::vector<std::uint8_t> compressed = deflate_zlib(filtered.data(), filtered.size(), level);

  static constexpr std::uint8_t kColourType[5] = {0, 0, 4, 2, 6};  // by channel count
  ByteWriter header;
  header.u32_be(static_cast<std::uint32_t>(width));
  header.u32_be(static_cast<std::uint32_t>(height));
  for (std::uint8_t byte : {std::uint8_t(8), kColourType[channels], std::uint8_t(0),
                            std::uint8_t(0), std::uint8_t(0)}) {
    header.u8(byte);
  }

  ByteWriter png;
  static constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  png.bytes(kSignature, 8);
  detail::write_png_chunk(png, "IHDR", header.buffer().data(), header.size());
  for (std::size_t start = 0; start < compressed.size(); start += detail::kIdatChunkSize) {
    const std::size_t n = std::min(detail::kIdatChunkSize, compressed.size() - start);
    detail::write_png_chunk(png, "IDAT", compressed.data() + start, n);
  }
  detail::write_png_chunk(png, "IEND", nullptr, 0);
  return png.release();
}

template <class = void>
void write_png(const std::string& path, const std::uint8_t* pixels, std::size_t height,
               std::size_t width, std::size_t channels, int level = 6) {
  write_file_atomic(path, encode_png(pixels, height, width, channels, level));
}

}  // namespace latent::io
