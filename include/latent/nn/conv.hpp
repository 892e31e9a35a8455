// Convolution layers, as torch.nn.Conv1d / Conv2d / ConvTranspose2d. Weights and biases
// are drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.size(1) * kernel
// area (PyTorch's Kaiming-uniform with a = sqrt 5).
#pragma once

#include <cmath>
#include <string>

#include "functional/conv.hpp"
#include "init.hpp"
#include "module.hpp"

namespace latent::nn {

namespace conv_layer {
// Registers weight and (optionally) bias with PyTorch's default convolution init.
template <class T>
void init_conv(Module<T>& m, Tensor<T>& weight, Tensor<T>& bias, const Shape& weight_shape, std::int64_t bias_size,
               bool with_bias, Generator& gen) {
  weight = empty<T>(weight_shape);
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  weight = m.register_parameter("weight", weight);
  if (with_bias) {
    const double bound = 1 / std::sqrt(double(init::calculate_fan_in_and_fan_out(weight_shape).first));
    bias = empty<T>({bias_size});
    init::uniform_(bias, gen, -bound, bound);
    bias = m.register_parameter("bias", bias);
  }
}
inline void check_conv_channels(const char* op, std::int64_t in, std::int64_t out, std::int64_t groups) {
  LATENT_CHECK(in > 0 && out > 0 && groups > 0, op, ": channels and groups must be positive");
  LATENT_CHECK(in % groups == 0 && out % groups == 0, op, ": in_channels ", in, " and out_channels ", out,
               " must be divisible by groups ", groups);
}
}  // namespace conv_layer

template <class T>
class Conv2d : public Module<T> {
 public:
  Tensor<T> weight, bias;
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, functional::IntPair kernel_size, Generator& gen,
         functional::IntPair stride = 1, functional::IntPair padding = 0, functional::IntPair dilation = 1,
         std::int64_t groups = 1, bool with_bias = true)
      : stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
    conv_layer::check_conv_channels("Conv2d", in_channels, out_channels, groups);
    conv_layer::init_conv(*this, weight, bias, {out_channels, in_channels / groups, kernel_size.h, kernel_size.w},
                      out_channels, with_bias, gen);
  }
  std::string name() const override { return "Conv2d"; }
  Tensor<T> forward(const Tensor<T>& x) override {
    return functional::conv2d(x, weight, bias, stride_, padding_, dilation_, groups_);
  }

 private:
  functional::IntPair stride_, padding_, dilation_;
  std::int64_t groups_;
};

template <class T>
class Conv1d : public Module<T> {
 public:
  Tensor<T> weight, bias;
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Generator& gen,
         std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t dilation = 1, std::int64_t groups = 1,
         bool with_bias = true)
      : stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
    conv_layer::check_conv_channels("Conv1d", in_channels, out_channels, groups);
    conv_layer::init_conv(*this, weight, bias, {out_channels, in_channels / groups, kernel_size}, out_channels,
                      with_bias, gen);
  }
  std::string name() const override { return "Conv1d"; }
  Tensor<T> forward(const Tensor<T>& x) override {
    return functional::conv1d(x, weight, bias, stride_, padding_, dilation_, groups_);
  }

 private:
  std::int64_t stride_, padding_, dilation_, groups_;
};

template <class T>
class ConvTranspose2d : public Module<T> {
 public:
  Tensor<T> weight, bias;
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, functional::IntPair kernel_size,
                  Generator& gen, functional::IntPair stride = 1, functional::IntPair padding = 0,
                  functional::IntPair output_padding = 0, std::int64_t groups = 1, bool with_bias = true,
                  functional::IntPair dilation = 1)
      : stride_(stride), padding_(padding), output_padding_(output_padding), dilation_(dilation), groups_(groups) {
    conv_layer::check_conv_channels("ConvTranspose2d", in_channels, out_channels, groups);
    conv_layer::init_conv(*this, weight, bias, {in_channels, out_channels / groups, kernel_size.h, kernel_size.w},
                      out_channels, with_bias, gen);
  }
  std::string name() const override { return "ConvTranspose2d"; }
  Tensor<T> forward(const Tensor<T>& x) override {
    return functional::conv_transpose2d(x, weight, bias, stride_, padding_, output_padding_, groups_, dilation_);
  }

 private:
  functional::IntPair stride_, padding_, output_padding_, dilation_;
  std::int64_t groups_;
};

}  // namespace latent::nn
