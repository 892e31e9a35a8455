// The MLP denoiser for low-dimensional data (2-D points), as the ddpm_mlp_step workload
// (anchors/torch_workloads.py): it reads a noisy point x_t and its timestep t and predicts
// the noise eps that made it,
//   h = [x_t, emb(t)]                          emb(t): the sinusoidal timestep embedding (32)
//   h = silu(fc1 h), h = silu(fc2 h), h = silu(fc3 h)               2 + 32 -> 128 -> 128 -> 128
//   eps_theta(x_t, t) = out h                                      128 -> 2
// emb(t) = [sin(t w_0) .. sin(t w_{h-1}), cos(t w_0) .. cos(t w_{h-1})], w_i = 10000^(-i/(h-1)),
// h = t_dim / 2 (nn::timestep_embedding, rounding as the workload's float32 code).
//
// Module names are the workload's (fc1, fc2, fc3, out), with PyTorch's default Linear
// initialisation, so the default config is the workload's network (37,762 parameters) and
// state dicts cross to and from PyTorch. classes > 0 adds class_emb, an Embedding
// [classes + 1, t_dim] (PyTorch's N(0, 1) init) added to emb(t); its last row is the null
// class of classifier-free guidance, as in models::UNet.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../nn/functional/activation.hpp"
#include "../nn/layers.hpp"
#include "../nn/linear.hpp"
#include "../nn/positional.hpp"
#include "../ops/join_ops.hpp"

namespace latent::models {

struct MLPDenoiserConfig {
  std::int64_t data_dim = 2;   // size of a data point
  std::int64_t t_dim = 32;     // size of the sinusoidal timestep embedding
  std::int64_t hidden = 128;   // width of the three hidden layers
  std::int64_t classes = 0;    // > 0: class-conditional, labels 0..classes-1, null = classes
};

template <class T>
class MLPDenoiser : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Linear<T>> fc1, fc2, fc3, out;
  std::shared_ptr<nn::Embedding<T>> class_emb;  // null unless config.classes > 0

  explicit MLPDenoiser(Generator& gen) : MLPDenoiser(MLPDenoiserConfig{}, gen) {}
  MLPDenoiser(const MLPDenoiserConfig& config, Generator& gen) : config_(config) {
    LATENT_CHECK(config.data_dim > 0 && config.hidden > 0 && config.classes >= 0,
                 "MLPDenoiser: data_dim and hidden must be positive and classes >= 0, got data_dim = ",
                 config.data_dim, ", hidden = ", config.hidden, ", classes = ", config.classes);
    LATENT_CHECK(config.t_dim >= 4 && config.t_dim % 2 == 0, "MLPDenoiser: t_dim must be even and at least 4, got ",
                 config.t_dim);
    fc1 = this->register_module("fc1", std::make_shared<nn::Linear<T>>(config.data_dim + config.t_dim, config.hidden, gen));
    fc2 = this->register_module("fc2", std::make_shared<nn::Linear<T>>(config.hidden, config.hidden, gen));
    fc3 = this->register_module("fc3", std::make_shared<nn::Linear<T>>(config.hidden, config.hidden, gen));
    out = this->register_module("out", std::make_shared<nn::Linear<T>>(config.hidden, config.data_dim, gen));
    if (config.classes > 0)
      class_emb = this->register_module(
          "class_emb", std::make_shared<nn::Embedding<T>>(config.classes + 1, config.t_dim, gen));
  }
  std::string name() const override { return "MLPDenoiser"; }
  const MLPDenoiserConfig& config() const { return config_; }
  // The label that means "no class" (classifier-free guidance's unconditional model).
  std::int64_t null_class() const { return config_.classes; }

  // eps_theta(x_t, t, y): points x [B, data_dim], timesteps t [B], labels y [B] (conditional
  // networks only, null_class() for none) -> the predicted noise [B, data_dim].
  Tensor<T> forward(const Tensor<T>& x, const Tensor<std::int64_t>& t, const Tensor<std::int64_t>& labels = {}) const {
    namespace F = nn::functional;
    LATENT_CHECK(x.dim() == 2 && x.size(1) == config_.data_dim, "MLPDenoiser: expects points [B, ",
                 config_.data_dim, "], got shape ", x.shape());
    LATENT_CHECK(t.dim() == 1 && t.size(0) == x.size(0), "MLPDenoiser: expects one timestep per point, got timesteps ",
                 t.shape(), " for points ", x.shape());
    Tensor<T> emb = time_embedding(t);
    if (class_emb) {
      LATENT_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == x.size(0),
                   "MLPDenoiser: a class-conditional denoiser needs labels [", x.size(0), "] (", null_class(),
                   " for none), got ", labels.defined() ? labels.shape() : Shape{});
      emb = emb + class_emb->forward(labels);
    } else {
      LATENT_CHECK(!labels.defined(), "MLPDenoiser: labels given to an unconditional denoiser (config.classes = 0)");
    }
    Tensor<T> h = F::silu(fc1->forward(cat<T>({x, emb}, 1)));
    h = F::silu(fc2->forward(h));
    h = F::silu(fc3->forward(h));
    return out->forward(h);
  }
  using nn::Module<T>::forward;

 private:
  // emb(t) [B, t_dim]; a batch at one timestep (as while sampling) computes one row and
  // repeats it, the same numbers for less work.
  Tensor<T> time_embedding(const Tensor<std::int64_t>& t) const {
    const std::vector<std::int64_t> ts = t.to_vector();
    const bool one_time = !ts.empty() && std::all_of(ts.begin(), ts.end(), [&](std::int64_t v) { return v == ts[0]; });
    if (!one_time) return nn::timestep_embedding<T>(t, config_.t_dim);
    const Tensor<T> row = nn::timestep_embedding<T>(t.narrow(0, 0, 1), config_.t_dim);
    return row.expand({t.size(0), config_.t_dim});
  }
  MLPDenoiserConfig config_;
};

}  // namespace latent::models
