// Reverse-mode automatic differentiation.
//
// Every op that sees an input requiring a gradient records a Node: its name, edges to the
// autograd metadata of its inputs, and a backward function that maps the gradient of its
// output to the gradients of its inputs (the vector-Jacobian product). The backward
// functions are written with differentiable ops, so with create_graph the gradients are
// themselves recorded and can be differentiated again (WGAN-GP, R1).
//
// backward() walks the graph from the output in dependency order (Kahn's algorithm: a
// tensor's gradient is passed on only when every consumer has contributed to it) and adds
// the gradients of leaves into their .grad(). Unless retain_graph is set, each node drops
// its backward function (and the tensors it saved) once it has run.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "../kernels/strided_loop.hpp"
#include "../tensor/tensor.hpp"
#include "grad_mode.hpp"

namespace latent {

template <class T>
Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b);  // ops/binary_ops.hpp

template <class T>
using BackwardFn = std::function<std::vector<Tensor<T>>(const Tensor<T>& grad_output)>;

template <class T>
struct Node {
  const char* name = "";
  std::vector<std::shared_ptr<AutogradMeta<T>>> inputs;  // null where no gradient flows
  BackwardFn<T> backward;  // empty once the graph has been freed
  // False when the backward uses a fused kernel that is not itself differentiable.
  bool differentiable_backward = true;
};

// True when any element is NaN or infinite (always false for integer types).
template <class T>
bool has_non_finite(const Tensor<T>& t) {
  if constexpr (!std::is_floating_point<T>::value) {
    (void)t;
    return false;
  } else {
    if (!t.defined()) return false;
    std::atomic<bool> bad{false};
    kernels::StridedLoop<1> loop(t.shape(), {t.strides()});
    const T* base = t.data();
    loop.run(
        [&](const std::int64_t* off, std::int64_t n, const std::int64_t* st) {
          for (std::int64_t i = 0; i < n; ++i)
            if (!std::isfinite(base[off[0] + i * st[0]])) bad.store(true, std::memory_order_relaxed);
        },
        std::int64_t(1) << 62);
    return bad.load();
  }
}

// True when grad mode is on and any of the tensors requires a gradient.
template <class T>
bool needs_grad(const std::vector<const Tensor<T>*>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor<T>* t : inputs)
    if (t->requires_grad()) return true;
  return false;
}

// Finishes an op: checks its output in anomaly mode and, when a gradient must flow,
// attaches a node with the backward function. Returns the output.
template <class T>
Tensor<T> record(Tensor<T> out, const char* name, const std::vector<const Tensor<T>*>& inputs,
                 BackwardFn<T> backward, bool differentiable_backward = true) {
  if (is_anomaly_enabled() && has_non_finite(out))
    fail("anomaly: ", name, " produced NaN or Inf in its forward pass (output shape ",
         out.shape(), ")");
  if (!needs_grad<T>(inputs)) return out;
  auto node = std::make_shared<Node<T>>();
  node->name = name;
  node->differentiable_backward = differentiable_backward;
  for (const Tensor<T>* t : inputs)
    node->inputs.push_back(t->requires_grad() ? t->autograd_meta() : nullptr);
  node->backward = std::move(backward);
  auto meta = std::make_shared<AutogradMeta<T>>();
  meta->requires_grad = true;
  meta->grad_fn = std::move(node);
  out.set_autograd_meta(std::move(meta));
  return out;
}

// Like record(), for ops whose backward needs their own output y (exp, tanh, softmax...):
// fn(g, y) returns the input gradients. Holding y in the node would make a cycle
// (y -> node -> y), so the node keeps y's data and only a weak link to y's autograd
// metadata, restored when the backward runs, so that y stays differentiable.
template <class T, class Fn>
Tensor<T> record_using_output(Tensor<T> out, const char* name,
                              const std::vector<const Tensor<T>*>& inputs, Fn fn,
                              bool differentiable_backward = true) {
  if (!needs_grad<T>(inputs)) return record<T>(out, name, {}, nullptr);
  struct Saved {
    Tensor<T> data;
    std::weak_ptr<AutogradMeta<T>> meta;
  };
  auto saved = std::make_shared<Saved>();
  out = record<T>(out, name, inputs, [saved, fn](const Tensor<T>& g) {
    Tensor<T> y = saved->data;
    y.set_autograd_meta(saved->meta.lock());
    return fn(g, y);
  }, differentiable_backward);
  saved->data = out.detach();
  saved->meta = out.autograd_meta();
  return out;
}

namespace detail {

// Runs one node's backward. With create_graph, an op whose backward is not differentiable
// returns gradients wrapped in a node that fails if a second derivative is asked through it.
template <class T>
std::vector<Tensor<T>> call_backward(Node<T>& node, const Tensor<T>& grad, bool create_graph) {
  if (!node.backward)
    fail("backward: the graph through ", node.name,
         " was already freed; pass retain_graph=true to the first backward to go through it "
         "again");
  // Anomaly checks run on what the node returns, so that they name the node rather than
  // an op inside its backward.
  DetectAnomalyGuard anomaly_off(false);
  std::vector<Tensor<T>> grads;
  if (create_graph && !node.differentiable_backward) {
    {
      NoGradGuard no_grad;
      grads = node.backward(grad);
    }
    // The gradients depend on the op's inputs and on `grad`; a second derivative through
    // them is refused by a node that fails when reached.
    auto refuse = std::make_shared<Node<T>>();
    refuse->name = node.name;
    refuse->inputs = node.inputs;
    if (grad.requires_grad()) refuse->inputs.push_back(grad.autograd_meta());
    const char* name = node.name;
    refuse->backward = [name](const Tensor<T>&) -> std::vector<Tensor<T>> {
      fail("autograd: ", name,
           " has no second derivative (its backward uses a fused kernel); build the model "
           "from differentiable ops where double backward is needed");
    };
    for (Tensor<T>& g : grads) {
      if (!g.defined()) continue;
      auto meta = std::make_shared<AutogradMeta<T>>();
      meta->requires_grad = true;
      meta->grad_fn = refuse;
      g.set_autograd_meta(std::move(meta));
    }
  } else {
    GradModeGuard mode(create_graph);
    grads = node.backward(grad);
  }
  LATENT_CHECK(grads.size() == node.inputs.size(), "autograd: ", node.name, " returned ",
               grads.size(), " gradients for ", node.inputs.size(), " inputs");
  if (anomaly_off.previous())
    for (const Tensor<T>& g : grads)
      if (has_non_finite(g)) fail("anomaly: the backward of ", node.name, " produced NaN or Inf");
  return grads;
}

inline void check_grad_shape(const Shape& got, const Shape& want, const char* op) {
  LATENT_CHECK(got == want, "autograd: ", op, " produced a gradient of shape ", got,
               " for an input of shape ", want);
}

// The engine behind backward() and grad(). With `targets` null, leaf gradients are added
// into .grad(); otherwise the gradients of the targets are returned and .grad() is untouched.
template <class T>
std::vector<Tensor<T>> run_backward(const std::vector<Tensor<T>>& outputs,
                                    const std::vector<Tensor<T>>& grad_outputs,
                                    bool retain_graph, bool create_graph,
                                    const std::vector<Tensor<T>>* targets, bool allow_unused) {
  using Meta = AutogradMeta<T>;
  LATENT_CHECK(outputs.size() == grad_outputs.size(), "backward: ", outputs.size(),
               " outputs but ", grad_outputs.size(), " gradients");
  struct Info {
    int pending = 0;      // consumers that have not yet passed their gradient down
    Tensor<T> grad;       // gradient summed so far
    bool needed = true;   // leads to a target (always true without targets)
  };
  std::unordered_map<Meta*, Info> info;
  std::vector<Meta*> order;  // every reachable meta, discovered depth-first

  // Discover the graph and count the consumers of every tensor.
  std::vector<Meta*> stack;
  for (const Tensor<T>& out : outputs) {
    LATENT_CHECK(out.requires_grad(), "backward: a tensor that does not require grad has no "
                 "graph to differentiate (shape ", out.shape(), ")");
    Meta* m = out.autograd_meta().get();
    if (info.emplace(m, Info{}).second) {
      stack.push_back(m);
      order.push_back(m);
    }
  }
  while (!stack.empty()) {
    Meta* m = stack.back();
    stack.pop_back();
    if (!m->grad_fn) continue;
    for (const auto& input : m->grad_fn->inputs) {
      if (!input) continue;
      auto inserted = info.emplace(input.get(), Info{});
      ++inserted.first->second.pending;
      if (inserted.second) {
        stack.push_back(input.get());
        order.push_back(input.get());
      }
    }
  }

  // With targets, only nodes on a path to a target need to run.
  std::unordered_map<Meta*, std::size_t> target_index;
  if (targets) {
    for (std::size_t i = 0; i < targets->size(); ++i) {
      const Tensor<T>& t = (*targets)[i];
      LATENT_CHECK(t.requires_grad(), "grad: input ", i, " does not require grad");
      target_index[t.autograd_meta().get()] = i;
    }
    for (auto& entry : info) entry.second.needed = false;
    // Repeat until stable: a meta is needed if it is a target or feeds a needed meta.
    // `order` lists producers after consumers, so walking it backwards converges fast.
    bool changed = true;
    while (changed) {
      changed = false;
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Meta* m = *it;
        Info& mi = info[m];
        if (mi.needed) continue;
        bool needed = target_index.count(m) > 0;
        if (!needed && m->grad_fn)
          for (const auto& input : m->grad_fn->inputs)
            if (input && info[input.get()].needed) needed = true;
        if (needed) {
          mi.needed = true;
          changed = true;
        }
      }
    }
  }

  std::vector<Meta*> ready;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    Meta* m = outputs[i].autograd_meta().get();
    Tensor<T> g = grad_outputs[i];
    check_grad_shape(g.shape(), outputs[i].shape(), "backward (the given output gradient)");
    Info& mi = info[m];
    mi.grad = mi.grad.defined() ? mi.grad + g : g;
  }
  for (const Tensor<T>& out : outputs) {
    Meta* m = out.autograd_meta().get();
    if (info[m].pending == 0 && std::find(ready.begin(), ready.end(), m) == ready.end())
      ready.push_back(m);
  }

  std::vector<Tensor<T>> result(targets ? targets->size() : 0);
  while (!ready.empty()) {
    Meta* m = ready.back();
    ready.pop_back();
    Info& mi = info[m];
    Tensor<T> grad = mi.grad;
    mi.grad = Tensor<T>();
    if (targets) {
      auto t = target_index.find(m);
      if (t != target_index.end()) result[t->second] = grad;
    } else if (!m->grad_fn || m->retains_grad) {
      if (grad.defined()) {
        Tensor<T> g = create_graph ? grad : grad.detach();
        if (m->grad.defined()) {
          GradModeGuard mode(create_graph);
          m->grad = m->grad + g;
        } else {
          m->grad = g;
        }
      }
    }
    if (!m->grad_fn) continue;
    Node<T>& node = *m->grad_fn;
    std::vector<Tensor<T>> grads;
    if (mi.needed && grad.defined()) {
      grads = call_backward(node, grad, create_graph);
      if (!retain_graph) node.backward = nullptr;
    }
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      Meta* input = node.inputs[i].get();
      if (!input) continue;
      Info& ii = info[input];
      if (i < grads.size() && grads[i].defined()) {
        GradModeGuard mode(create_graph);
        ii.grad = ii.grad.defined() ? ii.grad + grads[i] : grads[i];
      }
      if (--ii.pending == 0) ready.push_back(input);
    }
  }

  if (targets && !allow_unused)
    for (std::size_t i = 0; i < result.size(); ++i)
      LATENT_CHECK(result[i].defined(), "grad: input ", i,
                   " is not used to compute the outputs (pass allow_unused=true to get an "
                   "undefined gradient instead)");
  return result;
}

template <class T>
Tensor<T> ones_like_for_backward(const Tensor<T>& out) {
  LATENT_CHECK(out.numel() == 1, "backward: the output has shape ", out.shape(),
               "; backward() without a gradient needs a one-element output (a scalar loss)");
  Tensor<T> one(out.shape());
  *one.data() = T(1);
  return one;
}

}  // namespace detail

template <class T>
void Tensor<T>::backward(const Tensor<T>& grad_output, bool retain_graph, bool create_graph) const {
  Tensor<T> g = grad_output.defined() ? grad_output : detail::ones_like_for_backward(*this);
  detail::run_backward<T>({*this}, {g}, retain_graph, create_graph, nullptr, false);
}

namespace autograd {

// Gradients of sum_k <outputs[k], grad_outputs[k]> with respect to `inputs`, returned as
// tensors (.grad() is not touched). With create_graph the results can be differentiated
// again. grad_outputs may be empty when every output has one element.
template <class T>
std::vector<Tensor<T>> grad(const std::vector<Tensor<T>>& outputs,
                            const std::vector<Tensor<T>>& inputs,
                            std::vector<Tensor<T>> grad_outputs = {}, bool create_graph = false,
                            bool retain_graph = false, bool allow_unused = false) {
  if (grad_outputs.empty())
    for (const Tensor<T>& out : outputs) grad_outputs.push_back(detail::ones_like_for_backward(out));
  return detail::run_backward<T>(outputs, grad_outputs, retain_graph || create_graph, create_graph,
                                 &inputs, allow_unused);
}

}  // namespace autograd

}  // namespace latent
