// Registry entries: reductions over a dim, a list of dims, or all dims (dim null).
#pragma once

#include "registry.hpp"

namespace latent::conformance {

inline void register_reduce(Registry& r) {
  const Attr dim{"dim", Attr::Dims, "null"}, keepdim{"keepdim", Attr::Bool, "false"};
  r.add("sum", "x", {dim, keepdim},
        [](const auto& a) { return outputs(a.in(0).sum(a.dims("dim"), a.boolean("keepdim"))); });
  r.add("mean", "x", {dim, keepdim},
        [](const auto& a) { return outputs(a.in(0).mean(a.dims("dim"), a.boolean("keepdim"))); });
  r.add("var", "x", {dim, {"correction", Attr::Int, "1"}, keepdim}, [](const auto& a) {
    return outputs(a.in(0).var(a.dims("dim"), a.integer("correction"), a.boolean("keepdim")));
  });
  r.add("amax", "x", {dim, keepdim},
        [](const auto& a) { return outputs(a.in(0).amax(a.dims("dim"), a.boolean("keepdim"))); });
  r.add("logsumexp", "x", {dim, keepdim},
        [](const auto& a) { return outputs(a.in(0).logsumexp(a.dims("dim"), a.boolean("keepdim"))); });
}

}  // namespace latent::conformance
