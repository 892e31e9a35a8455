// The U-Net denoiser against PyTorch: the workload's UNet class (reduced channels) loaded
// from a PyTorch state_dict (tests/fixtures/unet, made by tools/gen_unet_fixtures.py) gives
// PyTorch's output, input gradient and parameter gradients; the class-conditional variant
// likewise; the default config has the workload's parameter count; bad inputs are errors.
// With LATENT_CROSSOVER_DIR set, latent's own state_dict, input and output are written
// there for `gen_unet_fixtures.py --check DIR`.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace unet_test {

// The fixture's reduced config (tools/gen_unet_fixtures.py, SMALL).
inline models::UNetConfig small_config(std::int64_t classes = 0) {
  models::UNetConfig c;
  c.in_channels = 2;
  c.c1 = 4;
  c.c2 = 8;
  c.t_sin_dim = 4;
  c.t_dim = 8;
  c.groups = 2;
  c.classes = classes;
  return c;
}

inline io::SafetensorsFile fixture(const std::string& name) {
  return io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/unet/" + name + ".safetensors");
}

template <class T>
nn::StateDict<T> state_dict_of(const io::SafetensorsFile& f) {
  nn::StateDict<T> sd;
  for (const std::string& key : f.names())
    if (key.rfind("sd.", 0) == 0) sd.tensors[key.substr(3)] = f.get<T>(key);
  return sd;
}

// Largest difference relative to the largest expected magnitude (at least 1).
template <class T>
double relative_error(const Tensor<T>& got, const Tensor<T>& want) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<T> a = got.to_vector(), b = want.to_vector();
  double worst = 0, scale = 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return worst / scale;
}

// Loads `name`, runs forward and backward, and compares with PyTorch's figures.
template <class T>
void check_against_pytorch(const std::string& name, std::int64_t classes, double tolerance) {
  INFO("fixture ", name);
  const io::SafetensorsFile f = fixture(name);
  Generator gen(1);
  models::UNet<T> unet(small_config(classes), gen);
  unet.load_state_dict(state_dict_of<T>(f));
  Tensor<T> x = f.get<T>("input").requires_grad_(true);
  const Tensor<std::int64_t> t = f.get<std::int64_t>("t");
  const Tensor<std::int64_t> labels = classes ? f.get<std::int64_t>("labels") : Tensor<std::int64_t>();
  const Tensor<T> out = unet.forward(x, t, labels);
  CHECK(relative_error(out, f.get<T>("output")) < tolerance);
  (out * f.get<T>("gout")).sum().backward();
  CHECK(relative_error(x.grad(), f.get<T>("grad.input")) < tolerance);
  std::int64_t checked = 0;
  for (const auto& p : unet.named_parameters()) {
    if (!f.contains("grad." + p.first)) continue;
    INFO("parameter ", p.first);
    CHECK(relative_error(p.second.grad(), f.get<T>("grad." + p.first)) < tolerance);
    ++checked;
  }
  if (sizeof(T) == 8 && classes == 0) CHECK(checked == static_cast<std::int64_t>(unet.named_parameters().size()));
}

}  // namespace unet_test

TEST_CASE("UNet: a PyTorch state_dict gives PyTorch's output and gradients") {
  unet_test::check_against_pytorch<double>("small__f64", 0, 1e-10);
  unet_test::check_against_pytorch<float>("small__f32", 0, 2e-5);
}

TEST_CASE("UNet: class-conditional variant against PyTorch") {
  unet_test::check_against_pytorch<double>("cond__f64", 3, 1e-10);
}

TEST_CASE("UNet: state_dict keys and parameter counts are the workload's") {
  const io::SafetensorsFile f = unet_test::fixture("small__f64");
  Generator gen(0);
  models::UNet<float> workload(gen);
  CHECK(workload.num_parameters() == 793697);
  CHECK(workload.num_parameters() == f.get<std::int64_t>("params_default")(0));
  models::UNetConfig cond;
  cond.classes = 10;
  models::UNet<float> conditional(cond, gen);
  CHECK(conditional.num_parameters() == f.get<std::int64_t>("params_default_cond")(0));
  CHECK(conditional.num_parameters() == 793697 + 11 * 128);
  CHECK(conditional.null_class() == 10);
  // Same keys as PyTorch's state_dict, in both directions.
  models::UNet<double> small(unet_test::small_config(), gen);
  const nn::StateDict<double> ours = small.state_dict(), theirs = unet_test::state_dict_of<double>(f);
  CHECK(ours.keys() == theirs.keys());
  CHECK(ours.contains("down2.skip.weight"));
  CHECK_FALSE(ours.contains("down1.skip.weight"));  // an identity skip has no parameters
  CHECK(ours.contains("attn.qkv.weight"));
  CHECK(ours.contains("unpool1.conv.bias"));
  // PyTorch's default init: conv weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)), norms 1 and 0.
  const Tensor<float> w = workload.up1.get()->conv1->weight;  // fan_in = 96 * 9
  CHECK(w.shape() == Shape{32, 96, 3, 3});
  CHECK(w.abs().amax().item() <= float(1 / std::sqrt(96.0 * 9)));
  CHECK(w.abs().amax().item() > 0.9f / std::sqrt(96.0f * 9));
  CHECK(workload.out_norm->weight.sum().item() == 32.0f);
}

TEST_CASE("UNet: shapes, conditioning and the null class") {
  Generator gen(3);
  models::UNet<float> unet(unet_test::small_config(5), gen);
  NoGradGuard no_grad;
  const Tensor<float> x = randn<float>({3, 2, 12, 16}, gen);
  const Tensor<std::int64_t> t = tensor<std::int64_t>({0, 10, 999}, {3});
  const Tensor<std::int64_t> y = tensor<std::int64_t>({0, 4, 5}, {3});
  const Tensor<float> out = unet.forward(x, t, y);
  CHECK(out.shape() == x.shape());
  // The class changes the prediction; the same class gives the same one.
  const Tensor<float> other = unet.forward(x, t, tensor<std::int64_t>({1, 4, 5}, {3}));
  CHECK((out.select(0, 0) - other.select(0, 0)).abs().amax().item() > 0.0f);
  CHECK((out.narrow(0, 1, 2) - other.narrow(0, 1, 2)).abs().amax().item() == 0.0f);
  // The time embedding changes with t and the class embedding adds the row of class y.
  const Tensor<float> e0 = unet.embed(t, y), e1 = unet.embed(t, tensor<std::int64_t>({5, 5, 5}, {3}));
  CHECK(e0.shape() == Shape{3, 8});
  const Tensor<float> rows = unet.class_emb->weight;
  CHECK(((e0 - e1) - (rows.select(0, 0) - rows.select(0, 5))).select(0, 0).abs().amax().item() < 1e-6f);
}

TEST_CASE("UNet: bad inputs are errors") {
  Generator gen(4);
  models::UNet<float> plain(unet_test::small_config(), gen);
  models::UNet<float> cond(unet_test::small_config(3), gen);
  const Tensor<std::int64_t> t2 = tensor<std::int64_t>({1, 2}, {2});
  const Tensor<std::int64_t> y2 = tensor<std::int64_t>({0, 3}, {2});
  CHECK_THROWS_WITH_AS(plain.forward(zeros<float>({2, 1, 8, 8}), t2), doctest::Contains("UNet: expects images [B, 2, H, W]"),
                       Error);
  CHECK_THROWS_WITH_AS(plain.forward(zeros<float>({2, 2, 8}), t2), doctest::Contains("got shape [2, 2, 8]"), Error);
  CHECK_THROWS_WITH_AS(plain.forward(zeros<float>({2, 2, 10, 8}), t2), doctest::Contains("multiples of 4"), Error);
  CHECK_THROWS_WITH_AS(plain.forward(zeros<float>({3, 2, 8, 8}), t2), doctest::Contains("one timestep per image"),
                       Error);
  CHECK_THROWS_WITH_AS(plain.forward(zeros<float>({2, 2, 8, 8}), t2, y2), doctest::Contains("unconditional"), Error);
  CHECK_THROWS_WITH_AS(cond.forward(zeros<float>({2, 2, 8, 8}), t2), doctest::Contains("needs labels [2]"), Error);
  CHECK_THROWS_AS(cond.forward(zeros<float>({2, 2, 8, 8}), t2, tensor<std::int64_t>({0, 4}, {2})), Error);  // > null
  models::UNetConfig bad = unet_test::small_config();
  bad.c2 = 6;  // c1 = 4 splits into 4 groups, c2 = 6 does not
  bad.groups = 4;
  CHECK_THROWS_WITH_AS(models::UNet<float>(bad, gen), doctest::Contains("divisible by groups=4"), Error);
}

TEST_CASE("UNet: latent's own state_dict for PyTorch (LATENT_CROSSOVER_DIR)") {
  const char* dir = std::getenv("LATENT_CROSSOVER_DIR");
  if (!dir) return;
  Generator gen(42);
  models::UNet<double> unet(unet_test::small_config(), gen);
  const Tensor<double> x = randn<double>({2, 2, 8, 8}, gen);
  const Tensor<std::int64_t> t = tensor<std::int64_t>({5, 500}, {2});
  io::SafetensorsWriter w;
  for (const auto& e : unet.state_dict().tensors) w.add("sd." + e.first, e.second);
  w.add("input", x);
  w.add("t", t);
  w.add("output", unet.forward(x, t).detach());
  w.write(std::string(dir) + "/unet_small__f64.safetensors");
}
