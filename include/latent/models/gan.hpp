// Generative adversarial networks (Goodfellow et al. 2014): a generator G maps noise
// z ~ N(0, I) to samples, a discriminator (critic) D scores samples, and the two are
// trained against each other, one optimiser step each in turn.
//
//   minimax game:    min_G max_D  E_x log D(x) + E_z log(1 - D(G(z)))     (D = sigmoid(score))
//   non-saturating:  G minimises -E log D(G(z)) instead (strong gradients early on)
//   hinge:           D minimises E relu(1 - D(x)) + E relu(1 + D(G(z))),  G minimises -E D(G(z));
//                    used with SpectralNorm on the critic's layers (each layer 1-Lipschitz)
//   WGAN-GP:         D minimises E D(G(z)) - E D(x) + lambda E (||grad D(x_hat)|| - 1)^2,
//                    x_hat = a x + (1 - a) G(z), a ~ U[0, 1) per sample; G minimises -E D(G(z)).
//                    The penalty is differentiated through its own gradient (double backward),
//                    so the critic must not hold batch norm; several critic steps per G step.
//
// The public API (everything in latent::models):
//
//   enum class GanObjective { non_saturating, minimax, hinge, wgan_gp };
//   GanObjective parse_gan_objective(const std::string&);   // "ns", "minimax", "hinge", "wgangp"
//   const char* gan_objective_name(GanObjective);            // the same short names back
//
//   Tensor<T> gan_discriminator_loss(GanObjective, real_scores, fake_scores);  // without penalty
//   Tensor<T> gan_generator_loss(GanObjective, fake_scores);
//
//   struct GanMLPConfig { latent, data, hidden, depth, activation, spectral_norm, classes, embedding_dim };
//   class MLPGenerator<T>      : nn::Module<T>   forward(z), forward(z, labels), sample(n, gen[, labels])
//   class MLPDiscriminator<T>  : nn::Module<T>   forward(x), forward(x, labels) -> scores [N, 1]
//     state dict: "net.0.weight", "net.0.bias", "net.2.weight", ... (an nn.Sequential named net;
//     with spectral_norm "net.0.weight_orig", "net.0.weight_u", "net.0.weight_v"; conditional
//     nets add "label_embedding.weight", the embedding concatenated to the input).
//
//   struct GanStepOptions { GanObjective objective = non_saturating; double gp_weight = 10; };
//   struct GanDiscriminatorStats { double loss, penalty, total, real_score, fake_score; };
//   GanDiscriminatorStats discriminator_step(critic, opt_d, real, fake, options, gen);
//   double generator_step(generate, critic, opt_g, options);
//     critic: Tensor<T>(const Tensor<T>&) (a lambda, so conditional critics bind their labels);
//     generate: Tensor<T>() returning a fresh fake batch that depends on G's parameters.
//     Each step computes the gradients of its loss with respect to its own optimiser's
//     parameters only (autograd::grad), sets them as those parameters' .grad() and steps:
//     no other tensor's .grad() is written, so the critic's weights never move in the
//     generator step nor the generator's in the discriminator step.
//
//   class ExponentialMovingAverage<T>(module, decay = 0.999, warmup = false)
//     update(module), copy_to(module), state_dict(), next_beta(), num_updates(),
//     apply_to(module) -> a guard that swaps the averages in until it is destroyed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../nn/containers.hpp"
#include "../nn/functional/gan_loss.hpp"
#include "../nn/layers.hpp"
#include "../nn/linear.hpp"
#include "../nn/module.hpp"
#include "../nn/spectral_norm.hpp"
#include "../ops/autograd.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/inplace.hpp"
#include "../ops/join_ops.hpp"
#include "../optim/optimizer.hpp"
#include "../tensor/creation.hpp"

namespace latent::models {

// ---- objectives ----

enum class GanObjective { non_saturating, minimax, hinge, wgan_gp };

inline const char* gan_objective_name(GanObjective objective) {
  switch (objective) {
    case GanObjective::non_saturating: return "ns";
    case GanObjective::minimax: return "minimax";
    case GanObjective::hinge: return "hinge";
    case GanObjective::wgan_gp: return "wgangp";
  }
  return "?";
}

// "ns" (or "non_saturating"), "minimax", "hinge", "wgangp" (or "wgan_gp", "wgan-gp").
inline GanObjective parse_gan_objective(const std::string& name) {
  if (name == "ns" || name == "non_saturating" || name == "nonsaturating") return GanObjective::non_saturating;
  if (name == "minimax") return GanObjective::minimax;
  if (name == "hinge") return GanObjective::hinge;
  if (name == "wgangp" || name == "wgan_gp" || name == "wgan-gp") return GanObjective::wgan_gp;
  fail("parse_gan_objective: unknown objective '", name, "' (expected ns, minimax, hinge or wgangp)");
}

// The discriminator's (critic's) loss of an objective, from raw scores (logits for the
// two BCE games). The WGAN-GP gradient penalty is added by discriminator_step.
template <class T>
Tensor<T> gan_discriminator_loss(GanObjective objective, const Tensor<T>& real_scores, const Tensor<T>& fake_scores) {
  namespace F = nn::functional;
  switch (objective) {
    case GanObjective::non_saturating:
    case GanObjective::minimax: return F::gan_d_loss(real_scores, fake_scores);
    case GanObjective::hinge: return F::hinge_d_loss(real_scores, fake_scores);
    case GanObjective::wgan_gp: return F::wasserstein_d_loss(real_scores, fake_scores);
  }
  fail("gan_discriminator_loss: unknown objective");
}

template <class T>
Tensor<T> gan_generator_loss(GanObjective objective, const Tensor<T>& fake_scores) {
  namespace F = nn::functional;
  switch (objective) {
    case GanObjective::non_saturating: return F::gan_g_loss_nonsaturating(fake_scores);
    case GanObjective::minimax: return F::gan_g_loss_minimax(fake_scores);
    case GanObjective::hinge: return F::hinge_g_loss(fake_scores);
    case GanObjective::wgan_gp: return F::wasserstein_g_loss(fake_scores);
  }
  fail("gan_generator_loss: unknown objective");
}

// ---- MLP networks for low-dimensional data ----

struct GanMLPConfig {
  std::int64_t latent = 2;          // noise size: the generator's input
  std::int64_t data = 2;            // sample size: the generator's output, the critic's input
  std::int64_t hidden = 128;        // width of every hidden layer
  int depth = 3;                    // number of hidden layers
  std::string activation = "relu";  // relu | leaky_relu (slope 0.2) | tanh | elu | silu
  bool spectral_norm = false;       // critic only: SpectralNorm on every Linear (for hinge)
  std::int64_t classes = 0;         // > 0: conditional on a label in [0, classes)
  std::int64_t embedding_dim = 0;   // label embedding size (0: classes)
};

namespace detail {

template <class T>
std::shared_ptr<nn::Module<T>> gan_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<nn::ReLU<T>>();
  if (name == "leaky_relu") return std::make_shared<nn::LeakyReLU<T>>(0.2);
  if (name == "tanh") return std::make_shared<nn::Tanh<T>>();
  if (name == "elu") return std::make_shared<nn::ELU<T>>();
  if (name == "silu") return std::make_shared<nn::SiLU<T>>();
  fail("GAN MLP: unknown activation '", name, "' (expected relu, leaky_relu, tanh, elu or silu)");
}

inline void check_gan_mlp_config(const GanMLPConfig& c, const char* who) {
  LATENT_CHECK(c.latent > 0 && c.data > 0 && c.hidden > 0, who, ": latent, data and hidden must be positive, got ",
               c.latent, ", ", c.data, ", ", c.hidden);
  LATENT_CHECK(c.depth >= 1, who, ": depth (hidden layers) must be >= 1, got ", c.depth);
  LATENT_CHECK(c.classes >= 0 && c.embedding_dim >= 0, who, ": classes and embedding_dim must be >= 0, got ",
               c.classes, " and ", c.embedding_dim);
}

// in -> hidden (act) -> ... -> hidden (act) -> out, every Linear optionally spectrally normed.
template <class T>
void build_gan_mlp(nn::Sequential<T>& net, std::int64_t in, std::int64_t out, const GanMLPConfig& c, bool sn,
                   Generator& gen) {
  std::int64_t width = in;
  for (int layer = 0; layer <= c.depth; ++layer) {
    const std::int64_t next = layer < c.depth ? c.hidden : out;
    auto linear = std::make_shared<nn::Linear<T>>(width, next, gen);
    if (sn)
      net.push_back(nn::spectral_norm(linear, gen));
    else
      net.push_back(linear);
    if (layer < c.depth) net.push_back(gan_activation<T>(c.activation));
    width = next;
  }
}

// The base of both MLP nets: the optional label embedding, concatenated to the input.
template <class T>
class GanMLPBase : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Sequential<T>> net;
  std::shared_ptr<nn::Embedding<T>> label_embedding;  // conditional nets only

  const GanMLPConfig& config() const { return config_; }
  bool conditional() const { return config_.classes > 0; }

 protected:
  GanMLPBase(const GanMLPConfig& config, const char* who, std::int64_t input, std::int64_t output, bool sn,
             Generator& gen)
      : config_(config), who_(who) {
    check_gan_mlp_config(config, who);
    const std::int64_t embed = config.embedding_dim > 0 ? config.embedding_dim : config.classes;
    net = this->register_module("net", std::make_shared<nn::Sequential<T>>());
    build_gan_mlp(*net, input + (config.classes > 0 ? embed : 0), output, config, sn, gen);
    if (config.classes > 0)
      label_embedding =
          this->register_module("label_embedding", std::make_shared<nn::Embedding<T>>(config.classes, embed, gen));
  }
  Tensor<T> run(const Tensor<T>& x, std::int64_t width, const Tensor<std::int64_t>& labels) {
    LATENT_CHECK(x.dim() == 2 && x.shape()[1] == width, who_, ": expects inputs [N, ", width, "], got ", x.shape());
    if (!conditional()) {
      LATENT_CHECK(!labels.defined(), who_, ": got labels, but the net is not conditional (classes = 0)");
      return net->forward(x);
    }
    LATENT_CHECK(labels.defined() && labels.dim() == 1 && labels.shape()[0] == x.shape()[0], who_,
                 ": a conditional net needs one label per row, got labels of shape ", labels.shape(),
                 " for inputs ", x.shape());
    // The embedding before the list: g++ 12 mishandles an exception thrown while an
    // initializer list is being built (bug 66139).
    const Tensor<T> embedded = label_embedding->forward(labels);
    return net->forward(cat<T>({x, embedded}, 1));
  }

 private:
  GanMLPConfig config_;
  const char* who_;
};

}  // namespace detail

// G: z [N, latent] (and labels [N]) -> samples [N, data].
template <class T>
class MLPGenerator : public detail::GanMLPBase<T> {
 public:
  MLPGenerator(const GanMLPConfig& config, Generator& gen)
      : detail::GanMLPBase<T>(config, "MLPGenerator", config.latent, config.data, false, gen) {}
  std::string name() const override { return "MLPGenerator"; }
  Tensor<T> forward(const Tensor<T>& z) override { return this->run(z, this->config().latent, {}); }
  Tensor<T> forward(const Tensor<T>& z, const Tensor<std::int64_t>& labels) {
    return this->run(z, this->config().latent, labels);
  }
  // n samples from fresh noise z ~ N(0, I).
  Tensor<T> sample(std::int64_t n, Generator& gen, const Tensor<std::int64_t>& labels = {}) {
    LATENT_CHECK(n >= 1, "MLPGenerator::sample: n must be >= 1, got ", n);
    return this->run(randn<T>({n, this->config().latent}, gen), this->config().latent, labels);
  }
};

// D: x [N, data] (and labels [N]) -> scores [N, 1] (logits for the BCE games).
template <class T>
class MLPDiscriminator : public detail::GanMLPBase<T> {
 public:
  MLPDiscriminator(const GanMLPConfig& config, Generator& gen)
      : detail::GanMLPBase<T>(config, "MLPDiscriminator", config.data, 1, config.spectral_norm, gen) {}
  std::string name() const override { return "MLPDiscriminator"; }
  Tensor<T> forward(const Tensor<T>& x) override { return this->run(x, this->config().data, {}); }
  Tensor<T> forward(const Tensor<T>& x, const Tensor<std::int64_t>& labels) {
    return this->run(x, this->config().data, labels);
  }
};

// ---- training steps ----

struct GanStepOptions {
  GanObjective objective = GanObjective::non_saturating;
  double gp_weight = 10;  // lambda of the WGAN-GP penalty
};

struct GanDiscriminatorStats {
  double loss = 0;        // the objective's discriminator loss, without the penalty
  double penalty = 0;     // WGAN-GP: E (||grad D(x_hat)|| - 1)^2 (unweighted); else 0
  double total = 0;       // what was minimised: loss + gp_weight * penalty
  double real_score = 0;  // mean D(x) on the real batch
  double fake_score = 0;  // mean D(G(z)) on the fake batch (real - fake: WGAN's distance estimate)
};

namespace detail {

// Sets grad(loss) w.r.t. the optimiser's parameters as their .grad() and steps. Parameters
// the loss does not reach get no gradient (and no update); at least one must be reached.
template <class T>
void gan_apply_gradients(const Tensor<T>& loss, optim::Optimizer<T>& opt, const char* who) {
  std::vector<Tensor<T>> params = opt.parameters();
  LATENT_CHECK(!params.empty(), who, ": the optimiser holds no parameters");
  const std::vector<Tensor<T>> grads =
      autograd::grad<T>({loss}, params, {}, /*create_graph=*/false, /*retain_graph=*/false, /*allow_unused=*/true);
  bool any = false;
  for (std::size_t i = 0; i < params.size(); ++i) {
    params[i].set_grad(grads[i]);
    any = any || grads[i].defined();
  }
  LATENT_CHECK(any, who, ": the loss does not depend on any of the optimiser's parameters");
  opt.step();
}

template <class T>
double gan_mean(const Tensor<T>& scores) {
  return double(scores.detach().mean().item());
}

}  // namespace detail

// One discriminator (critic) update on a real batch and a fake batch, both treated as
// data (detached). `gen` draws the penalty's interpolation weights (WGAN-GP only).
template <class T, class CriticFn>
GanDiscriminatorStats discriminator_step(CriticFn&& critic, optim::Optimizer<T>& opt_d, const Tensor<T>& real,
                                         const Tensor<T>& fake, const GanStepOptions& options, Generator& gen) {
  LATENT_CHECK(real.defined() && fake.defined() && real.dim() >= 1 && real.shape() == fake.shape(),
               "discriminator_step: real ", real.shape(), " and fake ", fake.shape(),
               " must be batches of one shape");
  LATENT_CHECK(options.gp_weight >= 0, "discriminator_step: gp_weight must be >= 0, got ", options.gp_weight);
  EnableGradGuard enable_grad;
  const Tensor<T> x = real.detach(), x_fake = fake.detach();
  const Tensor<T> real_scores = critic(x), fake_scores = critic(x_fake);
  const Tensor<T> loss = gan_discriminator_loss(options.objective, real_scores, fake_scores);
  GanDiscriminatorStats stats;
  stats.loss = double(loss.item());
  stats.real_score = detail::gan_mean(real_scores);
  stats.fake_score = detail::gan_mean(fake_scores);
  Tensor<T> total = loss;
  if (options.objective == GanObjective::wgan_gp) {
    const Tensor<T> penalty = nn::functional::gradient_penalty(critic, x, x_fake, gen);
    stats.penalty = double(penalty.item());
    total = loss + penalty * T(options.gp_weight);
  }
  stats.total = double(total.item());
  detail::gan_apply_gradients(total, opt_d, "discriminator_step");
  return stats;
}

// One generator update: fake = generate() (which must depend on G's parameters), the loss
// from critic(fake). Returns the generator's loss.
template <class T, class GenerateFn, class CriticFn>
double generator_step(GenerateFn&& generate, CriticFn&& critic, optim::Optimizer<T>& opt_g,
                      const GanStepOptions& options) {
  EnableGradGuard enable_grad;
  const Tensor<T> fake = generate();
  LATENT_CHECK(fake.defined() && fake.requires_grad(),
               "generator_step: generate() must return a batch computed from the generator's parameters");
  const Tensor<T> loss = gan_generator_loss(options.objective, critic(fake));
  const double value = double(loss.item());
  detail::gan_apply_gradients(loss, opt_g, "generator_step");
  return value;
}

// ---- exponential moving average of weights ----

// avg <- beta avg + (1 - beta) p after each update(module), for every parameter; buffers
// (batch-norm statistics, spectral-norm vectors) are copied as they are. Sampling with the
// averaged generator smooths out the oscillation of adversarial training. beta = decay, or
// with warmup beta_t = min(decay, (1 + t) / (10 + t)) at the t-th update (t = 1, 2, ...),
// so that early averages forget the random initial weights quickly.
template <class T>
class ExponentialMovingAverage {
 public:
  ExponentialMovingAverage(const nn::Module<T>& module, double decay = 0.999, bool warmup = false)
      : decay_(decay), warmup_(warmup) {
    LATENT_CHECK(decay >= 0 && decay <= 1, "ExponentialMovingAverage: decay must be in [0, 1], got ", decay);
    NoGradGuard no_grad;
    for (const auto& p : module.named_parameters())
      if (p.second.defined()) params_.emplace_back(p.first, p.second.detach().clone());
    for (const auto& b : module.named_buffers())
      if (b.second.defined()) buffers_.emplace_back(b.first, b.second.detach().clone());
  }

  double decay() const { return decay_; }
  std::int64_t num_updates() const { return updates_; }
  // The beta the next update will use.
  double next_beta() const {
    const double t = double(updates_ + 1);
    return warmup_ ? std::min(decay_, (1 + t) / (10 + t)) : decay_;
  }

  void update(const nn::Module<T>& module) {
    NoGradGuard no_grad;
    const double beta = next_beta();
    const T keep = T(beta), take = T(1 - beta);
    zip(params_, module.named_parameters(), "parameters",
        [&](Tensor<T> avg, const Tensor<T>& p) { avg.copy_(avg * keep + p.detach() * take); });
    zip(buffers_, module.named_buffers(), "buffers", [](Tensor<T> avg, const Tensor<T>& b) { avg.copy_(b); });
    ++updates_;
  }

  // Writes the averages into the module's own tensors (in place).
  void copy_to(nn::Module<T>& module) const {
    NoGradGuard no_grad;
    auto write = [](const Tensor<T>& avg, Tensor<T> own) { own.copy_(avg); };
    zip(params_, module.named_parameters(), "parameters", write);
    zip(buffers_, module.named_buffers(), "buffers", write);
  }

  // The averaged state under the module's keys (float tensors only), for saving.
  nn::StateDict<T> state_dict() const {
    nn::StateDict<T> sd;
    for (const auto& e : params_) sd.tensors[e.first] = e.second.clone();
    for (const auto& e : buffers_) sd.tensors[e.first] = e.second.clone();
    return sd;
  }

  // Swaps the averages into the module until the guard is destroyed, then puts the
  // module's own values back: { auto guard = ema.apply_to(g); draw(g); }
  class Applied {
   public:
    Applied(const ExponentialMovingAverage& ema, nn::Module<T>& module) : module_(&module) {
      for (const Tensor<T>& t : tensors()) saved_.push_back(t.detach().clone());
      ema.copy_to(module);
    }
    Applied(Applied&& other) noexcept : module_(other.module_), saved_(std::move(other.saved_)) {
      other.module_ = nullptr;
    }
    Applied(const Applied&) = delete;
    Applied& operator=(const Applied&) = delete;
    Applied& operator=(Applied&&) = delete;
    ~Applied() {
      if (!module_) return;
      NoGradGuard no_grad;
      std::vector<Tensor<T>> own = tensors();
      for (std::size_t i = 0; i < own.size() && i < saved_.size(); ++i) own[i].copy_(saved_[i]);
    }

   private:
    std::vector<Tensor<T>> tensors() const {
      std::vector<Tensor<T>> out = module_->parameters();
      for (const Tensor<T>& b : module_->buffers())
        if (b.defined()) out.push_back(b);
      return out;
    }
    nn::Module<T>* module_;
    std::vector<Tensor<T>> saved_;
  };
  Applied apply_to(nn::Module<T>& module) const { return Applied(*this, module); }

 private:
  // fn(average, module's tensor) over the defined tensors, matched by name and shape.
  template <class Mine, class Fn>
  static void zip(Mine& mine, const std::vector<std::pair<std::string, Tensor<T>>>& named, const char* what, Fn fn) {
    std::vector<std::pair<std::string, Tensor<T>>> theirs;
    for (const auto& e : named)
      if (e.second.defined()) theirs.push_back(e);
    LATENT_CHECK(mine.size() == theirs.size(), "ExponentialMovingAverage: the module has ", theirs.size(), " ",
                 what, ", the average was made with ", mine.size());
    for (std::size_t i = 0; i < mine.size(); ++i) {
      LATENT_CHECK(mine[i].first == theirs[i].first && mine[i].second.shape() == theirs[i].second.shape(),
                   "ExponentialMovingAverage: ", theirs[i].first, " ", theirs[i].second.shape(),
                   " does not match the averaged ", mine[i].first, " ", mine[i].second.shape());
      fn(mine[i].second, theirs[i].second);
    }
  }

  double decay_;
  bool warmup_;
  std::int64_t updates_ = 0;
  std::vector<std::pair<std::string, Tensor<T>>> params_, buffers_;
};

}  // namespace latent::models
