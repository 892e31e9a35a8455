// The variational autoencoder (Kingma & Welling, 2014) for binarisable images.
//
// Encoder q(z | x) = N(mu(x), diag exp(logvar(x))): h = relu(fc1 x), mu = fc21 h,
// logvar = fc22 h. Decoder p(x | z) = Bernoulli(sigmoid(fc4 relu(fc3 z))), with prior
// p(z) = N(0, I). Training maximises the evidence lower bound
//   ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z)) <= log p(x),
// estimated with one reparameterised sample z = mu + exp(logvar / 2) eps, eps ~ N(0, I)
// (so gradients flow into mu and logvar). The loss is the negative ELBO averaged over the
// batch (nn::functional::elbo); beta > 1 weighs the KL term up (the beta-VAE).
//
// The importance-weighted bound (Burda et al., 2016) is tighter and tends to log p(x)
// as k grows:
//   log p(x) ~ log (1/k) sum_k p(x | z_k) p(z_k) / q(z_k | x),   z_k ~ q(z | x).
//
// With `classes` > 0 the VAE is conditional: a one-hot label joins the encoder's input
// and the decoder's, so samples can be drawn per class. Layer names follow PyTorch's VAE
// example (fc1, fc21, fc22, fc3, fc4).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "../nn/functional/embedding.hpp"
#include "../nn/functional/loss.hpp"
#include "../nn/linear.hpp"
#include "../ops/join_ops.hpp"
#include "../sample/latent.hpp"

namespace latent::models {

struct VAEConfig {
  std::int64_t input = 784, hidden = 400, latent = 20;
  std::int64_t classes = 0;  // > 0: conditional on a class label
};

template <class T>
struct VAEOutput {
  Tensor<T> logits, mu, logvar;  // decoder logits [N, input], q's parameters [N, latent]
};

template <class T>
class VAE : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Linear<T>> fc1, fc21, fc22, fc3, fc4;

  VAE(const VAEConfig& config, Generator& gen) : config_(config) {
    const std::int64_t c = config.classes;
    fc1 = this->register_module("fc1", std::make_shared<nn::Linear<T>>(config.input + c, config.hidden, gen));
    fc21 = this->register_module("fc21", std::make_shared<nn::Linear<T>>(config.hidden, config.latent, gen));
    fc22 = this->register_module("fc22", std::make_shared<nn::Linear<T>>(config.hidden, config.latent, gen));
    fc3 = this->register_module("fc3", std::make_shared<nn::Linear<T>>(config.latent + c, config.hidden, gen));
    fc4 = this->register_module("fc4", std::make_shared<nn::Linear<T>>(config.hidden, config.input, gen));
  }
  std::string name() const override { return "VAE"; }
  const VAEConfig& config() const { return config_; }

  // q(z | x): mu and logvar for inputs [N, ...] (flattened), labels [N] when conditional.
  std::pair<Tensor<T>, Tensor<T>> encode(const Tensor<T>& x, const Tensor<std::int64_t>& labels = {}) const {
    const Tensor<T> h = relu(fc1->forward(with_label(x.flatten(1), labels)));
    return {fc21->forward(h), fc22->forward(h)};
  }
  // Decoder logits for codes [N, latent].
  Tensor<T> decode(const Tensor<T>& z, const Tensor<std::int64_t>& labels = {}) const {
    return fc4->forward(relu(fc3->forward(with_label(z, labels))));
  }
  VAEOutput<T> forward(const Tensor<T>& x, Generator& gen, const Tensor<std::int64_t>& labels = {}) const {
    auto [mu, logvar] = encode(x, labels);
    const Tensor<T> z = sample::reparameterize(mu, logvar, gen);
    return {decode(z, labels), mu, logvar};
  }
  using nn::Module<T>::forward;

  // The negative ELBO terms of a batch (per image, averaged), beta-weighted.
  nn::functional::ElboTerms<T> loss(const Tensor<T>& x, Generator& gen, double beta = 1.0,
                                    const Tensor<std::int64_t>& labels = {}) const {
    const VAEOutput<T> out = forward(x, gen, labels);
    return nn::functional::elbo(out.logits, x.flatten(1), out.mu, out.logvar, T(beta));
  }

  // Images decoded from prior samples z ~ N(0, I): sigmoid of the logits, [n, input].
  Tensor<T> sample(std::int64_t n, Generator& gen, const Tensor<std::int64_t>& labels = {}) const {
    return sigmoid(decode(randn<T>({n, config_.latent}, gen), labels));
  }

  // The importance-weighted estimate of log p(x) per image [N] (no gradient), k samples.
  Tensor<T> log_likelihood(const Tensor<T>& x, std::int64_t k, Generator& gen,
                           const Tensor<std::int64_t>& labels = {}) const {
    LATENT_CHECK(k >= 1, "VAE::log_likelihood: needs k >= 1 samples, got ", k);
    NoGradGuard no_grad;
    const Tensor<T> flat = x.flatten(1);
    const std::int64_t n = flat.shape()[0], d = config_.latent;
    auto [mu, logvar] = encode(flat, labels);
    // k samples per image, laid out [k, n, ...].
    const Tensor<T> eps = randn<T>({k, n, d}, gen);
    const Tensor<T> z = mu.unsqueeze(0) + exp(logvar * T(0.5)).unsqueeze(0) * eps;
    Tensor<std::int64_t> repeated_labels;
    if (labels.defined()) repeated_labels = labels.unsqueeze(0).expand({k, n}).reshape({k * n});
    const Tensor<T> logits = decode(z.reshape({k * n, d}), repeated_labels).reshape({k, n, config_.input});
    const Tensor<T> targets = flat.unsqueeze(0).expand({k, n, config_.input});
    const T log2pi = T(std::log(2 * 3.14159265358979323846));
    const Tensor<T> log_px = -nn::functional::binary_cross_entropy_with_logits(
                                 logits, targets, Tensor<T>(), nn::functional::Reduction::None)
                                 .sum(2);
    const Tensor<T> log_pz = ((z * z + log2pi) * T(-0.5)).sum(2);
    const Tensor<T> log_qz = ((eps * eps + logvar.unsqueeze(0) + log2pi) * T(-0.5)).sum(2);
    return (log_px + log_pz - log_qz).logsumexp(0) - T(std::log(double(k)));
  }

 private:
  Tensor<T> with_label(const Tensor<T>& x, const Tensor<std::int64_t>& labels) const {
    if (config_.classes == 0) return x;
    LATENT_CHECK(labels.defined() && labels.dim() == 1 && labels.shape()[0] == x.shape()[0],
                 "VAE: a conditional VAE needs one label per input, got labels of shape ", labels.shape());
    const Tensor<T> onehot = nn::functional::one_hot(labels, config_.classes).template to<T>();
    return cat<T>({x, onehot}, 1);
  }
  VAEConfig config_;
};

}  // namespace latent::models
