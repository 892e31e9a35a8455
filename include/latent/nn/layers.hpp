// The small layers, as torch.nn: pooling, upsampling, normalisation, embedding, dropout
// and the activations as modules. Each forward is one call of nn::functional.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "../ops/unary_ops.hpp"
#include "functional/activation.hpp"
#include "functional/dropout.hpp"
#include "functional/embedding.hpp"
#include "functional/normalization.hpp"
#include "functional/pooling.hpp"
#include "init.hpp"
#include "module.hpp"

namespace latent::nn {

// ---- pooling and resampling ----

template <class T>
class MaxPool2d : public Module<T> {
 public:
  explicit MaxPool2d(functional::IntPair kernel_size, functional::OptionalIntPair stride = std::nullopt,
                     functional::IntPair padding = 0)
      : kernel_(kernel_size), stride_(stride), padding_(padding) {}
  std::string name() const override { return "MaxPool2d"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::max_pool2d(x, kernel_, stride_, padding_); }

 private:
  functional::IntPair kernel_;
  functional::OptionalIntPair stride_;
  functional::IntPair padding_;
};

template <class T>
class AvgPool2d : public Module<T> {
 public:
  explicit AvgPool2d(functional::IntPair kernel_size, functional::OptionalIntPair stride = std::nullopt,
                     functional::IntPair padding = 0)
      : kernel_(kernel_size), stride_(stride), padding_(padding) {}
  std::string name() const override { return "AvgPool2d"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::avg_pool2d(x, kernel_, stride_, padding_); }

 private:
  functional::IntPair kernel_;
  functional::OptionalIntPair stride_;
  functional::IntPair padding_;
};

// Nearest-neighbour upsampling by an integer factor.
template <class T>
class Upsample : public Module<T> {
 public:
  explicit Upsample(functional::IntPair scale_factor) : scale_(scale_factor) {}
  std::string name() const override { return "Upsample"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::upsample_nearest2d(x, scale_); }

 private:
  functional::IntPair scale_;
};

// ---- normalisation ----

// BatchNorm over [N, C] / [N, C, L] (BatchNorm1d) or [N, C, H, W] (BatchNorm2d): batch
// statistics in training (and running averages updated with `momentum`), the running
// averages in eval mode. State as PyTorch's: weight, bias, running_mean, running_var,
// num_batches_tracked.
template <class T>
class BatchNorm : public Module<T> {
 public:
  Tensor<T> weight, bias, running_mean, running_var;
  Tensor<std::int64_t> num_batches_tracked;

  BatchNorm(std::int64_t num_features, int input_rank_low, int input_rank_high, const char* layer_name,
            double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : eps_(eps), momentum_(momentum), low_(input_rank_low), high_(input_rank_high), name_(layer_name) {
    LATENT_CHECK(num_features > 0, layer_name, ": num_features must be positive, got ", num_features);
    if (affine) {
      weight = this->register_parameter("weight", ones<T>({num_features}));
      bias = this->register_parameter("bias", zeros<T>({num_features}));
    }
    running_mean = this->register_buffer("running_mean", zeros<T>({num_features}));
    running_var = this->register_buffer("running_var", ones<T>({num_features}));
    num_batches_tracked = this->register_buffer("num_batches_tracked", zeros<std::int64_t>({}));
  }
  std::string name() const override { return name_; }
  Tensor<T> forward(const Tensor<T>& x) override {
    LATENT_CHECK(x.dim() >= low_ && x.dim() <= high_, name_, ": expects an input of rank ", low_,
                 low_ == high_ ? "" : " to " + std::to_string(high_), ", got shape ", x.shape());
    if (this->is_training()) {
      NoGradGuard no_grad;
      num_batches_tracked.add_(std::int64_t(1));
    }
    return functional::batch_norm(x, running_mean, running_var, weight, bias, this->is_training(), momentum_, eps_);
  }

 private:
  double eps_, momentum_;
  int low_, high_;
  std::string name_;
};

template <class T>
struct BatchNorm1d : BatchNorm<T> {
  explicit BatchNorm1d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm<T>(num_features, 2, 3, "BatchNorm1d", eps, momentum, affine) {}
};

template <class T>
struct BatchNorm2d : BatchNorm<T> {
  explicit BatchNorm2d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm<T>(num_features, 4, 4, "BatchNorm2d", eps, momentum, affine) {}
};

template <class T>
class LayerNorm : public Module<T> {
 public:
  Tensor<T> weight, bias;
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool with_bias = true)
      : shape_(normalized_shape), eps_(eps) {
    if (elementwise_affine) {
      weight = this->register_parameter("weight", ones<T>(normalized_shape));
      if (with_bias) bias = this->register_parameter("bias", zeros<T>(normalized_shape));
    }
  }
  explicit LayerNorm(std::int64_t size, double eps = 1e-5) : LayerNorm(Shape{size}, eps) {}
  std::string name() const override { return "LayerNorm"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::layer_norm(x, shape_, weight, bias, eps_); }

 private:
  Shape shape_;
  double eps_;
};

template <class T>
class GroupNorm : public Module<T> {
 public:
  Tensor<T> weight, bias;
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps = 1e-5, bool affine = true)
      : groups_(num_groups), eps_(eps) {
    LATENT_CHECK(num_groups > 0 && num_channels % num_groups == 0, "GroupNorm: num_channels ", num_channels,
                 " must be divisible by num_groups ", num_groups);
    if (affine) {
      weight = this->register_parameter("weight", ones<T>({num_channels}));
      bias = this->register_parameter("bias", zeros<T>({num_channels}));
    }
  }
  std::string name() const override { return "GroupNorm"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::group_norm(x, groups_, weight, bias, eps_); }

 private:
  std::int64_t groups_;
  double eps_;
};

template <class T>
class RMSNorm : public Module<T> {
 public:
  Tensor<T> weight;
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true)
      : shape_(normalized_shape), eps_(eps) {
    if (elementwise_affine) weight = this->register_parameter("weight", ones<T>(normalized_shape));
  }
  explicit RMSNorm(std::int64_t size, std::optional<double> eps = std::nullopt) : RMSNorm(Shape{size}, eps) {}
  std::string name() const override { return "RMSNorm"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::rms_norm(x, shape_, weight, eps_); }

 private:
  Shape shape_;
  std::optional<double> eps_;
};

// ---- embedding and dropout ----

// A lookup table [num_embeddings, embedding_dim], initialised N(0, 1) as PyTorch.
template <class T>
class Embedding : public Module<T> {
 public:
  Tensor<T> weight;
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, Generator& gen) {
    LATENT_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: sizes must be positive, got ", num_embeddings,
                 " x ", embedding_dim);
    weight = randn<T>({num_embeddings, embedding_dim}, gen);
    weight = this->register_parameter("weight", weight);
  }
  std::string name() const override { return "Embedding"; }
  Tensor<T> forward(const Tensor<std::int64_t>& indices) const { return functional::embedding(indices, weight); }
  using Module<T>::forward;
};

// Zeroes each element with probability p in training (scaling the rest by 1 / (1 - p));
// the identity in eval mode. Draws from the Generator it was given, which must outlive it.
template <class T>
class Dropout : public Module<T> {
 public:
  Dropout(double p, Generator& gen) : p_(p), gen_(&gen) {
    LATENT_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p);
  }
  std::string name() const override { return "Dropout"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::dropout(x, p_, this->is_training(), *gen_); }

 private:
  double p_;
  Generator* gen_;
};

// ---- activations ----

#define LATENT_ACTIVATION_MODULE(Name, call)                        \
  template <class T>                                                \
  class Name : public Module<T> {                                   \
   public:                                                          \
    std::string name() const override { return #Name; }             \
    Tensor<T> forward(const Tensor<T>& x) override { return call; } \
  };
LATENT_ACTIVATION_MODULE(ReLU, relu(x))
LATENT_ACTIVATION_MODULE(Tanh, latent::tanh(x))
LATENT_ACTIVATION_MODULE(Sigmoid, sigmoid(x))
LATENT_ACTIVATION_MODULE(SiLU, functional::silu(x))
#undef LATENT_ACTIVATION_MODULE

template <class T>
class LeakyReLU : public Module<T> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : slope_(negative_slope) {}
  std::string name() const override { return "LeakyReLU"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::leaky_relu(x, T(slope_)); }

 private:
  double slope_;
};

template <class T>
class GELU : public Module<T> {
 public:
  explicit GELU(std::string approximate = "none") : approximate_(std::move(approximate)) {}
  std::string name() const override { return "GELU"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::gelu(x, approximate_); }

 private:
  std::string approximate_;
};

template <class T>
class ELU : public Module<T> {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(alpha) {}
  std::string name() const override { return "ELU"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::elu(x, T(alpha_)); }

 private:
  double alpha_;
};

template <class T>
class Softplus : public Module<T> {
 public:
  explicit Softplus(double beta = 1.0, double threshold = 20.0) : beta_(beta), threshold_(threshold) {}
  std::string name() const override { return "Softplus"; }
  Tensor<T> forward(const Tensor<T>& x) override { return functional::softplus(x, T(beta_), T(threshold_)); }

 private:
  double beta_, threshold_;
};

}  // namespace latent::nn
