// Evaluating a conformance case and comparing the result with its expected tensors.
//
//   const Registry& ops = registry();                      // every catalogue op
//   Results r = evaluate(c, ops);                          // out.K, and gin.K with gout.K
//   std::vector<TensorReport> reports = compare(c, r);     // one per expected tensor
//
// evaluate() runs the op in the case's dtype (float for F32, double for F64) on inputs
// that are autograd leaves; when the case has gout.K it computes the gradients of
//   L = sum_k sum(out.k * gout.k)
// with respect to every floating-point input (zeros for an input the outputs do not use).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <latent/latent.hpp>
#include <latent/io/safetensors.hpp>

#include "case.hpp"
#include "registry.hpp"
#include "registry_elementwise.hpp"
#include "registry_linalg.hpp"
#include "registry_loss.hpp"
#include "registry_nn.hpp"
#include "registry_reduce.hpp"
#include "registry_shape.hpp"

namespace latent::conformance {

inline const Registry& registry() {
  static const Registry ops = [] {
    Registry r;
    register_elementwise(r);
    register_reduce(r);
    register_shape(r);
    register_linalg(r);
    register_nn(r);
    register_loss(r);
    return r;
  }();
  return ops;
}

// What the runner computed: out.K and gin.K, in one of the two dtypes.
struct Results {
  io::Dtype dtype = io::Dtype::F32;
  std::map<std::string, Tensor<float>> f32;
  std::map<std::string, Tensor<double>> f64;

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    if (dtype == io::Dtype::F32)
      for (const auto& t : f32) out.push_back(t.first);
    else
      for (const auto& t : f64) out.push_back(t.first);
    return out;
  }
  // The tensors as a safetensors file in the case's dtype.
  std::vector<std::uint8_t> to_bytes() const {
    io::SafetensorsWriter w;
    for (const auto& t : f32) w.add(t.first, t.second);
    for (const auto& t : f64) w.add(t.first, t.second);
    return w.to_bytes();
  }
};

namespace runner_detail {

// Which input spec in.k is, or null when the op has no input k.
inline const InputSpec* spec_of(const OpSpec& op, int k) {
  for (std::size_t i = 0; i < op.inputs.size(); ++i) {
    const InputSpec& s = op.inputs[i];
    if (s.variadic ? k >= static_cast<int>(i) : k == static_cast<int>(i)) return &s;
  }
  return nullptr;
}

// Checks the case's inputs against the op's list: no unknown ones, every required one,
// variadic inputs numbered without gaps, integer inputs I64 and the others floating-point.
inline void check_inputs(const Case& c, const OpSpec& op) {
  const std::set<int> given = c.inputs();
  for (int k : given) {
    const InputSpec* s = spec_of(op, k);
    LATENT_CHECK(s != nullptr, op.name, ": unexpected input in.", k, " (", op.name, " takes ", op.input_text, ")");
    const io::Dtype d = c.file.entry("in." + std::to_string(k)).dtype;
    LATENT_CHECK(s->integer == (d == io::Dtype::I64), op.name, ": input in.", k, " (", s->name, ") must be ",
                 s->integer ? "I64" : "floating-point", ", got ", io::dtype_string(d));
  }
  for (std::size_t i = 0; i < op.inputs.size(); ++i) {
    const InputSpec& s = op.inputs[i];
    const int k = static_cast<int>(i);
    LATENT_CHECK(s.optional || given.count(k), op.name, ": missing input in.", k, " (", s.name, "; ", op.name,
                 " takes ", op.input_text, ")");
    if (s.variadic) {
      int expected = k;
      for (int g : given)
        if (g >= k) LATENT_CHECK(g == expected++, op.name, ": inputs ", s.name, " must be numbered in.", k,
                                 ", in.", k + 1, ", ... without gaps; in.", expected - 1, " is missing");
    }
  }
}

template <class T>
std::map<std::string, Tensor<T>>& results_of(Results& r);
template <>
inline std::map<std::string, Tensor<float>>& results_of<float>(Results& r) { return r.f32; }
template <>
inline std::map<std::string, Tensor<double>>& results_of<double>(Results& r) { return r.f64; }

template <class T>
Results evaluate_as(const Case& c, const OpSpec& op) {
  check_inputs(c, op);
  const io::Json attrs = op.resolve_attrs(c.attrs);
  const bool backward = c.has_backward();

  std::map<int, Tensor<T>> floats;
  std::map<int, Tensor<std::int64_t>> integers;
  std::vector<int> float_numbers;
  std::vector<Tensor<T>> leaves;
  for (int k : c.inputs()) {
    const std::string name = "in." + std::to_string(k);
    if (c.file.entry(name).dtype == io::Dtype::I64) {
      integers.emplace(k, c.file.get<std::int64_t>(name));
    } else {
      Tensor<T> t = c.file.get<T>(name);
      if (backward) t.requires_grad_(true);
      floats.emplace(k, t);
      float_numbers.push_back(k);
      leaves.push_back(t);
    }
  }

  const Args<T> args(op.name, floats, integers, attrs);
  const std::vector<Tensor<T>> outs = op.fn(static_cast<T*>(nullptr))(args);
  Results result;
  result.dtype = c.dtype;
  auto& named = results_of<T>(result);
  for (std::size_t k = 0; k < outs.size(); ++k) named["out." + std::to_string(k)] = outs[k].detach();
  if (!backward) return result;

  // L = sum_k sum(out.k * gout.k): backpropagate gout.k from out.k.
  const std::set<int> gouts = c.numbers("gout");
  for (int k : gouts)
    LATENT_CHECK(k < static_cast<int>(outs.size()), op.name, ": the case has gout.", k, " but the op has ",
                 outs.size(), " output(s)");
  std::vector<Tensor<T>> roots, root_grads;
  for (std::size_t k = 0; k < outs.size(); ++k) {
    const std::string name = "gout." + std::to_string(k);
    LATENT_CHECK(c.file.contains(name), op.name, ": the case checks gradients but has no ", name);
    const Tensor<T> g = c.file.get<T>(name);
    LATENT_CHECK(g.shape() == outs[k].shape(), op.name, ": ", name, " has shape ", g.shape(), " but out.", k,
                 " has shape ", outs[k].shape());
    if (!outs[k].requires_grad()) continue;  // does not depend on any input
    roots.push_back(outs[k]);
    root_grads.push_back(g);
  }
  std::vector<Tensor<T>> grads(leaves.size());
  if (!roots.empty())
    grads = autograd::grad<T>(roots, leaves, root_grads, /*create_graph=*/false, /*retain_graph=*/false,
                              /*allow_unused=*/true);
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    Tensor<T> g = grads[i].defined() ? grads[i].detach() : zeros<T>(leaves[i].shape());
    named["gin." + std::to_string(float_numbers[i])] = g;
  }
  return result;
}

}  // namespace runner_detail

// Evaluates the case's op; errors (unknown op, missing inputs, bad attributes, an op
// refusing its arguments) are latent::Errors.
inline Results evaluate(const Case& c, const Registry& ops = registry()) {
  const OpSpec* op = ops.find(c.op);
  LATENT_CHECK(op != nullptr, "unknown op '", c.op, "' (latent-ref ops lists the supported ones)");
  return c.dtype == io::Dtype::F64 ? runner_detail::evaluate_as<double>(c, *op)
                                   : runner_detail::evaluate_as<float>(c, *op);
}

// ---- comparison ----

// How one expected tensor compares with what the runner computed.
struct TensorReport {
  std::string name;
  bool ok = true;
  std::string problem;  // a missing tensor or a shape mismatch; empty otherwise
  double max_abs = 0, max_rel = 0;
  std::int64_t bad = 0, total = 0;
  std::string worst;  // "[1, 2]: got 0.51, want 0.52", for the element furthest out of tolerance
};

namespace runner_detail {

inline std::string index_text(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(shape.size()));
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[static_cast<std::size_t>(d)] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < idx.size(); ++i) out << (i ? ", " : "") << idx[i];
  out << ']';
  return out.str();
}

// The elements of a tensor, row-major, as doubles (an empty tensor gives none).
template <class T>
std::vector<double> values(const Tensor<T>& t) {
  if (t.numel() == 0) return {};
  const std::vector<T> v = t.to_vector();
  return std::vector<double>(v.begin(), v.end());
}

template <class T>
TensorReport compare_tensor(const Case& c, const std::string& name, const std::map<std::string, Tensor<T>>& got) {
  TensorReport r;
  r.name = name;
  const auto it = got.find(name);
  if (it == got.end()) {
    r.ok = false;
    r.problem = "the runner did not produce it";
    return r;
  }
  const Tensor<T> want_tensor = c.file.get<T>(name);
  if (it->second.shape() != want_tensor.shape()) {
    std::ostringstream out;
    out << "shape " << it->second.shape() << ", expected " << want_tensor.shape();
    r.ok = false;
    r.problem = out.str();
    return r;
  }
  const std::vector<double> g = values(it->second), w = values(want_tensor);
  r.total = static_cast<std::int64_t>(w.size());
  double worst_ratio = -1;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double gi = g[i], wi = w[i];
    bool pass = false;
    double diff = 0;
    if (std::isnan(wi) || std::isnan(gi)) {
      pass = std::isnan(wi) && std::isnan(gi);
      diff = pass ? 0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(wi) || std::isinf(gi)) {
      pass = gi == wi;
      diff = pass ? 0 : std::numeric_limits<double>::infinity();
    } else {
      diff = std::fabs(gi - wi);
      pass = diff <= c.atol + c.rtol * std::fabs(wi);
    }
    const double inf = std::numeric_limits<double>::infinity();
    const bool finite = std::isfinite(diff) && std::isfinite(wi);
    const double rel = diff == 0 ? 0 : !finite || wi == 0 ? inf : diff / std::fabs(wi);
    r.max_abs = std::max(r.max_abs, diff);
    r.max_rel = std::max(r.max_rel, rel);
    if (pass) continue;
    ++r.bad;
    const double ratio = finite ? diff / (c.atol + c.rtol * std::fabs(wi)) : inf;
    if (ratio > worst_ratio || r.worst.empty()) {
      worst_ratio = ratio;
      std::ostringstream out;
      out.precision(17);
      out << index_text(static_cast<std::int64_t>(i), want_tensor.shape()) << ": got " << gi << ", want " << wi;
      r.worst = out.str();
    }
  }
  r.ok = r.bad == 0;
  return r;
}

}  // namespace runner_detail

// One report per expected tensor of the case (out.K, and gin.K when it has them).
inline std::vector<TensorReport> compare(const Case& c, const Results& got) {
  std::vector<TensorReport> reports;
  for (const char* prefix : {"out", "gin"})
    for (int k : c.numbers(prefix)) {
      const std::string name = std::string(prefix) + "." + std::to_string(k);
      reports.push_back(c.dtype == io::Dtype::F64 ? runner_detail::compare_tensor(c, name, got.f64)
                                                  : runner_detail::compare_tensor(c, name, got.f32));
    }
  return reports;
}

}  // namespace latent::conformance
