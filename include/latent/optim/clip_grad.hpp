// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
//   clip_grad_norm_: total = (sum_p ||g_p||_q^q)^(1/q) (max |g| for q = inf); when
//                    total > max_norm, every gradient is scaled by max_norm / (total + 1e-6).
//   clip_grad_value_: every gradient element clamped to [-clip, clip].
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "../kernels/reduce.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/shape_ops.hpp"

namespace latent::optim {

// Returns the total norm of the gradients before clipping.
template <class T>
double clip_grad_norm_(const std::vector<Tensor<T>>& params, double max_norm, double norm_type = 2.0) {
  NoGradGuard no_grad;
  std::vector<Tensor<T>> grads;
  for (const Tensor<T>& p : params)
    if (p.grad().defined()) grads.push_back(p.grad().contiguous());
  if (grads.empty()) return 0.0;
  const bool inf_norm = std::isinf(norm_type);
  double total = 0;
  for (const Tensor<T>& g : grads) {
    const T* d = g.data();
    if (inf_norm) {
      for (std::int64_t i = 0; i < g.numel(); ++i) total = std::max(total, double(std::fabs(d[i])));
    } else {
      total += double(kernels::sum_map(d, g.numel(), [norm_type](T v) { return T(std::pow(std::fabs(double(v)), norm_type)); }));
    }
  }
  if (!inf_norm) total = std::pow(total, 1.0 / norm_type);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    for (std::size_t i = 0, k = 0; i < params.size(); ++i) {
      if (!params[i].grad().defined()) continue;
      Tensor<T> scaled = grads[k++].clone();
      scaled.mul_(T(coef));
      params[i].set_grad(scaled);
    }
  }
  return total;
}

template <class T>
void clip_grad_value_(const std::vector<Tensor<T>>& params, double clip_value) {
  LATENT_CHECK(clip_value >= 0, "clip_grad_value_: clip value must be non-negative, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor<T>& p : params) {
    if (!p.grad().defined()) continue;
    Tensor<T> g = p.grad().clone();
    g.clamp_(T(-clip_value), T(clip_value));
    p.set_grad(g);
  }
}

}  // namespace latent::optim
