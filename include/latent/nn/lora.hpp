// LoRA, low-rank adaptation (Hu et al. 2021): a pretrained Linear y = x W^T + b is kept
// frozen and a trainable update of rank r is added beside it,
//
//   y = x W^T + b + (alpha / r) * dropout(x) A^T B^T,     A [r, in],  B [out, r]
//
// A starts as a Linear weight does (Kaiming-uniform, U(-1/sqrt(in), 1/sqrt(in))) and B at
// zero, so training starts from the pretrained layer exactly (as the paper and peft).
// Only A and B train: r (in + out) numbers instead of in * out.
//
// merge() folds the update into the base weight, W <- W + (alpha / r) B A, so inference
// costs one product again; unmerge() takes it back out (up to rounding). Merging writes
// into the wrapped Linear's own weight, which the wrapper shares.
//
// State dict: the base layer's "weight" and "bias" under their own names (so the keys of
// the layer being adapted are unchanged), and the adapters as bias-free Linear
// submodules "lora_A.weight" [r, in] and "lora_B.weight" [out, r], the layout of
// loralib/peft modules (peft adds an adapter name: "lora_A.default.weight").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/random.hpp"
#include "../ops/binary_ops.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/matmul.hpp"
#include "functional/dropout.hpp"
#include "functional/linear.hpp"
#include "init.hpp"
#include "linear.hpp"
#include "module.hpp"

namespace latent::nn {

template <class T>
class LoRALinear : public Module<T> {
 public:
  Tensor<T> weight, bias;  // the base layer's, frozen
  std::shared_ptr<Linear<T>> lora_A, lora_B;

  // Draws A from gen, and the dropout masks on the adapter's input too (gen must then
  // outlive it). Freezes the base layer's parameters.
  LoRALinear(std::shared_ptr<Linear<T>> base, std::int64_t rank, double alpha, Generator& gen, double dropout = 0.0)
      : base_(std::move(base)), rank_(rank), scaling_(0), dropout_(dropout), gen_(&gen) {
    LATENT_CHECK(base_ != nullptr, "LoRALinear: got a null base layer");
    LATENT_CHECK(rank > 0, "LoRALinear: rank must be positive, got ", rank);
    LATENT_CHECK(alpha > 0, "LoRALinear: alpha must be positive, got ", alpha);
    LATENT_CHECK(dropout >= 0 && dropout <= 1, "LoRALinear: dropout must be in [0, 1], got ", dropout);
    scaling_ = alpha / double(rank);
    weight = this->register_parameter("weight", base_->weight, false);
    if (base_->bias.defined()) bias = this->register_parameter("bias", base_->bias, false);
    lora_A = this->register_module("lora_A", std::make_shared<Linear<T>>(base_->in_features(), rank, gen, false));
    lora_B = this->register_module("lora_B", std::make_shared<Linear<T>>(rank, base_->out_features(), gen, false));
    init::zeros_(lora_B->weight);
  }
  std::string name() const override { return "LoRALinear"; }
  const std::shared_ptr<Linear<T>>& base() const { return base_; }
  std::int64_t rank() const { return rank_; }
  double scaling() const { return scaling_; }
  bool merged() const { return merged_; }

  Tensor<T> forward(const Tensor<T>& x) override {
    const Tensor<T> y = functional::linear(x, weight, bias);
    if (merged_) return y;
    const Tensor<T> h = this->is_training() && dropout_ > 0 ? functional::dropout(x, dropout_, true, *gen_) : x;
    return y + lora_B->forward(lora_A->forward(h)) * static_cast<T>(scaling_);
  }

  // W <- W + (alpha / r) B A.
  void merge() {
    LATENT_CHECK(!merged_, "LoRALinear: merge(): the adapter is already merged");
    NoGradGuard no_grad;
    weight.add_(update());
    merged_ = true;
  }
  // W <- W - (alpha / r) B A.
  void unmerge() {
    LATENT_CHECK(merged_, "LoRALinear: unmerge(): the adapter is not merged");
    NoGradGuard no_grad;
    weight.sub_(update());
    merged_ = false;
  }

 private:
  Tensor<T> update() const { return matmul(lora_B->weight.detach(), lora_A->weight.detach()) * static_cast<T>(scaling_); }

  std::shared_ptr<Linear<T>> base_;
  std::int64_t rank_;
  double scaling_, dropout_;
  Generator* gen_;
  bool merged_ = false;
};

// The adapter weights of a model, those under a "lora_A" or "lora_B" submodule: what an
// optimiser trains when the rest is frozen.
template <class T>
std::vector<Tensor<T>> lora_parameters(const Module<T>& model) {
  std::vector<Tensor<T>> out;
  for (const auto& p : model.named_parameters()) {
    const std::string name = "." + p.first;
    if (name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos) out.push_back(p.second);
  }
  return out;
}

}  // namespace latent::nn
