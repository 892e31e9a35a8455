// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, as
// torch.optim.SGD:
//   g <- g + wd p
//   b <- g (first step), else b <- mu b + (1 - dampening) g
//   g <- g + mu b (Nesterov), else g <- b
//   p <- p - lr g
#pragma once

#include "optimizer.hpp"

namespace latent::optim {

struct SGDOptions {
  LATENT_OPTION(double, lr, 1e-3)
  LATENT_OPTION(double, momentum, 0)
  LATENT_OPTION(double, dampening, 0)
  LATENT_OPTION(double, weight_decay, 0)
  LATENT_OPTION(bool, nesterov, false)
  LATENT_OPTION(bool, maximize, false)
};

template <class T>
class SGD : public OptimizerBase<T, SGDOptions> {
 public:
  using Base = OptimizerBase<T, SGDOptions>;
  SGD(std::vector<Tensor<T>> params, const SGDOptions& options = {}) : Base(std::move(params), check(options)) {}
  explicit SGD(std::vector<typename Base::Group> groups) : Base(std::move(groups)) {}

 protected:
  void update(Tensor<T>& p, const Tensor<T>& grad, const SGDOptions& o, typename Base::State& state,
              std::int64_t step) override {
    T* w = p.data();
    const T* g = grad.data();
    const T lr = T(o.lr()), wd = T(o.weight_decay()), mu = T(o.momentum()), damp = T(o.dampening());
    const T sign = o.maximize() ? T(-1) : T(1);
    T* b = mu != T(0) ? Base::buffer(state, "momentum_buffer", p).data() : nullptr;
    const bool first = step == 1, nesterov = o.nesterov();
    Base::for_elements(p.numel(), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        T d = sign * g[i];
        if (wd != T(0)) d += wd * w[i];
        if (b) {
          b[i] = first ? d : mu * b[i] + (T(1) - damp) * d;
          d = nesterov ? d + mu * b[i] : b[i];
        }
        w[i] -= lr * d;
      }
    });
  }

 private:
  static const SGDOptions& check(const SGDOptions& o) {
    LATENT_CHECK(o.lr() >= 0, "SGD: invalid learning rate ", o.lr());
    LATENT_CHECK(o.momentum() >= 0, "SGD: invalid momentum ", o.momentum());
    LATENT_CHECK(o.weight_decay() >= 0, "SGD: invalid weight_decay ", o.weight_decay());
    LATENT_CHECK(!o.nesterov() || (o.momentum() > 0 && o.dampening() == 0),
                 "SGD: Nesterov momentum requires a momentum and zero dampening");
    return o;
  }
};

}  // namespace latent::optim
