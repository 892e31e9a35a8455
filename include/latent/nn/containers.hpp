// Containers: Sequential runs its modules one after another; ModuleList holds modules
// for a forward pass you write yourself. Both name their children "0", "1", ... as
// PyTorch does, so state_dict keys match ("net.0.weight").
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "module.hpp"

namespace latent::nn {

template <class T>
class ModuleList : public Module<T> {
 public:
  ModuleList() = default;
  template <class... M>
  explicit ModuleList(std::shared_ptr<M>... modules) {
    (push_back(std::move(modules)), ...);
  }
  std::string name() const override { return "ModuleList"; }

  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    modules_.push_back(m);
    return this->register_module(std::to_string(modules_.size() - 1), std::move(m));
  }
  std::size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  const std::shared_ptr<Module<T>>& operator[](std::size_t i) const {
    LATENT_CHECK(i < modules_.size(), name(), ": index ", i, " is out of range for ", modules_.size(),
                 " modules");
    return modules_[i];
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module<T>>> modules_;
};

template <class T>
class Sequential : public ModuleList<T> {
 public:
  using ModuleList<T>::ModuleList;
  std::string name() const override { return "Sequential"; }
  Tensor<T> forward(const Tensor<T>& x) override {
    Tensor<T> h = x;
    for (const auto& m : *this) h = m->forward(h);
    return h;
  }
};

// Returns its input: a placeholder where a layer is optional.
template <class T>
class Identity : public Module<T> {
 public:
  std::string name() const override { return "Identity"; }
  Tensor<T> forward(const Tensor<T>& x) override { return x; }
};

// Flattens dims start_dim..end_dim (default: all but the batch dim).
template <class T>
class Flatten : public Module<T> {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  std::string name() const override { return "Flatten"; }
  Tensor<T> forward(const Tensor<T>& x) override { return x.flatten(start_, end_); }

 private:
  std::int64_t start_, end_;
};

// Reshapes to a fixed shape per sample: [N, ...] -> [N, shape...].
template <class T>
class Unflatten : public Module<T> {
 public:
  explicit Unflatten(Shape shape) : shape_(shape) {}
  std::string name() const override { return "Unflatten"; }
  Tensor<T> forward(const Tensor<T>& x) override {
    Shape s{x.shape()[0]};
    for (std::int64_t d : shape_) s.push_back(d);
    return x.reshape(s);
  }

 private:
  Shape shape_;
};

}  // namespace latent::nn
