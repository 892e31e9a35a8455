// The pre-LayerNorm transformer block of GPT-2 (as the gpt_step workload of
// torch_workloads.py writes it), the unit a decoder-only language model stacks:
//
//   x <- x + attn(ln1(x))      causal multi-head self-attention
//   x <- x + mlp(ln2(x))       mlp(h) = W2 gelu_tanh(W1 h + b1) + b2,  W1: E -> 4E
//
// Attention uses one fused projection qkv: E -> 3E (queries, keys, values side by side)
// and an output projection proj: E -> E. The submodules and parameters carry the
// workload's names, so its state_dict loads as it is:
//   ln1.{weight,bias}  attn.qkv.{weight,bias}  attn.proj.{weight,bias}
//   ln2.{weight,bias}  mlp.fc.{weight,bias}    mlp.proj.{weight,bias}
//
// Options: dropout (on the attention weights and at the end of both residual branches,
// as nanoGPT; training mode only), biases on or off (Linear and LayerNorm), and rotary
// position embeddings on queries and keys (then a model needs no learned positions).
// forward_step runs new positions against a key/value cache (KVCache, one per block) and
// gives what the full causal forward gives at those positions.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "../core/random.hpp"
#include "../ops/join_ops.hpp"
#include "attention.hpp"
#include "functional/activation.hpp"
#include "functional/dropout.hpp"
#include "init.hpp"
#include "layers.hpp"
#include "linear.hpp"
#include "module.hpp"
#include "positional.hpp"

namespace latent::nn {

struct TransformerBlockOptions {
  double dropout = 0.0;          // attention weights and both residual branches
  bool bias = true;              // biases in every Linear and LayerNorm
  bool rope = false;             // rotary position embedding on queries and keys
  std::int64_t rope_dim = -1;    // channels rotated per head (-1: the whole head)
  double rope_base = 10000.0;
  double layer_norm_eps = 1e-5;
  std::int64_t mlp_ratio = 4;    // hidden width of the MLP = mlp_ratio * n_embd
};

// Causal multi-head self-attention with a fused qkv projection.
template <class T>
class CausalSelfAttention : public Module<T> {
 public:
  std::shared_ptr<Linear<T>> qkv, proj;

  // Draws its initial weights from gen, and its dropout masks too (gen must then outlive it).
  CausalSelfAttention(std::int64_t n_embd, std::int64_t n_head, Generator& gen,
                      const TransformerBlockOptions& options = {})
      : n_embd_(n_embd), n_head_(n_head), dropout_(options.dropout), gen_(&gen) {
    LATENT_CHECK(n_embd > 0 && n_head > 0 && n_embd % n_head == 0, "CausalSelfAttention: n_embd ", n_embd,
                 " must be a positive multiple of n_head ", n_head);
    LATENT_CHECK(options.dropout >= 0 && options.dropout <= 1, "CausalSelfAttention: dropout must be in [0, 1], got ",
                 options.dropout);
    qkv = this->register_module("qkv", std::make_shared<Linear<T>>(n_embd, 3 * n_embd, gen, options.bias));
    proj = this->register_module("proj", std::make_shared<Linear<T>>(n_embd, n_embd, gen, options.bias));
    if (options.rope) {
      const std::int64_t rope_dim = options.rope_dim < 0 ? n_embd / n_head : options.rope_dim;
      LATENT_CHECK(rope_dim <= n_embd / n_head, "CausalSelfAttention: rope_dim ", rope_dim, " exceeds the head size ",
                   n_embd / n_head);
      rope_ = std::make_shared<RotaryEmbedding<T>>(rope_dim, options.rope_base);
    }
  }
  std::string name() const override { return "CausalSelfAttention"; }
  std::int64_t n_head() const { return n_head_; }
  const std::shared_ptr<RotaryEmbedding<T>>& rotary() const { return rope_; }

  // x [B, L, E] -> [B, L, E], each position attending to itself and those before it.
  Tensor<T> forward(const Tensor<T>& x) override { return attend(x, nullptr); }
  // New positions x [B, T, E] following the cache.length() positions in `cache`.
  Tensor<T> forward_step(const Tensor<T>& x, KVCache<T>& cache) { return attend(x, &cache); }

 private:
  Tensor<T> attend(const Tensor<T>& x, KVCache<T>* cache) {
    LATENT_CHECK(x.dim() == 3 && x.size(2) == n_embd_, "CausalSelfAttention: expects x [batch, length, ", n_embd_,
                 "], got ", x.shape());
    const std::int64_t start = cache ? cache->length() : 0, length = x.size(1);
    const auto parts = split<T>(qkv->forward(x), n_embd_, -1);
    Tensor<T> q = attention_detail::split_heads(parts[0], n_head_);
    Tensor<T> k = attention_detail::split_heads(parts[1], n_head_);
    Tensor<T> v = attention_detail::split_heads(parts[2], n_head_);
    if (rope_) {
      q = rope_->forward(q, start);
      k = rope_->forward(k, start);
    }
    attention_detail::Masks<T> masks;
    if (cache) {
      cache->append(k, v);
      k = cache->k, v = cache->v;
      if (length > 1) masks.keep = attention_detail::cached_causal_keep_mask(length, start + length);
    } else {
      masks.causal = true;
    }
    const double p = this->is_training() ? dropout_ : 0.0;
    const Tensor<T> y = attention_detail::attend(q, k, v, masks, p, gen_);
    const Tensor<T> out = proj->forward(attention_detail::merge_heads(y));
    return p > 0 ? functional::dropout(out, p, true, *gen_) : out;
  }

  std::int64_t n_embd_, n_head_;
  double dropout_;
  Generator* gen_;
  std::shared_ptr<RotaryEmbedding<T>> rope_;
};

// The block's feed-forward part: fc (E -> ratio E), GELU (tanh approximation), proj back.
template <class T>
class TransformerMLP : public Module<T> {
 public:
  std::shared_ptr<Linear<T>> fc, proj;

  TransformerMLP(std::int64_t n_embd, Generator& gen, const TransformerBlockOptions& options = {})
      : dropout_(options.dropout), gen_(&gen) {
    LATENT_CHECK(options.mlp_ratio > 0, "TransformerMLP: mlp_ratio must be positive, got ", options.mlp_ratio);
    fc = this->register_module("fc", std::make_shared<Linear<T>>(n_embd, options.mlp_ratio * n_embd, gen, options.bias));
    proj = this->register_module("proj", std::make_shared<Linear<T>>(options.mlp_ratio * n_embd, n_embd, gen, options.bias));
  }
  std::string name() const override { return "TransformerMLP"; }
  Tensor<T> forward(const Tensor<T>& x) override {
    const Tensor<T> out = proj->forward(functional::gelu(fc->forward(x), "tanh"));
    return this->is_training() && dropout_ > 0 ? functional::dropout(out, dropout_, true, *gen_) : out;
  }

 private:
  double dropout_;
  Generator* gen_;
};

template <class T>
class TransformerBlock : public Module<T> {
 public:
  std::shared_ptr<LayerNorm<T>> ln1, ln2;
  std::shared_ptr<CausalSelfAttention<T>> attn;
  std::shared_ptr<TransformerMLP<T>> mlp;

  // PyTorch's default initialisation of each layer (gpt_init_ gives GPT-2's), drawn from
  // gen; with dropout > 0 the masks come from gen too, which must then outlive the block.
  TransformerBlock(std::int64_t n_embd, std::int64_t n_head, Generator& gen, const TransformerBlockOptions& options = {}) {
    ln1 = this->register_module("ln1", std::make_shared<LayerNorm<T>>(Shape{n_embd}, options.layer_norm_eps, true,
                                                                       options.bias));
    attn = this->register_module("attn", std::make_shared<CausalSelfAttention<T>>(n_embd, n_head, gen, options));
    ln2 = this->register_module("ln2", std::make_shared<LayerNorm<T>>(Shape{n_embd}, options.layer_norm_eps, true,
                                                                       options.bias));
    mlp = this->register_module("mlp", std::make_shared<TransformerMLP<T>>(n_embd, gen, options));
  }
  std::string name() const override { return "TransformerBlock"; }

  Tensor<T> forward(const Tensor<T>& x) override {
    const Tensor<T> h = x + attn->forward(ln1->forward(x));
    return h + mlp->forward(ln2->forward(h));
  }
  // New positions x [B, T, E] after the cache.length() positions of this block's cache.
  Tensor<T> forward_step(const Tensor<T>& x, KVCache<T>& cache) {
    const Tensor<T> h = x + attn->forward_step(ln1->forward(x), cache);
    return h + mlp->forward(ln2->forward(h));
  }

  // GPT-2's initialisation (the workload's GPT._init_weights): every Linear weight
  // N(0, 0.02), biases zero, and the two projections that end a residual branch
  // N(0, 0.02 / sqrt(2 n_layer)), so the residual stream's variance stays put with depth.
  TransformerBlock& gpt_init_(Generator& gen, std::int64_t n_layer) {
    LATENT_CHECK(n_layer > 0, "TransformerBlock: gpt_init_ needs n_layer > 0, got ", n_layer);
    const double residual_std = 0.02 / std::sqrt(2.0 * double(n_layer));
    for (Linear<T>* layer : {attn->qkv.get(), attn->proj.get(), mlp->fc.get(), mlp->proj.get()}) {
      init::normal_(layer->weight, gen, 0.0, 0.02);
      if (layer->bias.defined()) init::zeros_(layer->bias);
    }
    init::normal_(attn->proj->weight, gen, 0.0, residual_std);
    init::normal_(mlp->proj->weight, gen, 0.0, residual_std);
    return *this;
  }
};

}  // namespace latent::nn
