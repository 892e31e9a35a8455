// Losses, as torch.nn.functional, and the VAE's: regression (mse, l1, smooth l1, huber),
// binary cross-entropy (on probabilities and on logits), Gaussian negative log-likelihood,
// KL divergences (kl_div, and the closed forms between normal distributions), the ELBO.
// Classification losses are in cross_entropy.hpp, GAN losses in gan_loss.hpp; this header
// includes both.
//
// Every loss takes reduction = "mean" (default), "sum" or "none" (loss_reduction.hpp).
// Losses are written with differentiable ops, so second derivatives work (binary
// cross-entropy on probabilities has a backward of its own, PyTorch's, also written
// with differentiable ops).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "../../core/error.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/elementwise.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/special.hpp"
#include "../../ops/unary_ops.hpp"
#include "activation.hpp"
#include "cross_entropy.hpp"
#include "gan_loss.hpp"
#include "loss_reduction.hpp"

namespace latent {
namespace detail {
// True when pred holds for every element of t.
template <class T, class Pred>
bool loss_all_of(const Tensor<T>& t, Pred pred) {
  const Tensor<T> c = t.is_contiguous() ? t.detach() : contiguous_copy(t);
  return std::all_of(c.data(), c.data() + c.numel(), pred);
}
}  // namespace detail

namespace nn::functional {

// ---- regression ----------------------------------------------------------------------

// (input - target)^2 per element; input and target broadcast.
template <class T>
Tensor<T> mse_loss(const Tensor<T>& input, const Tensor<T>& target,
                   const Reduction& reduction = Reduction::Mean) {
  check_reduction(reduction, "mse_loss");
  return apply_reduction(square(input - target), reduction, "mse_loss");
}

// |input - target| per element.
template <class T>
Tensor<T> l1_loss(const Tensor<T>& input, const Tensor<T>& target,
                  const Reduction& reduction = Reduction::Mean) {
  check_reduction(reduction, "l1_loss");
  return apply_reduction(abs(input - target), reduction, "l1_loss");
}

// With d = input - target: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere
// (quadratic near 0, linear far away); beta = 0 gives l1_loss.
template <class T>
Tensor<T> smooth_l1_loss(const Tensor<T>& input, const Tensor<T>& target,
                         const Reduction& reduction = Reduction::Mean, Scalar<T> beta = Scalar<T>(1)) {
  check_reduction(reduction, "smooth_l1_loss");
  LATENT_CHECK(beta >= T(0), "smooth_l1_loss: beta must be non-negative, got ", beta);
  const Tensor<T> d = input - target;
  if (beta == T(0)) return apply_reduction(abs(d), reduction, "smooth_l1_loss");
  const Tensor<T> a = abs(d);
  const Tensor<bool> near = lt(a.detach(), beta);
  return apply_reduction(where(near, square(d) * (T(0.5) / beta), a - T(0.5) * beta), reduction,
                         "smooth_l1_loss");
}

// With d = input - target: 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere.
template <class T>
Tensor<T> huber_loss(const Tensor<T>& input, const Tensor<T>& target,
                     const Reduction& reduction = Reduction::Mean, Scalar<T> delta = Scalar<T>(1)) {
  check_reduction(reduction, "huber_loss");
  LATENT_CHECK(delta > T(0), "huber_loss: delta must be positive, got ", delta);
  const Tensor<T> d = input - target;
  const Tensor<T> a = abs(d);
  const Tensor<bool> near = lt(a.detach(), delta);
  return apply_reduction(where(near, square(d) * T(0.5), (a - T(0.5) * delta) * delta), reduction,
                         "huber_loss");
}

// ---- binary cross-entropy ------------------------------------------------------------

// -w (t log(x) + (1 - t) log(1 - x)) for probabilities x in [0, 1], each log clamped
// at -100 as in PyTorch (so x = 0 or 1 gives a large finite loss, not inf). Its gradient
// is PyTorch 1.13's: d/dx = w (x - t) / max(x (1 - x), eps) with eps the float 1e-12f
// (also for double), and d/dt = w (log(1 - x) - log(x)), not clamped (infinite at 0, 1).
template <class T>
Tensor<T> binary_cross_entropy(const Tensor<T>& input, const Tensor<T>& target,
                               const Tensor<T>& weight = Tensor<T>(),
                               const Reduction& reduction = Reduction::Mean) {
  check_reduction(reduction, "binary_cross_entropy");
  LATENT_CHECK(target.shape() == input.shape(), "binary_cross_entropy: target of shape ", target.shape(),
               " must have the input's shape ", input.shape());
  LATENT_CHECK(latent::detail::loss_all_of(input, [](T v) { return v >= T(0) && v <= T(1); }),
               "binary_cross_entropy: all elements of input should be between 0 and 1");
  Tensor<T> losses = latent::detail::map2<T>(input, target, "binary_cross_entropy", [](T x, T t) {
    const T log_x = std::max(std::log(x), T(-100)), log_1mx = std::max(std::log1p(-x), T(-100));
    return (t - T(1)) * log_1mx - t * log_x;
  });
  const auto backward = [input, target, gx = input.requires_grad(),
                         gt = target.requires_grad()](const Tensor<T>& g) {
    Tensor<T> dx, dt;
    if (gx) dx = g * (input - target) / clamp(input * (T(1) - input), T(1e-12f));
    if (gt) dt = g * (log1p(-input) - log(input));
    return std::vector<Tensor<T>>{dx, dt};
  };
  losses = record<T>(losses, "binary_cross_entropy", {&input, &target}, backward);
  if (weight.defined()) losses = losses * weight;
  return apply_reduction(losses, reduction, "binary_cross_entropy");
}

// Binary cross-entropy on logits x (probability sigmoid(x)), stable for any x:
//   (1 - t) x - lw * logsigmoid(x),  lw = 1 + (pos_weight - 1) t
// which is -w (pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), using
// log(1 - sigmoid(x)) = logsigmoid(x) - x. pos_weight (broadcast along the last dim,
// one per class) weighs the positive targets.
template <class T>
Tensor<T> binary_cross_entropy_with_logits(const Tensor<T>& input, const Tensor<T>& target,
                                           const Tensor<T>& weight = Tensor<T>(),
                                           const Reduction& reduction = Reduction::Mean,
                                           const Tensor<T>& pos_weight = Tensor<T>()) {
  check_reduction(reduction, "binary_cross_entropy_with_logits");
  LATENT_CHECK(target.shape() == input.shape(), "binary_cross_entropy_with_logits: target of shape ",
               target.shape(), " must have the input's shape ", input.shape());
  const Tensor<T> log_p = logsigmoid(input);
  Tensor<T> losses = (T(1) - target) * input;
  losses = pos_weight.defined() ? losses - ((pos_weight - T(1)) * target + T(1)) * log_p : losses - log_p;
  if (weight.defined()) losses = losses * weight;
  return apply_reduction(losses, reduction, "binary_cross_entropy_with_logits");
}

// ---- likelihoods and divergences -----------------------------------------------------

// The negative log-likelihood of target under N(input, var):
//   0.5 (log(var) + (input - target)^2 / var)  (+ 0.5 log(2 pi) when full)
// var has the input's shape, or lacks its last dim, or has size 1 there (one variance
// shared by the last dim). var is clamped below at eps for stability; as in PyTorch the
// clamp does not stop the gradient.
template <class T>
Tensor<T> gaussian_nll_loss(const Tensor<T>& input, const Tensor<T>& target, const Tensor<T>& var,
                            bool full = false, Scalar<T> eps = Scalar<T>(1e-6),
                            const Reduction& reduction = Reduction::Mean) {
  const char* op = "gaussian_nll_loss";
  check_reduction(reduction, op);
  Tensor<T> v = var;
  if (var.shape() != input.shape()) {
    Shape leading = input.shape();
    if (input.dim() > 0) leading.erase(input.dim() - 1);
    Shape var_leading = var.shape();
    if (var.dim() > 0) var_leading.erase(var.dim() - 1);
    if (input.dim() > 0 && var.shape() == leading) {
      v = var.unsqueeze(-1);
    } else {
      LATENT_CHECK(
          input.dim() > 0 && var.dim() > 0 && var_leading == leading && var.shape()[var.dim() - 1] == 1, op,
          ": var of shape ", var.shape(), " does not fit input of shape ", input.shape(),
          " (expected the input's shape, or it without the last dim, or with 1 there)");
    }
  }
  LATENT_CHECK(latent::detail::loss_all_of(var, [](T x) { return !(x < T(0)); }), op,
               ": var has negative entries");
  const T lo = eps;
  const Tensor<T> clamped_values = latent::detail::map<T>(v, [lo](T x) { return x < lo ? lo : x; });
  v = record<T>(clamped_values, "gaussian_nll_loss_clamp", {&v},
                [](const Tensor<T>& g) { return std::vector<Tensor<T>>{g}; });
  Tensor<T> losses = (log(v) + square(input - target) / v) * T(0.5);
  if (full) losses = losses + T(0.5 * std::log(2 * 3.14159265358979323846));
  return apply_reduction(losses, reduction, op);
}

// Kullback-Leibler divergence KL(target || q) with input = log q:
//   target (log(target) - input)  (0 where target = 0), or with log_target,
//   exp(target) (target - input). "batchmean" divides the sum by the batch size, the
// true KL per sample; "mean" (the default, as in PyTorch) divides by every element.
// Where target = 0 the term is 0 and its gradient with respect to target is taken as
// -input (PyTorch gives NaN there).
template <class T>
Tensor<T> kl_div(const Tensor<T>& input, const Tensor<T>& target,
                 const Reduction& reduction = Reduction::Mean, bool log_target = false) {
  check_reduction(reduction, "kl_div", true);
  Tensor<T> losses;
  if (log_target) {
    losses = exp(target) * (target - input);
  } else {
    // target log(target), written so that target = 0 gives 0 (log(1)) without a NaN gradient.
    const Tensor<bool> zero = eq(target.detach(), T(0));
    losses = target * log(where(zero, T(1), target)) - target * input;
  }
  return apply_reduction(losses, reduction, "kl_div");
}

// KL(N(mu, exp(logvar)) || N(0, 1)) per element: -0.5 (1 + logvar - mu^2 - exp(logvar)).
template <class T>
Tensor<T> kl_normal(const Tensor<T>& mu, const Tensor<T>& logvar,
                    const Reduction& reduction = Reduction::Mean) {
  check_reduction(reduction, "kl_normal");
  return apply_reduction((logvar + T(1) - square(mu) - exp(logvar)) * T(-0.5), reduction, "kl_normal");
}

// KL(N(mu1, exp(logvar1)) || N(mu2, exp(logvar2))) per element:
//   0.5 (logvar2 - logvar1 + (exp(logvar1) + (mu1 - mu2)^2) / exp(logvar2) - 1).
template <class T>
Tensor<T> kl_normal_pair(const Tensor<T>& mu1, const Tensor<T>& logvar1, const Tensor<T>& mu2,
                         const Tensor<T>& logvar2, const Reduction& reduction = Reduction::Mean) {
  check_reduction(reduction, "kl_normal_pair");
  const Tensor<T> ratio = (exp(logvar1) + square(mu1 - mu2)) / exp(logvar2);
  return apply_reduction((logvar2 - logvar1 + ratio - T(1)) * T(0.5), reduction, "kl_normal_pair");
}

// ---- the VAE objective -----------------------------------------------------------------

// The terms of the negative ELBO of a VAE with a Bernoulli decoder and a standard normal
// prior, per sample (averaged over the batch, dim 0):
//   reconstruction = sum over features of BCE-with-logits(recon_logits, x), batch mean
//   kl             = sum over latent dims of KL(N(mu, exp(logvar)) || N(0, 1)), batch mean
//   loss           = reconstruction + beta * kl    (beta = 1: the negative ELBO; beta > 1:
//                                                   the beta-VAE)
// Summing over features (not averaging) keeps the two terms on the scale the ELBO gives
// them; a per-element mean would weigh the KL term up by the number of pixels.
template <class T>
struct ElboTerms {
  Tensor<T> loss, reconstruction, kl;
};

template <class T>
ElboTerms<T> elbo(const Tensor<T>& recon_logits, const Tensor<T>& x, const Tensor<T>& mu,
                  const Tensor<T>& logvar, Scalar<T> beta = Scalar<T>(1)) {
  LATENT_CHECK(recon_logits.dim() >= 1 && recon_logits.shape() == x.shape(), "elbo: recon_logits of shape ",
               recon_logits.shape(), " must have the shape of x, ", x.shape(), ", with a batch dim");
  LATENT_CHECK(mu.dim() >= 1 && mu.shape() == logvar.shape() && mu.shape()[0] == x.shape()[0], "elbo: mu ",
               mu.shape(), " and logvar ", logvar.shape(), " must have one shape, with the batch size ",
               x.shape()[0], " first");
  const T batch = static_cast<T>(x.shape()[0]);
  ElboTerms<T> terms;
  terms.reconstruction =
      binary_cross_entropy_with_logits(recon_logits, x, Tensor<T>(), Reduction::Sum) / batch;
  terms.kl = kl_normal(mu, logvar, Reduction::Sum) / batch;
  terms.loss = terms.reconstruction + terms.kl * beta;
  return terms;
}

}  // namespace nn::functional
}  // namespace latent
