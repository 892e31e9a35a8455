// RMSprop, as torch.optim.RMSprop:
//   g <- g + wd p
//   s <- a s + (1 - a) g^2
//   centred: c <- a c + (1 - a) g, denominator sqrt(s - c^2) + eps; else sqrt(s) + eps
//   momentum: b <- mu b + g / denominator, p <- p - lr b;  else p <- p - lr g / denominator
#pragma once

#include <cmath>

#include "optimizer.hpp"

namespace latent::optim {

struct RMSpropOptions {
  LATENT_OPTION(double, lr, 1e-2)
  LATENT_OPTION(double, alpha, 0.99)
  LATENT_OPTION(double, eps, 1e-8)
  LATENT_OPTION(double, weight_decay, 0)
  LATENT_OPTION(double, momentum, 0)
  LATENT_OPTION(bool, centered, false)
};

template <class T>
class RMSprop : public OptimizerBase<T, RMSpropOptions> {
 public:
  using Base = OptimizerBase<T, RMSpropOptions>;
  RMSprop(std::vector<Tensor<T>> params, const RMSpropOptions& options = {}) : Base(std::move(params), options) {
    LATENT_CHECK(options.lr() >= 0, "RMSprop: invalid learning rate ", options.lr());
    LATENT_CHECK(options.alpha() >= 0, "RMSprop: invalid alpha ", options.alpha());
    LATENT_CHECK(options.eps() >= 0, "RMSprop: invalid eps ", options.eps());
  }
  explicit RMSprop(std::vector<typename Base::Group> groups) : Base(std::move(groups)) {}

 protected:
  void update(Tensor<T>& p, const Tensor<T>& grad, const RMSpropOptions& o, typename Base::State& state,
              std::int64_t) override {
    T* w = p.data();
    const T* g = grad.data();
    T* s = Base::buffer(state, "square_avg", p).data();
    T* c = o.centered() ? Base::buffer(state, "grad_avg", p).data() : nullptr;
    T* b = o.momentum() > 0 ? Base::buffer(state, "momentum_buffer", p).data() : nullptr;
    const T lr = T(o.lr()), a = T(o.alpha()), eps = T(o.eps()), wd = T(o.weight_decay()), mu = T(o.momentum());
    Base::for_elements(p.numel(), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        T d = g[i];
        if (wd != T(0)) d += wd * w[i];
        s[i] = s[i] * a + (T(1) - a) * d * d;
        T denom;
        if (c) {
          c[i] = c[i] * a + (T(1) - a) * d;
          denom = std::sqrt(s[i] - c[i] * c[i]) + eps;
        } else {
          denom = std::sqrt(s[i]) + eps;
        }
        if (b) {
          b[i] = b[i] * mu + d / denom;
          w[i] -= lr * b[i];
        } else {
          w[i] -= lr * (d / denom);
        }
      }
    });
  }
};

}  // namespace latent::optim
