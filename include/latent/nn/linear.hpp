// Linear: y = x W^T + b, with W [out, in] and b [out], initialised as PyTorch does:
// W ~ U(-1/sqrt(in), 1/sqrt(in)) (Kaiming-uniform with a = sqrt 5) and b likewise.
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "functional/linear.hpp"
#include "init.hpp"
#include "module.hpp"

namespace latent::nn {

template <class T>
class Linear : public Module<T> {
 public:
  Tensor<T> weight, bias;
  // A module that computes this layer's forward in its place, when set: an int8 copy of
  // it (nn/quantize.hpp's quantize_int8) or a LoRA adapter around it (nn/lora.hpp). It is
  // not a registered submodule: the state dict and parameters stay this layer's own.
  std::shared_ptr<Module<T>> replacement;

  Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, bool with_bias = true)
      : in_(in_features), out_(out_features) {
    LATENT_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in_features=",
                 in_features, " out_features=", out_features);
    weight = empty<T>({out_features, in_features});
    init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
    weight = this->register_parameter("weight", weight);
    if (with_bias) {
      bias = empty<T>({out_features});
      const double bound = 1 / std::sqrt(double(in_features));
      init::uniform_(bias, gen, -bound, bound);
      bias = this->register_parameter("bias", bias);
    }
  }
  std::string name() const override { return "Linear"; }
  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }

  Tensor<T> forward(const Tensor<T>& x) override {
    LATENT_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == in_, "Linear: expects inputs [..., ", in_, "], got ",
                 x.shape());
    if (replacement) return replacement->forward(x);
    return functional::linear(x, weight, bias);
  }

 private:
  std::int64_t in_, out_;
};

}  // namespace latent::nn
