// Registry entries: matrix products.
#pragma once

#include <latent/nn/functional/linear.hpp>

#include "registry.hpp"

namespace latent::conformance {

inline void register_linalg(Registry& r) {
  r.add("matmul", "a, b", {}, [](const auto& a) { return outputs(latent::matmul(a.in(0), a.in(1))); });
  r.add("linear", "x, weight, bias?", {},
        [](const auto& a) { return outputs(nn::functional::linear(a.in(0), a.in(1), a.optional(2))); });
}

}  // namespace latent::conformance
