// A conformance case (conformance/FORMAT.md): one operator, its inputs and attributes, the
// expected outputs and gradients, and the tolerances they are compared with.
//
//   Case c = load_case("cases/add__bcast__f32.safetensors");
//   c.op == "add";  c.dtype == io::Dtype::F32;  c.inputs() == {0, 1};  c.has_backward()
//
// Loading checks the metadata (format, op, attrs, rtol, atol) and the tensor names
// (in.K, out.K, gout.K, gin.K), and finds the case's dtype: every floating-point tensor
// must be F32, or every one F64. Integer inputs are I64.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <latent/io/json.hpp>
#include <latent/io/safetensors.hpp>

namespace latent::conformance {

constexpr const char* kCaseFormat = "latent-conformance/1";

namespace case_detail {

// K when `name` is prefix.K with K a plain decimal number below 10000, else -1.
inline int tensor_number(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() + 1 || name.compare(0, prefix.size(), prefix) != 0 ||
      name[prefix.size()] != '.')
    return -1;
  const std::string digits = name.substr(prefix.size() + 1);
  if (digits.size() > 4 || (digits.size() > 1 && digits[0] == '0')) return -1;
  for (char c : digits)
    if (c < '0' || c > '9') return -1;
  return std::stoi(digits);
}

}  // namespace case_detail

struct Case {
  std::string path;
  std::string op;
  io::Json attrs = io::Json::object();
  double rtol = 0, atol = 0;
  io::Dtype dtype = io::Dtype::F32;  // F32 or F64
  io::SafetensorsFile file;

  // The K of every tensor named `prefix`.K ("in", "out", "gout", "gin"), in order.
  std::set<int> numbers(const std::string& prefix) const {
    std::set<int> out;
    for (const auto& t : file.tensors) {
      const int k = case_detail::tensor_number(t.first, prefix);
      if (k >= 0) out.insert(k);
    }
    return out;
  }
  std::set<int> inputs() const { return numbers("in"); }
  bool has_backward() const { return !numbers("gout").empty(); }
  const char* dtype_name() const { return dtype == io::Dtype::F64 ? "f64" : "f32"; }
};


namespace case_detail {

// A tolerance written as a decimal string ("1e-4").
inline double parse_tolerance(const Case& c, const char* key) {
  const auto it = c.file.metadata.find(key);
  LATENT_CHECK(it != c.file.metadata.end(), "metadata has no '", key, "'");
  const io::Json value = io::Json::parse(it->second, std::string("metadata '") + key + "'");
  LATENT_CHECK(value.is_number() && value.as_double() >= 0, "metadata '", key, "' = \"", it->second,
               "\" is not a non-negative decimal number");
  return value.as_double();
}

}  // namespace case_detail

// Errors name what is wrong; the runner prefixes them with the file's path.
inline Case load_case(const std::string& path) {
  Case c;
  c.path = path;
  c.file = io::load_safetensors(path);
  const auto& meta = c.file.metadata;
  const auto format = meta.find("format");
  LATENT_CHECK(format != meta.end(), "not a conformance case (metadata has no 'format')");
  LATENT_CHECK(format->second == kCaseFormat, "format \"", format->second,
               "\" is not supported (expected \"", kCaseFormat, "\")");
  const auto op = meta.find("op");
  LATENT_CHECK(op != meta.end() && !op->second.empty(), "metadata has no 'op'");
  c.op = op->second;
  const auto attrs = meta.find("attrs");
  if (attrs != meta.end()) c.attrs = io::Json::parse(attrs->second, "attrs");
  LATENT_CHECK(c.attrs.is_object(), "attrs must be a JSON object, got ", c.attrs.kind_name());
  c.rtol = case_detail::parse_tolerance(c, "rtol");
  c.atol = case_detail::parse_tolerance(c, "atol");

  bool have_float = false;
  for (const auto& t : c.file.tensors) {
    const std::string& name = t.first;
    const io::Dtype d = t.second.dtype;
    bool known = false;
    for (const char* prefix : {"in", "out", "gout", "gin"})
      known = known || case_detail::tensor_number(name, prefix) >= 0;
    LATENT_CHECK(known, "unexpected tensor '", name, "' (expected in.K, out.K, gout.K, gin.K)");
    if (d == io::Dtype::I64) {
      LATENT_CHECK(case_detail::tensor_number(name, "in") >= 0, "tensor '", name,
                   "' is I64; only inputs may be integer");
      continue;
    }
    LATENT_CHECK(d == io::Dtype::F32 || d == io::Dtype::F64, "tensor '", name, "' has dtype ",
                 io::dtype_string(d), " (cases hold F32, F64 and I64 inputs)");
    if (have_float)
      LATENT_CHECK(d == c.dtype, "tensor '", name, "' is ", io::dtype_string(d), " but others are ",
                   io::dtype_string(c.dtype), "; a case has one floating-point dtype");
    c.dtype = d;
    have_float = true;
  }
  LATENT_CHECK(have_float, "the case has no floating-point tensor, so no dtype");
  LATENT_CHECK(!c.numbers("out").empty(), "the case has no expected output (out.0)");
  return c;
}

}  // namespace latent::conformance
