// The optimiser base: parameter groups, per-parameter state, zero_grad, state_dict.
//
// An optimiser holds groups of parameters, each group with its own options (learning
// rate, weight decay, ...), and for every parameter a small named state (Adam's moments,
// SGD's momentum buffer) plus a step count. step() visits every parameter that has a
// gradient and applies the update rule under no-grad, writing into the parameter's own
// storage, so the model sees the new values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../core/parallel.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/shape_ops.hpp"
#include "../tensor/creation.hpp"

namespace latent::optim {

// Declares an option with a default, a chainable setter and a getter:
// AdamOptions().lr(1e-3).weight_decay(0.1); opts.lr() reads it back.
#define LATENT_OPTION(type, name, default_value)        \
 public:                                                \
  auto& name(type value) {                              \
    name##_ = value;                                    \
    return *this;                                       \
  }                                                     \
  type name() const { return name##_; }                 \
                                                        \
 private:                                               \
  type name##_ = default_value;                         \
                                                        \
 public:

// What an optimiser needs to save and restore: tensors ("state.3.exp_avg") and numbers
// ("state.3.step", "group.0.lr").
template <class T>
struct OptimizerState {
  std::map<std::string, Tensor<T>> tensors;
  std::map<std::string, double> scalars;
};

// The interface schedulers and training loops use, whatever the update rule.
template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::size_t num_groups() const = 0;
  virtual double lr(std::size_t group = 0) const = 0;
  virtual void set_lr(double lr, std::size_t group) = 0;
  void set_lr(double lr) {
    for (std::size_t g = 0; g < num_groups(); ++g) set_lr(lr, g);
  }
  virtual std::vector<Tensor<T>> parameters() const = 0;
  // Drops every parameter's gradient (PyTorch 2's default, set_to_none=True).
  void zero_grad() {
    for (Tensor<T>& p : parameters()) p.zero_grad();
  }
  virtual OptimizerState<T> state_dict() const = 0;
  virtual void load_state_dict(const OptimizerState<T>& state) = 0;
};

template <class T, class Options>
struct ParamGroup {
  std::vector<Tensor<T>> params;
  Options options;
};

// Groups, options and per-parameter state, shared by every update rule. A subclass
// implements update(param, grad, options, state, step).
template <class T, class Options>
class OptimizerBase : public Optimizer<T> {
 public:
  using Group = ParamGroup<T, Options>;
  using State = std::map<std::string, Tensor<T>>;

  OptimizerBase(std::vector<Tensor<T>> params, const Options& options)
      : OptimizerBase(std::vector<Group>{Group{std::move(params), options}}) {}
  explicit OptimizerBase(std::vector<Group> groups) : groups_(std::move(groups)) {
    for (const Group& g : groups_)
      for (const Tensor<T>& p : g.params) {
        LATENT_CHECK(p.defined(), "optimizer: an undefined parameter was given");
        LATENT_CHECK(p.requires_grad(), "optimizer: parameter of shape ", p.shape(),
                     " does not require grad");
        states_.emplace_back();
        steps_.push_back(0);
      }
  }

  void step() override {
    NoGradGuard no_grad;
    std::size_t index = 0;
    for (Group& g : groups_) {
      for (Tensor<T>& p : g.params) {
        const Tensor<T> grad = p.grad();
        if (grad.defined()) {
          LATENT_CHECK(grad.shape() == p.shape(), "optimizer: gradient of shape ", grad.shape(),
                       " for a parameter of shape ", p.shape());
          LATENT_CHECK(p.is_contiguous(), "optimizer: parameters must be contiguous");
          update(p, grad.contiguous(), g.options, states_[index], ++steps_[index]);
        }
        ++index;
      }
    }
  }

  std::size_t num_groups() const override { return groups_.size(); }
  double lr(std::size_t group = 0) const override { return groups_.at(group).options.lr(); }
  void set_lr(double lr, std::size_t group) override { groups_.at(group).options.lr(lr); }
  using Optimizer<T>::set_lr;
  std::vector<Group>& param_groups() { return groups_; }
  std::vector<Tensor<T>> parameters() const override {
    std::vector<Tensor<T>> all;
    for (const Group& g : groups_) all.insert(all.end(), g.params.begin(), g.params.end());
    return all;
  }

  OptimizerState<T> state_dict() const override {
    OptimizerState<T> s;
    for (std::size_t i = 0; i < states_.size(); ++i) {
      const std::string prefix = "state." + std::to_string(i) + ".";
      s.scalars[prefix + "step"] = static_cast<double>(steps_[i]);
      for (const auto& e : states_[i]) s.tensors[prefix + e.first] = e.second.clone();
    }
    for (std::size_t g = 0; g < groups_.size(); ++g)
      s.scalars["group." + std::to_string(g) + ".lr"] = groups_[g].options.lr();
    return s;
  }

  void load_state_dict(const OptimizerState<T>& s) override {
    for (std::size_t i = 0; i < states_.size(); ++i) {
      const std::string prefix = "state." + std::to_string(i) + ".";
      auto step = s.scalars.find(prefix + "step");
      LATENT_CHECK(step != s.scalars.end(), "optimizer: load_state_dict: no entry for parameter ", i,
                   " (was it saved from an optimiser over the same parameters?)");
      steps_[i] = static_cast<std::int64_t>(step->second);
      states_[i].clear();
      for (const auto& e : s.tensors)
        if (e.first.compare(0, prefix.size(), prefix) == 0)
          states_[i][e.first.substr(prefix.size())] = e.second.clone();
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      auto lr = s.scalars.find("group." + std::to_string(g) + ".lr");
      if (lr != s.scalars.end()) groups_[g].options.lr(lr->second);
    }
  }

 protected:
  // Applies one step to p; `step` counts this parameter's updates from 1.
  virtual void update(Tensor<T>& p, const Tensor<T>& grad, const Options& options, State& state,
                      std::int64_t step) = 0;

  // The named state buffer, created as zeros on first use.
  static Tensor<T>& buffer(State& state, const std::string& name, const Tensor<T>& like) {
    auto it = state.find(name);
    if (it == state.end()) it = state.emplace(name, zeros<T>(like.shape())).first;
    return it->second;
  }

  // Runs fn(begin, end) over the elements of one parameter in fixed chunks.
  template <class Fn>
  static void for_elements(std::int64_t n, Fn fn) {
    parallel_for(0, n, 65536, fn);
  }

 private:
  std::vector<Group> groups_;
  std::vector<State> states_;
  std::vector<std::int64_t> steps_;
};

}  // namespace latent::optim
