// gradcheck / gradgradcheck: compare autograd's derivatives with central finite
// differences, as torch.autograd.gradcheck does (float64, eps 1e-6, atol 1e-5, rtol 1e-3).
//
// For f: inputs -> output, the analytical Jacobian row for output element j is the
// gradient of out[j] (a backward pass with a one-hot output gradient); the numerical
// column for input element i is (f(x + eps e_i) - f(x - eps e_i)) / (2 eps). They must
// agree elementwise within atol + rtol |numerical|.
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "../tensor/creation.hpp"
#include "autograd.hpp"
#include "binary_ops.hpp"
#include "join_ops.hpp"
#include "reduce_ops.hpp"

namespace latent {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

// Outcome of a check: ok, or a message naming the worst mismatch.
struct GradcheckResult {
  bool ok = true;
  std::string message;
  explicit operator bool() const { return ok; }
};

using GradcheckFn = std::function<Tensor<double>(const std::vector<Tensor<double>>&)>;

namespace detail {

// Writes through any view to element `flat` (row-major) of t.
template <class T>
T& element(const Tensor<T>& t, std::int64_t flat) {
  std::int64_t o = t.offset();
  for (int d = t.dim() - 1; d >= 0; --d) {
    o += (flat % t.shape()[d]) * t.strides()[d];
    flat /= t.shape()[d];
  }
  return t.storage()->data()[o];
}

inline GradcheckResult compare_jacobians(const std::vector<std::vector<double>>& analytical,
                                         const std::vector<std::vector<double>>& numerical,
                                         const GradcheckOptions& opt, const char* what) {
  GradcheckResult r;
  double worst = 0;
  for (std::size_t k = 0; k < analytical.size(); ++k) {
    for (std::size_t i = 0; i < analytical[k].size(); ++i) {
      const double a = analytical[k][i], n = numerical[k][i];
      const double excess = std::fabs(a - n) - (opt.atol + opt.rtol * std::fabs(n));
      if (!(excess <= 0) && (r.ok || excess > worst)) {
        worst = excess;
        std::ostringstream s;
        s << what << ": input " << k << ", Jacobian entry " << i << ": analytical " << a
          << " vs numerical " << n;
        r.ok = false;
        r.message = s.str();
      }
    }
  }
  return r;
}

// Jacobians of f at `inputs`, flattened per input as [out_element * in_numel + in_element].
template <class Fn>
GradcheckResult check_first_order(const Fn& f, const std::vector<Tensor<double>>& inputs,
                                  const GradcheckOptions& opt, const char* what) {
  std::vector<Tensor<double>> leaves;
  for (const Tensor<double>& x : inputs) {
    Tensor<double> leaf = x.detach();
    leaf.requires_grad_(x.requires_grad());
    leaves.push_back(leaf);
  }
  std::vector<Tensor<double>> wrt;
  std::vector<std::size_t> wrt_index;
  for (std::size_t k = 0; k < leaves.size(); ++k)
    if (leaves[k].requires_grad()) {
      wrt.push_back(leaves[k]);
      wrt_index.push_back(k);
    }
  LATENT_CHECK(!wrt.empty(), "gradcheck: no input requires grad");

  const Tensor<double> out = f(leaves);
  const std::int64_t m = out.numel();
  std::vector<std::vector<double>> analytical(wrt.size()), numerical(wrt.size());
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    analytical[k].assign(static_cast<std::size_t>(m * wrt[k].numel()), 0.0);
    numerical[k].assign(static_cast<std::size_t>(m * wrt[k].numel()), 0.0);
  }
  if (out.requires_grad()) {
    for (std::int64_t j = 0; j < m; ++j) {
      Tensor<double> onehot = zeros<double>(out.shape());
      onehot.data()[j] = 1.0;
      const std::vector<Tensor<double>> grads =
          autograd::grad<double>({out}, wrt, {onehot}, false, true, true);
      for (std::size_t k = 0; k < wrt.size(); ++k) {
        if (!grads[k].defined()) continue;
        const Tensor<double> g = grads[k].contiguous();
        for (std::int64_t i = 0; i < g.numel(); ++i)
          analytical[k][static_cast<std::size_t>(j * g.numel() + i)] = g.data()[i];
      }
    }
  }
  NoGradGuard no_grad;
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    const Tensor<double>& x = leaves[wrt_index[k]];
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      double& v = element(x, i);
      const double saved = v;
      v = saved + opt.eps;
      const Tensor<double> plus = contiguous_copy(f(leaves));  // a copy: f may return a view of x
      v = saved - opt.eps;
      const Tensor<double> minus = contiguous_copy(f(leaves));
      v = saved;
      for (std::int64_t j = 0; j < m; ++j)
        numerical[k][static_cast<std::size_t>(j * x.numel() + i)] =
            (plus.data()[j] - minus.data()[j]) / (2 * opt.eps);
    }
  }
  return compare_jacobians(analytical, numerical, opt, what);
}

}  // namespace detail

// Checks f's first derivatives with respect to every input that requires grad. f is any
// callable with GradcheckFn's signature (a GradcheckFn, a lambda...).
template <class Fn>
GradcheckResult gradcheck(const Fn& f, const std::vector<Tensor<double>>& inputs,
                          const GradcheckOptions& opt = {}) {
  return detail::check_first_order(f, inputs, opt, "gradcheck");
}

// Checks second derivatives: the function x -> J(x)^T v (the gradient for a fixed random
// output gradient v, built with create_graph) must itself pass gradcheck.
template <class Fn>
GradcheckResult gradgradcheck(const Fn& f, const std::vector<Tensor<double>>& inputs,
                              const GradcheckOptions& opt = {}, std::uint64_t seed = 0) {
  Generator gen(seed);
  Tensor<double> v;
  {
    NoGradGuard no_grad;
    std::vector<Tensor<double>> detached;
    for (const Tensor<double>& x : inputs) detached.push_back(x.detach());
    v = randn<double>(f(detached).shape(), gen);
  }
  const auto first = [&f, v](const std::vector<Tensor<double>>& xs) {
    // The first derivatives need a graph even while the outer check runs without one;
    // they are differentiable themselves only when the outer check asks for it.
    const bool differentiable = is_grad_enabled();
    EnableGradGuard enable;
    std::vector<Tensor<double>> wrt;
    for (const Tensor<double>& x : xs)
      if (x.requires_grad()) wrt.push_back(x);
    const Tensor<double> out = f(xs);
    std::vector<Tensor<double>> grads(wrt.size());
    if (out.requires_grad()) grads = autograd::grad<double>({out}, wrt, {v}, differentiable, true, true);
    std::vector<Tensor<double>> flat;
    for (std::size_t k = 0; k < grads.size(); ++k)
      flat.push_back(grads[k].defined() ? grads[k].reshape(Shape{-1}) : zeros<double>(Shape{wrt[k].numel()}));
    return cat(flat);
  };
  return detail::check_first_order(first, inputs, opt, "gradgradcheck");
}

}  // namespace latent
