// Module<T>: the base of every layer and model, as torch.nn.Module.
//
// A module registers its parameters, buffers and submodules by name; the registered
// tensors share storage and autograd state with the module's own members, so the two stay
// one and the same tensor. Names compose with dots, so a model's state_dict() keys are
// PyTorch's ("blocks.0.attn.qkv.weight") and weights cross over in both directions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../ops/grad_mode.hpp"
#include "../ops/inplace.hpp"
#include "../tensor/tensor.hpp"

namespace latent::nn {

// A model's state by name: floating-point parameters and buffers, and integer buffers
// (BatchNorm's num_batches_tracked). Keys are sorted, as in a safetensors file.
template <class T>
struct StateDict {
  std::map<std::string, Tensor<T>> tensors;
  std::map<std::string, Tensor<std::int64_t>> integers;

  bool contains(const std::string& key) const { return tensors.count(key) || integers.count(key); }
  std::size_t size() const { return tensors.size() + integers.size(); }
  Tensor<T>& operator[](const std::string& key) { return tensors[key]; }
  const Tensor<T>& at(const std::string& key) const {
    auto it = tensors.find(key);
    LATENT_CHECK(it != tensors.end(), "state_dict: no tensor named '", key, "'");
    return it->second;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& e : tensors) k.push_back(e.first);
    for (const auto& e : integers) k.push_back(e.first);
    return k;
  }
};

template <class T>
class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The layer's name for messages ("Linear", "Conv2d", ...).
  virtual std::string name() const { return "Module"; }

  // The single-tensor forward pass, for modules that have one (Sequential calls it).
  virtual Tensor<T> forward(const Tensor<T>& x) {
    (void)x;
    fail(name(), ": this module does not take a single tensor; call its own forward()");
  }
  Tensor<T> operator()(const Tensor<T>& x) { return forward(x); }

  // ---- registration ----
  // Registers a parameter (made to require grad) and returns it; keep the returned tensor
  // as the member (weight = register_parameter("weight", ...)) so both are one tensor.
  Tensor<T> register_parameter(const std::string& name, Tensor<T> t, bool requires_grad = true) {
    check_new_name(name);
    if (t.defined()) t.requires_grad_(requires_grad);
    params_.emplace_back(name, t);
    return t;
  }
  Tensor<T> register_buffer(const std::string& name, Tensor<T> t) {
    check_new_name(name);
    buffers_.emplace_back(name, t);
    return t;
  }
  Tensor<std::int64_t> register_buffer(const std::string& name, Tensor<std::int64_t> t) {
    check_new_name(name);
    int_buffers_.emplace_back(name, t);
    return t;
  }
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    check_new_name(name);
    LATENT_CHECK(m != nullptr, this->name(), ": register_module('", name, "') got a null module");
    children_.emplace_back(name, m);
    return m;
  }

  // ---- traversal ----
  std::vector<std::pair<std::string, Tensor<T>>> named_parameters(bool recurse = true) const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    collect(out, "", recurse, [](const Module& m) -> const auto& { return m.params_; });
    return out;
  }
  std::vector<Tensor<T>> parameters(bool recurse = true) const {
    std::vector<Tensor<T>> out;
    for (auto& p : named_parameters(recurse))
      if (p.second.defined()) out.push_back(p.second);
    return out;
  }
  std::vector<std::pair<std::string, Tensor<T>>> named_buffers(bool recurse = true) const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    collect(out, "", recurse, [](const Module& m) -> const auto& { return m.buffers_; });
    return out;
  }
  std::vector<Tensor<T>> buffers(bool recurse = true) const {
    std::vector<Tensor<T>> out;
    for (auto& b : named_buffers(recurse)) out.push_back(b.second);
    return out;
  }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // Every module in the tree, this one first, with dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules() {
    std::vector<std::pair<std::string, Module*>> out{{"", this}};
    for (auto& c : children_)
      for (auto& sub : c.second->named_modules())
        out.emplace_back(sub.first.empty() ? c.first : c.first + "." + sub.first, sub.second);
    return out;
  }

  // Number of parameter elements (trainable_only: those that require grad).
  std::int64_t num_parameters(bool trainable_only = false) const {
    std::int64_t n = 0;
    for (const Tensor<T>& p : parameters())
      if (!trainable_only || p.requires_grad()) n += p.numel();
    return n;
  }

  // ---- modes and gradients ----
  virtual void train(bool on = true) {
    training_ = on;
    for (auto& c : children_) c.second->train(on);
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad() {
    for (Tensor<T>& p : parameters()) p.zero_grad();
  }
  // Freezes (or unfreezes) every parameter.
  void requires_grad_(bool on = true) {
    for (Tensor<T>& p : parameters()) p.requires_grad_(on);
  }

  // ---- state ----
  StateDict<T> state_dict() const {
    StateDict<T> sd;
    for (auto& p : named_parameters())
      if (p.second.defined()) sd.tensors[p.first] = p.second.detach();
    for (auto& b : named_buffers())
      if (b.second.defined()) sd.tensors[b.first] = b.second.detach();
    collect_integers(sd.integers, "");
    return sd;
  }

  // Copies the values of `sd` into this module's tensors (in place, so every alias sees
  // them). Strict loading reports every missing key, unexpected key and shape mismatch
  // in one error; non-strict loading skips them.
  void load_state_dict(const StateDict<T>& sd, bool strict = true) {
    std::vector<std::string> missing, mismatched, unexpected;
    std::map<std::string, Tensor<T>> own;
    for (auto& p : named_parameters()) own[p.first] = p.second;
    for (auto& b : named_buffers()) own[b.first] = b.second;
    std::map<std::string, Tensor<std::int64_t>> own_int;
    collect_integers(own_int, "");
    for (auto& e : own) {
      auto it = sd.tensors.find(e.first);
      if (it == sd.tensors.end()) {
        missing.push_back(e.first);
      } else if (it->second.shape() != e.second.shape()) {
        std::ostringstream s;
        s << e.first << ": checkpoint " << it->second.shape() << ", model " << e.second.shape();
        mismatched.push_back(s.str());
      }
    }
    for (auto& e : own_int)
      if (!sd.integers.count(e.first) && !sd.tensors.count(e.first)) missing.push_back(e.first);
    for (auto& e : sd.tensors)
      if (!own.count(e.first) && !own_int.count(e.first)) unexpected.push_back(e.first);
    for (auto& e : sd.integers)
      if (!own_int.count(e.first)) unexpected.push_back(e.first);
    if (strict && (!missing.empty() || !unexpected.empty() || !mismatched.empty())) {
      std::ostringstream s;
      s << name() << ": load_state_dict failed:";
      auto list = [&s](const char* what, const std::vector<std::string>& keys) {
        if (keys.empty()) return;
        s << "\n  " << what << ":";
        for (const std::string& k : keys) s << "\n    " << k;
      };
      list("missing keys", missing);
      list("unexpected keys", unexpected);
      list("shape mismatches", mismatched);
      fail_message(s.str());
    }
    NoGradGuard no_grad;
    for (auto& e : own) {
      auto it = sd.tensors.find(e.first);
      if (it != sd.tensors.end() && it->second.shape() == e.second.shape()) e.second.copy_(it->second);
    }
    for (auto& e : own_int) {
      auto it = sd.integers.find(e.first);
      if (it != sd.integers.end() && it->second.shape() == e.second.shape()) e.second.copy_(it->second);
      auto ft = sd.tensors.find(e.first);  // an integer buffer stored as floating point
      if (it == sd.integers.end() && ft != sd.tensors.end() && ft->second.shape() == e.second.shape())
        e.second.copy_(ft->second.template to<std::int64_t>());
    }
  }

 protected:
  bool training_ = true;

 private:
  void check_new_name(const std::string& n) const {
    LATENT_CHECK(!n.empty() && n.find('.') == std::string::npos, name(), ": invalid name '", n,
                 "' (names are non-empty and contain no '.')");
    auto taken = [&n](const auto& list) {
      for (const auto& e : list)
        if (e.first == n) return true;
      return false;
    };
    LATENT_CHECK(!taken(params_) && !taken(buffers_) && !taken(int_buffers_) && !taken(children_),
                 name(), ": the name '", n, "' is already registered");
  }

  template <class Out, class Select>
  void collect(Out& out, const std::string& prefix, bool recurse, Select select) const {
    for (const auto& e : select(*this)) out.emplace_back(prefix + e.first, e.second);
    if (!recurse) return;
    for (const auto& c : children_) c.second->collect(out, prefix + c.first + ".", true, select);
  }

  void collect_integers(std::map<std::string, Tensor<std::int64_t>>& out, const std::string& prefix) const {
    for (const auto& e : int_buffers_) out[prefix + e.first] = e.second;
    for (const auto& c : children_) c.second->collect_integers(out, prefix + c.first + ".");
  }

  // Lists (not maps), so that registration order is kept as in PyTorch.
  std::vector<std::pair<std::string, Tensor<T>>> params_;
  std::vector<std::pair<std::string, Tensor<T>>> buffers_;
  std::vector<std::pair<std::string, Tensor<std::int64_t>>> int_buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace latent::nn
