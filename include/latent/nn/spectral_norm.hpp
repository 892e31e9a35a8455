// Spectral normalisation (Miyato et al. 2018), as torch.nn.utils.spectral_norm: a layer's
// weight is divided by its largest singular value sigma, so the layer is 1-Lipschitz (a
// GAN critic kept smooth). sigma is estimated by power iteration on the weight viewed as
// a matrix W [h, w] (dim `dim` first, the rest flattened), carrying u [h] and v [w] over
// from call to call:
//
//   repeat n_power_iterations times:  v <- W^T u / |W^T u|,   u <- W v / |W v|
//   sigma = u^T W v,    weight = W / sigma
//
// (each norm clamped below by eps). The iteration runs in training mode only and without
// gradient; sigma = u^T W v is differentiated through W, as in PyTorch.
//
// The wrapper takes the layer's place and its state: "weight_orig" (the raw W, a
// parameter), "weight_u" and "weight_v" (buffers), and the layer's other parameters under
// their own names ("bias"), exactly as a PyTorch module after spectral_norm(), so state
// dicts cross over. Any layer with a public `weight` member works (Linear, Conv1d, Conv2d,
// ConvTranspose2d); dim defaults to 0, and to 1 for ConvTranspose2d, as PyTorch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "../core/random.hpp"
#include "../ops/binary_ops.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/matmul.hpp"
#include "../ops/reduce_ops.hpp"
#include "../ops/shape_ops.hpp"
#include "../tensor/creation.hpp"
#include "conv.hpp"
#include "module.hpp"

namespace latent::nn {

template <class T, class Layer>
class SpectralNorm : public Module<T> {
 public:
  Tensor<T> weight_orig, weight_u, weight_v;

  SpectralNorm(std::shared_ptr<Layer> layer, Generator& gen, int n_power_iterations = 1, double eps = 1e-12,
               std::optional<int> dim = std::nullopt)
      : layer_(std::move(layer)), iterations_(n_power_iterations), eps_(eps) {
    LATENT_CHECK(layer_ != nullptr, "SpectralNorm: got a null layer");
    LATENT_CHECK(n_power_iterations >= 0, "SpectralNorm: n_power_iterations must be >= 0, got ", n_power_iterations);
    LATENT_CHECK(eps > 0, "SpectralNorm: eps must be positive, got ", eps);
    const Tensor<T>& w = layer_->weight;
    LATENT_CHECK(w.defined() && w.dim() >= 1, "SpectralNorm: the layer has no weight to normalise");
    dim_ = wrap_dim(dim ? *dim : (std::is_same<Layer, ConvTranspose2d<T>>::value ? 1 : 0), w.dim(), "SpectralNorm");
    // The layer's state, taken over under the same names (weight renamed weight_orig, last).
    for (const auto& p : layer_->named_parameters(false))
      if (p.first != "weight") this->register_parameter(p.first, p.second, p.second.requires_grad());
    weight_orig = this->register_parameter("weight_orig", w, w.requires_grad());
    for (const auto& b : layer_->named_buffers(false)) this->register_buffer(b.first, b.second);
    for (const auto& c : layer_->named_children()) this->register_module(c.first, c.second);
    const Shape m = matrix_shape();
    weight_u = this->register_buffer("weight_u", normalized(randn<T>({m[0]}, gen)));
    weight_v = this->register_buffer("weight_v", normalized(randn<T>({m[1]}, gen)));
  }
  std::string name() const override { return "SpectralNorm(" + layer_->name() + ")"; }
  const std::shared_ptr<Layer>& layer() const { return layer_; }

  void train(bool on = true) override {
    Module<T>::train(on);
    layer_->train(on);
  }

  // W / sigma; in training mode, first refines u and v by power iteration.
  Tensor<T> normalized_weight() {
    const Shape m = matrix_shape();
    if (this->is_training() && iterations_ > 0) {
      NoGradGuard no_grad;
      const Tensor<T> w = as_matrix(weight_orig.detach(), m);
      for (int i = 0; i < iterations_; ++i) {
        weight_v.copy_(normalized(matmul(w.t(), weight_u)));
        weight_u.copy_(normalized(matmul(w, weight_v)));
      }
    }
    // u and v are constants here (cloned, as PyTorch, so later updates do not alias them).
    const Tensor<T> u = weight_u.clone(), v = weight_v.clone();
    const Tensor<T> sigma = (u * matmul(as_matrix(weight_orig, m), v)).sum();
    return weight_orig / sigma;
  }

  // The layer's forward with its weight replaced by W / sigma.
  Tensor<T> forward(const Tensor<T>& x) override {
    struct Swap {  // puts the raw weight back afterwards, also if forward fails
      Layer& layer;
      Tensor<T> saved;
      ~Swap() { layer.weight = saved; }
    } swap{*layer_, layer_->weight};
    layer_->weight = normalized_weight();
    return layer_->forward(x);
  }

 private:
  Shape matrix_shape() const {
    const Shape& s = weight_orig.shape();
    return Shape{s[dim_], s.numel() / std::max<std::int64_t>(s[dim_], 1)};
  }
  // The weight as [h, w]: dim `dim_` first, the others flattened in order.
  Tensor<T> as_matrix(const Tensor<T>& w, const Shape& m) const {
    if (dim_ == 0) return w.reshape(m);
    Shape order{dim_};
    for (int d = 0; d < w.dim(); ++d)
      if (d != dim_) order.push_back(d);
    return w.permute(order).reshape(m);
  }
  Tensor<T> normalized(const Tensor<T>& x) const {
    const double norm = std::sqrt(double(x.square().sum().item()));
    return x / static_cast<T>(std::max(norm, eps_));
  }

  std::shared_ptr<Layer> layer_;
  int iterations_;
  double eps_;
  int dim_ = 0;
};

// spectral_norm(layer, gen): the layer wrapped, e.g.
//   auto conv = spectral_norm(std::make_shared<Conv2d<float>>(3, 64, 4, gen, 2, 1), gen);
template <template <class> class Layer, class T>
std::shared_ptr<SpectralNorm<T, Layer<T>>> spectral_norm(std::shared_ptr<Layer<T>> layer, Generator& gen,
                                                         int n_power_iterations = 1, double eps = 1e-12,
                                                         std::optional<int> dim = std::nullopt) {
  return std::make_shared<SpectralNorm<T, Layer<T>>>(std::move(layer), gen, n_power_iterations, eps, dim);
}

}  // namespace latent::nn
