// Registry entries: shape ops (views and joins).
#pragma once

#include <cstdint>
#include <limits>

#include "registry.hpp"

namespace latent::conformance {

inline void register_shape(Registry& r) {
  r.add("reshape", "x", {{"shape", Attr::IntList, ""}},
        [](const auto& a) { return outputs(a.in(0).reshape(a.shape("shape"))); });
  r.add("permute", "x", {{"dims", Attr::IntList, ""}},
        [](const auto& a) { return outputs(a.in(0).permute(a.shape("dims"))); });
  r.add("transpose", "x", {{"dim0", Attr::Int, ""}, {"dim1", Attr::Int, ""}},
        [](const auto& a) { return outputs(a.in(0).transpose(a.integer("dim0"), a.integer("dim1"))); });
  r.add("cat", "tensors...", {{"dim", Attr::Int, "0"}},
        [](const auto& a) { return outputs(latent::cat(a.all(), a.integer("dim"))); });
  // Python slicing x[start:end:step] along dim: null start/end mean the ends.
  r.add("slice", "x",
        {{"dim", Attr::Int, "0"}, {"start", Attr::OptionalInt, "null"}, {"end", Attr::OptionalInt, "null"},
         {"step", Attr::Int, "1"}},
        [](const auto& a) {
          const std::int64_t start = a.optional_integer("start").value_or(0);
          const std::int64_t end = a.optional_integer("end").value_or(std::numeric_limits<std::int64_t>::max());
          return outputs(a.in(0).slice(a.integer("dim"), start, end, a.integer("step")));
        });
}

}  // namespace latent::conformance
