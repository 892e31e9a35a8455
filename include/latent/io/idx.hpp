// IDX: the file format of MNIST and Fashion-MNIST, plain or gzipped.
//
//   IdxData parse_idx(bytes, size, name)   from memory (gzip detected by its magic); also
//   IdxData parse_idx(vector, name)         from a vector, taking it over
//   IdxData read_idx(path)                 from a file
//
// An IDX file is: two zero bytes, a type code, the number of dimensions N, then N sizes
// (32-bit big-endian), then the elements in row-major order, each big-endian. Type codes:
// 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
// The data must be exactly as long as the sizes say; anything else is an error naming the
// file and the numbers. IdxData::data holds the elements in the host's byte order, ready
// to be copied into a tensor of the matching type.
//
// The reader's functions are templated on an unused parameter only so that they are
// compiled when a program reads an IDX file, not in every program that includes the
// library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "bytes.hpp"
#include "file.hpp"
#include "inflate.hpp"

namespace latent::io {

enum class IdxType : std::uint8_t {
  UInt8 = 0x08,
  Int8 = 0x09,
  Int16 = 0x0B,
  Int32 = 0x0C,
  Float32 = 0x0D,
  Float64 = 0x0E,
};

// Bytes per element, or 0 for a code that is not an IDX type.
inline std::size_t idx_element_size(IdxType type) {
  switch (type) {
    case IdxType::UInt8: case IdxType::Int8: return 1;
    case IdxType::Int16: return 2;
    case IdxType::Int32: case IdxType::Float32: return 4;
    case IdxType::Float64: return 8;
  }
  return 0;
}

inline const char* idx_type_name(IdxType type) {
  switch (type) {
    case IdxType::UInt8: return "uint8";
    case IdxType::Int8: return "int8";
    case IdxType::Int16: return "int16";
    case IdxType::Int32: return "int32";
    case IdxType::Float32: return "float32";
    case IdxType::Float64: return "float64";
  }
  return "unknown";
}

struct IdxData {
  IdxType type = IdxType::UInt8;
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;  // dims' product elements, host byte order

  std::size_t numel() const {
    std::size_t n = 1;
    for (std::size_t d : dims) n *= d;
    return n;
  }
};

namespace detail {
inline bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  std::uint8_t first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}
}  // namespace detail

namespace detail {
// Checks the header against the buffer's length, then turns the buffer into the data:
// the header is cut off and the elements are put in host byte order, in place.
template <class = void>
IdxData idx_from_buffer(std::vector<std::uint8_t> buffer, const std::string& name) {
  const std::string op = "idx: " + name;
  ByteReader reader(buffer.data(), buffer.size(), op);
  const std::uint8_t* magic = reader.take(4, "magic number");
  LATENT_CHECK(magic[0] == 0 && magic[1] == 0, op, ": bad magic ", hex_bytes(magic, 4),
               " (an IDX file starts with two zero bytes)");
  IdxData result;
  result.type = static_cast<IdxType>(magic[2]);
  const std::size_t element_size = idx_element_size(result.type);
  LATENT_CHECK(element_size != 0, op, ": unknown element type code ", hex_bytes(magic + 2, 1),
               " (known: 0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, "
               "0x0e float64)");
  const std::size_t rank = magic[3];
  LATENT_CHECK(rank >= 1, op, ": the header declares no dimensions");

  std::size_t count = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t dim = reader.u32_be("a dimension");
    result.dims.push_back(dim);
    count = checked_mul(count, dim, op.c_str());
  }
  const std::size_t data_size = checked_mul(count, element_size, op.c_str());
  std::string shape;
  for (std::size_t i = 0; i < rank; ++i) shape += (i ? " x " : "") + std::to_string(result.dims[i]);
  LATENT_CHECK(data_size == reader.remaining(), op, ": the header says ", shape, " ",
               idx_type_name(result.type), " = ", data_size, " bytes of data, but ",
               reader.remaining(), " bytes follow the ", reader.position(), "-byte header");

  buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(reader.position()));
  if (element_size > 1 && host_is_little_endian()) {
    for (std::size_t start = 0; start < data_size; start += element_size) {
      std::uint8_t* element = buffer.data() + start;
      for (std::size_t i = 0; i < element_size / 2; ++i) {
        std::swap(element[i], element[element_size - 1 - i]);
      }
    }
  }
  result.data = std::move(buffer);
  return result;
}
}  // namespace detail

// `name` (a path, say) goes into error messages. A gzipped input is inflated first, to at
// most `max_bytes`.
template <class = void>
IdxData parse_idx(std::vector<std::uint8_t> bytes, const std::string& name = "<memory>",
                  std::size_t max_bytes = kDefaultMaxInflateOutput) {
  if (is_gzip(bytes.data(), bytes.size())) {
    return detail::idx_from_buffer(inflate_gzip(bytes, max_bytes), name + " (gunzipped)");
  }
  return detail::idx_from_buffer(std::move(bytes), name);
}

template <class = void>
IdxData parse_idx(const std::uint8_t* bytes, std::size_t size,
                  const std::string& name = "<memory>",
                  std::size_t max_bytes = kDefaultMaxInflateOutput) {
  if (is_gzip(bytes, size)) {
    return detail::idx_from_buffer(inflate_gzip(bytes, size, max_bytes), name + " (gunzipped)");
  }
  return detail::idx_from_buffer(std::vector<std::uint8_t>(bytes, bytes + size), name);
}

template <class = void>
IdxData read_idx(const std::string& path,
                 std::size_t max_bytes = kDefaultMaxInflateOutput) {
  return parse_idx(read_file(path), path, max_bytes);
}

}  // namespace latent::io
