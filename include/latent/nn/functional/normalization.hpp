// Normalisation layers, as torch.nn.functional: layer_norm, rms_norm, batch_norm,
// group_norm.
//
// layer, batch and group norm all standardise groups of elements and then apply an affine
// map. Viewing x as a contiguous [A, C, B] block, group c is the A x B elements x[:, c, :]:
//   layer_norm: A = 1, C = rows,           B = prod(normalized_shape)
//   group_norm: A = 1, C = N * num_groups, B = (channels / num_groups) * spatial
//   batch_norm: A = N, C = channels,       B = spatial
// and in every group, with n = A * B and the variance biased (divided by n):
//   xhat = (x - mean) * rstd,   rstd = 1 / sqrt(var + eps),   y = xhat * weight + bias
// Gradients, with gh = g * weight and means taken over the group:
//   dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
//   dweight = sum(g * xhat),  dbias = sum(g)   (summed over every dim weight is broadcast on)
// rms_norm scales each row of n = prod(normalized_shape) values by r = 1/sqrt(mean(x^2) + eps):
//   y = x * r * weight,   dx = r * gh - x * r^3 * mean(gh * x),   dweight = sum(g * x * r)
//
// The forward runs plain loops: the statistics of each group (mean, then squared
// deviations from it: stable for large offsets), the standardised values, the affine map in
// place. The backward comes in two forms that compute the same values: an ordinary backward
// (grad mode off inside it) runs fused loops on the saved statistics; one that must itself
// be differentiable (create_graph) recomputes the statistics from x with differentiable
// ops, so second derivatives work. Sums run in a fixed order, so any thread count gives
// the same bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/parallel.hpp"
#include "../../kernels/reduce.hpp"
#include "../../kernels/strided_loop.hpp"
#include "../../ops/autograd.hpp"
#include "../../ops/binary_ops.hpp"
#include "../../ops/elementwise.hpp"
#include "../../ops/grad_mode.hpp"
#include "../../ops/reduce_ops.hpp"
#include "../../ops/shape_ops.hpp"
#include "../../ops/unary_ops.hpp"

namespace latent {
namespace detail {

// x as [A, C, B]: group c is the A runs of B contiguous values starting at (a * C + c) * B.
// The same shape describes where the affine parameters apply: weight[j] scales x[o, j, i]
// for x viewed as [outer, k, inner].
struct NormLayout {
  std::int64_t a = 1, c = 1, b = 1;
  std::int64_t group_size() const { return a * b; }
};

// Where the statistics are taken and where the affine parameters apply.
struct NormPlan {
  NormLayout groups;   // statistics over each group
  NormLayout affine;   // weight[j], bias[j] act on x[o, j, i]
  Shape affine_shape;  // weight's shape for broadcasting against x (differentiable path)
};

// ---- row loops ----
// Elementwise loops are written as blocks of 8 with a fixed-count inner loop over
// restrict-qualified pointers: that is what the compiler vectorises at -O2. They are kept
// out of line (LATENT_NORM_ROW), because once inlined GCC forgets the restrict promise
// and leaves them scalar.
#if defined(__GNUC__)
#define LATENT_NORM_ROW __attribute__((noinline))
#else
#define LATENT_NORM_ROW
#endif

// body(i) for every i < n: blocks of 8, then the tail.
template <class Body>
LATENT_ALWAYS_INLINE void norm_loop(std::int64_t n, Body body) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) body(i + j);
  for (; i < n; ++i) body(i);
}

// sum over i < n of a[i] * b[i], with 8 running partial sums (a fixed order).
template <class T>
LATENT_NORM_ROW T dot_row(const T* LATENT_RESTRICT a, const T* LATENT_RESTRICT b, std::int64_t n) {
  T lanes[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] += a[i + j] * b[i + j];
  T tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])) + tail;
}

// y = (x - m) * r
template <class T>
LATENT_NORM_ROW void standardize_row(const T* LATENT_RESTRICT x, T* LATENT_RESTRICT y, std::int64_t n, T m, T r) {
  norm_loop(n, [&](std::int64_t i) { y[i] = (x[i] - m) * r; });
}

// dx = r * (gh - mean_g - xhat * mean_gx)
template <class T>
LATENT_NORM_ROW void standardize_backward_row(const T* LATENT_RESTRICT gh, const T* LATENT_RESTRICT xhat, T* LATENT_RESTRICT dx,
                              std::int64_t n, T r, T mean_g, T mean_gx) {
  norm_loop(n, [&](std::int64_t i) { dx[i] = r * (gh[i] - mean_g - xhat[i] * mean_gx); });
}

// y = x * scale + shift, per element (scale and shift arrays; either may be null: 1 and 0).
template <class T>
LATENT_NORM_ROW void affine_row(const T* LATENT_RESTRICT x, const T* LATENT_RESTRICT scale, const T* LATENT_RESTRICT shift,
                T* LATENT_RESTRICT y, std::int64_t n) {
  if (scale && shift)
    norm_loop(n, [&](std::int64_t i) { y[i] = x[i] * scale[i] + shift[i]; });
  else if (scale)
    norm_loop(n, [&](std::int64_t i) { y[i] = x[i] * scale[i]; });
  else
    norm_loop(n, [&](std::int64_t i) { y[i] = x[i] + shift[i]; });
}

// The same in place: y = y * scale + shift.
template <class T>
LATENT_NORM_ROW void affine_row_inplace(T* y, const T* LATENT_RESTRICT scale, const T* LATENT_RESTRICT shift, std::int64_t n) {
  if (scale && shift)
    norm_loop(n, [&](std::int64_t i) { y[i] = y[i] * scale[i] + shift[i]; });
  else if (scale)
    norm_loop(n, [&](std::int64_t i) { y[i] = y[i] * scale[i]; });
  else
    norm_loop(n, [&](std::int64_t i) { y[i] = y[i] + shift[i]; });
}

// y = x * s + t with scalars s and t; y may be x.
template <class T>
LATENT_NORM_ROW void scale_shift_row(const T* x, T* y, std::int64_t n, T s, T t) {
  if (x == y)
    norm_loop(n, [&](std::int64_t i) { y[i] = y[i] * s + t; });
  else
    norm_loop(n, [&](std::int64_t i) { y[i] = x[i] * s + t; });
}

// dx = s * gh - x * k (rms_norm's backward, s and k per row)
template <class T>
LATENT_NORM_ROW void rms_backward_row(const T* LATENT_RESTRICT gh, const T* LATENT_RESTRICT x, T* LATENT_RESTRICT dx, std::int64_t n,
                      T s, T k) {
  norm_loop(n, [&](std::int64_t i) { dx[i] = s * gh[i] - x[i] * k; });
}

// sw += g * x and sb += g, elementwise, in double.
template <class T>
LATENT_NORM_ROW void accumulate_row(const T* LATENT_RESTRICT g, const T* LATENT_RESTRICT x, double* LATENT_RESTRICT sw,
                                    double* LATENT_RESTRICT sb, std::int64_t n) {
  norm_loop(n, [&](std::int64_t i) {
    sw[i] += static_cast<double>(g[i] * x[i]);
    sb[i] += static_cast<double>(g[i]);
  });
}

// Calls fn(c) for every group, groups spread over threads in fixed chunks.
template <class Fn>
void for_each_group(const NormLayout& l, Fn fn) {
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(l.group_size(), 1));
  parallel_for(0, l.c, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c) fn(c);
  });
}

// ---- the standardisation, group by group ----

// Per group: mean and biased variance (two passes: stable for large offsets).
template <class T>
void group_moments(const T* x, const NormLayout& l, T* mean, T* var) {
  for_each_group(l, [&](std::int64_t c) {
    T total = 0;
    for (std::int64_t a = 0; a < l.a; ++a) total += kernels::sum(x + (a * l.c + c) * l.b, l.b);
    const T m = total / static_cast<T>(l.group_size());
    T squares = 0;
    for (std::int64_t a = 0; a < l.a; ++a)
      squares += kernels::sum_map(x + (a * l.c + c) * l.b, l.b, [m](T v) { return (v - m) * (v - m); });
    mean[c] = m;
    var[c] = squares / static_cast<T>(l.group_size());
  });
}

// y = (x - mean) * rstd in every group.
template <class T>
void standardize_groups(const T* x, const NormLayout& l, const T* mean, const T* rstd, T* y) {
  for_each_group(l, [&](std::int64_t c) {
    for (std::int64_t a = 0; a < l.a; ++a) {
      const std::int64_t at = (a * l.c + c) * l.b;
      standardize_row(x + at, y + at, l.b, mean[c], rstd[c]);
    }
  });
}

// dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)) in every group.
template <class T>
void standardize_backward_groups(const T* gh, const T* xhat, const NormLayout& l, const T* rstd, T* dx) {
  for_each_group(l, [&](std::int64_t c) {
    T sum_g = 0, sum_gx = 0;
    for (std::int64_t a = 0; a < l.a; ++a) {
      const std::int64_t at = (a * l.c + c) * l.b;
      sum_g += kernels::sum(gh + at, l.b);
      sum_gx += dot_row(gh + at, xhat + at, l.b);
    }
    const T count = static_cast<T>(l.group_size());
    for (std::int64_t a = 0; a < l.a; ++a) {
      const std::int64_t at = (a * l.c + c) * l.b;
      standardize_backward_row(gh + at, xhat + at, dx + at, l.b, rstd[c], sum_g / count, sum_gx / count);
    }
  });
}

// ---- the affine map y[o, j, i] = x[o, j, i] * weight[j] + bias[j] ----

// y = x * scale[j] + shift[j] over the affine layout; either may be null (1 and 0). y may
// be x (in place).
template <class T>
void affine_map(const T* x, const NormLayout& l, const T* scale, const T* shift, T* y) {
  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(l.c * l.b, 1));
  parallel_for(0, l.a, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t o = begin; o < end; ++o) {
      const std::int64_t row = o * l.c * l.b;
      if (l.b == 1) {  // one value per parameter (layer_norm): along the parameters
        if (x == y)
          affine_row_inplace(y + row, scale, shift, l.c);
        else
          affine_row(x + row, scale, shift, y + row, l.c);
        continue;
      }
      for (std::int64_t j = 0; j < l.c; ++j)
        scale_shift_row(x + row + j * l.b, y + row + j * l.b, l.b, scale ? scale[j] : T(1), shift ? shift[j] : T(0));
    }
  });
}

// The gradients of the affine parameters: dweight[j] = sum over o, i of g * xhat and
// dbias[j] = sum of g (either output may be null), in double for float. Each parameter's
// sum runs over o (then i) in order, so how the parameters are split over threads does
// not change the result.
template <class T>
void affine_backward(const T* g, const T* xhat, const NormLayout& l, T* dweight, T* dbias) {
  parallel_for(0, l.c, 512, [&](std::int64_t j0, std::int64_t j1) {
    const std::int64_t n = j1 - j0;
    std::vector<double> sums(static_cast<std::size_t>(2 * n), 0.0);
    double* sw = sums.data();
    double* sb = sums.data() + n;
    for (std::int64_t o = 0; o < l.a; ++o) {
      if (l.b == 1) {  // one value per parameter: add the row's slice elementwise
        accumulate_row(g + o * l.c + j0, xhat + o * l.c + j0, sw, sb, n);
        continue;
      }
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t at = (o * l.c + j0 + j) * l.b;
        sw[j] += static_cast<double>(dot_row(g + at, xhat + at, l.b));
        sb[j] += static_cast<double>(kernels::sum(g + at, l.b));
      }
    }
    for (std::int64_t j = 0; j < n; ++j) {
      if (dweight) dweight[j0 + j] = static_cast<T>(sw[j]);
      if (dbias) dbias[j0 + j] = static_cast<T>(sb[j]);
    }
  });
}

template <class T>
Tensor<T> contiguous_values(const Tensor<T>& t) {
  return t.is_contiguous() ? t.detach() : contiguous_copy(t);
}

// Batch statistics of a standardisation, for batch_norm's running averages.
template <class T>
struct GroupStatistics {
  Tensor<T> mean, var;  // per group; var biased
};

// y = standardise(x over plan.groups) * weight + bias (each optional). See the top of the file.
template <class T>
Tensor<T> normalize_affine(const Tensor<T>& x, const NormPlan& plan, double eps, const Tensor<T>& weight,
                           const Tensor<T>& bias, const char* name, GroupStatistics<T>* statistics = nullptr) {
  const NormLayout& groups = plan.groups;
  const Tensor<T> xc = contiguous_values(x);
  Tensor<T> mean(Shape{groups.c}), var(Shape{groups.c}), rstd(Shape{groups.c});
  group_moments(xc.data(), groups, mean.data(), var.data());
  for (std::int64_t c = 0; c < groups.c; ++c) rstd.data()[c] = T(1) / std::sqrt(var.data()[c] + static_cast<T>(eps));
  Tensor<T> out(x.shape());
  standardize_groups(xc.data(), groups, mean.data(), rstd.data(), out.data());
  const bool has_w = weight.defined(), has_b = bias.defined();
  if (has_w || has_b) {
    const Tensor<T> w = has_w ? contiguous_values(weight) : Tensor<T>(), b = has_b ? contiguous_values(bias) : Tensor<T>();
    affine_map<T>(out.data(), plan.affine, has_w ? w.data() : nullptr, has_b ? b.data() : nullptr, out.data());
  }
  if (statistics) *statistics = {mean, var};

  const bool gx = x.requires_grad(), gw = has_w && weight.requires_grad(), gb = has_b && bias.requires_grad();
  std::vector<const Tensor<T>*> inputs{&x};
  if (has_w) inputs.push_back(&weight);
  if (has_b) inputs.push_back(&bias);
  const Tensor<T> w = weight;
  const Shape bias_shape = bias.shape();
  return record<T>(out, name, inputs, [x, w, plan, eps, bias_shape, mean, rstd, gx, gw, gb, has_w, has_b](const Tensor<T>& g) {
    Tensor<T> dx, dw, db;
    if (!is_grad_enabled()) {  // an ordinary backward: fused loops on the saved statistics
      const Tensor<T> xc = contiguous_values(x), gc = contiguous_values(g);
      Tensor<T> xhat(x.shape());
      standardize_groups(xc.data(), plan.groups, mean.data(), rstd.data(), xhat.data());
      if (gx) {
        Tensor<T> gh = gc;
        if (has_w) {
          gh = Tensor<T>(x.shape());
          affine_map<T>(gc.data(), plan.affine, contiguous_values(w).data(), nullptr, gh.data());
        }
        dx = Tensor<T>(x.shape());
        standardize_backward_groups(gh.data(), xhat.data(), plan.groups, rstd.data(), dx.data());
      }
      if (gw) dw = Tensor<T>(w.shape());
      if (gb) db = Tensor<T>(bias_shape);
      if (gw || gb) affine_backward(gc.data(), xhat.data(), plan.affine, gw ? dw.data() : nullptr, gb ? db.data() : nullptr);
    } else {  // differentiable: the statistics recomputed from x with differentiable ops
      const Shape groups{plan.groups.a, plan.groups.c, plan.groups.b};
      const std::vector<std::int64_t> over{0, 2};
      const Tensor<T> x3 = x.reshape(groups);
      const Tensor<T> centred = x3 - x3.mean(over, true);
      const Tensor<T> r = rsqrt(centred.square().mean(over, true) + static_cast<T>(eps));
      const Tensor<T> xhat3 = centred * r;
      if (gx) {
        const Tensor<T> gh3 = (has_w ? g * w.reshape(plan.affine_shape) : g).reshape(groups);
        dx = (r * (gh3 - gh3.mean(over, true) - xhat3 * (gh3 * xhat3).mean(over, true))).reshape(x.shape());
      }
      if (gw) dw = sum_to(g * xhat3.reshape(x.shape()), plan.affine_shape).reshape(w.shape());
      if (gb) db = sum_to(g, plan.affine_shape).reshape(bias_shape);
    }
    std::vector<Tensor<T>> grads{dx};
    if (has_w) grads.push_back(dw);
    if (has_b) grads.push_back(db);
    return grads;
  });
}

// [C, 1, ..., 1]: a per-channel vector shaped to broadcast against [N, C, spatial...].
inline Shape channel_shape(std::int64_t channels, int rank) {
  Shape s{channels};
  for (int i = 2; i < rank; ++i) s.push_back(1);
  return s;
}

template <class T>
void check_affine(const Tensor<T>& t, const Shape& expected, const char* op, const char* what) {
  LATENT_CHECK(!t.defined() || t.shape() == expected, op, ": ", what, " of shape ", t.shape(),
               " does not match the expected shape ", expected);
}

}  // namespace detail

namespace nn::functional {

// Standardises x over its last dims (those of normalized_shape), then y = xhat * weight + bias.
// weight and bias (optional: pass Tensor<T>()) have shape normalized_shape.
template <class T>
Tensor<T> layer_norm(const Tensor<T>& x, const Shape& normalized_shape, const Tensor<T>& weight = Tensor<T>(),
                     const Tensor<T>& bias = Tensor<T>(), double eps = 1e-5) {
  static_assert(std::is_floating_point<T>::value, "layer_norm: needs a floating-point tensor");
  const int k = normalized_shape.size();
  bool fits = k >= 1 && x.dim() >= k;
  for (int i = 0; fits && i < k; ++i) fits = x.shape()[x.dim() - k + i] == normalized_shape[i];
  LATENT_CHECK(fits, "layer_norm: normalized_shape ", normalized_shape,
               " does not match the last dims of the input ", x.shape());
  detail::check_affine(weight, normalized_shape, "layer_norm", "weight");
  detail::check_affine(bias, normalized_shape, "layer_norm", "bias");
  const std::int64_t n = normalized_shape.numel();
  const std::int64_t rows = n == 0 ? 0 : x.numel() / n;
  const detail::NormPlan plan{{1, rows, n}, {rows, n, 1}, normalized_shape};
  return detail::normalize_affine(x, plan, eps, weight, bias, "layer_norm");
}

// Splits the channels (dim 1) of x [N, C, ...] into num_groups groups and standardises each
// group of each sample; weight and bias (optional) are per channel, shape [C].
template <class T>
Tensor<T> group_norm(const Tensor<T>& x, std::int64_t num_groups, const Tensor<T>& weight = Tensor<T>(),
                     const Tensor<T>& bias = Tensor<T>(), double eps = 1e-5) {
  static_assert(std::is_floating_point<T>::value, "group_norm: needs a floating-point tensor");
  LATENT_CHECK(x.dim() >= 2, "group_norm: expects an input of shape [N, C, ...], got ", x.shape());
  const std::int64_t n = x.shape()[0], channels = x.shape()[1];
  LATENT_CHECK(num_groups > 0 && channels % num_groups == 0, "group_norm: ", channels,
               " channels cannot be split into ", num_groups, " groups (input of shape ", x.shape(), ")");
  detail::check_affine(weight, Shape{channels}, "group_norm", "weight");
  detail::check_affine(bias, Shape{channels}, "group_norm", "bias");
  const std::int64_t per_sample = n == 0 ? 0 : x.numel() / n;
  const std::int64_t spatial = channels == 0 ? 0 : per_sample / channels;
  const detail::NormPlan plan{{1, n * num_groups, per_sample / num_groups}, {n, channels, spatial},
                              detail::channel_shape(channels, x.dim())};
  return detail::normalize_affine(x, plan, eps, weight, bias, "group_norm");
}

// Batch normalisation of x [N, C, ...] per channel. Training: standardise with the batch's
// mean and biased variance, and (when given) update the running statistics in place:
//   running_mean = (1 - momentum) running_mean + momentum mean
//   running_var  = (1 - momentum) running_var  + momentum var * n / (n - 1)   (unbiased)
// Evaluation: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
// Optional tensors are undefined (Tensor<T>()); all are of shape [C]. As in PyTorch,
// `training` defaults to false.
template <class T>
Tensor<T> batch_norm(const Tensor<T>& x, const Tensor<T>& running_mean, const Tensor<T>& running_var,
                     const Tensor<T>& weight = Tensor<T>(), const Tensor<T>& bias = Tensor<T>(),
                     bool training = false, double momentum = 0.1, double eps = 1e-5) {
  static_assert(std::is_floating_point<T>::value, "batch_norm: needs a floating-point tensor");
  LATENT_CHECK(x.dim() >= 2, "batch_norm: expects an input of shape [N, C, ...], got ", x.shape());
  const std::int64_t channels = x.shape()[1];
  const Shape per_channel{channels};
  detail::check_affine(weight, per_channel, "batch_norm", "weight");
  detail::check_affine(bias, per_channel, "batch_norm", "bias");
  detail::check_affine(running_mean, per_channel, "batch_norm", "running_mean");
  detail::check_affine(running_var, per_channel, "batch_norm", "running_var");
  LATENT_CHECK(running_mean.defined() == running_var.defined(),
               "batch_norm: running_mean and running_var must be given together");
  const Shape affine_shape = detail::channel_shape(channels, x.dim());

  if (!training) {
    LATENT_CHECK(running_mean.defined(), "batch_norm: evaluation mode needs running_mean and running_var");
    // y = x * scale + shift, scale = weight / sqrt(running_var + eps), shift = bias - running_mean * scale.
    const Tensor<T> inv_std = detail::map<T>(running_var.detach(), [eps](T v) { return T(1) / std::sqrt(v + static_cast<T>(eps)); });
    const Tensor<T> scale = weight.defined() ? weight * inv_std : inv_std;
    const Tensor<T> mean = running_mean.detach();
    const Tensor<T> shift = bias.defined() ? bias - mean * scale : -(mean * scale);
    return x * scale.reshape(affine_shape) + shift.reshape(affine_shape);
  }

  const std::int64_t spatial = x.shape()[0] * channels == 0 ? 0 : x.numel() / (x.shape()[0] * channels);
  const std::int64_t count = x.shape()[0] * spatial;
  LATENT_CHECK(count > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape ",
               x.shape());
  detail::GroupStatistics<T> stats;
  const detail::NormLayout layout{x.shape()[0], channels, spatial};
  Tensor<T> out = detail::normalize_affine(x, detail::NormPlan{layout, layout, affine_shape}, eps, weight, bias,
                                           "batch_norm", &stats);
  if (running_mean.defined()) {
    NoGradGuard no_grad;
    const T m = static_cast<T>(momentum);
    const T unbias = static_cast<T>(count) / static_cast<T>(count - 1);
    Tensor<T> rm = running_mean, rv = running_var;
    rm.mul_(T(1) - m).add_(stats.mean, m);
    rv.mul_(T(1) - m).add_(stats.var, m * unbias);
  }
  return out;
}

// Scales each row of x (its last dims, those of normalized_shape) to unit root mean square:
// y = x / sqrt(mean(x^2) + eps) * weight. weight (optional) has shape normalized_shape;
// eps defaults to the machine epsilon of T, as PyTorch's.
template <class T>
Tensor<T> rms_norm(const Tensor<T>& x, const Shape& normalized_shape, const Tensor<T>& weight = Tensor<T>(),
                   std::optional<double> eps = std::nullopt) {
  static_assert(std::is_floating_point<T>::value, "rms_norm: needs a floating-point tensor");
  const int k = normalized_shape.size();
  bool fits = k >= 1 && x.dim() >= k;
  for (int i = 0; fits && i < k; ++i) fits = x.shape()[x.dim() - k + i] == normalized_shape[i];
  LATENT_CHECK(fits, "rms_norm: normalized_shape ", normalized_shape, " does not match the last dims of the input ",
               x.shape());
  detail::check_affine(weight, normalized_shape, "rms_norm", "weight");
  const T e = eps ? static_cast<T>(*eps) : std::numeric_limits<T>::epsilon();
  const std::int64_t n = normalized_shape.numel(), rows = n == 0 ? 0 : x.numel() / n;

  // Forward: r = 1 / sqrt(mean(x^2) + eps) per row, y = x * r * weight.
  const Tensor<T> xc = detail::contiguous_values(x);
  Tensor<T> r(Shape{rows}), out(x.shape());
  {
    const Tensor<T> w = weight.defined() ? detail::contiguous_values(weight) : Tensor<T>();
    const T* in = xc.data();
    const T* wp = w.defined() ? w.data() : nullptr;
    T* rp = r.data();
    T* o = out.data();
    const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n, 1));
    parallel_for(0, rows, grain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const T* xr = in + row * n;
        const T scale = T(1) / std::sqrt(kernels::sum_map(xr, n, [](T v) { return v * v; }) / static_cast<T>(n) + e);
        rp[row] = scale;
        T* yr = o + row * n;
        detail::scale_shift_row(xr, yr, n, scale, T(0));
        if (wp) detail::affine_row_inplace(yr, wp, static_cast<const T*>(nullptr), n);
      }
    });
  }
  const bool gx = x.requires_grad(), gw = weight.defined() && weight.requires_grad(), has_w = weight.defined();
  std::vector<const Tensor<T>*> inputs{&x};
  if (has_w) inputs.push_back(&weight);
  const Shape rows_shape{rows, n};
  return record<T>(out, "rms_norm", inputs, [x, weight, r, e, gx, gw, has_w, rows_shape, normalized_shape](const Tensor<T>& g) {
    const std::int64_t rows = rows_shape[0], n = rows_shape[1];
    Tensor<T> dx, dw;
    if (!is_grad_enabled()) {  // an ordinary backward: fused loops on the saved r
      const Tensor<T> xc = latent::detail::contiguous_values(x), gc = latent::detail::contiguous_values(g);
      const Tensor<T> wc = has_w ? latent::detail::contiguous_values(weight) : Tensor<T>();
      const T* xp = xc.data();
      const T* gp = gc.data();
      const T* wp = has_w ? wc.data() : nullptr;
      const T* rp = r.data();
      if (gx) {
        dx = Tensor<T>(x.shape());
        T* d = dx.data();
        const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n, 1));
        parallel_for(0, rows, grain, [&](std::int64_t begin, std::int64_t end) {
          std::vector<T> gh(static_cast<std::size_t>(n));
          for (std::int64_t row = begin; row < end; ++row) {
            const std::int64_t at = row * n;
            if (wp)
              latent::detail::affine_row(gp + at, wp, static_cast<const T*>(nullptr), gh.data(), n);
            else
              std::copy(gp + at, gp + at + n, gh.begin());
            const T s = rp[row], k = s * s * s * latent::detail::dot_row(gh.data(), xp + at, n) / static_cast<T>(n);
            latent::detail::rms_backward_row(gh.data(), xp + at, d + at, n, s, k);
          }
        });
      }
      if (gw) {
        Tensor<T> xhat(x.shape());
        T* xh = xhat.data();
        parallel_for(0, rows, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(n, 1)), [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t row = b; row < e; ++row) latent::detail::scale_shift_row(xp + row * n, xh + row * n, n, rp[row], T(0));
        });
        dw = Tensor<T>(normalized_shape);
        latent::detail::affine_backward(gp, xhat.data(), latent::detail::NormLayout{rows, n, 1}, dw.data(),
                                        static_cast<T*>(nullptr));
      }
    } else {  // differentiable: r recomputed from x
      const Tensor<T> x2 = x.reshape(rows_shape);
      const Tensor<T> scale = rsqrt(x2.square().mean(std::int64_t(1), true) + e);
      if (gx) {
        const Tensor<T> gh2 = (has_w ? g * weight : g).reshape(rows_shape);
        dx = (scale * gh2 - x2 * (scale * scale * scale) * (gh2 * x2).mean(std::int64_t(1), true)).reshape(x.shape());
      }
      if (gw) dw = sum_to((g.reshape(rows_shape) * (x2 * scale)).reshape(x.shape()), normalized_shape);
    }
    std::vector<Tensor<T>> grads{dx};
    if (has_w) grads.push_back(dw);
    return grads;
  });
}

}  // namespace nn::functional
}  // namespace latent

#undef LATENT_NORM_ROW
