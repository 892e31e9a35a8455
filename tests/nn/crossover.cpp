// PyTorch -> latent: every layer loads a PyTorch state_dict (tests/fixtures/modules,
// made by tools/gen_module_fixtures.py) and reproduces PyTorch's output and input and
// parameter gradients: float64 to 1e-10 relative, float32 to 1e-5. latent -> PyTorch:
// with LATENT_CROSSOVER_DIR set, the test also writes each layer's own state_dict, input
// and output there, for `gen_module_fixtures.py --check DIR` to load into PyTorch.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace crossover_test {

template <class T>
using Factory = std::function<std::shared_ptr<nn::Module<T>>(Generator&)>;

template <class T>
std::shared_ptr<nn::Module<T>> make(const std::string& name, Generator& g) {
  using namespace nn;
  if (name == "linear") return std::make_shared<Linear<T>>(5, 4, g);
  if (name == "linear_nobias") return std::make_shared<Linear<T>>(5, 4, g, false);
  if (name == "conv1d") return std::make_shared<Conv1d<T>>(3, 4, 3, g, 2, 1);
  if (name == "conv2d") return std::make_shared<Conv2d<T>>(4, 6, functional::IntPair(3, 2), g, functional::IntPair(2, 1), 1, functional::IntPair(1, 2), 2);
  if (name == "conv_transpose2d") return std::make_shared<ConvTranspose2d<T>>(4, 6, 3, g, 2, 1, 1, 2);
  if (name == "batchnorm1d") return std::make_shared<BatchNorm1d<T>>(4);
  if (name == "batchnorm2d") return std::make_shared<BatchNorm2d<T>>(3, 1e-5, 0.2);
  if (name == "layernorm") return std::make_shared<LayerNorm<T>>(Shape{3, 4});
  if (name == "groupnorm") return std::make_shared<GroupNorm<T>>(2, 6);
  if (name == "maxpool2d") return std::make_shared<MaxPool2d<T>>(3, 2, 1);
  if (name == "avgpool2d") return std::make_shared<AvgPool2d<T>>(2);
  if (name == "upsample") return std::make_shared<Upsample<T>>(2);
  if (name == "gelu_tanh") return std::make_shared<GELU<T>>("tanh");
  if (name == "elu") return std::make_shared<ELU<T>>(0.7);
  if (name == "softplus") return std::make_shared<Softplus<T>>(2.0, 5.0);
  if (name == "mlp") {
    auto m = std::make_shared<Sequential<T>>(std::make_shared<Linear<T>>(6, 8, g), std::make_shared<ReLU<T>>(),
                                             std::make_shared<Linear<T>>(8, 8, g), std::make_shared<Tanh<T>>(),
                                             std::make_shared<Linear<T>>(8, 3, g));
    auto wrapper = std::make_shared<Sequential<T>>();
    // PyTorch's SmallMLP names its Sequential "net": nest it under that name.
    struct Net : Module<T> {
      std::shared_ptr<Sequential<T>> net;
      explicit Net(std::shared_ptr<Sequential<T>> s) { net = this->register_module("net", s); }
      Tensor<T> forward(const Tensor<T>& x) override { return net->forward(x); }
    };
    return std::make_shared<Net>(m);
  }
  if (name == "convnet") {
    struct ConvNet : Module<T> {
      std::shared_ptr<Sequential<T>> features;
      std::shared_ptr<Linear<T>> head;
      explicit ConvNet(Generator& g) {
        features = this->register_module("features", std::make_shared<Sequential<T>>(
            std::make_shared<Conv2d<T>>(2, 4, 3, g, 1, 1), std::make_shared<BatchNorm2d<T>>(4),
            std::make_shared<LeakyReLU<T>>(0.2), std::make_shared<MaxPool2d<T>>(2),
            std::make_shared<Conv2d<T>>(4, 6, 3, g, 2, 1, 1, 2), std::make_shared<GroupNorm<T>>(2, 6),
            std::make_shared<SiLU<T>>(), std::make_shared<ConvTranspose2d<T>>(6, 3, 4, g, 2, 1),
            std::make_shared<Upsample<T>>(2), std::make_shared<AvgPool2d<T>>(2)));
        head = this->register_module("head", std::make_shared<Linear<T>>(48, 5, g));
      }
      Tensor<T> forward(const Tensor<T>& x) override { return head->forward(features->forward(x).flatten(1)); }
    };
    return std::make_shared<ConvNet>(g);
  }
  return nullptr;
}

// Largest difference relative to the largest expected magnitude (norm-wise relative
// error), with magnitudes under 1 compared absolutely.
template <class T>
double max_relative_error(const Tensor<T>& got, const Tensor<T>& want) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<T> a = got.to_vector(), b = want.to_vector();
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return worst / std::max(scale, 1.0);  // a gradient that is zero in exact arithmetic compares absolutely
}

template <class T>
void check_layer(const std::string& name, double tolerance) {
  INFO("layer ", name, " (", dtype_name<T>(), ")");
  const io::SafetensorsFile f = io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/modules/" + name +
                                                     "__" + (sizeof(T) == 8 ? "f64" : "f32") + ".safetensors");
  Generator gen(0);
  std::shared_ptr<nn::Module<T>> module = name == "embedding" ? std::make_shared<nn::Embedding<T>>(10, 4, gen) : make<T>(name, gen);
  REQUIRE(module != nullptr);
  nn::StateDict<T> sd;
  for (const std::string& key : f.names()) {
    if (key.rfind("sd.", 0) != 0) continue;
    if (f.entry(key).dtype == io::Dtype::I64) sd.integers[key.substr(3)] = f.get<std::int64_t>(key);
    else sd.tensors[key.substr(3)] = f.get<T>(key);
  }
  module->load_state_dict(sd);
  module->train();
  Tensor<T> out, x;
  if (name == "embedding") {
    out = static_cast<nn::Embedding<T>&>(*module).forward(f.get<std::int64_t>("input"));
  } else {
    x = f.get<T>("input").requires_grad_(true);
    out = module->forward(x);
  }
  CHECK(max_relative_error(out, f.get<T>("output")) < tolerance);
  (out * f.get<T>("gout")).sum().backward();
  if (x.defined()) CHECK(max_relative_error(x.grad(), f.get<T>("grad.input")) < tolerance);
  for (auto& p : module->named_parameters()) {
    INFO("parameter ", p.first);
    CHECK(max_relative_error(p.second.grad(), f.get<T>("grad." + p.first)) < tolerance);
  }
  for (auto& b : module->named_buffers()) {
    INFO("buffer ", b.first);
    CHECK(max_relative_error(b.second, f.get<T>("after." + b.first)) < tolerance);
  }

  // The other direction: our own state dict, input and output for PyTorch to check.
  const char* dir = std::getenv("LATENT_CROSSOVER_DIR");
  if (dir && sizeof(T) == 8 && x.defined()) {
    Generator fresh(42);
    auto ours = make<T>(name, fresh);
    ours->train();
    io::SafetensorsWriter w;
    const nn::StateDict<T> own = ours->state_dict();
    for (const auto& e : own.tensors) w.add("sd." + e.first, e.second);
    for (const auto& e : own.integers) w.add("sd." + e.first, e.second);
    const Tensor<T> input = randn<T>(x.shape(), fresh);
    w.add("input", input);
    w.add("output", ours->forward(input).detach());
    w.write(std::string(dir) + "/" + name + ".safetensors");
  }
}

inline const std::vector<std::string>& names() {
  static const std::vector<std::string> all = {"linear",    "linear_nobias", "conv1d",    "conv2d",   "conv_transpose2d",
                                               "batchnorm1d", "batchnorm2d", "layernorm", "groupnorm", "embedding",
                                               "maxpool2d", "avgpool2d",    "upsample",  "gelu_tanh", "elu",
                                               "softplus",  "mlp",          "convnet"};
  return all;
}

}  // namespace crossover_test

TEST_CASE("PyTorch layers load into latent and give the same outputs and gradients (float64)") {
  for (const std::string& name : crossover_test::names()) crossover_test::check_layer<double>(name, 1e-10);
}

TEST_CASE("PyTorch layers load into latent and give the same outputs and gradients (float32)") {
  for (const std::string& name : crossover_test::names()) crossover_test::check_layer<float>(name, 1e-5);
}
