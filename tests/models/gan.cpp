// models/gan.hpp: objectives, the MLP nets, the training steps (each changes exactly the
// parameters it should), the WGAN-GP penalty, the moving average of weights.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace latent;

namespace gan_test {

using models::GanObjective;
const GanObjective all_objectives[] = {GanObjective::non_saturating, GanObjective::minimax, GanObjective::hinge,
                                       GanObjective::wgan_gp};

// Copies of a module's parameter values.
inline std::vector<Tensor<double>> snapshot(const nn::Module<double>& m) {
  std::vector<Tensor<double>> out;
  for (const Tensor<double>& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

// How many of the module's parameters differ from the snapshot.
inline int changed(const nn::Module<double>& m, const std::vector<Tensor<double>>& before) {
  const std::vector<Tensor<double>> now = m.parameters();
  REQUIRE(now.size() == before.size());
  int n = 0;
  for (std::size_t i = 0; i < now.size(); ++i) {
    const std::vector<double> a = now[i].detach().to_vector(), b = before[i].to_vector();
    n += a != b;
  }
  return n;
}

// How many of the module's parameters have a gradient with some nonzero element.
inline int with_nonzero_grad(const nn::Module<double>& m) {
  int n = 0;
  for (const Tensor<double>& p : m.parameters()) n += p.grad().defined() && abs(p.grad()).amax().item() > 0;
  return n;
}

inline double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) {
  return double(abs(a.detach() - b.detach()).amax().item());
}

// A small generator / critic pair (2 -> 8 -> 8 -> 2, 2 -> 8 -> 8 -> 1).
struct Pair {
  Generator gen{7};
  models::GanMLPConfig config;
  std::shared_ptr<models::MLPGenerator<double>> g;
  std::shared_ptr<models::MLPDiscriminator<double>> d;
  explicit Pair(bool spectral = false) {
    config.hidden = 8;
    config.depth = 2;
    config.activation = "leaky_relu";
    config.spectral_norm = spectral;
    g = std::make_shared<models::MLPGenerator<double>>(config, gen);
    d = std::make_shared<models::MLPDiscriminator<double>>(config, gen);
  }
};

}  // namespace gan_test

TEST_CASE("gan: objective names parse and print") {
  using models::GanObjective;
  CHECK(models::parse_gan_objective("ns") == models::GanObjective::non_saturating);
  CHECK(models::parse_gan_objective("non_saturating") == models::GanObjective::non_saturating);
  CHECK(models::parse_gan_objective("minimax") == models::GanObjective::minimax);
  CHECK(models::parse_gan_objective("hinge") == models::GanObjective::hinge);
  CHECK(models::parse_gan_objective("wgangp") == models::GanObjective::wgan_gp);
  CHECK(models::parse_gan_objective("wgan-gp") == models::GanObjective::wgan_gp);
  for (models::GanObjective o : gan_test::all_objectives)
    CHECK(models::parse_gan_objective(models::gan_objective_name(o)) == o);
  CHECK(std::string(models::gan_objective_name(models::GanObjective::wgan_gp)) == "wgangp");
  CHECK_THROWS_WITH_AS(models::parse_gan_objective("wgan"),
                       "parse_gan_objective: unknown objective 'wgan' (expected ns, minimax, hinge or wgangp)", Error);
}

TEST_CASE("gan: objective losses on hand-made scores") {
  // real score 0 and fake score 0: BCE games give 2 log 2 for D, log 2 / -log 2 for G.
  const Tensor<double> zero = zeros<double>({2, 1}), r = tensor<double>({0.5, 2.0}, {2, 1}),
                       f = tensor<double>({-0.5, 1.5}, {2, 1});
  const double ln2 = std::log(2.0);
  CHECK(models::gan_discriminator_loss(models::GanObjective::non_saturating, zero, zero).item() == doctest::Approx(2 * ln2));
  CHECK(models::gan_generator_loss(models::GanObjective::non_saturating, zero).item() == doctest::Approx(ln2));
  CHECK(models::gan_generator_loss(models::GanObjective::minimax, zero).item() == doctest::Approx(-ln2));
  // hinge D: mean relu(1 - r) + mean relu(1 + f) = (0.5 + 0) / 2 + (0.5 + 2.5) / 2 = 1.75
  CHECK(models::gan_discriminator_loss(models::GanObjective::hinge, r, f).item() == doctest::Approx(1.75));
  CHECK(models::gan_generator_loss(models::GanObjective::hinge, f).item() == doctest::Approx(-0.5));
  // Wasserstein D: mean f - mean r = 0.5 - 1.25
  CHECK(models::gan_discriminator_loss(models::GanObjective::wgan_gp, r, f).item() == doctest::Approx(-0.75));
  CHECK(models::gan_generator_loss(models::GanObjective::wgan_gp, f).item() == doctest::Approx(-0.5));
}

TEST_CASE("gan: MLP nets have PyTorch's names, sizes and errors") {
  Generator gen(1);
  models::GanMLPConfig c;
  c.latent = 3;
  c.hidden = 16;
  c.depth = 2;
  models::MLPGenerator<float> g(c, gen);
  // net.0 Linear(3,16), net.1 ReLU, net.2 Linear(16,16), net.3 ReLU, net.4 Linear(16,2)
  const auto keys = g.state_dict().keys();
  CHECK(keys == std::vector<std::string>{"net.0.bias", "net.0.weight", "net.2.bias", "net.2.weight", "net.4.bias",
                                         "net.4.weight"});
  CHECK(g.num_parameters() == (3 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2));
  CHECK(g.sample(5, gen).shape() == Shape{5, 2});

  c.spectral_norm = true;
  models::MLPDiscriminator<float> d(c, gen);
  CHECK(d.state_dict().contains("net.4.weight_orig"));
  CHECK(d.state_dict().contains("net.4.weight_u"));
  CHECK(d.state_dict().at("net.0.weight_v").shape() == Shape{2});
  CHECK(d(randn<float>({4, 2}, gen)).shape() == Shape{4, 1});

  // Conditional: a 3-class embedding of size 3 concatenated to the noise.
  c.spectral_norm = false;
  c.classes = 3;
  models::MLPGenerator<float> cg(c, gen);
  CHECK(cg.state_dict().at("label_embedding.weight").shape() == Shape{3, 3});
  CHECK(cg.state_dict().at("net.0.weight").shape() == Shape{16, 6});
  const Tensor<std::int64_t> labels = tensor<std::int64_t>({0, 2}, {2});
  CHECK(cg.forward(randn<float>({2, 3}, gen), labels).shape() == Shape{2, 2});
  CHECK_THROWS_WITH_AS(cg(randn<float>({2, 3}, gen)),
                       "MLPGenerator: a conditional net needs one label per row, got labels of shape [] for inputs [2, 3]",
                       Error);
  CHECK_THROWS_WITH_AS(g(randn<float>({2, 4}, gen)), "MLPGenerator: expects inputs [N, 3], got [2, 4]", Error);
  CHECK_THROWS_WITH_AS(g.forward(randn<float>({2, 3}, gen), labels),
                       "MLPGenerator: got labels, but the net is not conditional (classes = 0)", Error);

  models::GanMLPConfig bad;
  bad.activation = "gelu";
  CHECK_THROWS_WITH_AS(models::MLPGenerator<float>(bad, gen),
                       "GAN MLP: unknown activation 'gelu' (expected relu, leaky_relu, tanh, elu or silu)", Error);
  bad = {};
  bad.depth = 0;
  CHECK_THROWS_WITH_AS(models::MLPDiscriminator<float>(bad, gen),
                       "MLPDiscriminator: depth (hidden layers) must be >= 1, got 0", Error);
  bad = {};
  bad.hidden = -1;
  CHECK_THROWS_AS(models::MLPGenerator<float>(bad, gen), Error);
}

TEST_CASE("gan: each step changes its own network's parameters and only those") {
  for (models::GanObjective objective : gan_test::all_objectives) {
    for (bool spectral : {false, true}) {
      const std::string objective_name = models::gan_objective_name(objective);
      CAPTURE(objective_name);
      CAPTURE(spectral);
      gan_test::Pair net(spectral);
      optim::Adam<double> opt_g(net.g->parameters(), optim::AdamOptions().lr(1e-2));
      optim::Adam<double> opt_d(net.d->parameters(), optim::AdamOptions().lr(1e-2));
      models::GanStepOptions options;
      options.objective = objective;
      auto critic = [&](const Tensor<double>& x) { return net.d->forward(x); };
      auto generate = [&] { return net.g->sample(16, net.gen); };
      const Tensor<double> real = data::ring_of_gaussians<double>(16, net.gen);

      // D step, with a fake batch that still carries G's graph.
      auto g_before = gan_test::snapshot(*net.g), d_before = gan_test::snapshot(*net.d);
      const models::GanDiscriminatorStats stats =
          models::discriminator_step(critic, opt_d, real, generate(), options, net.gen);
      // Every critic parameter with a nonzero gradient moves: all of them, but for the
      // last bias under hinge and Wasserstein losses (d/db = -1 + 1 while all |scores| < 1).
      const int moved = gan_test::changed(*net.d, d_before);
      CHECK(moved == gan_test::with_nonzero_grad(*net.d));
      CHECK(moved >= int(d_before.size()) - 1);
      CHECK(gan_test::changed(*net.g, g_before) == 0);
      for (const Tensor<double>& p : net.g->parameters()) CHECK_FALSE(p.grad().defined());
      CHECK(std::isfinite(stats.loss));
      CHECK(stats.total == doctest::Approx(stats.loss + options.gp_weight * stats.penalty));
      if (objective == models::GanObjective::wgan_gp)
        CHECK(stats.penalty > 0);
      else
        CHECK(stats.penalty == 0);

      // G step: the critic's parameters keep their values and their .grad() as they were.
      for (const Tensor<double>& p : net.d->parameters()) p.set_grad(full<double>(p.shape(), 0.25));
      g_before = gan_test::snapshot(*net.g);
      d_before = gan_test::snapshot(*net.d);
      const double g_loss = models::generator_step(generate, critic, opt_g, options);
      CHECK(std::isfinite(g_loss));
      CHECK(gan_test::changed(*net.g, g_before) == int(g_before.size()));
      CHECK(gan_test::changed(*net.d, d_before) == 0);
      for (const Tensor<double>& p : net.d->parameters()) CHECK(p.grad().to_vector() == std::vector<double>(p.numel(), 0.25));
    }
  }
}

TEST_CASE("gan: a discriminator step is one SGD step on loss + lambda * gradient_penalty") {
  gan_test::Pair net;
  const double lr = 0.05;
  optim::SGD<double> opt_d(net.d->parameters(), optim::SGDOptions().lr(lr));
  models::GanStepOptions options;
  options.objective = models::GanObjective::wgan_gp;
  options.gp_weight = 10;
  auto critic = [&](const Tensor<double>& x) { return net.d->forward(x); };
  const Tensor<double> real = data::grid_of_gaussians<double>(12, net.gen);
  const Tensor<double> fake = net.g->sample(12, net.gen).detach();

  // The expected loss, penalty and gradient, with the same draws of alpha.
  Generator alpha_gen = net.gen;
  const std::vector<Tensor<double>> params = net.d->parameters();
  const Tensor<double> loss = nn::functional::wasserstein_d_loss(critic(real), critic(fake));
  const Tensor<double> penalty = nn::functional::gradient_penalty(critic, real, fake, alpha_gen);
  const std::vector<Tensor<double>> grads = autograd::grad<double>({loss + penalty * 10.0}, params);
  const auto before = gan_test::snapshot(*net.d);

  const auto stats = models::discriminator_step(critic, opt_d, real, fake, options, net.gen);
  CHECK(stats.loss == doctest::Approx(loss.item()).epsilon(1e-12));
  CHECK(stats.penalty == doctest::Approx(penalty.item()).epsilon(1e-12));
  CHECK(stats.total == doctest::Approx(loss.item() + 10 * penalty.item()).epsilon(1e-12));
  CHECK(stats.real_score - stats.fake_score == doctest::Approx(-loss.item()).epsilon(1e-12));
  for (std::size_t i = 0; i < params.size(); ++i)
    CHECK(gan_test::max_abs_diff(params[i], before[i] - grads[i] * lr) < 1e-14);
  // The generator's stream moved on exactly as the penalty's own draw did.
  CHECK(net.gen.get_state().offset == alpha_gen.get_state().offset);
}

TEST_CASE("gan: a generator step is one SGD step on the generator's loss") {
  for (models::GanObjective objective : gan_test::all_objectives) {
    const std::string objective_name = models::gan_objective_name(objective);
      CAPTURE(objective_name);
    gan_test::Pair net;
    const double lr = 0.1;
    optim::SGD<double> opt_g(net.g->parameters(), optim::SGDOptions().lr(lr));
    models::GanStepOptions options;
    options.objective = objective;
    const Tensor<double> z = randn<double>({10, 2}, net.gen);
    auto critic = [&](const Tensor<double>& x) { return net.d->forward(x); };
    auto generate = [&] { return net.g->forward(z); };
    const std::vector<Tensor<double>> params = net.g->parameters();
    const Tensor<double> loss = models::gan_generator_loss(objective, critic(generate()));
    const std::vector<Tensor<double>> grads = autograd::grad<double>({loss}, params);
    const auto before = gan_test::snapshot(*net.g);
    CHECK(models::generator_step(generate, critic, opt_g, options) == doctest::Approx(loss.item()).epsilon(1e-12));
    for (std::size_t i = 0; i < params.size(); ++i)
      CHECK(gan_test::max_abs_diff(params[i], before[i] - grads[i] * lr) < 1e-14);
  }
}

TEST_CASE("gan: steps reject bad arguments") {
  gan_test::Pair net;
  optim::SGD<double> opt_d(net.d->parameters(), optim::SGDOptions().lr(0.1));
  optim::SGD<double> opt_g(net.g->parameters(), optim::SGDOptions().lr(0.1));
  auto critic = [&](const Tensor<double>& x) { return net.d->forward(x); };
  models::GanStepOptions options;
  CHECK_THROWS_WITH_AS(
      models::discriminator_step(critic, opt_d, zeros<double>({4, 2}), zeros<double>({3, 2}), options, net.gen),
      "discriminator_step: real [4, 2] and fake [3, 2] must be batches of one shape", Error);
  options.gp_weight = -1;
  CHECK_THROWS_WITH_AS(
      models::discriminator_step(critic, opt_d, zeros<double>({4, 2}), zeros<double>({4, 2}), options, net.gen),
      "discriminator_step: gp_weight must be >= 0, got -1", Error);
  options.gp_weight = 10;
  // The generator's optimiser given to the discriminator step: nothing it holds is reached.
  CHECK_THROWS_WITH_AS(
      models::discriminator_step(critic, opt_g, zeros<double>({4, 2}), zeros<double>({4, 2}), options, net.gen),
      "discriminator_step: the loss does not depend on any of the optimiser's parameters", Error);
  CHECK_THROWS_WITH_AS(models::generator_step([&] { return zeros<double>({4, 2}); }, critic, opt_g, options),
                       "generator_step: generate() must return a batch computed from the generator's parameters",
                       Error);
}

TEST_CASE("gan: exponential moving average of weights, by hand") {
  Generator gen(3);
  nn::Sequential<double> m;
  auto fc = m.push_back(std::make_shared<nn::Linear<double>>(2, 1, gen));
  auto bn = m.push_back(std::make_shared<nn::BatchNorm1d<double>>(1));
  fc->weight.detach().copy_(tensor<double>({1.0, 2.0}, {1, 2}));
  fc->bias.detach().fill_(0.5);
  models::ExponentialMovingAverage<double> ema(m, 0.9);
  CHECK(ema.decay() == 0.9);

  // New weights (3, -2), bias 1.5, running mean 4: avg = 0.9 old + 0.1 new; buffers copied.
  fc->weight.detach().copy_(tensor<double>({3.0, -2.0}, {1, 2}));
  fc->bias.detach().fill_(1.5);
  bn->running_mean.fill_(4.0);
  ema.update(m);
  CHECK(ema.num_updates() == 1);
  nn::StateDict<double> avg = ema.state_dict();
  CHECK(avg.at("0.weight").to_vector()[0] == doctest::Approx(0.9 * 1 + 0.1 * 3));
  CHECK(avg.at("0.weight").to_vector()[1] == doctest::Approx(0.9 * 2 + 0.1 * -2));
  CHECK(avg.at("0.bias").item() == doctest::Approx(0.9 * 0.5 + 0.1 * 1.5));
  CHECK(avg.at("1.weight").item() == doctest::Approx(1.0));
  CHECK(avg.at("1.running_mean").item() == 4.0);
  // A second update from the same weights: avg = 0.9 (0.9 w0 + 0.1 w1) + 0.1 w1.
  ema.update(m);
  CHECK(ema.state_dict().at("0.weight").to_vector()[0] == doctest::Approx(0.81 * 1 + 0.19 * 3));

  {  // Evaluating with the averages puts the module's own weights back afterwards.
    auto guard = ema.apply_to(m);
    CHECK(fc->weight.to_vector()[0] == doctest::Approx(0.81 * 1 + 0.19 * 3));
    CHECK(fc->bias.item() == doctest::Approx(0.81 * 0.5 + 0.19 * 1.5));
  }
  CHECK(fc->weight.to_vector() == std::vector<double>{3.0, -2.0});
  CHECK(fc->bias.item() == 1.5);
  ema.copy_to(m);
  CHECK(fc->weight.to_vector()[1] == doctest::Approx(0.81 * 2 + 0.19 * -2));

  // With warmup the t-th update uses beta = min(decay, (1 + t) / (10 + t)): 2/11, then 3/12.
  fc->weight.detach().copy_(tensor<double>({1.0, 2.0}, {1, 2}));
  models::ExponentialMovingAverage<double> warm(m, 0.9, true);
  CHECK(warm.next_beta() == doctest::Approx(2.0 / 11));
  fc->weight.detach().copy_(tensor<double>({12.0, 2.0}, {1, 2}));
  warm.update(m);
  CHECK(warm.state_dict().at("0.weight").to_vector()[0] == doctest::Approx(2.0 / 11 * 1 + 9.0 / 11 * 12));
  CHECK(warm.next_beta() == doctest::Approx(3.0 / 12));
  for (int t = 0; t < 100; ++t) warm.update(m);
  CHECK(warm.next_beta() == 0.9);

  CHECK_THROWS_WITH_AS(models::ExponentialMovingAverage<double>(m, 1.5),
                       "ExponentialMovingAverage: decay must be in [0, 1], got 1.5", Error);
  nn::Linear<double> other(2, 3, gen);
  CHECK_THROWS_WITH_AS(ema.update(other), "ExponentialMovingAverage: the module has 2 parameters, the average was made with 4",
                       Error);
  nn::Sequential<double> wrong;
  wrong.push_back(std::make_shared<nn::Linear<double>>(2, 2, gen));
  wrong.push_back(std::make_shared<nn::BatchNorm1d<double>>(1));
  CHECK_THROWS_WITH_AS(ema.copy_to(wrong),
                       "ExponentialMovingAverage: 0.weight [2, 2] does not match the averaged 0.weight [1, 2]", Error);
}
