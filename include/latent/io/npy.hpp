// NumPy's .npy format: the magic "\x93NUMPY", a version, a header length, a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces,
// then the raw elements. Reading accepts versions 1-3, little and big endian, C and
// Fortran order, and the dtypes b1 i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8 (converted to the
// tensor type asked for); writing produces version 1 in C order.
//
// The reader (NpyHeader, parse_npy, read_npy) is templated on an unused parameter only so
// that it is compiled when a program calls it, not in every program that includes the
// library.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "../ops/shape_ops.hpp"
#include "../tensor/tensor.hpp"
#include "bytes.hpp"
#include "file.hpp"

namespace latent::io {

struct NpyArray {
  char byte_order = '<';  // '<' little, '>' big, '|' not applicable
  char kind = 'f';        // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  int item_size = 4;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;  // as in the file

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
  }
  std::string descr() const { return std::string(1, byte_order) + kind + std::to_string(item_size); }

  // The array as a tensor of element type T (values converted, C order).
  template <class T>
  Tensor<T> to_tensor() const;
};

namespace detail {

// IEEE half -> float (exact).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mantissa <<= 1;
      } while (!(mantissa & 0x400u));
      bits = sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | ((mantissa & 0x3FFu) << 13);
    }
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Element i of an array, converted to T (handles byte order).
template <class T>
T npy_element(const NpyArray& a, std::int64_t i) {
  std::uint8_t b[8];
  std::memcpy(b, a.data.data() + i * a.item_size, static_cast<std::size_t>(a.item_size));
  const bool little_host = [] {
    const std::uint16_t probe = 1;
    std::uint8_t first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
  }();
  if (a.byte_order == '>' ? little_host : (a.byte_order == '<' && !little_host))
    for (int k = 0; k < a.item_size / 2; ++k) std::swap(b[k], b[a.item_size - 1 - k]);
  auto as = [&b](auto zero) {
    decltype(zero) v;
    std::memcpy(&v, b, sizeof(v));
    return v;
  };
  switch (a.kind) {
    case 'b': return static_cast<T>(b[0] != 0);
    case 'f':
      if (a.item_size == 2) return static_cast<T>(half_to_float(as(std::uint16_t())));
      if (a.item_size == 4) return static_cast<T>(as(float()));
      return static_cast<T>(as(double()));
    case 'i':
      if (a.item_size == 1) return static_cast<T>(as(std::int8_t()));
      if (a.item_size == 2) return static_cast<T>(as(std::int16_t()));
      if (a.item_size == 4) return static_cast<T>(as(std::int32_t()));
      return static_cast<T>(as(std::int64_t()));
    default:
      if (a.item_size == 1) return static_cast<T>(as(std::uint8_t()));
      if (a.item_size == 2) return static_cast<T>(as(std::uint16_t()));
      if (a.item_size == 4) return static_cast<T>(as(std::uint32_t()));
      return static_cast<T>(as(std::uint64_t()));
  }
}

// A tiny reader for the header's Python dict literal.
template <class = void>
class NpyHeader {
 public:
  NpyHeader(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  NpyArray parse() {
    NpyArray a;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        parse_descr(quoted(), a);
        have_descr = true;
      } else if (key == "fortran_order") {
        a.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        a.shape = shape();
        have_shape = true;
      } else {
        fail("npy: ", name_, ": unexpected header key '", key, "'");
      }
      space();
      if (peek() == ',') ++pos_;
    }
    LATENT_CHECK(have_descr && have_order && have_shape, "npy: ", name_,
                 ": the header lacks one of 'descr', 'fortran_order', 'shape'");
    return a;
  }

 private:
  char peek() {
    LATENT_CHECK(pos_ < s_.size(), "npy: ", name_, ": the header ends early");
    return s_[pos_];
  }
  void space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n')) ++pos_;
  }
  void expect(char c) {
    space();
    LATENT_CHECK(peek() == c, "npy: ", name_, ": expected '", c, "' at header position ", pos_);
    ++pos_;
  }
  std::string quoted() {
    space();
    const char q = peek();
    LATENT_CHECK(q == '\'' || q == '"', "npy: ", name_, ": expected a quoted string at header position ", pos_);
    const std::size_t end = s_.find(q, pos_ + 1);
    LATENT_CHECK(end != std::string::npos, "npy: ", name_, ": unterminated string in the header");
    std::string v = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    space();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    LATENT_CHECK(s_.compare(pos_, 5, "False") == 0, "npy: ", name_, ": fortran_order must be True or False");
    pos_ += 5;
    return false;
  }
  std::vector<std::int64_t> shape() {
    expect('(');
    std::vector<std::int64_t> dims;
    while (true) {
      space();
      if (peek() == ')') break;
      std::int64_t v = 0;
      LATENT_CHECK(peek() >= '0' && peek() <= '9', "npy: ", name_, ": bad shape entry at header position ", pos_);
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        LATENT_CHECK(v < (std::int64_t(1) << 50), "npy: ", name_, ": shape entry too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      while (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs
      dims.push_back(v);
      space();
      if (peek() == ',') ++pos_;
    }
    ++pos_;
    LATENT_CHECK(dims.size() <= static_cast<std::size_t>(kMaxRank), "npy: ", name_, ": rank ", dims.size(),
                 " is beyond the supported maximum of ", kMaxRank);
    return dims;
  }
  void parse_descr(const std::string& d, NpyArray& a) {
    LATENT_CHECK(d.size() == 3 && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '='), "npy: ", name_,
                 ": unsupported dtype '", d, "'");
    a.byte_order = d[0] == '=' ? '<' : d[0];
    a.kind = d[1];
    a.item_size = d[2] - '0';
    const bool ok = (a.kind == 'b' && a.item_size == 1) ||
                    (a.kind == 'f' && (a.item_size == 2 || a.item_size == 4 || a.item_size == 8)) ||
                    ((a.kind == 'i' || a.kind == 'u') &&
                     (a.item_size == 1 || a.item_size == 2 || a.item_size == 4 || a.item_size == 8));
    LATENT_CHECK(ok, "npy: ", name_, ": unsupported dtype '", d, "'");
  }

  const std::string& s_;
  std::string name_;
  std::size_t pos_ = 0;
};

template <class T> inline const char* npy_descr();
template <> inline const char* npy_descr<float>() { return "<f4"; }
template <> inline const char* npy_descr<double>() { return "<f8"; }
template <> inline const char* npy_descr<std::int64_t>() { return "<i8"; }
template <> inline const char* npy_descr<std::int32_t>() { return "<i4"; }
template <> inline const char* npy_descr<std::uint8_t>() { return "|u1"; }
template <> inline const char* npy_descr<bool>() { return "|b1"; }

}  // namespace detail

template <class = void>
NpyArray parse_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name = "array") {
  ByteReader in(bytes, size, "npy: " + name);
  const std::uint8_t* magic = in.take(6, "the magic");
  LATENT_CHECK(std::memcmp(magic, "\x93NUMPY", 6) == 0, "npy: ", name, ": not a .npy file (bad magic)");
  const int major = in.u8("the version");
  in.u8("the version");
  LATENT_CHECK(major >= 1 && major <= 3, "npy: ", name, ": unsupported version ", major);
  const std::size_t header_size = major == 1 ? in.u16_le("the header length") : in.u32_le("the header length");
  const std::uint8_t* header = in.take(header_size, "the header");
  const std::string text(reinterpret_cast<const char*>(header), header_size);
  NpyArray a = detail::NpyHeader<>(text, name).parse();
  std::size_t count = 1;
  for (std::int64_t d : a.shape) count = checked_mul(count, static_cast<std::size_t>(d), "npy: shape");
  const std::size_t data_size = checked_mul(count, static_cast<std::size_t>(a.item_size), "npy: data size");
  LATENT_CHECK(in.remaining() == data_size, "npy: ", name, ": the shape needs ", data_size, " bytes of data, the file has ",
               in.remaining());
  const std::uint8_t* data = in.take(data_size, "the data");
  a.data.assign(data, data + data_size);
  return a;
}

template <class = void>
NpyArray read_npy(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

template <class T>
Tensor<T> NpyArray::to_tensor() const {
  LATENT_CHECK(std::is_floating_point<T>::value || kind != 'f', "npy: an array of dtype '", descr(),
               "' cannot be read as ", dtype_name<T>(), " (floating-point values into an integer type)");
  Shape dims;
  for (std::int64_t d : shape) dims.push_back(d);
  // Fortran order is C order of the reversed shape, transposed back.
  Shape stored = dims;
  if (fortran_order)
    for (int i = 0; i < dims.size(); ++i) stored[i] = dims[dims.size() - 1 - i];
  Tensor<T> t(stored);
  T* out = t.data();
  for (std::int64_t i = 0; i < t.numel(); ++i) out[i] = detail::npy_element<T>(*this, i);
  if (!fortran_order || dims.size() < 2) return t.reshape(dims);
  Shape order;
  for (int i = dims.size() - 1; i >= 0; --i) order.push_back(i);
  return t.permute(order).contiguous();
}

template <class T>
Tensor<T> load_npy(const std::string& path) {
  return read_npy(path).to_tensor<T>();
}

// The .npy bytes of a tensor (version 1, C order, little endian).
template <class T>
std::vector<std::uint8_t> npy_bytes(const Tensor<T>& t) {
  std::string header = std::string("{'descr': '") + detail::npy_descr<T>() + "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < t.dim(); ++i) header += (i > 0 ? ", " : "") + std::to_string(t.shape()[i]);
  header += t.dim() == 1 ? ",), }" : "), }";  // a 1-tuple is written (n,)
  // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  ByteWriter out;
  out.bytes(std::string("\x93NUMPY\x01\x00", 8));
  out.u16_le(static_cast<std::uint16_t>(header.size()));
  out.bytes(header);
  const Tensor<T> c = latent::detail::contiguous_copy(t);
  out.bytes(reinterpret_cast<const std::uint8_t*>(c.data()), static_cast<std::size_t>(c.numel()) * sizeof(T));
  return out.release();
}

template <class T>
void save_npy(const std::string& path, const Tensor<T>& t) {
  write_file_atomic(path, npy_bytes(t));
}

}  // namespace latent::io
