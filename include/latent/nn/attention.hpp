// Multi-head attention, as torch.nn.MultiheadAttention with batch_first=True:
//
//   Q = query W_q^T + b_q,  K = key W_k^T + b_k,  V = value W_v^T + b_v     [B, L|S, E]
//   head h (of H, width D = E / H): O_h = softmax(Q_h K_h^T / sqrt(D) + mask) V_h
//   output = concat(O_1 .. O_H) W_o^T + b_o                                  [B, L, E]
//
// W_q, W_k, W_v are the three row blocks of one parameter in_proj_weight [3E, E] (and
// in_proj_bias [3E]); the output projection is the Linear submodule out_proj. The state
// dict keys are PyTorch's (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias)
// and its default initialisation too: in_proj_weight Xavier-uniform, out_proj.weight
// U(-1/sqrt(E), 1/sqrt(E)), both biases zero.
//
// Masks, as PyTorch's module takes them: key_padding_mask [B, S] (true = this key is
// padding, ignore it); attn_mask [L, S] or [B*H, L, S], either additive (float, added to
// the scores) or boolean (true = this pair may NOT attend; note that this is the opposite
// of scaled_dot_product_attention's boolean mask); is_causal forbids key j > query i.
// Unlike PyTorch's hint of the same name, is_causal here applies the causal mask by itself.
// A query whose every key is masked gets NaN, as in PyTorch. Dropout (training mode only)
// drops attention weights, drawn from the Generator given at construction.
//
// Incremental decoding: forward_step(x_new, cache) runs causal self-attention for new
// positions given the keys and values of the earlier ones (KVCache), and appends its own;
// it gives what the full causal forward gives at those positions. Without dropout it runs
// the attention kernel (kernels/attention.hpp): one new query takes its decoding path, a
// few take the blocked one with the causal triangle aligned to the end of the cache.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "../core/random.hpp"
#include "../ops/autograd.hpp"
#include "../ops/binary_ops.hpp"
#include "../ops/indexing.hpp"
#include "../ops/join_ops.hpp"
#include "../ops/matmul.hpp"
#include "../ops/shape_ops.hpp"
#include "functional/attention.hpp"
#include "functional/dropout.hpp"
#include "functional/linear.hpp"
#include "functional/softmax.hpp"
#include "init.hpp"
#include "linear.hpp"
#include "module.hpp"

namespace latent::nn {

// The keys and values of the positions a layer has seen so far, [B, H, S, D] each
// (undefined before the first step). One per attention layer; forward_step appends to it.
//
// Appending while a gradient must flow through the cache (grad mode on and a tensor that
// requires one) concatenates, so the graph sees every step. Otherwise (decoding) k and v
// are views of buffers with room for more positions, and a step writes its keys and
// values into that room in place, past the end of the view, doubling the room when full:
// a step then costs O(new positions), not O(S). It writes in place only when this cache's
// view is the sole holder of its buffer, so a copy of a cache (beam search forks them,
// GPTCache::truncate keeps a narrowed view) never sees another's appends: a shared
// buffer is copied first.
template <class T>
struct KVCache {
  Tensor<T> k, v;

  std::int64_t length() const { return k.defined() ? k.size(2) : 0; }
  void clear() {
    k = Tensor<T>();
    v = Tensor<T>();
  }
  void append(const Tensor<T>& k_new, const Tensor<T>& v_new) {
    LATENT_CHECK(k_new.dim() == 4 && v_new.shape() == k_new.shape(), "KVCache: expects keys and values [B, H, T, D] of "
                 "one shape, got ", k_new.shape(), " and ", v_new.shape());
    if (!k.defined()) {
      k = k_new;
      v = v_new;
      return;
    }
    LATENT_CHECK(k.size(0) == k_new.size(0) && k.size(1) == k_new.size(1) && k.size(3) == k_new.size(3),
                 "KVCache: new keys of shape ", k_new.shape(), " do not continue the cached ", k.shape());
    if (needs_grad<T>({&k, &v, &k_new, &v_new})) {
      k = cat<T>({k, k_new}, 2);
      v = cat<T>({v, v_new}, 2);
      return;
    }
    k = grow(k, k_new);
    v = grow(v, v_new);
  }

 private:
  // Room for positions, when `cached` is a [B, H, S, D] view at the start of a buffer
  // [B, H, room, D] that nothing else holds; 0 otherwise.
  static std::int64_t room_of(const Tensor<T>& cached) {
    const std::int64_t b = cached.size(0), h = cached.size(1), d = cached.size(3);
    if (cached.storage().use_count() != 1 || cached.offset() != 0 || cached.stride(3) != 1 ||
        cached.stride(2) != d || d == 0)
      return 0;
    const std::int64_t room = cached.stride(1) / d;
    const bool layout = cached.stride(1) == room * d && cached.stride(0) == h * room * d;
    return layout && cached.storage()->size() >= b * h * room * d ? room : 0;
  }
  // [B, H, positions, D] at the start of `buffer`'s storage, laid out as [B, H, room, D].
  static Tensor<T> view_of(const Tensor<T>& buffer, const Shape& shape, std::int64_t room, std::int64_t first) {
    const std::int64_t d = shape[3];
    return Tensor<T>(buffer.storage(), shape, Strides{shape[1] * room * d, room * d, d, 1}, first * d);
  }
  // cached followed by fresh along dim 2, written in place when there is room.
  static Tensor<T> grow(const Tensor<T>& cached, const Tensor<T>& fresh) {
    const std::int64_t length = cached.size(2), total = length + fresh.size(2);
    std::int64_t room = room_of(cached);  // before `buffer` holds the storage too
    Tensor<T> buffer = cached;
    if (room < total) {  // a new buffer with twice the room, the cached positions copied in
      room = std::max<std::int64_t>({total, 2 * length, 16});
      buffer = Tensor<T>(Shape{cached.size(0), cached.size(1), room, cached.size(3)});
      latent::detail::copy_into(view_of(buffer, cached.shape(), room, 0), cached);
    }
    latent::detail::copy_into(view_of(buffer, fresh.shape(), room, length), fresh);
    return view_of(buffer, Shape{cached.size(0), cached.size(1), total, cached.size(3)}, room, 0);
  }
};

// Multi-head attention's output and its attention weights ([B, L, S] averaged over heads,
// or [B, H, L, S]; after dropout, as PyTorch 1.13 returns them).
template <class T>
struct AttentionOutput {
  Tensor<T> output, weights;
};

namespace attention_detail {

// [B, L, H*D] -> [B, H, L, D] (a view).
template <class T>
Tensor<T> split_heads(const Tensor<T>& x, std::int64_t heads) {
  return x.reshape(Shape{x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}
// [B, H, L, D] -> [B, L, H*D].
template <class T>
Tensor<T> merge_heads(const Tensor<T>& y) {
  return y.transpose(1, 2).reshape(Shape{y.size(0), y.size(2), y.size(1) * y.size(3)});
}

// True where query i may see key j: j <= i (aligned to the top left, as is_causal in
// scaled_dot_product_attention).
inline Tensor<bool> causal_keep_mask(std::int64_t queries, std::int64_t keys) {
  return latent::detail::triangle_mask(queries, keys, 0, true);
}
// For `length` new queries at the end of `total` cached positions: j <= total - length + i
// (aligned to the bottom right).
inline Tensor<bool> cached_causal_keep_mask(std::int64_t length, std::int64_t total) {
  return latent::detail::triangle_mask(length, total, total - length, true);
}

// The masks of one call folded into what scaled_dot_product_attention takes: an additive
// mask, a boolean mask (true = may attend), or the causal flag alone.
template <class T>
struct Masks {
  Tensor<T> additive;
  Tensor<bool> keep;
  bool causal = false;
};

template <class T>
Tensor<T> attend(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v, const Masks<T>& m, double dropout_p,
                 Generator* gen) {
  if (m.keep.defined())
    return functional::scaled_dot_product_attention(q, k, v, m.keep, dropout_p, m.causal, std::nullopt, gen);
  return functional::scaled_dot_product_attention(q, k, v, m.additive, dropout_p, m.causal, std::nullopt, gen);
}

// The attention weights themselves, softmax(Q K^T / sqrt(D) + masks), then dropout.
template <class T>
Tensor<T> attention_weights(const Tensor<T>& q, const Tensor<T>& k, const Masks<T>& m, double dropout_p,
                            Generator* gen) {
  const T minus_inf = -std::numeric_limits<T>::infinity();
  Tensor<T> scores = matmul(q, k.transpose(-2, -1)) * static_cast<T>(1.0 / std::sqrt(double(q.size(-1))));
  if (m.causal) scores = masked_fill(scores, logical_not(causal_keep_mask(q.size(-2), k.size(-2))), minus_inf);
  if (m.keep.defined()) scores = masked_fill(scores, logical_not(m.keep), minus_inf);
  if (m.additive.defined()) scores = scores + m.additive;
  Tensor<T> w = functional::softmax(scores, -1);
  return dropout_p > 0 ? functional::dropout(w, dropout_p, true, *gen) : w;
}

}  // namespace attention_detail

template <class T>
class MultiheadAttention : public Module<T> {
 public:
  Tensor<T> in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear<T>> out_proj;

  // Draws its initial weights from gen, and its dropout masks too (gen must then outlive it).
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads, Generator& gen, double dropout = 0.0,
                     bool bias = true)
      : embed_dim_(embed_dim), num_heads_(num_heads), dropout_(dropout), gen_(&gen) {
    LATENT_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, "MultiheadAttention: embed_dim ",
                 embed_dim, " must be a positive multiple of num_heads ", num_heads);
    LATENT_CHECK(dropout >= 0 && dropout <= 1, "MultiheadAttention: dropout must be in [0, 1], got ", dropout);
    in_proj_weight = empty<T>({3 * embed_dim, embed_dim});
    init::xavier_uniform_(in_proj_weight, gen);
    in_proj_weight = this->register_parameter("in_proj_weight", in_proj_weight);
    if (bias) in_proj_bias = this->register_parameter("in_proj_bias", zeros<T>({3 * embed_dim}));
    out_proj = this->register_module("out_proj", std::make_shared<Linear<T>>(embed_dim, embed_dim, gen, bias));
    if (bias) init::zeros_(out_proj->bias);
  }
  std::string name() const override { return "MultiheadAttention"; }
  std::int64_t embed_dim() const { return embed_dim_; }
  std::int64_t num_heads() const { return num_heads_; }
  std::int64_t head_dim() const { return embed_dim_ / num_heads_; }

  // query [B, L, E], key and value [B, S, E] (or unbatched [L, E], [S, E]) -> [B, L, E].
  // attn_mask: additive, [L, S] or [B*H, L, S].
  Tensor<T> forward(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                    const Tensor<bool>& key_padding_mask = Tensor<bool>(), const Tensor<T>& attn_mask = Tensor<T>(),
                    bool is_causal = false) {
    return run(query, key, value, key_padding_mask, attn_mask, Tensor<bool>(), is_causal, false, false).output;
  }
  // The same with a boolean attn_mask (true = may not attend).
  Tensor<T> forward(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                    const Tensor<bool>& key_padding_mask, const Tensor<bool>& attn_mask, bool is_causal = false) {
    return run(query, key, value, key_padding_mask, Tensor<T>(), attn_mask, is_causal, false, false).output;
  }
  // Self-attention without masks: forward(x, x, x).
  Tensor<T> forward(const Tensor<T>& x) override { return forward(x, x, x); }

  // As forward, also returning the attention weights (need_weights=True in PyTorch).
  AttentionOutput<T> forward_with_weights(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                          const Tensor<bool>& key_padding_mask = Tensor<bool>(),
                                          const Tensor<T>& attn_mask = Tensor<T>(), bool average_attn_weights = true,
                                          bool is_causal = false) {
    return run(query, key, value, key_padding_mask, attn_mask, Tensor<bool>(), is_causal, true, average_attn_weights);
  }
  AttentionOutput<T> forward_with_weights(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                          const Tensor<bool>& key_padding_mask, const Tensor<bool>& attn_mask,
                                          bool average_attn_weights = true, bool is_causal = false) {
    return run(query, key, value, key_padding_mask, Tensor<T>(), attn_mask, is_causal, true, average_attn_weights);
  }

  // Causal self-attention of new positions x_new [B, T, E] (usually T = 1) that follow the
  // cache.length() positions in `cache`; appends their keys and values to it.
  Tensor<T> forward_step(const Tensor<T>& x_new, KVCache<T>& cache) {
    check_input(x_new, "x_new");
    const std::int64_t t = x_new.size(1);
    const auto qkv = split<T>(functional::linear(x_new, in_proj_weight, in_proj_bias), embed_dim_, -1);
    cache.append(attention_detail::split_heads(qkv[1], num_heads_), attention_detail::split_heads(qkv[2], num_heads_));
    const Tensor<T> q = attention_detail::split_heads(qkv[0], num_heads_);
    Tensor<T> y;
    if (t > 1 && dropout_p() == 0.0) {  // the kernel, its triangle aligned to the bottom right
      y = latent::detail::flash_attention(q, cache.k, cache.v, static_cast<T>(1.0 / std::sqrt(double(head_dim()))),
                                          true, cache.length() - t);
    } else {  // one query: no mask, so scaled_dot_product_attention runs the kernel's decoding path
      attention_detail::Masks<T> masks;
      if (t > 1) masks.keep = attention_detail::cached_causal_keep_mask(t, cache.length());
      y = attention_detail::attend(q, cache.k, cache.v, masks, dropout_p(), gen_);
    }
    return out_proj->forward(attention_detail::merge_heads(y));
  }

 private:
  double dropout_p() const { return this->is_training() ? dropout_ : 0.0; }

  void check_input(const Tensor<T>& x, const char* what) const {
    LATENT_CHECK(x.dim() == 3 && x.size(2) == embed_dim_, "MultiheadAttention: ", what, " must be [batch, length, ",
                 embed_dim_, "], got ", x.shape());
  }

  // One of the three projections (0: query, 1: key, 2: value).
  Tensor<T> project(const Tensor<T>& x, int which) const {
    const Tensor<T> w = in_proj_weight.narrow(0, which * embed_dim_, embed_dim_);
    return functional::linear(x, w, in_proj_bias.defined() ? in_proj_bias.narrow(0, which * embed_dim_, embed_dim_)
                                                           : Tensor<T>());
  }

  static bool same_tensor(const Tensor<T>& a, const Tensor<T>& b) {
    return a.storage() == b.storage() && a.offset() == b.offset() && a.shape() == b.shape() &&
           a.strides() == b.strides();
  }

  attention_detail::Masks<T> fold_masks(std::int64_t batch, std::int64_t l, std::int64_t s,
                                        const Tensor<bool>& key_padding_mask, const Tensor<T>& additive,
                                        const Tensor<bool>& forbidden, bool is_causal) const {
    const char* op = "MultiheadAttention";
    // A PyTorch attn_mask is [L, S] or [B*H, L, S]; ours is then [B, H, L, S] or [L, S].
    auto heads_view = [&](auto mask, const char* what) {
      using M = decltype(mask);
      if (!mask.defined()) return mask;
      const Shape per_head{batch * num_heads_, l, s};
      LATENT_CHECK(mask.shape() == (Shape{l, s}) || mask.shape() == per_head, op, ": ", what, " must be [", l, ", ", s,
                   "] or ", per_head, ", got ", mask.shape());
      return mask.dim() == 3 ? M(mask.reshape(Shape{batch, num_heads_, l, s})) : mask;
    };
    attention_detail::Masks<T> m;
    m.additive = heads_view(additive, "attn_mask");
    if (forbidden.defined()) m.keep = logical_not(heads_view(forbidden, "attn_mask"));
    if (key_padding_mask.defined()) {
      LATENT_CHECK(key_padding_mask.shape() == (Shape{batch, s}), op, ": key_padding_mask must be [", batch, ", ", s,
                   "], got ", key_padding_mask.shape());
      const Tensor<bool> keep = logical_not(key_padding_mask).reshape(Shape{batch, 1, 1, s});
      m.keep = m.keep.defined() ? logical_and(m.keep, keep) : keep;
    }
    m.causal = is_causal;
    if (is_causal && (m.keep.defined() || m.additive.defined())) {  // the functional form takes one mask or the flag
      const Tensor<bool> causal = attention_detail::causal_keep_mask(l, s);
      m.keep = m.keep.defined() ? logical_and(m.keep, causal) : causal;
      m.causal = false;
    }
    if (m.additive.defined() && m.keep.defined()) {
      m.additive = where(m.keep, m.additive, -std::numeric_limits<T>::infinity());
      m.keep = Tensor<bool>();
    }
    return m;
  }

  AttentionOutput<T> run(const Tensor<T>& query_in, const Tensor<T>& key_in, const Tensor<T>& value_in,
                         const Tensor<bool>& key_padding_mask_in, const Tensor<T>& additive,
                         const Tensor<bool>& forbidden, bool is_causal, bool need_weights, bool average_weights) {
    // Unbatched inputs become a batch of one.
    const bool unbatched = query_in.dim() == 2;
    const Tensor<T> query = unbatched ? query_in.unsqueeze(0) : query_in;
    const Tensor<T> key = unbatched && key_in.dim() == 2 ? key_in.unsqueeze(0) : key_in;
    const Tensor<T> value = unbatched && value_in.dim() == 2 ? value_in.unsqueeze(0) : value_in;
    const Tensor<bool> key_padding_mask =
        unbatched && key_padding_mask_in.defined() ? key_padding_mask_in.unsqueeze(0) : key_padding_mask_in;
    check_input(query, "query");
    check_input(key, "key");
    check_input(value, "value");
    const std::int64_t batch = query.size(0), l = query.size(1), s = key.size(1);
    LATENT_CHECK(key.size(0) == batch && value.size(0) == batch && value.size(1) == s,
                 "MultiheadAttention: query ", query.shape(), ", key ", key.shape(), " and value ", value.shape(),
                 " must share the batch size, and key and value the length");

    Tensor<T> q, k, v;
    if (same_tensor(query, key) && same_tensor(key, value)) {  // self-attention: one product
      const auto qkv = split<T>(functional::linear(query, in_proj_weight, in_proj_bias), embed_dim_, -1);
      q = qkv[0], k = qkv[1], v = qkv[2];
    } else {
      q = project(query, 0), k = project(key, 1), v = project(value, 2);
    }
    q = attention_detail::split_heads(q, num_heads_);
    k = attention_detail::split_heads(k, num_heads_);
    v = attention_detail::split_heads(v, num_heads_);
    const attention_detail::Masks<T> masks = fold_masks(batch, l, s, key_padding_mask, additive, forbidden, is_causal);

    AttentionOutput<T> result;
    Tensor<T> y;
    if (need_weights) {
      Tensor<T> w = attention_detail::attention_weights(q, k, masks, dropout_p(), gen_);
      // Without masks or dropout, forward() runs the attention kernel; the output here comes
      // from it too, so that both give the same bits.
      const bool kernel = !masks.keep.defined() && !masks.additive.defined() && dropout_p() == 0.0;
      y = kernel ? attention_detail::attend(q, k, v, masks, 0.0, gen_) : matmul(w, v);
      result.weights = average_weights ? w.mean(1) : w;
      if (unbatched) result.weights = result.weights.squeeze(0);
    } else {
      y = attention_detail::attend(q, k, v, masks, dropout_p(), gen_);
    }
    result.output = out_proj->forward(attention_detail::merge_heads(y));
    if (unbatched) result.output = result.output.squeeze(0);
    return result;
  }

  std::int64_t embed_dim_, num_heads_;
  double dropout_;
  Generator* gen_;
};

}  // namespace latent::nn
