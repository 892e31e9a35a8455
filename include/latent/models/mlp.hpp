// The multilayer perceptron: affine layers with a nonlinearity between them,
//   h_0 = x,  h_k = relu(W_k h_{k-1} + b_k),  logits = W_L h_{L-1} + b_L,
// trained as a classifier with the cross-entropy of softmax(logits) against the labels.
// The layers live in a Sequential named "net", so the state dict reads as PyTorch's
// nn.Sequential would: net.0.weight, net.0.bias, net.2.weight, ...
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../nn/containers.hpp"
#include "../nn/layers.hpp"
#include "../nn/linear.hpp"
#include "../ops/reduce_ops.hpp"

namespace latent::models {

template <class T>
class MLP : public nn::Module<T> {
 public:
  std::shared_ptr<nn::Sequential<T>> net;

  // sizes: input, hidden..., output (e.g. {784, 256, 256, 10}).
  MLP(const std::vector<std::int64_t>& sizes, Generator& gen) {
    LATENT_CHECK(sizes.size() >= 2, "MLP: needs at least an input and an output size");
    net = this->register_module("net", std::make_shared<nn::Sequential<T>>());
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
      net->push_back(std::make_shared<nn::Linear<T>>(sizes[i], sizes[i + 1], gen));
      if (i + 2 < sizes.size()) net->push_back(std::make_shared<nn::ReLU<T>>());
    }
  }
  std::string name() const override { return "MLP"; }
  // Inputs [N, ...] are flattened to [N, input size].
  Tensor<T> forward(const Tensor<T>& x) override { return net->forward(x.dim() > 2 ? x.flatten(1) : x); }
};

// Fraction of rows whose largest logit is the label.
template <class T>
double accuracy(const Tensor<T>& logits, const Tensor<std::int64_t>& labels) {
  LATENT_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.shape()[0] == logits.shape()[0],
               "accuracy: expects logits [N, C] and labels [N], got ", logits.shape(), " and ", labels.shape());
  const std::vector<std::int64_t> predicted = logits.argmax(1).to_vector(), truth = labels.to_vector();
  std::int64_t right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : double(right) / double(truth.size());
}

}  // namespace latent::models
