// Bounds-checked bytes: the reader and writer under every file format.
//
// A ByteReader walks over a buffer it does not own. Every read first checks that enough
// bytes remain, so a truncated or hostile file ends in a latent::Error that says what was
// being read and where ("idx: truncated: reading dimension 2 needs 4 bytes at offset 8,
// 2 remain"), never in a read past the end. Integers are assembled byte by byte in the
// byte order the format names (little- or big-endian), whatever the host's order.
// Sizes computed from file fields go through checked_add / checked_mul, which fail
// instead of wrapping around.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace latent::io {

inline std::size_t checked_add(std::size_t a, std::size_t b, const char* op) {
  LATENT_CHECK(b <= std::numeric_limits<std::size_t>::max() - a, op, ": size overflow: ", a,
               " + ", b);
  return a + b;
}

inline std::size_t checked_mul(std::size_t a, std::size_t b, const char* op) {
  LATENT_CHECK(a == 0 || b <= std::numeric_limits<std::size_t>::max() / a, op,
               ": size overflow: ", a, " * ", b);
  return a * b;
}

// "0x1f 0x8b": bytes as hex, for messages about magic numbers.
inline std::string hex_bytes(const std::uint8_t* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < size; ++i) {
    if (i > 0) text += ' ';
    text += "0x";
    text += kDigits[data[i] >> 4];
    text += kDigits[data[i] & 15];
  }
  return text;
}

class ByteReader {
 public:
  // `op` names the reader in error messages (e.g. "png", "idx: train-images.gz").
  ByteReader(const std::uint8_t* data, std::size_t size, std::string op = "bytes")
      : data_(data), size_(size), op_(std::move(op)) {}

  std::size_t size() const { return size_; }
  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }
  const std::string& op() const { return op_; }

  // Fails unless n more bytes can be read; `what` says what they are for.
  void require(std::size_t n, const char* what) const {
    LATENT_CHECK(n <= remaining(), op_, ": truncated: reading ", what, " needs ", n,
                 " bytes at offset ", pos_, ", ", remaining(), " remain");
  }

  void seek(std::size_t offset) {
    LATENT_CHECK(offset <= size_, op_, ": offset ", offset, " is past the end (size ", size_,
                 ")");
    pos_ = offset;
  }

  void skip(std::size_t n, const char* what) {
    require(n, what);
    pos_ += n;
  }

  // The next n bytes, in place; the reader moves past them.
  const std::uint8_t* take(std::size_t n, const char* what) {
    require(n, what);
    const std::uint8_t* start = data_ + pos_;
    pos_ += n;
    return start;
  }

  std::uint8_t u8(const char* what) { return *take(1, what); }
  std::uint16_t u16_le(const char* what) { return static_cast<std::uint16_t>(le(2, what)); }
  std::uint16_t u16_be(const char* what) { return static_cast<std::uint16_t>(be(2, what)); }
  std::uint32_t u32_le(const char* what) { return static_cast<std::uint32_t>(le(4, what)); }
  std::uint32_t u32_be(const char* what) { return static_cast<std::uint32_t>(be(4, what)); }
  std::uint64_t u64_le(const char* what) { return le(8, what); }
  std::uint64_t u64_be(const char* what) { return be(8, what); }

 private:
  std::uint64_t le(std::size_t n, const char* what) {
    const std::uint8_t* p = take(n, what);
    std::uint64_t value = 0;
    for (std::size_t i = n; i-- > 0;) value = (value << 8) | p[i];
    return value;
  }
  std::uint64_t be(std::size_t n, const char* what) {
    const std::uint8_t* p = take(n, what);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < n; ++i) value = (value << 8) | p[i];
    return value;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::string op_;
};

// Appends bytes and integers (in the byte order asked for) to a growing buffer.
class ByteWriter {
 public:
  void u8(std::uint8_t value) { buffer_.push_back(value); }
  void u16_le(std::uint16_t value) { le(value, 2); }
  void u16_be(std::uint16_t value) { be(value, 2); }
  void u32_le(std::uint32_t value) { le(value, 4); }
  void u32_be(std::uint32_t value) { be(value, 4); }
  void u64_le(std::uint64_t value) { le(value, 8); }
  void u64_be(std::uint64_t value) { be(value, 8); }
  void bytes(const std::uint8_t* data, std::size_t size) {
    if (size > 0) buffer_.insert(buffer_.end(), data, data + size);
  }
  void bytes(const std::string& text) {
    buffer_.insert(buffer_.end(), text.begin(), text.end());
  }

  // Overwrites 4 bytes already written at `offset` (a length known only afterwards).
  void patch_u32_be(std::size_t offset, std::uint32_t value) {
    LATENT_CHECK(offset <= buffer_.size() && buffer_.size() - offset >= 4,
                 "ByteWriter: patch at offset ", offset, " is past the end (size ",
                 buffer_.size(), ")");
    for (int i = 0; i < 4; ++i) {
      buffer_[offset + static_cast<std::size_t>(i)] =
          static_cast<std::uint8_t>(value >> (24 - 8 * i));
    }
  }

  std::size_t size() const { return buffer_.size(); }
  const std::vector<std::uint8_t>& buffer() const { return buffer_; }
  std::vector<std::uint8_t> release() { return std::move(buffer_); }

 private:
  void le(std::uint64_t value, int n) {
    for (int i = 0; i < n; ++i) buffer_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  void be(std::uint64_t value, int n) {
    for (int i = n; i-- > 0;) buffer_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }

  std::vector<std::uint8_t> buffer_;
};

}  // namespace latent::io
