// Module<T>: registration, dotted names, state_dict round trips, strict loading errors,
// train/eval, zero_grad; Sequential and ModuleList naming.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace latent;

namespace module_test {
// y = x * scale + shift, with a counter buffer.
struct Affine : nn::Module<double> {
  Tensor<double> scale, shift, calls;
  explicit Affine(std::int64_t n) {
    scale = register_parameter("scale", ones<double>({n}));
    shift = register_parameter("shift", zeros<double>({n}));
    calls = register_buffer("calls", zeros<double>({1}));
  }
  std::string name() const override { return "Affine"; }
  Tensor<double> forward(const Tensor<double>& x) override { return x * scale + shift; }
};

struct Net : nn::Module<double> {
  std::shared_ptr<Affine> first, second;
  std::shared_ptr<nn::ModuleList<double>> blocks;
  Net() {
    first = register_module("first", std::make_shared<Affine>(2));
    blocks = register_module("blocks", std::make_shared<nn::ModuleList<double>>());
    blocks->push_back(std::make_shared<Affine>(2));
    blocks->push_back(std::make_shared<Affine>(2));
    second = register_module("second", std::make_shared<Affine>(2));
    register_buffer("steps", zeros<std::int64_t>({}));
  }
  std::string name() const override { return "Net"; }
};
}  // namespace module_test

using module_test::Affine;
using module_test::Net;

TEST_CASE("parameters are registered in order with dotted names") {
  Net net;
  std::vector<std::string> names;
  for (auto& p : net.named_parameters()) names.push_back(p.first);
  CHECK(names == std::vector<std::string>{"first.scale", "first.shift", "blocks.0.scale", "blocks.0.shift",
                                          "blocks.1.scale", "blocks.1.shift", "second.scale", "second.shift"});
  CHECK(net.parameters().size() == 8);
  CHECK(net.num_parameters() == 16);
  CHECK(net.buffers().size() == 4);
  const nn::StateDict<double> sd = net.state_dict();
  CHECK(sd.tensors.size() == 12);
  CHECK(sd.integers.count("steps") == 1);
  CHECK(sd.contains("blocks.1.calls"));
  // The registered tensors are the members themselves.
  net.first->scale.grad();
  CHECK(net.named_parameters()[0].second.storage() == net.first->scale.storage());
  auto modules = net.named_modules();
  CHECK(modules.size() == 6);
  CHECK(modules[3].first == "blocks.0");
}

TEST_CASE("state_dict round-trips into another instance and values are copied in place") {
  Net a, b;
  {
    NoGradGuard no_grad;
    a.first->scale.fill_(3.0);
  }
  auto sd = a.state_dict();
  Tensor<double> alias = b.first->scale;
  b.load_state_dict(sd);
  CHECK(alias(0) == 3.0);  // every alias of the parameter sees the loaded value
  CHECK(b.first->scale(1) == 3.0);
}

TEST_CASE("strict loading reports every missing, unexpected and mismatched key at once") {
  Net net;
  auto sd = net.state_dict();
  sd.tensors.erase("second.shift");
  sd.tensors["extra.weight"] = zeros<double>({1});
  sd.tensors["first.scale"] = zeros<double>({3});
  const std::string message = latent_test::error_message([&] { net.load_state_dict(sd); });
  CHECK(message ==
        "Net: load_state_dict failed:\n"
        "  missing keys:\n    second.shift\n"
        "  unexpected keys:\n    extra.weight\n"
        "  shape mismatches:\n    first.scale: checkpoint [3], model [2]");
  CHECK_NOTHROW(net.load_state_dict(sd, false));
}

TEST_CASE("train/eval propagate; zero_grad drops gradients; names are validated") {
  Net net;
  net.eval();
  CHECK(!net.is_training());
  CHECK(!net.blocks->is_training());
  net.train();
  CHECK(net.second->is_training());
  Tensor<double> x = ones<double>({2});
  (*net.first)(x).sum().backward();
  CHECK(net.first->scale.grad().defined());
  net.zero_grad();
  CHECK(!net.first->scale.grad().defined());
  Affine m(1);
  CHECK_THROWS_AS(m.register_parameter("scale", zeros<double>({1})), Error);
  CHECK_THROWS_AS(m.register_parameter("a.b", zeros<double>({1})), Error);
  net.requires_grad_(false);
  CHECK(net.num_parameters(true) == 0);
}

TEST_CASE("Sequential chains forward and names children by index") {
  nn::Sequential<double> seq(std::make_shared<Affine>(2), std::make_shared<nn::Identity<double>>(),
                             std::make_shared<Affine>(2));
  {
    NoGradGuard no_grad;
    std::static_pointer_cast<Affine>(seq[0])->scale.fill_(2.0);
    std::static_pointer_cast<Affine>(seq[2])->shift.fill_(1.0);
  }
  CHECK(seq(tensor<double>({1, 2})).to_vector() == std::vector<double>{3, 5});
  CHECK(seq.state_dict().contains("2.shift"));
  CHECK_THROWS_AS(seq[3], Error);
  nn::Flatten<double> flat;
  CHECK(flat(zeros<double>({2, 3, 4})).shape() == Shape{2, 12});
}

TEST_CASE("a module's state dict round-trips through a safetensors file") {
  Net a, b;
  {
    NoGradGuard no_grad;
    a.second->shift.fill_(-2.5);
  }
  nn::save_safetensors("latent_test_module.safetensors", a);
  nn::load_safetensors("latent_test_module.safetensors", b);
  CHECK(b.second->shift.to_vector() == std::vector<double>{-2.5, -2.5});
  Affine other(3);
  CHECK_THROWS_AS(nn::load_safetensors("latent_test_module.safetensors", other), Error);
  std::remove("latent_test_module.safetensors");
}
