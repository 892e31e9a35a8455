// Classification losses, as torch.nn.functional: nll_loss and cross_entropy.
//
// Layout: input [N, C] or [N, C, d1, ...] (or [C] for one sample), class dim 1 (0 for
// [C]); class-index targets (int64) have the input's shape without the class dim.
//
//   nll_loss:      l_k = -w[t_k] * x[k, t_k]         (0 where t_k == ignore_index)
//   cross_entropy: nll_loss of log_softmax(input) along the class dim
// "mean" divides the sum of l_k by the sum of w[t_k] over the targets not ignored (their
// count when there is no weight), so a weighted mean is a true weighted average; with
// every target ignored it is 0 / 0 = NaN, as in PyTorch.
//
// Label smoothing e mixes the one-hot target with the uniform distribution over the C
// classes. As in PyTorch the loss is
//   (1 - e) * nll + (e / C) * smooth,  smooth_k = -sum_c w[c] * log p[k, c]
// with smooth_k = 0 for ignored targets and smooth reduced like nll (same divisor).
//
// Probability targets (a float target of the input's shape, e.g. soft labels):
//   l_k = -sum_c w[c] * q[k, c] * log p[k, c],  q = (1 - e) target + e / C
// and "mean" divides by the number of samples (elements / C).
//
// As in PyTorch, the class weights of class-index losses are constants (no gradient).
//
// Picking x[k, t_k] is an op of its own (pick_classes), with its adjoint (place_classes)
// as its backward and the pick again as the adjoint's backward, so second derivatives
// of the losses work.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../../core/error.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"
#include "loss_reduction.hpp"
#include "softmax.hpp"

namespace latent {
namespace detail {

// Which element of each sample a classification loss picks: positions k = (b, s) of a
// [batch, classes, spatial] input, each with its class (-1 where ignored) and a factor.
template <class T>
struct ClassPick {
  Shape input_shape;   // the input's shape
  Shape picked_shape;  // the target's shape
  std::int64_t batch = 1, classes = 1, spatial = 1;
  std::vector<std::int64_t> index;  // per position: the class, or -1 where ignored
  std::vector<T> scale;             // per position: the factor applied to the pick
};

template <class T>
Tensor<T> place_classes(const Tensor<T>& g, const std::shared_ptr<const ClassPick<T>>& pick);

// out[k] = scale[k] * x[b, index[k], s] (0 where index[k] < 0): shape picked_shape.
template <class T>
Tensor<T> pick_classes(const Tensor<T>& x, const std::shared_ptr<const ClassPick<T>>& pick) {
  const Tensor<T> xc = x.is_contiguous() ? x.detach() : contiguous_copy(x);
  Tensor<T> out(pick->picked_shape);
  const T* in = xc.data();
  T* o = out.data();
  const std::int64_t c = pick->classes, s = pick->spatial;
  for (std::int64_t b = 0; b < pick->batch; ++b)
    for (std::int64_t j = 0; j < s; ++j) {
      const std::int64_t k = b * s + j, t = pick->index[k];
      o[k] = t < 0 ? T(0) : pick->scale[k] * in[(b * c + t) * s + j];
    }
  return record<T>(out, "pick_classes", {&x},
                   [pick](const Tensor<T>& g) { return std::vector<Tensor<T>>{place_classes(g, pick)}; });
}

// The adjoint of pick_classes: zeros of input_shape with scale[k] * g[k] at each pick.
template <class T>
Tensor<T> place_classes(const Tensor<T>& g, const std::shared_ptr<const ClassPick<T>>& pick) {
  const Tensor<T> gc = g.is_contiguous() ? g.detach() : contiguous_copy(g);
  Tensor<T> out = zeros<T>(pick->input_shape);
  const T* in = gc.data();
  T* o = out.data();
  const std::int64_t c = pick->classes, s = pick->spatial;
  for (std::int64_t b = 0; b < pick->batch; ++b)
    for (std::int64_t j = 0; j < s; ++j) {
      const std::int64_t k = b * s + j, t = pick->index[k];
      if (t >= 0) o[(b * c + t) * s + j] = pick->scale[k] * in[k];
    }
  return record<T>(out, "place_classes", {&g},
                   [pick](const Tensor<T>& gg) { return std::vector<Tensor<T>>{pick_classes(gg, pick)}; });
}

// The class dim of a classification input: 1, or 0 for a single sample [C].
template <class T>
int class_dim(const Tensor<T>& input, const char* op) {
  LATENT_CHECK(input.dim() >= 1, op, ": input must have a class dim, got a scalar");
  return input.dim() == 1 ? 0 : 1;
}

// Checks shapes and targets and builds the pick of -w[t_k] * x[k, t_k].
// total_weight = sum of w[t_k] over the targets that are not ignored.
template <class T>
std::shared_ptr<const ClassPick<T>> make_class_pick(const Tensor<T>& input,
                                                    const Tensor<std::int64_t>& target,
                                                    const Tensor<T>& weight, std::int64_t ignore_index,
                                                    const char* op, T& total_weight) {
  const int cd = class_dim(input, op);
  auto pick = std::make_shared<ClassPick<T>>();
  pick->input_shape = input.shape();
  pick->classes = input.shape()[cd];
  Shape expected;
  for (int i = 0; i < input.dim(); ++i) {
    if (i == cd) continue;
    expected.push_back(input.shape()[i]);
    if (i < cd)
      pick->batch *= input.shape()[i];
    else
      pick->spatial *= input.shape()[i];
  }
  LATENT_CHECK(target.shape() == expected, op, ": input of shape ", input.shape(),
               " needs a target of shape ", expected, ", got ", target.shape());
  const std::int64_t c = pick->classes;
  LATENT_CHECK(!weight.defined() || weight.shape() == Shape{c}, op, ": weight must have shape [", c,
               "] (one per class), got ", weight.shape());
  pick->picked_shape = expected;
  const Tensor<std::int64_t> tc = target.is_contiguous() ? target : contiguous_copy(target);
  const Tensor<T> wc =
      !weight.defined() || weight.is_contiguous() ? weight.detach() : contiguous_copy(weight);
  const std::int64_t n = target.numel();
  pick->index.resize(static_cast<std::size_t>(n));
  pick->scale.resize(static_cast<std::size_t>(n));
  total_weight = T(0);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t t = tc.data()[k];
    if (t == ignore_index) {
      pick->index[k] = -1;
      pick->scale[k] = T(0);
      continue;
    }
    LATENT_CHECK(t >= 0 && t < c, op, ": target ", t, " is out of range for ", c, " classes (at position ", k,
                 " of the target, shape ", target.shape(), ")");
    const T w = wc.defined() ? wc.data()[t] : T(1);
    pick->index[k] = t;
    pick->scale[k] = -w;
    total_weight += w;
  }
  return pick;
}

// nll_loss on log-probabilities; `op` names the public op in messages.
template <class T>
Tensor<T> nll_loss_impl(const Tensor<T>& log_probs, const Tensor<std::int64_t>& target,
                        const Tensor<T>& weight, std::int64_t ignore_index,
                        const nn::functional::Reduction& reduction, const char* op, T& total_weight) {
  nn::functional::check_reduction(reduction, op);
  const auto pick = make_class_pick(log_probs, target, weight, ignore_index, op, total_weight);
  const Tensor<T> losses = pick_classes(log_probs, pick);
  if (reduction.kind == nn::functional::Reduction::None) return losses;
  if (reduction.kind == nn::functional::Reduction::Sum) return losses.sum();
  return losses.sum() / total_weight;
}

}  // namespace detail

namespace nn::functional {

// The negative log-likelihood of class-index targets, given log-probabilities
// (e.g. the output of log_softmax): input [N, C] or [N, C, d1, ...] or [C].
template <class T>
Tensor<T> nll_loss(const Tensor<T>& input, const Tensor<std::int64_t>& target,
                   const Tensor<T>& weight = Tensor<T>(), std::int64_t ignore_index = -100,
                   const Reduction& reduction = Reduction::Mean) {
  T total_weight = T(0);
  return latent::detail::nll_loss_impl(input, target, weight, ignore_index, reduction, "nll_loss",
                                       total_weight);
}

// Cross-entropy of class-index targets with unnormalised scores (logits):
// nll_loss(log_softmax(input, class dim), ...), with optional label smoothing.
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& input, const Tensor<std::int64_t>& target,
                        const Tensor<T>& weight = Tensor<T>(), std::int64_t ignore_index = -100,
                        const Reduction& reduction = Reduction::Mean,
                        Scalar<T> label_smoothing = Scalar<T>(0)) {
  const char* op = "cross_entropy";
  const int cd = latent::detail::class_dim(input, op);
  LATENT_CHECK(label_smoothing >= T(0) && label_smoothing <= T(1), op,
               ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const Tensor<T> log_probs = log_softmax(input, cd);
  T total_weight = T(0);
  const Tensor<T> nll =
      latent::detail::nll_loss_impl(log_probs, target, weight, ignore_index, reduction, op, total_weight);
  if (!(label_smoothing > T(0))) return nll;

  // smooth_k = -sum_c w[c] log p[k, c], 0 where the target is ignored.
  Tensor<T> smooth;
  if (weight.defined()) {
    Shape class_shape = Dims::filled(input.dim(), 1);
    class_shape[cd] = input.shape()[cd];
    smooth = -(log_probs * weight.detach().reshape(class_shape)).sum(cd);
  } else {
    smooth = -log_probs.sum(cd);
  }
  const Tensor<bool> ignored =
      latent::detail::map<bool>(target, [ignore_index](std::int64_t t) { return t == ignore_index; });
  smooth = where(ignored, T(0), smooth);
  if (reduction.kind == Reduction::Sum) smooth = smooth.sum();
  if (reduction.kind == Reduction::Mean) smooth = smooth.sum() / total_weight;
  const T e = label_smoothing, classes = static_cast<T>(input.shape()[cd]);
  return nll * (T(1) - e) + smooth * (e / classes);
}

// Cross-entropy with probability targets (soft labels): target has the input's shape and
// holds a distribution over the classes for each sample.
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& input, const Tensor<T>& target,
                        const Tensor<T>& weight = Tensor<T>(), std::int64_t ignore_index = -100,
                        const Reduction& reduction = Reduction::Mean,
                        Scalar<T> label_smoothing = Scalar<T>(0)) {
  const char* op = "cross_entropy";
  check_reduction(reduction, op);
  const int cd = latent::detail::class_dim(input, op);
  LATENT_CHECK(target.shape() == input.shape(), op, ": probability targets must have the input's shape ",
               input.shape(), ", got ", target.shape());
  LATENT_CHECK(ignore_index < 0, op, ": ignore_index (", ignore_index,
               ") is not supported for probability (floating-point) targets");
  LATENT_CHECK(label_smoothing >= T(0) && label_smoothing <= T(1), op,
               ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const std::int64_t c = input.shape()[cd];
  LATENT_CHECK(!weight.defined() || weight.shape() == Shape{c}, op, ": weight must have shape [", c,
               "] (one per class), got ", weight.shape());
  const T e = label_smoothing;
  const Tensor<T> q = e > T(0) ? target * (T(1) - e) + e / static_cast<T>(c) : target;
  Tensor<T> terms = log_softmax(input, cd) * q;
  if (weight.defined()) {
    Shape class_shape = Dims::filled(input.dim(), 1);
    class_shape[cd] = c;
    terms = terms * weight.reshape(class_shape);
  }
  if (reduction.kind == Reduction::None) return -terms.sum(cd);
  if (reduction.kind == Reduction::Sum) return -terms.sum();
  const T samples = c > 0 ? static_cast<T>(input.numel() / c) : T(0);
  return -terms.sum() / samples;
}

}  // namespace nn::functional
}  // namespace latent
