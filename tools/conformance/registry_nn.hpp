// Registry entries: the neural-network ops of latent::nn::functional (activations,
// softmax, normalisation, embedding, convolution, pooling, upsampling, attention).
#pragma once

#include <cstdint>

#include "registry.hpp"

namespace latent::conformance {

inline void register_nn(Registry& r) {
  namespace F = nn::functional;

  // ---- activations ----
  r.add("silu", "x", {}, [](const auto& a) { return outputs(F::silu(a.in(0))); });
  r.add("gelu", "x", {{"approximate", Attr::String, "\"none\""}},
        [](const auto& a) { return outputs(F::gelu(a.in(0), a.text("approximate"))); });
  r.add("leaky_relu", "x", {{"negative_slope", Attr::Float, "0.01"}},
        [](const auto& a) { return outputs(F::leaky_relu(a.in(0), a.number("negative_slope"))); });
  r.add("elu", "x", {{"alpha", Attr::Float, "1.0"}},
        [](const auto& a) { return outputs(F::elu(a.in(0), a.number("alpha"))); });
  r.add("softplus", "x", {{"beta", Attr::Float, "1.0"}, {"threshold", Attr::Float, "20.0"}},
        [](const auto& a) { return outputs(F::softplus(a.in(0), a.number("beta"), a.number("threshold"))); });

  // ---- softmax ----
  r.add("softmax", "x", {{"dim", Attr::Int, ""}},
        [](const auto& a) { return outputs(F::softmax(a.in(0), a.integer("dim"))); });
  r.add("log_softmax", "x", {{"dim", Attr::Int, ""}},
        [](const auto& a) { return outputs(F::log_softmax(a.in(0), a.integer("dim"))); });

  // ---- normalisation ----
  r.add("layer_norm", "x, weight?, bias?", {{"normalized_shape", Attr::IntList, ""}, {"eps", Attr::Float, "1e-05"}},
        [](const auto& a) {
          return outputs(F::layer_norm(a.in(0), a.shape("normalized_shape"), a.optional(1), a.optional(2),
                                       a.number("eps")));
        });
  // Over the last dim; eps null means the dtype's machine epsilon (as torch.nn.functional.rms_norm).
  r.add("rms_norm", "x, weight?", {{"eps", Attr::OptionalFloat, "null"}}, [](const auto& a) {
    const auto& x = a.in(0);
    LATENT_CHECK(x.dim() >= 1, "rms_norm: expects an input with at least one dim, got shape ", x.shape());
    return outputs(F::rms_norm(x, Shape{x.shape()[x.dim() - 1]}, a.optional(1), a.optional_number("eps")));
  });
  // Training mode: batch statistics, biased variance, no running statistics.
  r.add("batch_norm", "x, weight?, bias?", {{"eps", Attr::Float, "1e-05"}}, [](const auto& a) {
    using T = value_t<decltype(a)>;
    return outputs(F::batch_norm(a.in(0), Tensor<T>(), Tensor<T>(), a.optional(1), a.optional(2),
                                 /*training=*/true, /*momentum=*/0.1, a.number("eps")));
  });
  r.add("group_norm", "x, weight?, bias?", {{"num_groups", Attr::Int, ""}, {"eps", Attr::Float, "1e-05"}},
        [](const auto& a) {
          return outputs(F::group_norm(a.in(0), a.integer("num_groups"), a.optional(1), a.optional(2),
                                       a.number("eps")));
        });

  // ---- lookup ----
  r.add("embedding", "indices:int, weight", {},
        [](const auto& a) { return outputs(F::embedding(a.index(0), a.in(1))); });

  // ---- convolution ----
  r.add("conv2d", "x, weight, bias?",
        {{"stride", Attr::Pair, "1"}, {"padding", Attr::Pair, "0"}, {"dilation", Attr::Pair, "1"},
         {"groups", Attr::Int, "1"}},
        [](const auto& a) {
          return outputs(F::conv2d(a.in(0), a.in(1), a.optional(2), a.pair("stride"), a.pair("padding"),
                                   a.pair("dilation"), a.integer("groups")));
        });
  r.add("conv_transpose2d", "x, weight, bias?",
        {{"stride", Attr::Pair, "1"}, {"padding", Attr::Pair, "0"}, {"output_padding", Attr::Pair, "0"},
         {"groups", Attr::Int, "1"}, {"dilation", Attr::Pair, "1"}},
        [](const auto& a) {
          return outputs(F::conv_transpose2d(a.in(0), a.in(1), a.optional(2), a.pair("stride"), a.pair("padding"),
                                             a.pair("output_padding"), a.integer("groups"), a.pair("dilation")));
        });

  // ---- pooling and upsampling ----
  const std::vector<Attr> pool_attrs{
      {"kernel_size", Attr::Pair, ""}, {"stride", Attr::OptionalPair, "null"}, {"padding", Attr::Pair, "0"}};
  r.add("max_pool2d", "x", pool_attrs, [](const auto& a) {
    return outputs(F::max_pool2d(a.in(0), a.pair("kernel_size"), a.optional_pair("stride"), a.pair("padding")));
  });
  r.add("avg_pool2d", "x", pool_attrs, [](const auto& a) {
    return outputs(F::avg_pool2d(a.in(0), a.pair("kernel_size"), a.optional_pair("stride"), a.pair("padding")));
  });
  r.add("upsample_nearest2d", "x", {{"scale_factor", Attr::Pair, ""}},
        [](const auto& a) { return outputs(F::upsample_nearest2d(a.in(0), a.pair("scale_factor"))); });

  // ---- attention ----
  r.add("scaled_dot_product_attention", "q, k, v, mask?",
        {{"is_causal", Attr::Bool, "false"}, {"scale", Attr::OptionalFloat, "null"}}, [](const auto& a) {
          return outputs(F::scaled_dot_product_attention(a.in(0), a.in(1), a.in(2), a.optional(3), /*dropout_p=*/0.0,
                                                         a.boolean("is_causal"), a.optional_number("scale")));
        });
}

}  // namespace latent::conformance
