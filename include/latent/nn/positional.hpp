// Position and timestep embeddings: how a model that sees a set of vectors learns where
// each one sits in a sequence (or when, in a diffusion process).
//
// Sinusoidal (Vaswani et al. 2017), interleaved sine and cosine at geometric frequencies:
//   PE[p, 2i] = sin(p w_i),  PE[p, 2i+1] = cos(p w_i),  w_i = base^(-2i / d)
// Learned: a trainable table [max_positions, d] (GPT-2's wpe), read by position.
// Rotary (RoPE, Su et al. 2021), in the "rotate half" layout of GPT-NeoX and LLaMA: the
// first d channels of each query/key head are split into halves x1, x2 and channel pair
// (x1_i, x2_i) is turned by the angle p w_i, w_i = base^(-2i / d):
//   y1 = x1 cos(p w) - x2 sin(p w),   y2 = x2 cos(p w) + x1 sin(p w)
// so that q_p . k_s depends on p - s alone. Channels past d pass through unchanged.
// Timestep (the DDPM denoisers of torch_workloads.py), halves rather than interleaved:
//   emb(t) = [sin(t w_0) .. sin(t w_{h-1}), cos(t w_0) .. cos(t w_{h-1})],
//   h = d / 2,  w_i = 10000^(-i / (h - 1))
//
// The tables are constants: they hold no parameters and receive no gradient. Sinusoidal
// and rotary tables are computed in double precision and rounded to T; the timestep
// embedding follows the workload's float arithmetic step by step, so that it rounds as
// PyTorch does in float32 (see timestep_embedding).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/random.hpp"
#include "../ops/binary_ops.hpp"
#include "../ops/join_ops.hpp"
#include "../ops/shape_ops.hpp"
#include "../tensor/creation.hpp"
#include "functional/embedding.hpp"
#include "module.hpp"

namespace latent::nn {

namespace positional_detail {
// Positions start, start + 1, ..., start + length - 1.
inline Tensor<std::int64_t> position_range(std::int64_t length, std::int64_t start, const char* op) {
  LATENT_CHECK(length >= 0 && start >= 0, op, ": need length >= 0 and start >= 0, got length=", length,
               " start=", start);
  Tensor<std::int64_t> p(Shape{length});
  for (std::int64_t i = 0; i < length; ++i) p.data()[i] = start + i;
  return p;
}
// [n, half] table of f(p_n w_i), w_i = base^(-2i / dim), in double precision, rounded to T.
template <class T, class Fn>
Tensor<T> angle_table(const std::vector<double>& positions, std::int64_t dim, double base, Fn fn) {
  const std::int64_t n = static_cast<std::int64_t>(positions.size()), half = dim / 2;
  Tensor<T> out(Shape{n, half});
  T* o = out.data();
  for (std::int64_t i = 0; i < half; ++i) {
    const double w = std::pow(base, -2.0 * double(i) / double(dim));
    for (std::int64_t r = 0; r < n; ++r) o[r * half + i] = static_cast<T>(fn(positions[static_cast<std::size_t>(r)] * w));
  }
  return out;
}
inline std::vector<double> as_doubles(const Tensor<std::int64_t>& positions) {
  const std::vector<std::int64_t> p = positions.to_vector();
  return std::vector<double>(p.begin(), p.end());
}
}  // namespace positional_detail

// ---- sinusoidal ----

// The table PE[positions..., dim] (interleaved sin/cos); dim must be even.
template <class T>
Tensor<T> sinusoidal_position_encoding(const Tensor<std::int64_t>& positions, std::int64_t dim,
                                       double base = 10000.0) {
  LATENT_CHECK(dim > 0 && dim % 2 == 0, "sinusoidal_position_encoding: dim must be positive and even, got ", dim);
  const std::vector<double> p = positional_detail::as_doubles(positions);
  const std::int64_t n = static_cast<std::int64_t>(p.size()), half = dim / 2;
  const Tensor<T> s = positional_detail::angle_table<T>(p, dim, base, [](double a) { return std::sin(a); });
  const Tensor<T> c = positional_detail::angle_table<T>(p, dim, base, [](double a) { return std::cos(a); });
  Shape shape = positions.shape();
  shape.push_back(dim);
  Tensor<T> out(shape);
  T* o = out.data();
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t i = 0; i < half; ++i) {
      o[r * dim + 2 * i] = s.data()[r * half + i];
      o[r * dim + 2 * i + 1] = c.data()[r * half + i];
    }
  return out;
}

template <class T>
class SinusoidalPositionalEmbedding : public Module<T> {
 public:
  explicit SinusoidalPositionalEmbedding(std::int64_t dim, double base = 10000.0) : dim_(dim), base_(base) {
    LATENT_CHECK(dim > 0 && dim % 2 == 0, "SinusoidalPositionalEmbedding: dim must be positive and even, got ", dim);
  }
  std::string name() const override { return "SinusoidalPositionalEmbedding"; }
  std::int64_t dim() const { return dim_; }
  // Rows for positions start .. start + length - 1: [length, dim].
  Tensor<T> forward(std::int64_t length, std::int64_t start = 0) const {
    return forward(positional_detail::position_range(length, start, "SinusoidalPositionalEmbedding"));
  }
  // Rows for any positions: [positions..., dim].
  Tensor<T> forward(const Tensor<std::int64_t>& positions) const {
    return sinusoidal_position_encoding<T>(positions, dim_, base_);
  }
  using Module<T>::forward;

 private:
  std::int64_t dim_;
  double base_;
};

// ---- learned ----

// A trainable table of max_positions rows, initialised N(0, 1) as nn.Embedding (GPT-style
// models re-initialise it, e.g. N(0, 0.02)). State: "weight" [max_positions, dim].
template <class T>
class LearnedPositionalEmbedding : public Module<T> {
 public:
  Tensor<T> weight;
  LearnedPositionalEmbedding(std::int64_t max_positions, std::int64_t dim, Generator& gen) {
    LATENT_CHECK(max_positions > 0 && dim > 0, "LearnedPositionalEmbedding: sizes must be positive, got ",
                 max_positions, " x ", dim);
    weight = this->register_parameter("weight", randn<T>({max_positions, dim}, gen));
  }
  std::string name() const override { return "LearnedPositionalEmbedding"; }
  std::int64_t max_positions() const { return weight.shape()[0]; }
  // Rows start .. start + length - 1 (a view of the table): [length, dim].
  Tensor<T> forward(std::int64_t length, std::int64_t start = 0) const {
    LATENT_CHECK(length >= 0 && start >= 0 && start + length <= max_positions(),
                 "LearnedPositionalEmbedding: positions ", start, " to ", start + length, " (exclusive) exceed the ",
                 max_positions(), " positions of the table");
    return weight.narrow(0, start, length);
  }
  Tensor<T> forward(const Tensor<std::int64_t>& positions) const { return functional::embedding(positions, weight); }
  using Module<T>::forward;
};

// ---- rotary ----

// Rotates the first `dim` channels of x [..., L, head_dim] (queries or keys, one head per
// row) by the angles of positions start .. start + L - 1. dim defaults to head_dim and
// must be even; differentiable in x (first and second derivatives).
template <class T>
Tensor<T> apply_rotary_embedding(const Tensor<T>& x, std::int64_t start = 0, std::int64_t dim = -1,
                                 double base = 10000.0) {
  const char* op = "apply_rotary_embedding";
  LATENT_CHECK(x.dim() >= 2, op, ": expects x [..., length, head_dim], got shape ", x.shape());
  const std::int64_t length = x.size(-2), head_dim = x.size(-1);
  const std::int64_t d = dim < 0 ? head_dim : dim;
  LATENT_CHECK(d > 0 && d % 2 == 0 && d <= head_dim, op, ": rotary dim must be even and in (0, ", head_dim,
               "], got ", d);
  const std::vector<double> p = positional_detail::as_doubles(positional_detail::position_range(length, start, op));
  const Tensor<T> cos = positional_detail::angle_table<T>(p, d, base, [](double a) { return std::cos(a); });
  const Tensor<T> sin = positional_detail::angle_table<T>(p, d, base, [](double a) { return std::sin(a); });
  const std::int64_t half = d / 2;
  const Tensor<T> x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  std::vector<Tensor<T>> parts{x1 * cos - x2 * sin, x2 * cos + x1 * sin};
  if (d < head_dim) parts.push_back(x.narrow(-1, d, head_dim - d));
  return cat(parts, -1);
}

// RoPE as a module (no parameters): forward(x, start) rotates queries or keys whose first
// position is `start` (the number of positions already in a key/value cache).
template <class T>
class RotaryEmbedding : public Module<T> {
 public:
  explicit RotaryEmbedding(std::int64_t dim, double base = 10000.0) : dim_(dim), base_(base) {
    LATENT_CHECK(dim > 0 && dim % 2 == 0, "RotaryEmbedding: dim must be positive and even, got ", dim);
  }
  std::string name() const override { return "RotaryEmbedding"; }
  std::int64_t dim() const { return dim_; }
  double base() const { return base_; }
  Tensor<T> forward(const Tensor<T>& x, std::int64_t start) const {
    LATENT_CHECK(x.dim() >= 2 && x.size(-1) >= dim_, "RotaryEmbedding: expects x [..., length, head_dim >= ", dim_,
                 "], got shape ", x.shape());
    return apply_rotary_embedding(x, start, dim_, base_);
  }
  Tensor<T> forward(const Tensor<T>& x) override { return forward(x, 0); }

 private:
  std::int64_t dim_;
  double base_;
};

// ---- diffusion timesteps ----

// emb(t) for timesteps t [B] -> [B, dim] (dim even, >= 4). Each step rounds to T as the
// workload's float32 code does: a = (-ln 10000 * i) / (h - 1), w = exp(a), angle = t w,
// then sin and cos; exp, sin and cos are evaluated in double and rounded once, which is
// what a correctly rounded float function gives.
template <class T, class Time>
Tensor<T> timestep_embedding(const Tensor<Time>& t, std::int64_t dim) {
  LATENT_CHECK(dim >= 4 && dim % 2 == 0, "timestep_embedding: dim must be even and at least 4, got ", dim);
  LATENT_CHECK(t.dim() == 1, "timestep_embedding: expects timesteps [batch], got shape ", t.shape());
  const std::int64_t half = dim / 2, batch = t.size(0);
  const std::vector<Time> times = t.to_vector();
  std::vector<T> w(static_cast<std::size_t>(half));
  const T minus_log_base = static_cast<T>(-std::log(10000.0));
  for (std::int64_t i = 0; i < half; ++i) {
    const T a = minus_log_base * static_cast<T>(i) / static_cast<T>(half - 1);
    w[static_cast<std::size_t>(i)] = static_cast<T>(std::exp(static_cast<double>(a)));
  }
  Tensor<T> out(Shape{batch, dim});
  T* o = out.data();
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < half; ++i) {
      const T angle = static_cast<T>(times[static_cast<std::size_t>(b)]) * w[static_cast<std::size_t>(i)];
      o[b * dim + i] = static_cast<T>(std::sin(static_cast<double>(angle)));
      o[b * dim + half + i] = static_cast<T>(std::cos(static_cast<double>(angle)));
    }
  return out;
}

// The sinusoidal timestep embedding as a module (no parameters); integer or real
// timesteps (real ones for continuous-time models; t gets no gradient).
template <class T>
class TimestepEmbedding : public Module<T> {
 public:
  explicit TimestepEmbedding(std::int64_t dim) : dim_(dim) {
    LATENT_CHECK(dim >= 4 && dim % 2 == 0, "TimestepEmbedding: dim must be even and at least 4, got ", dim);
  }
  std::string name() const override { return "TimestepEmbedding"; }
  std::int64_t dim() const { return dim_; }
  Tensor<T> forward(const Tensor<std::int64_t>& t) const { return timestep_embedding<T>(t, dim_); }
  Tensor<T> forward(const Tensor<T>& t) override { return timestep_embedding<T>(t.detach(), dim_); }

 private:
  std::int64_t dim_;
};

}  // namespace latent::nn
