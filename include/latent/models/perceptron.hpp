// Rosenblatt's perceptron (1958): a linear classifier with its own learning rule, no
// gradients involved.
//
//   predict(x) = sign(w . x + b)                    labels y in {-1, +1}
//   on a mistake (y (w . x + b) <= 0):  w <- w + lr y x,  b <- b + lr y
//
// On linearly separable data it stops making mistakes after finitely many updates (the
// perceptron convergence theorem); on XOR it never does, which is why hidden layers (the
// MLP) are needed.
#pragma once

#include <cstdint>
#include <vector>

#include "../tensor/creation.hpp"

namespace latent::models {

template <class T>
class Perceptron {
 public:
  explicit Perceptron(std::int64_t features, T learning_rate = T(1))
      : w_(static_cast<std::size_t>(features), T(0)), lr_(learning_rate) {
    LATENT_CHECK(features > 0, "Perceptron: needs at least one feature, got ", features);
  }

  T score(const T* x) const {
    T s = b_;
    for (std::size_t i = 0; i < w_.size(); ++i) s += w_[i] * x[i];
    return s;
  }
  int predict(const T* x) const { return score(x) > T(0) ? 1 : -1; }

  // Predictions (+1 / -1) for points [n, features].
  Tensor<std::int64_t> predict(const Tensor<T>& points) const {
    const Tensor<T> p = check(points, "predict").contiguous();
    Tensor<std::int64_t> out(Shape{p.shape()[0]});
    for (std::int64_t i = 0; i < p.shape()[0]; ++i) out.data()[i] = predict(p.data() + i * features());
    return out;
  }

  struct TrainResult {
    std::int64_t updates = 0;  // weight changes made
    std::int64_t epochs = 0;   // passes over the data
    bool converged = false;    // a full pass without a mistake
  };

  // Passes over the data in order until one makes no mistake, or max_epochs.
  TrainResult fit(const Tensor<T>& points, const Tensor<std::int64_t>& labels, std::int64_t max_epochs = 100) {
    const Tensor<T> p = check(points, "fit").contiguous();
    LATENT_CHECK(labels.dim() == 1 && labels.shape()[0] == p.shape()[0], "Perceptron::fit: ", p.shape()[0],
                 " points but labels of shape ", labels.shape());
    const Tensor<std::int64_t> y = labels.contiguous();
    TrainResult r;
    while (r.epochs < max_epochs && !r.converged) {
      ++r.epochs;
      r.converged = true;
      for (std::int64_t i = 0; i < p.shape()[0]; ++i) {
        const std::int64_t label = y.data()[i];
        LATENT_CHECK(label == 1 || label == -1, "Perceptron::fit: labels must be +1 or -1, got ", label);
        const T* x = p.data() + i * features();
        if (T(label) * score(x) > T(0)) continue;
        for (std::size_t k = 0; k < w_.size(); ++k) w_[k] += lr_ * T(label) * x[k];
        b_ += lr_ * T(label);
        ++r.updates;
        r.converged = false;
      }
    }
    return r;
  }

  std::int64_t features() const { return static_cast<std::int64_t>(w_.size()); }
  const std::vector<T>& weights() const { return w_; }
  T bias() const { return b_; }

 private:
  Tensor<T> check(const Tensor<T>& points, const char* what) const {
    LATENT_CHECK(points.dim() == 2 && points.shape()[1] == features(), "Perceptron::", what, ": expects points [n, ",
                 features(), "], got ", points.shape());
    return points;
  }
  std::vector<T> w_;
  T b_ = 0;
  T lr_;
};

}  // namespace latent::models
