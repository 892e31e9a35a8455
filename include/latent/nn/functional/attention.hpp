// Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention:
//
//   attention(Q, K, V) = softmax(Q K^T * scale + mask) V,   scale = 1 / sqrt(E) by default
//
// for queries Q [..., L, E], keys K [..., S, E] and values V [..., S, Ev] (leading dims
// broadcast), giving [..., L, Ev]. Row i of the L x S score matrix says how much query i
// attends to each key. The mask is either additive (a float tensor broadcastable to
// [..., L, S], -inf forbids a pair) or boolean (true = the pair takes part, false = -inf);
// is_causal forbids key j for query i when j > i (the top-left triangle, also when L != S).
// A query whose every key is forbidden gets a row of NaN, as in PyTorch. With dropout_p > 0
// the attention weights go through dropout (drawn from the given Generator).
//
// Two paths give the same result (to rounding):
// - Without a mask (or with is_causal alone) and without dropout, the blocked kernel of
//   kernels/attention.hpp (an online softmax, never the L x S matrix). Its first
//   derivative is that kernel's backward; when a second derivative is being built
//   (create_graph), the backward is written with differentiable ops instead:
//     P = softmax(Q K^T * scale),  dV = P^T G,  dS = P (G V^T - rowsum(P G V^T)) * scale,
//     dQ = dS K,  dK = dS^T Q.
// - Otherwise the composite of differentiable ops (matmul, softmax, masked_fill, dropout),
//   whose first and second derivatives come from theirs, for the queries, keys, values and
//   an additive mask alike.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "../../core/random.hpp"
#include "../../kernels/attention.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/grad_mode.hpp"
#include "../../ops/indexing.hpp"
#include "../../ops/matmul.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"
#include "dropout.hpp"
#include "softmax.hpp"

namespace latent {
namespace detail {

// ---- the kernel path ---------------------------------------------------------------------

// The batch dims of the three operands folded into the kernel's two levels (batch, heads):
// runs of dims that every operand steps through evenly become one level. False when more
// than two levels remain.
struct AttentionFold {
  std::int64_t outer = 1, inner = 1;
  std::int64_t outer_stride[3] = {0, 0, 0}, inner_stride[3] = {0, 0, 0};
};

template <class T>
bool fold_attention_batch(const Shape& batch, const Tensor<T>* (&operands)[3], AttentionFold& fold) {
  struct Level {
    std::int64_t size, stride[3];
  };
  Level levels[kMaxRank];
  int count = 0;
  for (int d = 0; d < batch.size(); ++d) {
    if (batch[d] == 1) continue;  // a dim of one never moves
    Level next{batch[d], {operands[0]->stride(d), operands[1]->stride(d), operands[2]->stride(d)}};
    bool joins = count > 0;
    for (int t = 0; t < 3 && joins; ++t) joins = levels[count - 1].stride[t] == next.stride[t] * next.size;
    if (joins) {
      levels[count - 1].size *= next.size;
      for (int t = 0; t < 3; ++t) levels[count - 1].stride[t] = next.stride[t];
    } else {
      levels[count++] = next;
    }
  }
  if (count > 2) return false;
  fold = AttentionFold();
  if (count == 2) {
    fold.outer = levels[0].size;
    for (int t = 0; t < 3; ++t) fold.outer_stride[t] = levels[0].stride[t];
  }
  if (count >= 1) {
    fold.inner = levels[count - 1].size;
    for (int t = 0; t < 3; ++t) fold.inner_stride[t] = levels[count - 1].stride[t];
  }
  return true;
}

// x [..., rows, cols] broadcast to batch + [rows, cols], with contiguous rows.
template <class T>
Tensor<T> attention_operand(const Tensor<T>& x, const Shape& batch) {
  Shape shape = batch;
  shape.push_back(x.size(-2));
  shape.push_back(x.size(-1));
  Tensor<T> e = x.detach().expand(shape);
  return (e.stride(-1) == 1 || e.size(-1) == 1) ? e : e.contiguous();
}

// A contiguous batch + [rows, cols] tensor in the kernel's (outer, inner, row) terms.
template <class U, class T>
kernels::AttentionMatrix<U> contiguous_matrix(const Tensor<T>& t, const AttentionFold& fold) {
  const std::int64_t rows = t.size(-2), cols = t.size(-1);
  return {t.data(), fold.inner * rows * cols, rows * cols, cols};
}

// The backward written with differentiable ops, for second derivatives (see the top).
template <class T>
std::vector<Tensor<T>> attention_backward_composite(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                                                    const Tensor<T>& g, T scale, bool causal,
                                                    std::int64_t causal_offset) {
  Tensor<T> scores = matmul(q, k.transpose(-2, -1)) * scale;
  if (causal)
    scores = masked_fill(scores, triangle_mask(q.size(-2), k.size(-2), causal_offset + 1, false),
                         -std::numeric_limits<T>::infinity());
  const Tensor<T> prob = nn::functional::softmax(scores, -1);
  const Tensor<T> dprob = matmul(g, v.transpose(-2, -1));
  const Tensor<T> dscores = prob * (dprob - (dprob * prob).sum(-1, true)) * scale;
  return {q.requires_grad() ? sum_to(matmul(dscores, k), q.shape()) : Tensor<T>(),
          k.requires_grad() ? sum_to(matmul(dscores.transpose(-2, -1), q), k.shape()) : Tensor<T>(),
          v.requires_grad() ? sum_to(matmul(prob.transpose(-2, -1), g), v.shape()) : Tensor<T>()};
}

// Attention through the blocked kernel: query [..., L, E], key [..., S, E], value
// [..., S, Ev] (shapes already checked), query i seeing key j <= i + causal_offset when
// causal. A differentiable op (see the top for its backward).
template <class T>
Tensor<T> flash_attention(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value, T scale, bool causal,
                          std::int64_t causal_offset) {
  const char* op = "scaled_dot_product_attention";
  auto leading = [](const Tensor<T>& t) {
    Shape s;
    for (int d = 0; d + 2 < t.dim(); ++d) s.push_back(t.size(d));
    return s;
  };
  const Shape batch = broadcast_shapes(broadcast_shapes(leading(query), leading(key), op), leading(value), op);
  Tensor<T> q = attention_operand(query, batch), k = attention_operand(key, batch), v = attention_operand(value, batch);
  AttentionFold fold;
  const Tensor<T>* operands[3] = {&q, &k, &v};
  if (!fold_attention_batch(batch, operands, fold)) {  // more than two levels: copy them flat
    q = q.contiguous(), k = k.contiguous(), v = v.contiguous();
    fold_attention_batch(batch, operands, fold);
  }
  kernels::AttentionProblem<T> p;
  p.batch = fold.outer, p.heads = fold.inner;
  p.queries = q.size(-2), p.keys = k.size(-2), p.dim = q.size(-1), p.value_dim = v.size(-1);
  p.scale = scale, p.causal = causal, p.causal_offset = causal_offset;
  p.q = {q.data(), fold.outer_stride[0], fold.inner_stride[0], q.stride(-2)};
  p.k = {k.data(), fold.outer_stride[1], fold.inner_stride[1], k.stride(-2)};
  p.v = {v.data(), fold.outer_stride[2], fold.inner_stride[2], v.stride(-2)};

  Shape out_shape = batch;
  out_shape.push_back(p.queries);
  out_shape.push_back(p.value_dim);
  Tensor<T> out(out_shape);
  const bool grad = needs_grad<T>({&query, &key, &value});
  Tensor<T> lse = grad ? Tensor<T>(Shape{p.pairs() * p.queries}) : Tensor<T>();
  kernels::attention_forward(p, contiguous_matrix<T>(out, fold), grad ? lse.data() : nullptr);
  if (!grad) return record<T>(out, op, {}, nullptr);

  const Tensor<T> saved_out = out;  // its data only (no autograd metadata yet): no cycle
  return record<T>(out, op, {&query, &key, &value},
                   [=](const Tensor<T>& g) {
                     if (is_grad_enabled())  // create_graph: a backward that can be differentiated
                       return attention_backward_composite(query, key, value, g, scale, causal, causal_offset);
                     const Tensor<T> gc = g.contiguous();
                     Tensor<T> dq(q.shape()), dk(k.shape()), dv(v.shape());
                     kernels::attention_backward(p, contiguous_matrix<const T>(saved_out, fold), lse.data(),
                                                 contiguous_matrix<const T>(gc, fold), contiguous_matrix<T>(dq, fold),
                                                 contiguous_matrix<T>(dk, fold), contiguous_matrix<T>(dv, fold));
                     return std::vector<Tensor<T>>{
                         query.requires_grad() ? sum_to(dq, query.shape()) : Tensor<T>(),
                         key.requires_grad() ? sum_to(dk, key.shape()) : Tensor<T>(),
                         value.requires_grad() ? sum_to(dv, value.shape()) : Tensor<T>()};
                   });
}

// ---- the composite path (and the checks of both) -------------------------------------------

template <class T>
Tensor<T> attention(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                    const Tensor<T>& additive_mask, const Tensor<bool>& keep_mask, double dropout_p,
                    bool is_causal, std::optional<double> scale, Generator* gen) {
  const char* op = "scaled_dot_product_attention";
  LATENT_CHECK(query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2, op,
               ": query, key and value need at least 2 dims, got ", query.shape(), ", ", key.shape(), " and ",
               value.shape());
  const std::int64_t e = query.size(-1), l = query.size(-2), s = key.size(-2);
  LATENT_CHECK(key.size(-1) == e, op, ": query of shape ", query.shape(), " and key of shape ", key.shape(),
               " differ in their last dim (the embedding size)");
  LATENT_CHECK(value.size(-2) == s, op, ": key of shape ", key.shape(), " and value of shape ", value.shape(),
               " differ in the number of keys (dim -2)");
  LATENT_CHECK(!(is_causal && (additive_mask.defined() || keep_mask.defined())), op,
               ": pass either attn_mask or is_causal, not both");
  LATENT_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, op, ": dropout_p must be in [0, 1], got ", dropout_p);
  LATENT_CHECK(dropout_p == 0.0 || gen != nullptr, op, ": dropout_p > 0 needs a Generator");

  const T factor = static_cast<T>(scale ? *scale : 1.0 / std::sqrt(static_cast<double>(e)));
  if (!additive_mask.defined() && !keep_mask.defined() && dropout_p == 0.0 && l > 0 && s > 0)
    return flash_attention(query, key, value, factor, is_causal, 0);
  Tensor<T> scores = matmul(query, key.transpose(-2, -1)) * factor;
  const T minus_inf = -std::numeric_limits<T>::infinity();
  if (is_causal) scores = masked_fill(scores, triangle_mask(l, s, 1, false), minus_inf);
  if (keep_mask.defined()) scores = masked_fill(scores, logical_not(keep_mask), minus_inf);
  if (additive_mask.defined()) scores = scores + additive_mask;
  Tensor<T> weights = nn::functional::softmax(scores, -1);
  if (dropout_p > 0.0) weights = nn::functional::dropout(weights, dropout_p, true, *gen);
  return matmul(weights, value);
}

}  // namespace detail

namespace nn::functional {

// With an additive float mask (or none: Tensor<T>()). scale defaults to 1 / sqrt(E).
template <class T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                       const Tensor<T>& attn_mask = Tensor<T>(), double dropout_p = 0.0,
                                       bool is_causal = false, std::optional<double> scale = std::nullopt,
                                       Generator* gen = nullptr) {
  return latent::detail::attention(query, key, value, attn_mask, Tensor<bool>(), dropout_p, is_causal, scale, gen);
}

// With a boolean mask: true where query i may attend to key j.
template <class T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& query, const Tensor<T>& key, const Tensor<T>& value,
                                       const Tensor<bool>& attn_mask, double dropout_p = 0.0, bool is_causal = false,
                                       std::optional<double> scale = std::nullopt, Generator* gen = nullptr) {
  return latent::detail::attention(query, key, value, Tensor<T>(), attn_mask, dropout_p, is_causal, scale, gen);
}

}  // namespace nn::functional
}  // namespace latent
