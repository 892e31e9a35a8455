// Registry entries: elementwise ops of latent:: (one input, and two with broadcasting).
#pragma once

#include <optional>

#include "registry.hpp"

namespace latent::conformance {

inline void register_elementwise(Registry& r) {
  r.add("neg", "x", {}, [](const auto& a) { return outputs(latent::neg(a.in(0))); });
  r.add("exp", "x", {}, [](const auto& a) { return outputs(latent::exp(a.in(0))); });
  r.add("log", "x", {}, [](const auto& a) { return outputs(latent::log(a.in(0))); });
  r.add("sqrt", "x", {}, [](const auto& a) { return outputs(latent::sqrt(a.in(0))); });
  r.add("rsqrt", "x", {}, [](const auto& a) { return outputs(latent::rsqrt(a.in(0))); });
  r.add("abs", "x", {}, [](const auto& a) { return outputs(latent::abs(a.in(0))); });
  r.add("tanh", "x", {}, [](const auto& a) { return outputs(latent::tanh(a.in(0))); });
  r.add("sigmoid", "x", {}, [](const auto& a) { return outputs(latent::sigmoid(a.in(0))); });
  r.add("relu", "x", {}, [](const auto& a) { return outputs(latent::relu(a.in(0))); });
  r.add("square", "x", {}, [](const auto& a) { return outputs(latent::square(a.in(0))); });
  r.add("clamp", "x", {{"min", Attr::OptionalFloat, "null"}, {"max", Attr::OptionalFloat, "null"}},
        [](const auto& a) {
          using T = value_t<decltype(a)>;
          const std::optional<double> lo = a.optional_number("min"), hi = a.optional_number("max");
          return outputs(latent::clamp(a.in(0), lo ? std::optional<T>(static_cast<T>(*lo)) : std::nullopt,
                                       hi ? std::optional<T>(static_cast<T>(*hi)) : std::nullopt));
        });
  r.add("pow_scalar", "x", {{"exponent", Attr::Float, ""}},
        [](const auto& a) { return outputs(latent::pow(a.in(0), a.number("exponent"))); });

  r.add("add", "a, b", {}, [](const auto& a) { return outputs(a.in(0) + a.in(1)); });
  r.add("sub", "a, b", {}, [](const auto& a) { return outputs(a.in(0) - a.in(1)); });
  r.add("mul", "a, b", {}, [](const auto& a) { return outputs(a.in(0) * a.in(1)); });
  r.add("div", "a, b", {}, [](const auto& a) { return outputs(a.in(0) / a.in(1)); });
  r.add("maximum", "a, b", {}, [](const auto& a) { return outputs(latent::maximum(a.in(0), a.in(1))); });
  r.add("minimum", "a, b", {}, [](const auto& a) { return outputs(latent::minimum(a.in(0), a.in(1))); });
}

}  // namespace latent::conformance
