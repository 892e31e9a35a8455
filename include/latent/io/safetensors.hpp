// safetensors: named tensors in one file, the format PyTorch and Hugging Face models are
// shared in.
//
//   SafetensorsFile f = load_safetensors("model.safetensors");   // or parse_safetensors(bytes, n)
//   Tensor<float> w = f.get<float>("fc.weight");                 // converted from any float dtype
//   save_safetensors("out.safetensors", named_tensors, metadata); // any map name -> Tensor<T>
//   SafetensorsWriter().add("w", w).add_f16("h", w).metadata("k", "v").write(path);
//
// Layout: 8 bytes little-endian u64 N, then N bytes of JSON (the header), then the data.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, the
// offsets counting bytes from the start of the data; "__metadata__" optionally maps strings
// to strings. Elements are little-endian, in C order.
//
// A file is checked completely before any tensor is read: the header length against the
// file size (and a 100 MB limit), the JSON itself, each entry's fields, the dtype, the
// shape (no negative sizes, no overflowing products), and the offsets: each tensor's byte
// range must match dtype size x element count, and together the ranges must tile the data
// section exactly, without overlaps, holes or trailing bytes. Anything else is a
// latent::Error naming the file and the offending tensor, never an out-of-bounds read.
//
// Dtypes: F64 F32 F16 BF16 I64 I32 I8 U8 BOOL. F16 and BF16 are converted from float or
// double with one rounding to nearest, ties to even (overflow gives infinity, NaN stays
// NaN); reading them back is exact.
//
// The reader's functions and the writer are templates (SafetensorsWriter is
// BasicSafetensorsWriter<>) only so that they are compiled when a program reads or writes
// a file, not in every program that includes the library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/shape.hpp"
#include "../ops/shape_ops.hpp"
#include "../tensor/tensor.hpp"
#include "bytes.hpp"
#include "file.hpp"
#include "json.hpp"

namespace latent::io {

// ---- dtypes ----

enum class Dtype { F64, F32, F16, BF16, I64, I32, I8, U8, BOOL };

inline const char* dtype_string(Dtype d) {
  switch (d) {
    case Dtype::F64: return "F64";
    case Dtype::F32: return "F32";
    case Dtype::F16: return "F16";
    case Dtype::BF16: return "BF16";
    case Dtype::I64: return "I64";
    case Dtype::I32: return "I32";
    case Dtype::I8: return "I8";
    case Dtype::U8: return "U8";
    case Dtype::BOOL: return "BOOL";
  }
  return "?";
}

inline std::size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::F64: case Dtype::I64: return 8;
    case Dtype::F32: case Dtype::I32: return 4;
    case Dtype::F16: case Dtype::BF16: return 2;
    case Dtype::I8: case Dtype::U8: case Dtype::BOOL: return 1;
  }
  return 0;
}

inline bool dtype_is_float(Dtype d) {
  return d == Dtype::F64 || d == Dtype::F32 || d == Dtype::F16 || d == Dtype::BF16;
}

// The dtype named by a header string; false when it is not one we read.
inline bool parse_dtype(const std::string& name, Dtype& out) {
  for (Dtype d : {Dtype::F64, Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::I64, Dtype::I32,
                  Dtype::I8, Dtype::U8, Dtype::BOOL})
    if (name == dtype_string(d)) {
      out = d;
      return true;
    }
  return false;
}

// The dtype a Tensor<T> is stored as.
template <class T>
constexpr Dtype dtype_of() {
  static_assert(std::is_same<T, double>::value || std::is_same<T, float>::value ||
                    std::is_same<T, std::int64_t>::value || std::is_same<T, std::int32_t>::value ||
                    std::is_same<T, std::int8_t>::value || std::is_same<T, std::uint8_t>::value ||
                    std::is_same<T, bool>::value,
                "safetensors: element type must be double, float, int64, int32, int8, uint8 or bool");
  if (std::is_same<T, double>::value) return Dtype::F64;
  if (std::is_same<T, float>::value) return Dtype::F32;
  if (std::is_same<T, std::int64_t>::value) return Dtype::I64;
  if (std::is_same<T, std::int32_t>::value) return Dtype::I32;
  if (std::is_same<T, std::int8_t>::value) return Dtype::I8;
  if (std::is_same<T, std::uint8_t>::value) return Dtype::U8;
  return Dtype::BOOL;
}

// ---- 16-bit floats ----
//
// A binary float with E exponent bits and M mantissa bits (F16: 5, 10; BF16: 8, 7) holds
// (-1)^s * 2^(e - bias) * (1 + m / 2^M) for 0 < e < 2^E - 1, and subnormals
// (-1)^s * 2^(1 - bias) * m / 2^M for e = 0, with bias = 2^(E-1) - 1. To round x, take
// the spacing q of representable values at |x| (2^(exponent - M), never finer than the
// subnormal spacing), and round |x| / q, which is exact in double, to the nearest
// integer, ties to even. Rounding straight from double avoids the double rounding of
// going through float first.

inline std::uint16_t round_to_small_float(double x, int exponent_bits, int mantissa_bits) {
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const std::uint32_t exponent_all_ones = (1u << exponent_bits) - 1;
  const std::uint32_t sign = std::signbit(x) ? 1u << (exponent_bits + mantissa_bits) : 0u;
  const std::uint32_t infinity = exponent_all_ones << mantissa_bits;
  if (std::isnan(x)) return static_cast<std::uint16_t>(sign | infinity | (1u << (mantissa_bits - 1)));
  const double a = std::fabs(x);
  if (std::isinf(a)) return static_cast<std::uint16_t>(sign | infinity);
  if (a == 0) return static_cast<std::uint16_t>(sign);
  int exponent = 0;
  (void)std::frexp(a, &exponent);  // a = f * 2^exponent, f in [0.5, 1)
  exponent -= 1;                   // a = g * 2^exponent, g in [1, 2)
  const int min_exponent = 1 - bias;
  const int scale = std::max(exponent, min_exponent) - mantissa_bits;
  const double r = std::ldexp(a, -scale);  // |x| / q, exact
  double n = std::floor(r);
  const double rest = r - n;
  if (rest > 0.5 || (rest == 0.5 && std::fmod(n, 2.0) != 0)) n += 1;
  auto units = static_cast<std::uint64_t>(n);
  if (exponent < min_exponent) {
    // Subnormal; units == 2^M carries into the smallest normal, whose encoding is 2^M.
    return static_cast<std::uint16_t>(sign | units);
  }
  if (units == (std::uint64_t(1) << (mantissa_bits + 1))) {
    units >>= 1;
    exponent += 1;
  }
  if (exponent > bias) return static_cast<std::uint16_t>(sign | infinity);
  const auto biased = static_cast<std::uint32_t>(exponent + bias);
  const auto mantissa = static_cast<std::uint32_t>(units - (std::uint64_t(1) << mantissa_bits));
  return static_cast<std::uint16_t>(sign | (biased << mantissa_bits) | mantissa);
}

inline double small_float_value(std::uint16_t bits, int exponent_bits, int mantissa_bits) {
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const std::uint32_t exponent_all_ones = (1u << exponent_bits) - 1;
  const bool negative = (bits >> (exponent_bits + mantissa_bits)) & 1u;
  const std::uint32_t biased = (bits >> mantissa_bits) & exponent_all_ones;
  const std::uint32_t mantissa = bits & ((1u << mantissa_bits) - 1);
  double value = 0;
  if (biased == exponent_all_ones) {
    value = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (biased == 0) {
    value = std::ldexp(static_cast<double>(mantissa), 1 - bias - mantissa_bits);
  } else {
    value = std::ldexp(static_cast<double>(mantissa | (1u << mantissa_bits)),
                       static_cast<int>(biased) - bias - mantissa_bits);
  }
  return negative ? -value : value;
}

inline std::uint16_t float16_bits(double x) { return round_to_small_float(x, 5, 10); }
inline std::uint16_t bfloat16_bits(double x) { return round_to_small_float(x, 8, 7); }
inline double float16_value(std::uint16_t bits) { return small_float_value(bits, 5, 10); }
inline double bfloat16_value(std::uint16_t bits) { return small_float_value(bits, 8, 7); }

// ---- elements in and out of little-endian bytes ----

namespace detail {

inline std::uint64_t load_le(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

inline void store_le(std::uint64_t v, std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Element i of a floating-point dtype, as a double (exact).
inline double load_float(Dtype d, const std::uint8_t* p) {
  switch (d) {
    case Dtype::F64: {
      const std::uint64_t bits = load_le(p, 8);
      double v;
      std::memcpy(&v, &bits, 8);
      return v;
    }
    case Dtype::F32: {
      const auto bits = static_cast<std::uint32_t>(load_le(p, 4));
      float v;
      std::memcpy(&v, &bits, 4);
      return v;
    }
    case Dtype::F16: return float16_value(static_cast<std::uint16_t>(load_le(p, 2)));
    case Dtype::BF16: return bfloat16_value(static_cast<std::uint16_t>(load_le(p, 2)));
    default: fail("safetensors: ", dtype_string(d), " is not a floating-point dtype");
  }
}

// Element of an integer or boolean dtype, as an int64.
inline std::int64_t load_integer(Dtype d, const std::uint8_t* p) {
  switch (d) {
    case Dtype::I64: return static_cast<std::int64_t>(load_le(p, 8));
    case Dtype::I32: return static_cast<std::int32_t>(static_cast<std::uint32_t>(load_le(p, 4)));
    case Dtype::I8: return static_cast<std::int8_t>(*p);
    case Dtype::U8: case Dtype::BOOL: return *p;
    default: fail("safetensors: ", dtype_string(d), " is not an integer dtype");
  }
}

inline void store_float(double v, Dtype d, std::uint8_t* p) {
  switch (d) {
    case Dtype::F64: {
      std::uint64_t bits;
      std::memcpy(&bits, &v, 8);
      return store_le(bits, p, 8);
    }
    case Dtype::F32: {
      const auto f = static_cast<float>(v);
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return store_le(bits, p, 4);
    }
    case Dtype::F16: return store_le(float16_bits(v), p, 2);
    case Dtype::BF16: return store_le(bfloat16_bits(v), p, 2);
    default: fail("safetensors: cannot store floating-point values as ", dtype_string(d),
                  " (that would lose their fractions); convert them yourself");
  }
}

// The range of values an integer dtype holds.
inline void integer_range(Dtype d, std::int64_t& lo, std::int64_t& hi) {
  switch (d) {
    case Dtype::I64: lo = std::numeric_limits<std::int64_t>::min(); hi = std::numeric_limits<std::int64_t>::max(); return;
    case Dtype::I32: lo = std::numeric_limits<std::int32_t>::min(); hi = std::numeric_limits<std::int32_t>::max(); return;
    case Dtype::I8: lo = -128; hi = 127; return;
    case Dtype::U8: lo = 0; hi = 255; return;
    default: lo = 0; hi = 1; return;  // BOOL
  }
}

}  // namespace detail

// ---- reading ----

// One tensor of a file: its dtype, shape and raw bytes (a view into the file's buffer).
struct TensorEntry {
  Dtype dtype = Dtype::F32;
  Shape shape;
  std::shared_ptr<const std::vector<std::uint8_t>> buffer;  // the whole file, shared
  std::size_t begin = 0;                                    // absolute offset in buffer
  std::size_t nbytes = 0;

  const std::uint8_t* data() const { return buffer->data() + begin; }
  std::int64_t numel() const { return shape.numel(); }
  const char* dtype_name() const { return dtype_string(dtype); }
};

class SafetensorsFile {
 public:
  std::map<std::string, TensorEntry> tensors;
  std::map<std::string, std::string> metadata;
  std::string source = "<memory>";  // the path, for error messages

  bool contains(const std::string& name) const { return tensors.count(name) > 0; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& t : tensors) out.push_back(t.first);
    return out;
  }
  const TensorEntry& entry(const std::string& name) const {
    const auto it = tensors.find(name);
    LATENT_CHECK(it != tensors.end(), "safetensors: '", source, "' has no tensor named '", name, "'");
    return it->second;
  }

  // The tensor `name` as a Tensor<T>, converted from its stored dtype: any float or
  // integer dtype to float/double (F64 to float rounds); integers and BOOL to integer
  // types when every value fits; BOOL, or integers that are all 0 or 1, to bool.
  // Floating-point data to an integer type is refused.
  template <class T>
  Tensor<T> get(const std::string& name) const;
};

namespace detail {

template <class... Parts>
[[noreturn]] void corrupt(const std::string& source, Parts... parts) {
  fail("safetensors: '", source, "': ", parts...);
}

// One header entry, checked: fields, dtype, shape, offsets against the data size.
template <class = void>
TensorEntry parse_entry(const std::string& source, const std::string& name, const Json& info,
                        std::size_t data_start, std::size_t data_size,
                        std::size_t& rel_begin, std::size_t& rel_end) {
  if (!info.is_object())
    corrupt(source, "tensor '", name, "': expected an object, got ", info.kind_name());
  for (const auto& member : info.as_object())
    if (member.first != "dtype" && member.first != "shape" && member.first != "data_offsets")
      corrupt(source, "tensor '", name, "': unknown field '", member.first, "'");
  const Json* dtype = info.find("dtype");
  const Json* shape = info.find("shape");
  const Json* offsets = info.find("data_offsets");
  if (!dtype || !shape || !offsets)
    corrupt(source, "tensor '", name, "': missing field '",
            !dtype ? "dtype" : !shape ? "shape" : "data_offsets", "'");
  TensorEntry entry;
  if (!dtype->is_string() || !parse_dtype(dtype->as_string(), entry.dtype))
    corrupt(source, "tensor '", name, "': unknown dtype ", dtype->dump(),
            " (supported: F64 F32 F16 BF16 I64 I32 I8 U8 BOOL)");
  if (!shape->is_array()) corrupt(source, "tensor '", name, "': shape must be an array");
  if (shape->size() > static_cast<std::size_t>(kMaxRank))
    corrupt(source, "tensor '", name, "': rank ", shape->size(), " is beyond the supported maximum of ",
            kMaxRank);
  std::size_t numel = 1;
  for (const Json& s : shape->as_array()) {
    if (!s.is_integer() || s.as_int() < 0)
      corrupt(source, "tensor '", name, "': shape ", shape->dump(), " must hold non-negative integers");
    const auto size = static_cast<std::uint64_t>(s.as_int());
    if (numel != 0 && size > (std::uint64_t(1) << 62) / numel)
      corrupt(source, "tensor '", name, "': shape ", shape->dump(), " has too many elements");
    numel *= static_cast<std::size_t>(size);
    entry.shape.push_back(s.as_int());
  }
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_integer() ||
      !(*offsets)[1].is_integer() || (*offsets)[0].as_int() < 0 || (*offsets)[1].as_int() < 0)
    corrupt(source, "tensor '", name, "': data_offsets ", offsets->dump(),
            " must be two non-negative integers [begin, end]");
  const auto begin = static_cast<std::uint64_t>((*offsets)[0].as_int());
  const auto end = static_cast<std::uint64_t>((*offsets)[1].as_int());
  const std::size_t nbytes = checked_mul(numel, dtype_size(entry.dtype), "safetensors");
  if (end < begin || end > data_size)
    corrupt(source, "tensor '", name, "': data_offsets [", begin, ", ", end,
            "] are out of range for a data section of ", data_size, " bytes");
  if (end - begin != nbytes)
    corrupt(source, "tensor '", name, "': data_offsets [", begin, ", ", end, "] hold ", end - begin,
            " bytes, but ", entry.dtype_name(), " ", entry.shape, " needs ", nbytes);
  rel_begin = static_cast<std::size_t>(begin);
  rel_end = static_cast<std::size_t>(end);
  entry.begin = data_start + rel_begin;
  entry.nbytes = nbytes;
  return entry;
}

}  // namespace detail

constexpr std::uint64_t kSafetensorsMaxHeader = 100000000;  // as the reference implementation

// Parses a whole file held in `bytes` (taken over, not copied).
template <class = void>
SafetensorsFile parse_safetensors(std::vector<std::uint8_t> bytes,
                                  const std::string& source = "<memory>") {
  using detail::corrupt;
  auto buffer = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
  const std::size_t size = buffer->size();
  if (size < 8) corrupt(source, "file has ", size, " bytes, too short for the 8-byte header length");
  const std::uint64_t header_length = detail::load_le(buffer->data(), 8);
  if (header_length > size - 8)
    corrupt(source, "header length ", header_length, " exceeds the ", size - 8,
            " bytes that follow it");
  if (header_length > kSafetensorsMaxHeader)
    corrupt(source, "header length ", header_length, " exceeds the limit of ", kSafetensorsMaxHeader);
  const char* header = reinterpret_cast<const char*>(buffer->data() + 8);
  const auto n = static_cast<std::size_t>(header_length);
  if (n == 0 || header[0] != '{') corrupt(source, "the header must be a JSON object starting with '{'");
  const Json root = Json::parse(header, n, "safetensors: '" + source + "': header");

  SafetensorsFile file;
  file.source = source;
  const std::size_t data_start = 8 + n;
  const std::size_t data_size = size - data_start;
  struct Range {
    std::size_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;
  for (const auto& member : root.as_object()) {
    const std::string& name = member.first;
    if (name == "__metadata__") {
      if (!member.second.is_object()) corrupt(source, "__metadata__ must be an object of strings");
      for (const auto& kv : member.second.as_object()) {
        if (!kv.second.is_string())
          corrupt(source, "__metadata__ value of '", kv.first, "' must be a string, got ", kv.second.kind_name());
        file.metadata[kv.first] = kv.second.as_string();
      }
      continue;
    }
    std::size_t begin = 0, end = 0;
    TensorEntry entry = detail::parse_entry(source, name, member.second, data_start, data_size, begin, end);
    entry.buffer = buffer;
    const auto inserted = file.tensors.emplace(name, std::move(entry));
    ranges.push_back(Range{begin, end, &inserted.first->first});
  }
  // The byte ranges must tile [0, data_size) exactly.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::size_t covered = 0;
  const std::string* previous = nullptr;
  for (const Range& r : ranges) {
    if (r.begin < covered)
      corrupt(source, "tensor '", *r.name, "' (bytes [", r.begin, ", ", r.end, ")) overlaps tensor '",
              *previous, "', which ends at byte ", covered);
    if (r.begin > covered)
      corrupt(source, "tensor '", *r.name, "' starts at byte ", r.begin, ", leaving a gap of ",
              r.begin - covered, " bytes after ", previous ? "tensor '" + *previous + "'" : "the header");
    covered = r.end;
    previous = r.name;
  }
  if (covered != data_size)
    corrupt(source, "the data section has ", data_size - covered, " bytes after the last tensor (",
            data_size, " bytes in all)");
  return file;
}

template <class = void>
SafetensorsFile parse_safetensors(const std::uint8_t* data, std::size_t size,
                                  const std::string& source = "<memory>") {
  LATENT_CHECK(data != nullptr || size == 0, "safetensors: null data");
  return parse_safetensors(std::vector<std::uint8_t>(data, data + size), source);
}

template <class = void>
SafetensorsFile load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path), path);
}

template <class T>
Tensor<T> SafetensorsFile::get(const std::string& name) const {
  constexpr Dtype target = dtype_of<T>();
  const TensorEntry& e = entry(name);
  Tensor<T> out(e.shape);
  T* dst = out.data();
  const std::uint8_t* src = e.data();
  const std::size_t step = dtype_size(e.dtype);
  const auto n = static_cast<std::size_t>(e.numel());
  if (std::is_floating_point<T>::value && dtype_is_float(e.dtype)) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(detail::load_float(e.dtype, src + i * step));
    return out;
  }
  LATENT_CHECK(!dtype_is_float(e.dtype), "safetensors: '", source, "': tensor '", name, "' holds ",
               e.dtype_name(), " values, which cannot be read as ", dtype_string(target),
               " without losing their fractions");
  std::int64_t lo = 0, hi = 0;
  if (!std::is_floating_point<T>::value) detail::integer_range(target, lo, hi);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t v = detail::load_integer(e.dtype, src + i * step);
    LATENT_CHECK(e.dtype != Dtype::BOOL || v <= 1, "safetensors: '", source, "': tensor '", name,
                 "' is BOOL but element ", i, " holds byte ", v, " (expected 0 or 1)");
    LATENT_CHECK(std::is_floating_point<T>::value || (v >= lo && v <= hi), "safetensors: '", source,
                 "': tensor '", name, "' element ", i, " = ", v, " does not fit ", dtype_string(target));
    dst[i] = static_cast<T>(v);
  }
  return out;
}

// ---- writing ----

// Collects tensors and metadata, then writes them as one safetensors file. Tensors are laid
// out by element size (largest first) then name, so each starts aligned to its element
// size; the header is padded with spaces to a multiple of 8 bytes.
template <class = void>
class BasicSafetensorsWriter {
 public:
  // Adds a tensor in its own dtype (float: F32, double: F64, int64: I64, ...).
  template <class T>
  BasicSafetensorsWriter& add(const std::string& name, const Tensor<T>& t) {
    return add_as(name, t, dtype_of<T>());
  }
  // Adds a tensor converted to `dtype`: floats to any float dtype (rounded to nearest
  // even), integers to any dtype their values fit (checked).
  template <class T>
  BasicSafetensorsWriter& add_as(const std::string& name, const Tensor<T>& t, Dtype dtype);
  template <class T>
  BasicSafetensorsWriter& add_f16(const std::string& name, const Tensor<T>& t) { return add_as(name, t, Dtype::F16); }
  template <class T>
  BasicSafetensorsWriter& add_bf16(const std::string& name, const Tensor<T>& t) { return add_as(name, t, Dtype::BF16); }

  BasicSafetensorsWriter& metadata(const std::string& key, const std::string& value) {
    metadata_[key] = value;
    return *this;
  }
  BasicSafetensorsWriter& metadata(const std::map<std::string, std::string>& entries) {
    for (const auto& kv : entries) metadata_[kv.first] = kv.second;
    return *this;
  }

  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  std::vector<std::uint8_t> to_bytes() const;
  // Writes the file atomically (io/file.hpp): a crash leaves the old file or the new one.
  void write(const std::string& path) const {
    const std::vector<std::uint8_t> bytes = to_bytes();
    write_file_atomic(path, bytes);
  }

 private:
  struct Pending {
    Dtype dtype;
    Shape shape;
    std::vector<std::uint8_t> bytes;
  };
  std::map<std::string, Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

using SafetensorsWriter = BasicSafetensorsWriter<>;

template <class Unused>
template <class T>
BasicSafetensorsWriter<Unused>& BasicSafetensorsWriter<Unused>::add_as(const std::string& name, const Tensor<T>& t,
                                                                       Dtype dtype) {
  (void)dtype_of<T>();  // checks that T is a storable element type
  LATENT_CHECK(t.defined(), "safetensors: tensor '", name, "' is undefined");
  LATENT_CHECK(name != "__metadata__", "safetensors: '__metadata__' is reserved and cannot name a tensor");
  LATENT_CHECK(!contains(name), "safetensors: a tensor named '", name, "' was already added");
  LATENT_CHECK(!std::is_floating_point<T>::value || dtype_is_float(dtype), "safetensors: tensor '", name,
               "' holds floating-point values; storing them as ", dtype_string(dtype),
               " would lose their fractions");
  Pending p{dtype, t.shape(), {}};
  const auto n = static_cast<std::size_t>(t.numel());
  if (n == 0) {
    tensors_.emplace(name, std::move(p));
    return *this;
  }
  const Tensor<T> c = latent::detail::contiguous_copy(t.detach());
  const T* values = c.data();
  const std::size_t step = dtype_size(dtype);
  p.bytes.resize(checked_mul(n, step, "safetensors"));
  std::uint8_t* out = p.bytes.data();
  if (dtype_is_float(dtype)) {
    for (std::size_t i = 0; i < n; ++i) detail::store_float(static_cast<double>(values[i]), dtype, out + i * step);
  } else {
    std::int64_t lo = 0, hi = 0;
    detail::integer_range(dtype, lo, hi);
    for (std::size_t i = 0; i < n; ++i) {
      const auto v = static_cast<std::int64_t>(values[i]);
      LATENT_CHECK(v >= lo && v <= hi, "safetensors: tensor '", name, "' element ", i, " = ", v,
                   " does not fit ", dtype_string(dtype));
      detail::store_le(static_cast<std::uint64_t>(v), out + i * step, step);
    }
  }
  tensors_.emplace(name, std::move(p));
  return *this;
}

template <class Unused>
std::vector<std::uint8_t> BasicSafetensorsWriter<Unused>::to_bytes() const {
  // Largest elements first, then by name (the map's order).
  std::vector<const std::pair<const std::string, Pending>*> order;
  for (std::size_t element_size : {8, 4, 2, 1})
    for (const auto& t : tensors_)
      if (dtype_size(t.second.dtype) == element_size) order.push_back(&t);
  Json header = Json::object();
  if (!metadata_.empty()) {
    Json meta = Json::object();
    for (const auto& kv : metadata_) meta.set(kv.first, Json(kv.second));
    header.set("__metadata__", std::move(meta));
  }
  std::size_t offset = 0;
  for (const auto* t : order) {
    Json shape = Json::array();
    for (std::int64_t s : t->second.shape) shape.push_back(Json(static_cast<long long>(s)));
    const std::size_t end = checked_add(offset, t->second.bytes.size(), "safetensors");
    Json info = Json::object();
    info.set("dtype", Json(dtype_string(t->second.dtype)));
    info.set("shape", std::move(shape));
    info.set("data_offsets", Json::array({Json(static_cast<long long>(offset)), Json(static_cast<long long>(end))}));
    header.set(t->first, std::move(info));
    offset = end;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  ByteWriter out;
  out.u64_le(text.size());
  out.bytes(text);
  for (const auto* t : order) out.bytes(t->second.bytes.data(), t->second.bytes.size());
  return out.release();
}

// Writes named tensors of one element type: any container of (name, Tensor<T>) pairs,
// such as std::map<std::string, Tensor<float>> or a module's state dict.
template <class Named>
void save_safetensors(const std::string& path, const Named& tensors,
                      const std::map<std::string, std::string>& metadata = {}) {
  SafetensorsWriter writer;
  for (const auto& named : tensors) writer.add(named.first, named.second);
  writer.metadata(metadata).write(path);
}

// Every tensor of a file as a Tensor<T> (see SafetensorsFile::get for the conversions).
template <class T>
std::map<std::string, Tensor<T>> load_safetensors_as(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  std::map<std::string, Tensor<T>> out;
  for (const auto& t : file.tensors) out.emplace(t.first, file.get<T>(t.first));
  return out;
}

}  // namespace latent::io
