// Registry entries: losses, each with reduction "mean" (the default), "sum" or "none".
#pragma once

#include "registry.hpp"

namespace latent::conformance {

inline void register_loss(Registry& r) {
  namespace F = nn::functional;
  const Attr reduction{"reduction", Attr::String, "\"mean\""};

  r.add("mse_loss", "input, target", {reduction},
        [](const auto& a) { return outputs(F::mse_loss(a.in(0), a.in(1), a.text("reduction"))); });
  r.add("binary_cross_entropy", "input, target", {reduction}, [](const auto& a) {
    using T = value_t<decltype(a)>;
    return outputs(F::binary_cross_entropy(a.in(0), a.in(1), Tensor<T>(), a.text("reduction")));
  });
  r.add("binary_cross_entropy_with_logits", "logits, target", {reduction}, [](const auto& a) {
    using T = value_t<decltype(a)>;
    return outputs(F::binary_cross_entropy_with_logits(a.in(0), a.in(1), Tensor<T>(), a.text("reduction")));
  });
  r.add("cross_entropy", "logits, target:int", {reduction, {"label_smoothing", Attr::Float, "0.0"}},
        [](const auto& a) {
          using T = value_t<decltype(a)>;
          return outputs(F::cross_entropy(a.in(0), a.index(1), Tensor<T>(), /*ignore_index=*/-100,
                                          a.text("reduction"), a.number("label_smoothing")));
        });
  r.add("nll_loss", "log_probs, target:int", {reduction}, [](const auto& a) {
    using T = value_t<decltype(a)>;
    return outputs(F::nll_loss(a.in(0), a.index(1), Tensor<T>(), /*ignore_index=*/-100, a.text("reduction")));
  });
  r.add("kl_normal", "mu, logvar", {reduction},
        [](const auto& a) { return outputs(F::kl_normal(a.in(0), a.in(1), a.text("reduction"))); });
  r.add("kl_normal_pair", "mu1, logvar1, mu2, logvar2", {reduction}, [](const auto& a) {
    return outputs(F::kl_normal_pair(a.in(0), a.in(1), a.in(2), a.in(3), a.text("reduction")));
  });
}

}  // namespace latent::conformance
