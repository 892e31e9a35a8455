// DCGAN: the generator and discriminator match PyTorch's (tests/fixtures/dcgan, made by
// tools/gen_dcgan_fixtures.py) in training and eval mode, with the running statistics they
// leave, and after one DCGAN step; parameter counts and state-dict keys as the anchors'.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace dcgan_test {

inline io::SafetensorsFile fixture(const std::string& name) {
  return io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/dcgan/" + name + ".safetensors");
}

// The entries "<prefix>key" of a fixture as a state dict (integer buffers apart).
inline nn::StateDict<double> state(const io::SafetensorsFile& f, const std::string& prefix) {
  nn::StateDict<double> sd;
  for (const std::string& key : f.names()) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string name = key.substr(prefix.size());
    if (f.entry(key).dtype == io::Dtype::I64) sd.integers[name] = f.get<std::int64_t>(key);
    else sd.tensors[name] = f.get<double>(key);
  }
  return sd;
}

inline void check_close(const Tensor<double>& got, const Tensor<double>& want, const std::string& what,
                        double tolerance = 1e-10) {
  INFO(what);
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = got.contiguous().to_vector(), w = want.contiguous().to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - w[i]) / (1e-8 + std::abs(w[i])));
  CHECK(worst < tolerance);
}

// Every float tensor and integer buffer of `module` against the fixture's "<prefix>name".
inline void check_state(const nn::Module<double>& module, const io::SafetensorsFile& f, const std::string& prefix) {
  const nn::StateDict<double> sd = module.state_dict();
  for (const auto& e : sd.tensors) check_close(e.second, f.get<double>(prefix + e.first), prefix + e.first, 1e-9);
  for (const auto& e : sd.integers) {
    INFO(prefix, e.first);
    CHECK(e.second.item() == f.get<std::int64_t>(prefix + e.first).item());
  }
}

inline std::vector<std::string> sorted(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

inline models::DCGANConfig small_config(const io::SafetensorsFile& f) {
  models::DCGANConfig c;
  c.n_z = 6;
  c.g_width = 8;
  c.d_width = 4;
  c.image_size = f.get<double>("real").shape()[2];
  if (f.contains("labels")) {
    c.classes = 3;
    c.embedding_dim = 4;
  }
  return c;
}

// Forward passes in training mode (with the running statistics they leave) and eval mode.
inline void check_forward(const std::string& name) {
  const io::SafetensorsFile f = fixture(name);
  const models::DCGANConfig config = small_config(f);
  const Tensor<std::int64_t> labels = f.contains("labels") ? f.get<std::int64_t>("labels") : Tensor<std::int64_t>();
  Generator gen(0);
  models::DCGANGenerator<double> g(config, gen);
  models::DCGANDiscriminator<double> d(config, gen);
  g.load_state_dict(state(f, "g.sd."));
  d.load_state_dict(state(f, "d.sd."));
  check_close(g.forward(f.get<double>("z"), labels), f.get<double>("g.out_train"), name + ": G in training mode");
  check_close(d.forward(f.get<double>("real"), labels), f.get<double>("d.out_train"), name + ": D in training mode");
  for (const auto& b : g.named_buffers()) check_close(b.second, f.get<double>("g.fwd." + b.first), "G buffer " + b.first);
  for (const auto& b : d.named_buffers()) check_close(b.second, f.get<double>("d.fwd." + b.first), "D buffer " + b.first);
  g.eval();
  d.eval();
  check_close(g.forward(f.get<double>("z"), labels), f.get<double>("g.out_eval"), name + ": G in eval mode");
  check_close(d.forward(f.get<double>("real"), labels), f.get<double>("d.out_eval"), name + ": D in eval mode");
}

// One DCGAN step (Adam 2e-4, betas 0.5 / 0.999, non-saturating) against PyTorch's.
inline void check_step(const std::string& name) {
  const io::SafetensorsFile f = fixture(name);
  const models::DCGANConfig config = small_config(f);
  const Tensor<std::int64_t> labels = f.contains("labels") ? f.get<std::int64_t>("labels") : Tensor<std::int64_t>();
  Generator gen(0);
  models::DCGANGenerator<double> g(config, gen);
  models::DCGANDiscriminator<double> d(config, gen);
  g.load_state_dict(state(f, "g.sd."));
  d.load_state_dict(state(f, "d.sd."));
  optim::Adam<double> opt_g(g.parameters(), optim::AdamOptions().lr(2e-4).betas(0.5, 0.999));
  optim::Adam<double> opt_d(d.parameters(), optim::AdamOptions().lr(2e-4).betas(0.5, 0.999));
  const models::DCGANStepStats stats =
      models::dcgan_step(g, d, opt_g, opt_d, f.get<double>("real"), f.get<double>("z"), labels);
  CHECK(stats.d_loss == doctest::Approx(f.get<double>("d_loss").item()).epsilon(1e-12));
  CHECK(stats.g_loss == doctest::Approx(f.get<double>("g_loss").item()).epsilon(1e-12));
  CHECK(stats.real_score == doctest::Approx(f.get<double>("real_score").item()).epsilon(1e-12));
  CHECK(stats.fake_score == doctest::Approx(f.get<double>("fake_score").item()).epsilon(1e-12));
  check_state(g, f, "g.step.");
  check_state(d, f, "d.step.");
}

}  // namespace dcgan_test

TEST_CASE("DCGAN: parameter counts and state-dict keys are the PyTorch anchors'") {
  Generator gen(1);
  models::DCGANConfig config;
  models::DCGANGenerator<float> g(config, gen);
  models::DCGANDiscriminator<float> d(config, gen);
  CHECK(g.num_parameters() == 778305);  // torch_workloads.DCGANGenerator()
  CHECK(d.num_parameters() == 138817);  // torch_workloads.DCGANDiscriminator()
  CHECK(dcgan_test::sorted(g.state_dict().keys()) ==
        std::vector<std::string>{"bn0.bias", "bn0.num_batches_tracked", "bn0.running_mean", "bn0.running_var",
                                 "bn0.weight", "bn1.bias", "bn1.num_batches_tracked", "bn1.running_mean",
                                 "bn1.running_var", "bn1.weight", "fc.bias", "fc.weight", "up1.bias", "up1.weight",
                                 "up2.bias", "up2.weight"});
  CHECK(dcgan_test::sorted(d.state_dict().keys()) ==
        std::vector<std::string>{"bn2.bias", "bn2.num_batches_tracked", "bn2.running_mean", "bn2.running_var",
                                 "bn2.weight", "conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "fc.bias",
                                 "fc.weight"});
  CHECK(d.conv1->weight.shape() == Shape{64, 1, 4, 4});
  CHECK(g.up1->weight.shape() == Shape{128, 64, 4, 4});

  // Conditional: G's fc takes 100 + 10 inputs, D's conv1 one extra (label) channel.
  config.classes = 10;
  models::DCGANGenerator<float> cg(config, gen);
  models::DCGANDiscriminator<float> cd(config, gen);
  CHECK(cg.num_parameters() == 841125);  // + 10*6272 (fc) + 10*10 (embedding)
  CHECK(cd.num_parameters() == 147681);  // + 64*16 (conv1) + 10*784 (embedding)
  CHECK(cg.label_embedding->weight.shape() == Shape{10, 10});
  CHECK(cd.label_embedding->weight.shape() == Shape{10, 784});
}

TEST_CASE("DCGAN: forward passes match PyTorch's in training and eval mode") {
  dcgan_test::check_forward("dcgan");
  dcgan_test::check_forward("dcgan_conditional");
}

TEST_CASE("DCGAN: one dcgan_step matches PyTorch's (both nets and their batch-norm statistics)") {
  dcgan_test::check_step("dcgan");
  dcgan_test::check_step("dcgan_conditional");
}

TEST_CASE("DCGAN: samples have the image shape and lie in (-1, 1); labels pick different images") {
  Generator gen(3);
  models::DCGANConfig config;
  config.n_z = 16;
  config.g_width = 16;
  config.d_width = 8;
  config.classes = 10;
  models::DCGANGenerator<float> g(config, gen);
  models::DCGANDiscriminator<float> d(config, gen);
  g.eval();
  const Tensor<float> z = randn<float>({2, 16}, gen);
  const Tensor<float> a = g.forward(z, tensor<std::int64_t>({3, 3}, {2})), b = g.forward(z, tensor<std::int64_t>({3, 7}, {2}));
  CHECK(a.shape() == Shape{2, 1, 28, 28});
  CHECK(a.abs().amax().item() < 1.0f);
  // Row 0 shares z and label: the same image; row 1 differs only in its label.
  CHECK((a.select(0, 0) - b.select(0, 0)).abs().amax().item() == 0.0f);
  CHECK((a.select(0, 1) - b.select(0, 1)).abs().amax().item() > 1e-3f);
  const Tensor<float> s = g.sample(5, gen, arange<std::int64_t>(5));
  CHECK(s.shape() == Shape{5, 1, 28, 28});
  CHECK(d.forward(s, arange<std::int64_t>(5)).shape() == Shape{5, 1});
}

TEST_CASE("DCGAN: bad configurations, shapes and labels are errors") {
  Generator gen(4);
  models::DCGANConfig config;
  config.g_width = 7;
  CHECK_THROWS_WITH_AS(models::DCGANGenerator<float>(config, gen),
                       "DCGANGenerator: needs n_z > 0, an even g_width >= 2, d_width > 0 and channels > 0, got n_z "
                       "100, g_width 7, d_width 64, channels 1",
                       Error);
  config = models::DCGANConfig();
  config.image_size = 30;
  CHECK_THROWS_AS(models::DCGANDiscriminator<float>(config, gen), Error);
  config = models::DCGANConfig();
  config.n_z = 8;
  config.g_width = 8;
  config.d_width = 4;
  models::DCGANGenerator<float> g(config, gen);
  models::DCGANDiscriminator<float> d(config, gen);
  CHECK_THROWS_WITH_AS(g.forward(zeros<float>({2, 9})), "DCGANGenerator: expects noise [N, 8], got shape [2, 9]", Error);
  CHECK_THROWS_AS(d.forward(zeros<float>({2, 1, 28, 27})), Error);
  CHECK_THROWS_WITH_AS(g.forward(zeros<float>({2, 8}), zeros<std::int64_t>({2})),
                       "DCGANGenerator: got labels, but the model is not conditional (classes = 0)", Error);
  config.classes = 3;
  models::DCGANGenerator<float> cg(config, gen);
  models::DCGANDiscriminator<float> cd(config, gen);
  CHECK_THROWS_AS(cg.forward(zeros<float>({2, 8})), Error);
  CHECK_THROWS_AS(cd.forward(zeros<float>({2, 1, 28, 28}), zeros<std::int64_t>({3})), Error);
  CHECK_THROWS_AS(cg.forward(zeros<float>({2, 8}), tensor<std::int64_t>({0, 3}, {2})), Error);  // label out of range
  optim::Adam<float> opt_g(g.parameters()), opt_d(d.parameters());
  CHECK_THROWS_AS(models::dcgan_step(g, d, opt_g, opt_d, zeros<float>({2, 1, 28, 28}), zeros<float>({2, 8}), {},
                                     models::GanObjective::wgan_gp),
                  Error);
  CHECK_THROWS_AS(models::dcgan_step(g, d, opt_g, opt_d, zeros<float>({3, 1, 28, 28}), zeros<float>({2, 8})), Error);
}
