// Adam and AdamW, as torch.optim.Adam / AdamW (with AMSGrad as an option):
//   g <- g + wd p                     (Adam's L2 penalty)   |  p <- p (1 - lr wd)   (AdamW)
//   m <- b1 m + (1 - b1) g
//   v <- b2 v + (1 - b2) g^2          (AMSGrad: vmax <- max(vmax, v), used in place of v)
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "../kernels/adam.hpp"
#include "optimizer.hpp"

namespace latent::optim {

struct AdamOptions {
  LATENT_OPTION(double, lr, 1e-3)
  LATENT_OPTION(double, beta1, 0.9)
  LATENT_OPTION(double, beta2, 0.999)
  LATENT_OPTION(double, eps, 1e-8)
  LATENT_OPTION(double, weight_decay, 0)
  LATENT_OPTION(bool, amsgrad, false)
  LATENT_OPTION(bool, maximize, false)
 public:
  AdamOptions& betas(double b1, double b2) {
    beta1_ = b1;
    beta2_ = b2;
    return *this;
  }
};

// AdamW's options: the same, with PyTorch's AdamW default weight decay of 0.01.
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay(0.01); }
};

namespace detail {
template <class T>
void adam_update(Tensor<T>& p, const Tensor<T>& grad, const AdamOptions& o,
                 std::map<std::string, Tensor<T>>& state, std::int64_t step, bool decoupled,
                 Tensor<T>& (*buffer)(std::map<std::string, Tensor<T>>&, const std::string&, const Tensor<T>&)) {
  T* w = p.data();
  const T* g = grad.data();
  T* m = buffer(state, "exp_avg", p).data();
  T* v = buffer(state, "exp_avg_sq", p).data();
  T* vmax = o.amsgrad() ? buffer(state, "max_exp_avg_sq", p).data() : nullptr;
  // Bias corrections in double, as PyTorch computes them in Python floats.
  kernels::AdamStep<T> st;
  st.lr = T(o.lr());
  st.beta1 = T(o.beta1());
  st.beta2 = T(o.beta2());
  st.eps = T(o.eps());
  st.weight_decay = T(o.weight_decay());
  st.sign = o.maximize() ? T(-1) : T(1);
  st.step_size = T(o.lr() / (1.0 - std::pow(o.beta1(), double(step))));
  st.bias2_sqrt = T(std::sqrt(1.0 - std::pow(o.beta2(), double(step))));
  st.decoupled = decoupled;
  parallel_for(0, p.numel(), 65536, [&](std::int64_t begin, std::int64_t end) {
    kernels::adam(w, g, m, v, vmax, begin, end, st);
  });
}

inline void check_adam(const AdamOptions& o, const char* name) {
  LATENT_CHECK(o.lr() >= 0, name, ": invalid learning rate ", o.lr());
  LATENT_CHECK(o.eps() >= 0, name, ": invalid eps ", o.eps());
  LATENT_CHECK(o.beta1() >= 0 && o.beta1() < 1, name, ": invalid beta1 ", o.beta1());
  LATENT_CHECK(o.beta2() >= 0 && o.beta2() < 1, name, ": invalid beta2 ", o.beta2());
  LATENT_CHECK(o.weight_decay() >= 0, name, ": invalid weight_decay ", o.weight_decay());
}
}  // namespace detail

template <class T>
class Adam : public OptimizerBase<T, AdamOptions> {
 public:
  using Base = OptimizerBase<T, AdamOptions>;
  Adam(std::vector<Tensor<T>> params, const AdamOptions& options = {}) : Base(std::move(params), options) {
    detail::check_adam(options, "Adam");
  }
  explicit Adam(std::vector<typename Base::Group> groups) : Base(std::move(groups)) {}

 protected:
  void update(Tensor<T>& p, const Tensor<T>& grad, const AdamOptions& o, typename Base::State& state,
              std::int64_t step) override {
    detail::adam_update(p, grad, o, state, step, false, &Base::buffer);
  }
};

template <class T>
class AdamW : public OptimizerBase<T, AdamOptions> {
 public:
  using Base = OptimizerBase<T, AdamOptions>;
  AdamW(std::vector<Tensor<T>> params, const AdamOptions& options = AdamWOptions())
      : Base(std::move(params), options) {
    detail::check_adam(options, "AdamW");
  }
  explicit AdamW(std::vector<typename Base::Group> groups) : Base(std::move(groups)) {}

 protected:
  void update(Tensor<T>& p, const Tensor<T>& grad, const AdamOptions& o, typename Base::State& state,
              std::int64_t step) override {
    detail::adam_update(p, grad, o, state, step, true, &Base::buffer);
  }
};

}  // namespace latent::optim
