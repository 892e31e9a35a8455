// DCGAN (Radford, Metz & Chintala, 2016): a generator built from transposed convolutions
// with batch norm and ReLU, a discriminator from strided convolutions with leaky ReLU,
// no pooling, no fully connected hidden layers. Sized for 28x28 images (the `dcgan_step`
// workload of anchors/WORKLOADS.md with the default config; image_size must be a
// multiple of 4, s = image_size / 4):
//
//   G: z [N, n_z] -> fc Linear(n_z, g*s*s) -> bn0 BatchNorm1d -> ReLU -> reshape [g, s, s]
//      -> up1 ConvTranspose2d(g, g/2, 4, 2, 1) -> bn1 BatchNorm2d -> ReLU       (s -> 2s)
//      -> up2 ConvTranspose2d(g/2, C, 4, 2, 1) -> tanh                          (2s -> 4s)
//   D: x [N, C, 4s, 4s] -> conv1 Conv2d(C, d, 4, 2, 1) -> LeakyReLU(0.2)       (4s -> 2s)
//      -> conv2 Conv2d(d, 2d, 4, 2, 1) -> bn2 BatchNorm2d -> LeakyReLU(0.2)    (2s -> s)
//      -> flatten -> fc Linear(2d*s*s, 1)                                      -> one logit
//
// A transposed convolution with kernel 4, stride 2, padding 1 maps size i to
// (i - 1) * 2 - 2 + 4 = 2i; the convolution with the same numbers maps i to i / 2.
// Defaults g = 128, d = 64, n_z = 100, C = 1: 778,305 generator and 138,817 discriminator
// parameters, with PyTorch's default initialisation and PyTorch's names (fc.weight,
// bn0.running_mean, up1.weight, ...), so state dicts cross over through safetensors.
//
// Class-conditional variant (classes > 0), one label per image:
//   G: a label embedding (label_embedding, [classes, embedding_dim]) is concatenated to z,
//      so fc takes n_z + embedding_dim inputs (as in the conditional GAN of Mirza &
//      Osindero, 2014, with a learned embedding in place of the one-hot code);
//   D: a second label embedding [classes, 4s * 4s] is reshaped into one extra image plane
//      and concatenated to x as an input channel, so conv1 takes C + 1 channels.
//
// dcgan_step is one training step of the workload: one discriminator update on the real
// batch and G(z) (fake scores on the detached fakes), then one generator update through
// the same fakes, with the GAN steps of models/gan.hpp (non-saturating by default).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../nn/conv.hpp"
#include "../nn/functional/activation.hpp"
#include "../nn/layers.hpp"
#include "../nn/linear.hpp"
#include "../nn/module.hpp"
#include "../ops/join_ops.hpp"
#include "../ops/shape_ops.hpp"
#include "../ops/unary_ops.hpp"
#include "../optim/optimizer.hpp"
#include "../tensor/creation.hpp"
#include "gan.hpp"

namespace latent::models {

struct DCGANConfig {
  std::int64_t n_z = 100;          // size of the noise z
  std::int64_t g_width = 128;      // G's channels at s x s (halved at 2s x 2s); even
  std::int64_t d_width = 64;       // D's channels at 2s x 2s (doubled at s x s)
  std::int64_t channels = 1;       // image channels C
  std::int64_t image_size = 28;    // height = width, a multiple of 4
  std::int64_t classes = 0;        // > 0: class-conditional
  std::int64_t embedding_dim = 0;  // G's label embedding size (0: classes)

  std::int64_t base() const { return image_size / 4; }
  std::int64_t label_dim() const { return classes == 0 ? 0 : (embedding_dim > 0 ? embedding_dim : classes); }
};

namespace detail {

inline void check_dcgan_config(const DCGANConfig& c, const char* who) {
  LATENT_CHECK(c.n_z > 0 && c.g_width >= 2 && c.g_width % 2 == 0 && c.d_width > 0 && c.channels > 0, who,
               ": needs n_z > 0, an even g_width >= 2, d_width > 0 and channels > 0, got n_z ", c.n_z, ", g_width ",
               c.g_width, ", d_width ", c.d_width, ", channels ", c.channels);
  LATENT_CHECK(c.image_size >= 4 && c.image_size % 4 == 0, who, ": image_size must be a positive multiple of 4, got ",
               c.image_size);
  LATENT_CHECK(c.classes >= 0 && c.embedding_dim >= 0, who, ": classes and embedding_dim must be >= 0, got ",
               c.classes, " and ", c.embedding_dim);
}

// Checks that labels hold one class index per row of a batch of n (or none when unconditional).
inline void check_dcgan_labels(const DCGANConfig& c, const Tensor<std::int64_t>& labels, std::int64_t n,
                               const char* who) {
  if (c.classes == 0) {
    LATENT_CHECK(!labels.defined(), who, ": got labels, but the model is not conditional (classes = 0)");
    return;
  }
  LATENT_CHECK(labels.defined() && labels.dim() == 1 && labels.shape()[0] == n, who,
               ": a conditional model needs one label per image, got labels of shape ", labels.shape(),
               " for a batch of ", n);
}

}  // namespace detail

// G: z [N, n_z] (and labels [N]) -> images [N, C, 4s, 4s] in (-1, 1).
template <class T>
class DCGANGenerator : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Linear<T>> fc;
  std::shared_ptr<nn::BatchNorm1d<T>> bn0;
  std::shared_ptr<nn::ConvTranspose2d<T>> up1, up2;
  std::shared_ptr<nn::BatchNorm2d<T>> bn1;
  std::shared_ptr<nn::Embedding<T>> label_embedding;  // conditional only

  DCGANGenerator(const DCGANConfig& config, Generator& gen) : config_(config) {
    detail::check_dcgan_config(config, "DCGANGenerator");
    const std::int64_t g = config.g_width, s = config.base();
    fc = this->register_module("fc", std::make_shared<nn::Linear<T>>(config.n_z + config.label_dim(), g * s * s, gen));
    bn0 = this->register_module("bn0", std::make_shared<nn::BatchNorm1d<T>>(g * s * s));
    up1 = this->register_module("up1", std::make_shared<nn::ConvTranspose2d<T>>(g, g / 2, 4, gen, 2, 1));
    bn1 = this->register_module("bn1", std::make_shared<nn::BatchNorm2d<T>>(g / 2));
    up2 = this->register_module("up2", std::make_shared<nn::ConvTranspose2d<T>>(g / 2, config.channels, 4, gen, 2, 1));
    if (config.classes > 0)
      label_embedding = this->register_module(
          "label_embedding", std::make_shared<nn::Embedding<T>>(config.classes, config.label_dim(), gen));
  }
  std::string name() const override { return "DCGANGenerator"; }
  const DCGANConfig& config() const { return config_; }

  Tensor<T> forward(const Tensor<T>& z) override { return forward(z, {}); }
  Tensor<T> forward(const Tensor<T>& z, const Tensor<std::int64_t>& labels) {
    LATENT_CHECK(z.dim() == 2 && z.shape()[1] == config_.n_z, "DCGANGenerator: expects noise [N, ", config_.n_z,
                 "], got shape ", z.shape());
    detail::check_dcgan_labels(config_, labels, z.shape()[0], "DCGANGenerator");
    // (Each part is made before the list that joins them: g++ 12 mishandles an exception
    // thrown while an initializer list is being built, bug 66139.)
    Tensor<T> input = z;
    if (config_.classes > 0) {
      const Tensor<T> embedded = label_embedding->forward(labels);
      input = cat<T>({z, embedded}, 1);
    }
    const std::int64_t s = config_.base();
    Tensor<T> h = relu(bn0->forward(fc->forward(input))).reshape({z.shape()[0], config_.g_width, s, s});
    h = relu(bn1->forward(up1->forward(h)));
    return tanh(up2->forward(h));
  }
  // n images from fresh noise z ~ N(0, I) (labels [n] when conditional).
  Tensor<T> sample(std::int64_t n, Generator& gen, const Tensor<std::int64_t>& labels = {}) {
    LATENT_CHECK(n >= 1, "DCGANGenerator::sample: n must be >= 1, got ", n);
    return forward(randn<T>({n, config_.n_z}, gen), labels);
  }

 private:
  DCGANConfig config_;
};

// D: images [N, C, 4s, 4s] (and labels [N]) -> logits [N, 1] (real vs fake).
template <class T>
class DCGANDiscriminator : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Conv2d<T>> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d<T>> bn2;
  std::shared_ptr<nn::Linear<T>> fc;
  std::shared_ptr<nn::Embedding<T>> label_embedding;  // conditional only: one image plane per class

  DCGANDiscriminator(const DCGANConfig& config, Generator& gen) : config_(config) {
    detail::check_dcgan_config(config, "DCGANDiscriminator");
    const std::int64_t d = config.d_width, s = config.base(), extra = config.classes > 0 ? 1 : 0;
    conv1 = this->register_module("conv1", std::make_shared<nn::Conv2d<T>>(config.channels + extra, d, 4, gen, 2, 1));
    conv2 = this->register_module("conv2", std::make_shared<nn::Conv2d<T>>(d, 2 * d, 4, gen, 2, 1));
    bn2 = this->register_module("bn2", std::make_shared<nn::BatchNorm2d<T>>(2 * d));
    fc = this->register_module("fc", std::make_shared<nn::Linear<T>>(2 * d * s * s, 1, gen));
    if (config.classes > 0)
      label_embedding = this->register_module(
          "label_embedding",
          std::make_shared<nn::Embedding<T>>(config.classes, config.image_size * config.image_size, gen));
  }
  std::string name() const override { return "DCGANDiscriminator"; }
  const DCGANConfig& config() const { return config_; }

  Tensor<T> forward(const Tensor<T>& x) override { return forward(x, {}); }
  Tensor<T> forward(const Tensor<T>& x, const Tensor<std::int64_t>& labels) {
    const std::int64_t size = config_.image_size;
    LATENT_CHECK(x.dim() == 4 && x.shape()[1] == config_.channels && x.shape()[2] == size && x.shape()[3] == size,
                 "DCGANDiscriminator: expects images [N, ", config_.channels, ", ", size, ", ", size, "], got shape ",
                 x.shape());
    const std::int64_t n = x.shape()[0];
    detail::check_dcgan_labels(config_, labels, n, "DCGANDiscriminator");
    Tensor<T> input = x;
    if (config_.classes > 0) {  // the parts first, then the list (see the generator)
      const Tensor<T> planes = label_embedding->forward(labels).reshape({n, 1, size, size});
      input = cat<T>({x, planes}, 1);
    }
    namespace F = nn::functional;
    Tensor<T> h = F::leaky_relu(conv1->forward(input), T(0.2));
    h = F::leaky_relu(bn2->forward(conv2->forward(h)), T(0.2));
    return fc->forward(h.flatten(1));
  }

 private:
  DCGANConfig config_;
};

struct DCGANStepStats {
  double d_loss = 0;      // the discriminator's loss before its update
  double g_loss = 0;      // the generator's loss (against the updated discriminator)
  double real_score = 0;  // mean logit on the real batch
  double fake_score = 0;  // mean logit on the fakes (before the discriminator's update)
};

// One DCGAN training step on a real batch [N, C, H, W] with noise z [N, n_z] (and labels
// [N], used for the real and the fake images alike, when conditional): one update of D
// through opt_d, then one of G through opt_g. Both nets stay in training mode (batch
// statistics), as in PyTorch's DCGAN example. The critic holds batch norm, so WGAN-GP's
// penalty is refused.
template <class T>
DCGANStepStats dcgan_step(DCGANGenerator<T>& generator, DCGANDiscriminator<T>& discriminator,
                          optim::Optimizer<T>& opt_g, optim::Optimizer<T>& opt_d, const Tensor<T>& real,
                          const Tensor<T>& z, const Tensor<std::int64_t>& labels = {},
                          GanObjective objective = GanObjective::non_saturating) {
  LATENT_CHECK(objective != GanObjective::wgan_gp,
               "dcgan_step: the DCGAN discriminator holds batch norm, which breaks WGAN-GP's per-sample penalty");
  LATENT_CHECK(real.dim() == 4 && z.dim() == 2 && real.shape()[0] == z.shape()[0], "dcgan_step: real ",
               real.shape(), " and noise ", z.shape(), " must hold the same number of samples");
  const Tensor<T> fake = generator.forward(z, labels);
  auto critic = [&](const Tensor<T>& x) { return discriminator.forward(x, labels); };
  GanStepOptions options;
  options.objective = objective;
  Generator unused(0);  // the BCE and hinge games draw nothing
  const GanDiscriminatorStats d = discriminator_step(critic, opt_d, real, fake, options, unused);
  DCGANStepStats stats;
  stats.d_loss = d.loss;
  stats.real_score = d.real_score;
  stats.fake_score = d.fake_score;
  stats.g_loss = generator_step([&]() { return fake; }, critic, opt_g, options);
  return stats;
}

}  // namespace latent::models
