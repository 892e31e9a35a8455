// WGAN-GP's gradient penalty and its gradient with respect to the critic's parameters
// (through the double backward) match PyTorch (tests/fixtures/gan, made by
// tools/gen_gan_fixtures.py).
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

TEST_CASE("gradient_penalty matches a PyTorch WGAN-GP penalty and its critic gradients") {
  const io::SafetensorsFile f =
      io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/gan/gradient_penalty.safetensors");
  Generator gen(0);
  nn::Sequential<double> critic(std::make_shared<nn::Flatten<double>>(), std::make_shared<nn::Linear<double>>(6, 8, gen),
                                std::make_shared<nn::Tanh<double>>(), std::make_shared<nn::Linear<double>>(8, 1, gen));
  nn::StateDict<double> sd;
  for (const std::string& key : f.names())
    if (key.rfind("sd.", 0) == 0) sd.tensors[key.substr(3)] = f.get<double>(key);
  critic.load_state_dict(sd);
  const Tensor<double> penalty = nn::functional::gradient_penalty(
      [&](const Tensor<double>& x) { return critic(x); }, f.get<double>("real"), f.get<double>("fake"),
      f.get<double>("alpha"));
  CHECK(penalty.item() == doctest::Approx(f.get<double>("penalty").item()).epsilon(1e-12));
  penalty.backward();
  for (auto& p : critic.named_parameters()) {
    INFO("parameter ", p.first);
    const Tensor<double> g = p.second.grad();
    const std::vector<double> want = f.get<double>("grad." + p.first).to_vector();
    const std::vector<double> got = g.defined() ? g.to_vector() : std::vector<double>(want.size(), 0.0);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-10));
  }
}
