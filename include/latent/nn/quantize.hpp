// Int8 inference: weight-only quantisation of Linear layers, and keys/values kept as int8.
//
// QuantizedLinear holds a Linear's weight W [out, in] as int8 with one scale per output
// channel (row), and its bias in float (kernels/gemm_int8.hpp has the maths):
//
//   s_n = max_k |W[n,k]| / 127,   Q = round(W / s),   y = x (s Q)^T + b
//   |y - (x W^T + b)|_n <= (s_n / 2) * sum_k |x_k|
//
// With int8_activations, each row of x is quantised the same way on the fly and the dot
// products are integer (faster, with the activations' rounding error added:
// + (t / 2) sum_k |W[n,k]| + (t s_n / 4) in, where t = max |x| / 127).
//
// quantize_int8(model) gives every Linear of a module tree a QuantizedLinear copy of
// itself that computes its forward from then on (Linear::replacement); the float weights
// stay where they are (the state dict is unchanged), and restore_float(model) goes back.
// Inference only: the quantised layers record no graph, so a forward that would need
// one (grad mode on and an input that requires grad) is an error; use NoGradGuard.
//
// Int8KVRows keeps attention keys or values [B, H, S, D] as int8 with one scale per
// (batch, head, position) row of D, a quarter of float's memory, and gives them back as
// float for the attention product: |k - k~| <= max_d |k_d| / 254 per element.
// Int8KVCache is a layer's key/value cache (KVCache, nn/attention.hpp) kept that way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/gemm_int8.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/shape_ops.hpp"
#include "../tensor/creation.hpp"
#include "../tensor/tensor.hpp"
#include "attention.hpp"
#include "linear.hpp"
#include "module.hpp"

namespace latent::nn {

struct QuantizeOptions {
  bool int8_activations = false;  // also quantise each input row (integer dot products)
};

template <class T>
class QuantizedLinear : public Module<T> {
 public:
  // Quantises the layer's weight as it is now (a copy: later changes to it are not seen).
  explicit QuantizedLinear(const Linear<T>& linear, const QuantizeOptions& options = {})
      : in_(linear.in_features()), out_(linear.out_features()), options_(options) {
    const Tensor<T> w = linear.weight.detach().contiguous();
    weight_int8_.assign(static_cast<std::size_t>(in_ * out_), 0);
    weight_scale = this->register_buffer("weight_scale", Tensor<T>(Shape{out_}));
    kernels::quantize_rows_int8(out_, in_, w.data(), in_, weight_int8_.data(), in_, weight_scale.data());
    if (linear.bias.defined()) bias = this->register_buffer("bias", linear.bias.detach().clone());
  }
  std::string name() const override { return "QuantizedLinear"; }
  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }
  const QuantizeOptions& options() const { return options_; }

  Tensor<T> weight_scale;  // [out], s_n
  Tensor<T> bias;          // [out] or undefined
  // Q [out, in], row-major.
  const std::vector<std::int8_t>& weight_int8() const { return weight_int8_; }
  // s Q [out, in], the weight this layer multiplies by.
  Tensor<T> dequantized_weight() const {
    Tensor<T> w(Shape{out_, in_});
    kernels::dequantize_rows_int8(out_, in_, weight_int8_.data(), in_, weight_scale.data(), w.data(), in_);
    return w;
  }
  // Bytes of the quantised weight, scales and bias.
  std::int64_t nbytes() const {
    return static_cast<std::int64_t>(weight_int8_.size()) + (out_ + (bias.defined() ? out_ : 0)) * std::int64_t(sizeof(T));
  }

  // x [..., in] -> [..., out].
  Tensor<T> forward(const Tensor<T>& x) override {
    LATENT_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == in_, "QuantizedLinear: expects inputs [..., ", in_,
                 "], got ", x.shape());
    LATENT_CHECK(!(is_grad_enabled() && x.requires_grad()), "QuantizedLinear: inference only, but the input requires "
                 "grad with grad mode on; run the model under NoGradGuard (or restore_float() to train)");
    const Tensor<T> input = x.contiguous();
    const std::int64_t rows = in_ > 0 ? input.numel() / in_ : 0;
    Shape out_shape = x.shape();
    out_shape[x.dim() - 1] = out_;
    Tensor<T> y(out_shape);
    const T* b = bias.defined() ? bias.data() : nullptr;
    if (options_.int8_activations) {
      std::vector<std::int8_t> xq(static_cast<std::size_t>(rows * in_));
      std::vector<T> x_scale(static_cast<std::size_t>(rows));
      kernels::quantize_rows_int8(rows, in_, input.data(), in_, xq.data(), in_, x_scale.data());
      kernels::gemm_int8_int8(rows, out_, in_, xq.data(), in_, x_scale.data(), weight_int8_.data(), in_,
                              weight_scale.data(), b, y.data(), out_);
    } else {
      kernels::gemm_int8(rows, out_, in_, input.data(), in_, weight_int8_.data(), in_, weight_scale.data(), b,
                         y.data(), out_);
    }
    return y;
  }

 private:
  std::int64_t in_, out_;
  QuantizeOptions options_;
  std::vector<std::int8_t> weight_int8_;
};

// Every Linear in the tree (found by name(), as "Linear") computes through an int8 copy
// of itself from now on; returns how many were quantised. Quantising again re-quantises
// the current float weights (after further training, say).
template <class T>
std::int64_t quantize_int8(Module<T>& model, const QuantizeOptions& options = {}) {
  std::int64_t count = 0;
  for (auto& entry : model.named_modules()) {
    if (entry.second->name() != "Linear") continue;
    auto& linear = static_cast<Linear<T>&>(*entry.second);
    linear.replacement = std::make_shared<QuantizedLinear<T>>(linear, options);
    ++count;
  }
  return count;
}

// Undoes quantize_int8: every Linear computes in float again. Returns how many changed.
template <class T>
std::int64_t restore_float(Module<T>& model) {
  std::int64_t count = 0;
  for (auto& entry : model.named_modules()) {
    if (entry.second->name() != "Linear") continue;
    auto& linear = static_cast<Linear<T>&>(*entry.second);
    if (linear.replacement) ++count;
    linear.replacement = nullptr;
  }
  return count;
}

// The QuantizedLinear layers of a tree, by the names of the Linears they stand for.
template <class T>
std::vector<std::pair<std::string, std::shared_ptr<QuantizedLinear<T>>>> quantized_layers(Module<T>& model) {
  std::vector<std::pair<std::string, std::shared_ptr<QuantizedLinear<T>>>> out;
  for (auto& entry : model.named_modules()) {
    if (entry.second->name() != "Linear") continue;
    auto& linear = static_cast<Linear<T>&>(*entry.second);
    if (linear.replacement && linear.replacement->name() == "QuantizedLinear")
      out.emplace_back(entry.first, std::static_pointer_cast<QuantizedLinear<T>>(linear.replacement));
  }
  return out;
}

// Keys or values [B, H, S, D] as int8, one scale per row of D; appended along S.
template <class T>
class Int8KVRows {
 public:
  std::int64_t length() const { return length_; }
  bool empty() const { return length_ == 0; }
  // Bytes held: the int8 rows and their scales.
  std::int64_t nbytes() const {
    std::int64_t n = 0;
    for (std::size_t i = 0; i < q_.size(); ++i)
      n += static_cast<std::int64_t>(q_[i].size() + scale_[i].size() * sizeof(T));
    return n;
  }
  void clear() {
    q_.clear();
    scale_.clear();
    length_ = 0;
  }

  // Appends x [B, H, T, D] after the length() positions held.
  void append(const Tensor<T>& x) {
    LATENT_CHECK(x.dim() == 4, "Int8KVRows: expects [B, H, T, D], got ", x.shape());
    if (q_.empty()) {
      batch_ = x.size(0), heads_ = x.size(1), width_ = x.size(3);
      q_.resize(static_cast<std::size_t>(batch_ * heads_));
      scale_.resize(q_.size());
    }
    LATENT_CHECK(x.size(0) == batch_ && x.size(1) == heads_ && x.size(3) == width_, "Int8KVRows: new rows of shape ",
                 x.shape(), " do not continue the held [", batch_, ", ", heads_, ", ", length_, ", ", width_, "]");
    const Tensor<T> c = x.detach().contiguous();
    const std::int64_t t = x.size(2);
    for (std::int64_t i = 0; i < batch_ * heads_; ++i) {
      std::vector<std::int8_t>& q = q_[static_cast<std::size_t>(i)];
      std::vector<T>& s = scale_[static_cast<std::size_t>(i)];
      q.resize(static_cast<std::size_t>((length_ + t) * width_));
      s.resize(static_cast<std::size_t>(length_ + t));
      kernels::quantize_rows_int8(t, width_, c.data() + i * t * width_, width_, q.data() + length_ * width_, width_,
                                  s.data() + length_);
    }
    length_ += t;
  }

  // Keeps the first n positions.
  void truncate(std::int64_t n) {
    LATENT_CHECK(n >= 0 && n <= length_, "Int8KVRows: cannot keep ", n, " of ", length_, " positions");
    for (std::size_t i = 0; i < q_.size(); ++i) {
      q_[i].resize(static_cast<std::size_t>(n * width_));
      scale_[i].resize(static_cast<std::size_t>(n));
    }
    length_ = n;
    if (n == 0) clear();
  }

  // The rows as float, [B, H, S, D] (undefined when empty).
  Tensor<T> dequantized() const { return dequantized(length_); }
  // The same as a view at the start of a buffer laid out [B, H, room, D] (room >= S) that
  // nothing else holds: a KVCache appends up to room - S positions to it in place.
  Tensor<T> dequantized(std::int64_t room) const {
    LATENT_CHECK(room >= length_, "Int8KVRows: room for ", room, " positions cannot hold the ", length_, " held");
    if (length_ == 0) return Tensor<T>();
    Tensor<T> buffer(Shape{batch_, heads_, room, width_});
    for (std::int64_t i = 0; i < batch_ * heads_; ++i)
      kernels::dequantize_rows_int8(length_, width_, q_[static_cast<std::size_t>(i)].data(), width_,
                                    scale_[static_cast<std::size_t>(i)].data(), buffer.data() + i * room * width_,
                                    width_);
    if (room == length_) return buffer;
    return Tensor<T>(buffer.storage(), Shape{batch_, heads_, length_, width_},
                     Strides{heads_ * room * width_, room * width_, width_, 1}, 0);
  }

 private:
  std::int64_t batch_ = 0, heads_ = 0, width_ = 0, length_ = 0;
  std::vector<std::vector<std::int8_t>> q_;  // per (batch, head): [S, D]
  std::vector<std::vector<T>> scale_;        // per (batch, head): [S]
};

// The keys and values of one attention layer as int8 rows, for a layer whose
// forward_step takes a float KVCache: each step borrows the positions so far, widened
// to float with room for the new ones, lets the layer append and attend, and keeps the
// new positions as int8:
//
//   nn::KVCache<T> step = cache.dequantized(t);  // t: the positions this step adds
//   y = attention.forward_step(x, step);         // appends them and attends over all
//   cache.append_from(step);                     // quantises the t new ones
//
// Between steps only the int8 rows and their scales are held, (D + sizeof(T)) / (D
// sizeof(T)) of a float cache's bytes for heads of width D; the float copy lives for one
// layer's step. Within a step the new positions attend to each other unrounded; the
// earlier ones are read back from int8. Inference only: no gradient flows through it.
template <class T>
struct Int8KVCache {
  Int8KVRows<T> k, v;

  std::int64_t length() const { return k.length(); }
  // Bytes held: the int8 keys and values and their scales.
  std::int64_t nbytes() const { return k.nbytes() + v.nbytes(); }
  void clear() {
    k.clear();
    v.clear();
  }
  // Keeps the first n positions.
  void truncate(std::int64_t n) {
    LATENT_CHECK(n >= 0 && n <= length(), "Int8KVCache: cannot keep ", n, " of ", length(), " positions");
    k.truncate(n);
    v.truncate(n);
  }

  // The positions held, as a float KVCache with room to append `new_positions` in place.
  KVCache<T> dequantized(std::int64_t new_positions) const {
    LATENT_CHECK(new_positions >= 0, "Int8KVCache: new_positions must be >= 0, got ", new_positions);
    KVCache<T> step;
    step.k = k.dequantized(length() + new_positions);
    step.v = v.dequantized(length() + new_positions);
    return step;
  }

  // Quantises and keeps the positions of `step` past length() (those a layer appended).
  void append_from(const KVCache<T>& step) {
    const std::int64_t held = length(), total = step.length();
    LATENT_CHECK(total >= held, "Int8KVCache: the step's cache holds ", total, " positions, fewer than the ", held,
                 " held here");
    LATENT_CHECK(!(is_grad_enabled() && (step.k.requires_grad() || step.v.requires_grad())),
                 "Int8KVCache: inference only, but the keys and values require grad with grad mode on; "
                 "run under NoGradGuard");
    if (total == held) return;
    k.append(step.k.narrow(2, held, total - held));
    v.append(step.v.narrow(2, held, total - held));
  }
};

}  // namespace latent::nn
