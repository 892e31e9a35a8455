// The operator registry of latent-ref: each catalogue op of conformance/FORMAT.md, with its
// inputs and attributes, mapped to the library call that evaluates it.
//
//   r.add("leaky_relu", "x", {{"negative_slope", Attr::Float, "0.01"}},
//         [](const auto& a) { return outputs(F::leaky_relu(a.in(0), a.number("negative_slope"))); });
//
// Inputs are described by a short list: "x, weight?, bias?" ('?': optional), "tensors..."
// (one or more), "indices:int" (an I64 input). Attributes have a kind and a default (a JSON
// literal; none for a required one). Before an op runs, its case is checked against both:
// an unknown or missing input, an unknown attribute, a missing required one or one of the
// wrong kind is an error naming the op, never a crash. The op function is a generic
// lambda, instantiated for float and double; `a` is an Args<T>.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <latent/latent.hpp>
#include <latent/io/json.hpp>

namespace latent::conformance {

// ---- attributes ----

struct Attr {
  enum Kind {
    Int,          // an integer
    Float,        // a number
    Bool,         // true or false
    String,       // a string
    IntList,      // a list of integers
    Dims,         // an integer, a list of integers, or null (all dims)
    Pair,         // an integer or a pair [h, w]
    OptionalPair, // an integer, a pair or null
    OptionalInt,  // an integer or null
    OptionalFloat // a number or null
  };
  std::string name;
  Kind kind;
  std::string default_value;  // JSON text; empty: required

  static const char* describe(Kind k) {
    switch (k) {
      case Int: return "an integer";
      case Float: return "a number";
      case Bool: return "true or false";
      case String: return "a string";
      case IntList: return "a list of integers";
      case Dims: return "an integer, a list of integers or null";
      case Pair: return "an integer or a pair [h, w]";
      case OptionalPair: return "an integer, a pair [h, w] or null";
      case OptionalInt: return "an integer or null";
      case OptionalFloat: return "a number or null";
    }
    return "?";
  }

  static bool int_list(const io::Json& v) {
    if (!v.is_array()) return false;
    for (const io::Json& e : v.as_array())
      if (!e.is_integer()) return false;
    return true;
  }

  bool accepts(const io::Json& v) const {
    switch (kind) {
      case Int: return v.is_integer();
      case Float: return v.is_number();
      case Bool: return v.is_bool();
      case String: return v.is_string();
      case IntList: return int_list(v);
      case Dims: return v.is_null() || v.is_integer() || int_list(v);
      case Pair: return v.is_integer() || (int_list(v) && v.size() == 2);
      case OptionalPair: return v.is_null() || v.is_integer() || (int_list(v) && v.size() == 2);
      case OptionalInt: return v.is_null() || v.is_integer();
      case OptionalFloat: return v.is_null() || v.is_number();
    }
    return false;
  }
};

// ---- inputs ----

struct InputSpec {
  std::string name;
  bool optional = false;
  bool variadic = false;  // one or more tensors, in.K onwards
  bool integer = false;   // an I64 input
};

// "x, weight?, bias?" -> specs.
inline std::vector<InputSpec> parse_inputs(const std::string& text) {
  std::vector<InputSpec> specs;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    InputSpec s;
    if (item.size() > 4 && item.compare(item.size() - 4, 4, ":int") == 0) {
      s.integer = true;
      item.resize(item.size() - 4);
    }
    if (!item.empty() && item.back() == '?') {
      s.optional = true;
      item.pop_back();
    }
    if (item.size() > 3 && item.compare(item.size() - 3, 3, "...") == 0) {
      s.variadic = true;
      item.resize(item.size() - 3);
    }
    s.name = item;
    specs.push_back(s);
  }
  return specs;
}

// ---- what an op function receives ----

template <class T>
class Args {
 public:
  using value_type = T;

  Args(std::string op, std::map<int, Tensor<T>> floats, std::map<int, Tensor<std::int64_t>> integers,
       io::Json attrs)
      : op_(std::move(op)), floats_(std::move(floats)), integers_(std::move(integers)), attrs_(std::move(attrs)) {}

  // Floating-point input k (must be present: the registry checked required inputs).
  const Tensor<T>& in(int k) const {
    const auto it = floats_.find(k);
    LATENT_CHECK(it != floats_.end(), op_, ": input in.", k, " is missing");
    return it->second;
  }
  // Optional input k, or an undefined tensor when the case leaves it out.
  Tensor<T> optional(int k) const {
    const auto it = floats_.find(k);
    return it == floats_.end() ? Tensor<T>() : it->second;
  }
  const Tensor<std::int64_t>& index(int k) const {
    const auto it = integers_.find(k);
    LATENT_CHECK(it != integers_.end(), op_, ": integer input in.", k, " is missing");
    return it->second;
  }
  // Every floating-point input from in.0 on, in order (for a variadic op).
  std::vector<Tensor<T>> all() const {
    std::vector<Tensor<T>> out;
    for (const auto& t : floats_) out.push_back(t.second);
    return out;
  }

  // Attributes, already checked against their kinds, defaults filled in.
  const io::Json& attr(const std::string& name) const { return attrs_[name]; }
  std::int64_t integer(const std::string& name) const { return attr(name).as_int(); }
  double number(const std::string& name) const { return attr(name).as_double(); }
  bool boolean(const std::string& name) const { return attr(name).as_bool(); }
  const std::string& text(const std::string& name) const { return attr(name).as_string(); }
  std::vector<std::int64_t> integers(const std::string& name) const {
    std::vector<std::int64_t> out;
    for (const io::Json& v : attr(name).as_array()) out.push_back(v.as_int());
    return out;
  }
  Shape shape(const std::string& name) const {
    const std::vector<std::int64_t> v = integers(name);
    LATENT_CHECK(v.size() <= static_cast<std::size_t>(kMaxRank), op_, ": attribute '", name, "' has ", v.size(),
                 " entries, more than the maximum rank ", kMaxRank);
    return Shape(v);
  }
  DimList dims(const std::string& name) const {
    const io::Json& v = attr(name);
    if (v.is_null()) return DimList();
    if (v.is_integer()) return DimList(v.as_int());
    return DimList(integers(name));
  }
  nn::functional::IntPair pair(const std::string& name) const {
    const io::Json& v = attr(name);
    if (v.is_integer()) return nn::functional::IntPair(v.as_int());
    return nn::functional::IntPair(v[0].as_int(), v[1].as_int());
  }
  nn::functional::OptionalIntPair optional_pair(const std::string& name) const {
    if (attr(name).is_null()) return std::nullopt;
    return nn::functional::OptionalIntPair(pair(name));
  }
  std::optional<std::int64_t> optional_integer(const std::string& name) const {
    if (attr(name).is_null()) return std::nullopt;
    return integer(name);
  }
  std::optional<double> optional_number(const std::string& name) const {
    if (attr(name).is_null()) return std::nullopt;
    return number(name);
  }

 private:
  std::string op_;
  std::map<int, Tensor<T>> floats_;
  std::map<int, Tensor<std::int64_t>> integers_;
  io::Json attrs_;
};

// The element type of an Args<T> (in a generic lambda: value_t<decltype(a)>).
template <class A>
using value_t = typename std::decay_t<A>::value_type;

template <class T>
using OpFn = std::function<std::vector<Tensor<T>>(const Args<T>&)>;

// The outputs of an op, as the registry returns them.
template <class T, class... More>
std::vector<Tensor<T>> outputs(const Tensor<T>& first, const More&... more) {
  return std::vector<Tensor<T>>{first, more...};
}

struct OpSpec {
  std::string name;
  std::string input_text;  // as written: "x, weight?, bias?"
  std::vector<InputSpec> inputs;
  std::vector<Attr> attrs;
  OpFn<float> f32;
  OpFn<double> f64;

  const OpFn<float>& fn(float*) const { return f32; }
  const OpFn<double>& fn(double*) const { return f64; }

  // The case's attributes with defaults filled in, checked: unknown names, missing
  // required ones and values of the wrong kind are errors.
  io::Json resolve_attrs(const io::Json& given) const {
    io::Json out = io::Json::object();
    for (const auto& member : given.as_object()) {
      bool known = false;
      for (const Attr& a : attrs) known = known || a.name == member.first;
      LATENT_CHECK(known, name, ": unknown attribute '", member.first, "' (", name, " takes ", attr_list(), ")");
    }
    for (const Attr& a : attrs) {
      const io::Json* v = given.find(a.name);
      io::Json value;
      if (v) {
        value = *v;
      } else {
        LATENT_CHECK(!a.default_value.empty(), name, ": missing attribute '", a.name, "' (", Attr::describe(a.kind), ")");
        value = io::Json::parse(a.default_value, "default of " + a.name);
      }
      LATENT_CHECK(a.accepts(value), name, ": attribute '", a.name, "' must be ", Attr::describe(a.kind), ", got ",
                   value.dump());
      out.set(a.name, value);
    }
    return out;
  }

  // "dim: an integer (required), keepdim: true or false = false"
  std::string attr_list() const {
    if (attrs.empty()) return "no attributes";
    std::string out;
    for (const Attr& a : attrs) {
      if (!out.empty()) out += ", ";
      out += a.name + " (" + Attr::describe(a.kind) + (a.default_value.empty() ? ", required)" : ") = " + a.default_value);
    }
    return out;
  }
};

class Registry {
 public:
  template <class Fn>
  void add(const std::string& name, const std::string& inputs, std::vector<Attr> attrs, Fn fn) {
    OpSpec spec;
    spec.name = name;
    spec.input_text = inputs;
    spec.inputs = parse_inputs(inputs);
    spec.attrs = std::move(attrs);
    spec.f32 = [fn](const Args<float>& a) { return fn(a); };
    spec.f64 = [fn](const Args<double>& a) { return fn(a); };
    ops_[name] = std::move(spec);
  }

  const OpSpec* find(const std::string& name) const {
    const auto it = ops_.find(name);
    return it == ops_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, OpSpec>& ops() const { return ops_; }

 private:
  std::map<std::string, OpSpec> ops_;
};

}  // namespace latent::conformance
