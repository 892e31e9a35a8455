// GAN losses, from the discriminator's (critic's) raw scores, and the gradient penalties.
//
// With D(x) = sigmoid(logit) the probability that x is real, and log sigmoid computed
// stably (logsigmoid, so no score saturates to log 0):
//   gan_d_loss                = -E log D(x) - E log(1 - D(G(z)))     (the discriminator's
//                               side of the minimax game; BCE on real = 1 plus fake = 0)
//   gan_g_loss_minimax        =  E log(1 - D(G(z)))      (the original game; it saturates:
//                               its gradient vanishes when D rejects the fakes confidently)
//   gan_g_loss_nonsaturating  = -E log D(G(z))           (the usual choice)
// Hinge (as in SAGAN / BigGAN):
//   hinge_d_loss = E relu(1 - D(x)) + E relu(1 + D(G(z))),  hinge_g_loss = -E D(G(z))
// Wasserstein (WGAN), D an unconstrained critic:
//   wasserstein_d_loss = E D(G(z)) - E D(x),  wasserstein_g_loss = -E D(G(z))
// Every E is a mean over the batch (over all elements of the scores).
//
// Penalties, for a critic given as a callable Tensor<T>(const Tensor<T>&):
//   gradient_penalty (WGAN-GP): E (||grad_x D(x_hat)||_2 - target_norm)^2 over samples
//     x_hat = a real + (1 - a) fake, a ~ U[0, 1) drawn per sample
//   r1_penalty: (gamma / 2) E ||grad_x D(x)||^2 over real samples (gamma = 1: half the
//     mean squared gradient norm; pass your gamma, e.g. 10, to get the usual term)
// The gradients are taken with create_graph, so the penalty can be differentiated with
// respect to the critic's parameters. real and fake are treated as data: no gradient
// flows back to them (or to the generator that made fake).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/random.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/grad_mode.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"
#include "../../ops/unary_ops.hpp"
#include "../../tensor/creation.hpp"
#include "activation.hpp"

namespace latent {
namespace detail {

// The critic's gradient at x, one row per sample ([N, features]), differentiable.
template <class T, class Critic>
Tensor<T> critic_input_gradient(Critic& critic, const Tensor<T>& x, const char* op) {
  const Tensor<T> score = critic(x);
  LATENT_CHECK(score.requires_grad(), op, ": the critic's output does not depend on its input");
  const Tensor<T> grad = autograd::grad<T>({score.sum()}, {x}, {}, /*create_graph=*/true)[0];
  return grad.reshape(Shape{x.shape()[0], -1});
}

}  // namespace detail

namespace nn::functional {

template <class T>
Tensor<T> gan_d_loss(const Tensor<T>& real_logits, const Tensor<T>& fake_logits) {
  return -logsigmoid(real_logits).mean() - logsigmoid(-fake_logits).mean();
}

template <class T>
Tensor<T> gan_g_loss_minimax(const Tensor<T>& fake_logits) {
  return logsigmoid(-fake_logits).mean();
}

template <class T>
Tensor<T> gan_g_loss_nonsaturating(const Tensor<T>& fake_logits) {
  return -logsigmoid(fake_logits).mean();
}

template <class T>
Tensor<T> hinge_d_loss(const Tensor<T>& real_scores, const Tensor<T>& fake_scores) {
  return relu(T(1) - real_scores).mean() + relu(fake_scores + T(1)).mean();
}

template <class T>
Tensor<T> hinge_g_loss(const Tensor<T>& fake_scores) {
  return -fake_scores.mean();
}

template <class T>
Tensor<T> wasserstein_d_loss(const Tensor<T>& real_scores, const Tensor<T>& fake_scores) {
  return fake_scores.mean() - real_scores.mean();
}

template <class T>
Tensor<T> wasserstein_g_loss(const Tensor<T>& fake_scores) {
  return -fake_scores.mean();
}

// WGAN-GP's penalty: E (||grad D(x_hat)|| - target_norm)^2 (see above), the norm taken
// over all of a sample's elements, at x_hat = alpha real + (1 - alpha) fake with one
// alpha in [0, 1) per sample ([N], given here). The norm of a zero gradient is 0 with a
// zero gradient of its own (not the NaN of sqrt'(0)).
template <class T, class Critic>
Tensor<T> gradient_penalty(Critic&& critic, const Tensor<T>& real, const Tensor<T>& fake, const Tensor<T>& alpha,
                           Scalar<T> target_norm = Scalar<T>(1)) {
  LATENT_CHECK(real.dim() >= 1 && real.shape() == fake.shape(), "gradient_penalty: real ", real.shape(),
               " and fake ", fake.shape(), " must have one shape with a batch dim first");
  LATENT_CHECK(alpha.dim() == 1 && alpha.shape()[0] == real.shape()[0], "gradient_penalty: alpha must have shape [",
               real.shape()[0], "], got ", alpha.shape());
  // The penalty needs a graph even where the caller has turned gradients off.
  EnableGradGuard enable_grad;
  Shape per_sample = Dims::filled(real.dim(), 1);
  per_sample[0] = real.shape()[0];
  Tensor<T> x_hat;
  {
    NoGradGuard no_grad;
    const Tensor<T> a = alpha.detach().reshape(per_sample);
    x_hat = a * real.detach() + (T(1) - a) * fake.detach();
  }
  x_hat.requires_grad_(true);
  const Tensor<T> squared_norm =
      square(latent::detail::critic_input_gradient(critic, x_hat, "gradient_penalty")).flatten(1).sum(1);
  const Tensor<bool> positive = gt(squared_norm.detach(), T(0));
  const Tensor<T> norm = where(positive, sqrt(where(positive, squared_norm, T(1))), T(0));
  return square(norm - target_norm).mean();
}

// The same with alpha ~ U[0, 1) drawn from `gen`.
template <class T, class Critic>
Tensor<T> gradient_penalty(Critic&& critic, const Tensor<T>& real, const Tensor<T>& fake, Generator& gen,
                           Scalar<T> target_norm = Scalar<T>(1)) {
  LATENT_CHECK(real.dim() >= 1, "gradient_penalty: real needs a batch dim, got shape ", real.shape());
  return gradient_penalty(std::forward<Critic>(critic), real, fake, rand<T>({real.shape()[0]}, gen), target_norm);
}

// R1: (gamma / 2) E ||grad D(x)||^2 over real samples x (see above).
template <class T, class Critic>
Tensor<T> r1_penalty(Critic&& critic, const Tensor<T>& real, Scalar<T> gamma = Scalar<T>(1)) {
  LATENT_CHECK(real.dim() >= 1, "r1_penalty: real must have a batch dim, got shape ", real.shape());
  EnableGradGuard enable_grad;
  Tensor<T> x = real.detach();
  x.requires_grad_(true);
  const Tensor<T> squared_norm =
      square(latent::detail::critic_input_gradient(critic, x, "r1_penalty")).flatten(1).sum(1);
  return squared_norm.mean() * (gamma / T(2));
}

}  // namespace nn::functional
}  // namespace latent
