// The diffusion core (models/ddpm.hpp) and the MLP denoiser (models/mlp_denoiser.hpp):
// schedules against improved-diffusion's formulas computed by PyTorch/numpy
// (tests/fixtures/ddpm, made by tools/gen_ddpm_fixtures.py); the closed-form q(x_t | x_0)
// against the Markov chain run step by step; DDPM and DDIM with the exact noise predictor
// of Gaussian data recover the data's mean and variance; DDIM with eta = 0 is
// deterministic, and eta = 1 over all steps is DDPM; guidance at w = 0 and 1; the three
// parametrisations; label dropping; the bits/dim bound of a perfect denoiser by hand; the
// MLP denoiser against the workload's; errors.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace ddpm_test {

inline io::SafetensorsFile fixture(const std::string& name) {
  return io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/ddpm/" + name + ".safetensors");
}

template <class T>
nn::StateDict<T> state_dict_of(const io::SafetensorsFile& f) {
  nn::StateDict<T> sd;
  for (const std::string& key : f.names())
    if (key.rfind("sd.", 0) == 0) sd.tensors[key.substr(3)] = f.get<T>(key);
  return sd;
}

template <class T>
double max_abs_diff(const Tensor<T>& a, const Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  return (a.template to<double>() - b.template to<double>()).abs().amax().item();
}

inline double max_rel_diff(const std::vector<double>& got, const Tensor<double>& want) {
  const std::vector<double> w = want.to_vector();
  REQUIRE(got.size() == w.size());
  double worst = 0;
  for (std::size_t i = 0; i < w.size(); ++i)
    worst = std::max(worst, std::fabs(got[i] - w[i]) / std::max(std::fabs(w[i]), 1e-300));
  return worst;
}

// Column d of samples [N, D]: mean and (population) variance.
inline std::pair<double, double> moments(const Tensor<double>& x, std::int64_t d) {
  const Tensor<double> c = x.select(1, d);
  return {c.mean().item(), c.var({}, 0).item()};
}

// Data x0 ~ N(mu, s^2) per dimension. Then x_t = a x0 + b eps (a = sqrt(abar_t),
// b = sqrt(1 - abar_t)) is Gaussian and the best noise predictor is E[eps | x_t]:
//   eps*(x_t, t) = b (x_t - a mu) / (a^2 s^2 + b^2)
struct GaussianData {
  std::vector<double> mu{1.5, -0.5}, s{0.5, 1.2};
  // The oracle for a batch that shares one timestep (as the samplers call it).
  models::Denoiser<double> oracle(const models::DDPM<double>& ddpm) const {
    return [this, &ddpm](const Tensor<double>& x, const Tensor<std::int64_t>& t, const Tensor<std::int64_t>&) {
      const std::vector<std::int64_t> ts = t.to_vector();
      REQUIRE(std::count(ts.begin(), ts.end(), ts[0]) == std::int64_t(ts.size()));
      const double abar = ddpm.schedule().alpha_bar[std::size_t(ts[0])];
      const double a = std::sqrt(abar), b = std::sqrt(1 - abar);
      std::vector<double> shift, scale;
      for (std::size_t d = 0; d < 2; ++d) {
        shift.push_back(a * mu[d]);
        scale.push_back(b / (a * a * s[d] * s[d] + b * b));
      }
      return (x - tensor<double>(shift, {1, 2})) * tensor<double>(scale, {1, 2});
    };
  }
  // What DDIM does to a Gaussian N(m, v) in dimension d, exactly: with the oracle each step
  // is affine, x' = A x + B + sigma z, so m' = A m + B and v' = A^2 v + sigma^2, where
  //   x' = sqrt(abar') x0^ + c eps^ + sigma z,  x0^ = (x - b eps^) / a,  c = sqrt(1 - abar' - sigma^2)
  //   eps^ = b k (x - a mu),  k = 1 / (a^2 s^2 + b^2).
  std::pair<double, double> ddim_moments(const models::DDPM<double>& ddpm, std::int64_t steps, double eta,
                                         std::size_t d) const {
    const std::vector<std::int64_t> ts = ddpm.ddim_timesteps(steps);
    const std::vector<double>& abars = ddpm.schedule().alpha_bar;
    double m = 0, v = 1;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const double abar = abars[std::size_t(ts[i])], next = i + 1 < ts.size() ? abars[std::size_t(ts[i + 1])] : 1.0;
      const double a = std::sqrt(abar), b = std::sqrt(1 - abar), k = 1 / (abar * s[d] * s[d] + b * b);
      const double sigma = eta * std::sqrt((1 - next) / (1 - abar)) * std::sqrt(1 - abar / next);
      const double ce = std::sqrt(1 - next - sigma * sigma) - std::sqrt(next) * b / a;  // eps^'s weight
      const double A = std::sqrt(next) / a + ce * b * k, B = -ce * b * k * a * mu[d];
      m = A * m + B;
      v = A * A * v + sigma * sigma;
    }
    return {m, v};
  }
};

}  // namespace ddpm_test

TEST_CASE("DDPM: linear and cosine schedules match improved-diffusion's, computed by PyTorch") {
  const io::SafetensorsFile f = ddpm_test::fixture("schedules");
  for (const char* kind : {"linear", "cosine"}) {
    INFO("schedule ", kind);
    models::DDPMConfig c;
    c.schedule = std::string(kind) == "linear" ? models::BetaSchedule::linear : models::BetaSchedule::cosine;
    const models::NoiseSchedule s = models::make_schedule(c);
    const std::string k = std::string(kind) + ".";
    CHECK(s.steps() == 1000);
    CHECK(ddpm_test::max_rel_diff(s.betas, f.get<double>(k + "betas")) < 1e-12);
    CHECK(ddpm_test::max_rel_diff(s.alpha_bar, f.get<double>(k + "alpha_bar")) < 1e-11);
    CHECK(ddpm_test::max_rel_diff(s.alpha_bar_prev, f.get<double>(k + "alpha_bar_prev")) < 1e-11);
    CHECK(ddpm_test::max_rel_diff(s.posterior_variance, f.get<double>(k + "posterior_variance")) < 1e-10);
    CHECK(ddpm_test::max_rel_diff(s.posterior_log_variance_clipped, f.get<double>(k + "posterior_log_variance_clipped")) <
          1e-10);
    CHECK(ddpm_test::max_rel_diff(s.posterior_mean_coef1, f.get<double>(k + "posterior_mean_coef1")) < 1e-10);
    CHECK(ddpm_test::max_rel_diff(s.posterior_mean_coef2, f.get<double>(k + "posterior_mean_coef2")) < 1e-10);
  }
  // By hand: the linear betas run 1e-4 .. 0.02; abar_0 = 1 - 1e-4; abar_1 = (1 - 1e-4)(1 - beta_1),
  // beta_1 = 1e-4 + 0.0199 / 999; beta~_1 = beta_1 (1 - abar_0) / (1 - abar_1).
  const models::NoiseSchedule lin = models::make_schedule(models::DDPMConfig{});
  const double beta1 = 1e-4 + 0.0199 / 999;
  CHECK(lin.betas.front() == doctest::Approx(1e-4).epsilon(1e-14));
  CHECK(lin.betas.back() == doctest::Approx(0.02).epsilon(1e-14));
  CHECK(lin.alpha_bar[1] == doctest::Approx((1 - 1e-4) * (1 - beta1)).epsilon(1e-14));
  CHECK(lin.posterior_variance[0] == 0.0);
  CHECK(lin.posterior_variance[1] == doctest::Approx(beta1 * 1e-4 / (1 - (1 - 1e-4) * (1 - beta1))).epsilon(1e-12));
  CHECK(lin.alpha_bar.back() == doctest::Approx(4.035829e-05).epsilon(1e-5));  // torch.cumprod, float64
  // The cosine schedule: abar_t = f(t+1)/f(0) until the clip, which bites only at the end.
  models::DDPMConfig cc;
  cc.schedule = models::BetaSchedule::cosine;
  const models::NoiseSchedule cos = models::make_schedule(cc);
  const double pi = 4 * std::atan(1.0);
  auto fc = [&](double t) { return std::pow(std::cos((t / 1000 + 0.008) / 1.008 * pi / 2), 2); };
  CHECK(cos.alpha_bar[499] == doctest::Approx(fc(500) / fc(0)).epsilon(1e-12));
  CHECK(cos.betas.back() == 0.999);
  CHECK(*std::max_element(cos.betas.begin(), cos.betas.end() - 1) < 0.999);
}

TEST_CASE("DDPM: the closed form q(x_t | x_0) agrees with the Markov chain run step by step") {
  // A short chain (T = 100) keeps the test fast; both schedules.
  for (models::BetaSchedule kind : {models::BetaSchedule::linear, models::BetaSchedule::cosine}) {
    models::DDPMConfig c;
    c.steps = 100;
    c.beta_end = 0.1;
    c.schedule = kind;
    models::DDPM<double> chain_ddpm(c);
    Generator gen(7);
    const std::int64_t n = 10000;
    const Tensor<double> x0 = tensor<double>({1.5, -2.0}, {1, 2}).expand({n, 2}).contiguous();
    Tensor<double> chain = x0;
    for (std::int64_t t = 0; t < chain_ddpm.steps(); ++t) {
      chain = chain_ddpm.q_step(chain, full<std::int64_t>({n}, t), randn<double>({n, 2}, gen));
      if (t != 0 && t != 9 && t != 49 && t != 99) continue;
      INFO("schedule ", int(kind), ", t = ", t);
      const Tensor<double> closed = chain_ddpm.q_sample(x0, full<std::int64_t>({n}, t), randn<double>({n, 2}, gen));
      const double abar = chain_ddpm.schedule().alpha_bar[std::size_t(t)];
      for (std::int64_t d = 0; d < 2; ++d) {
        const double mean = std::sqrt(abar) * x0(0, d), var = 1 - abar;
        const double se_mean = std::sqrt(var / double(n)), se_var = var * std::sqrt(2.0 / double(n));
        const auto [m_chain, v_chain] = ddpm_test::moments(chain, d);
        const auto [m_closed, v_closed] = ddpm_test::moments(closed, d);
        CHECK(std::fabs(m_chain - mean) < 5 * se_mean);
        CHECK(std::fabs(v_chain - var) < 5 * se_var);
        CHECK(std::fabs(m_closed - mean) < 5 * se_mean);
        CHECK(std::fabs(v_closed - var) < 5 * se_var);
      }
    }
  }
  models::DDPM<double> ddpm;
  Generator gen(8);
  // The posterior mean of q(x_{t-1} | x_t, x_0) is 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps).
  const Tensor<double> eps = randn<double>({3, 2}, gen), start = randn<double>({3, 2}, gen);
  const Tensor<std::int64_t> t = tensor<std::int64_t>({1, 400, 999}, {3});
  const Tensor<double> x_t = ddpm.q_sample(start, t, eps);
  const Tensor<double> mean = ddpm.posterior_mean(start, x_t, t);
  for (std::int64_t i = 0; i < 3; ++i) {
    const std::size_t ti = std::size_t(t(i));
    const double alpha = ddpm.schedule().alphas[ti], beta = ddpm.schedule().betas[ti],
                 abar = ddpm.schedule().alpha_bar[ti];
    for (std::int64_t d = 0; d < 2; ++d)
      CHECK(mean(i, d) == doctest::Approx((x_t(i, d) - beta / std::sqrt(1 - abar) * eps(i, d)) / std::sqrt(alpha)).epsilon(1e-10));
  }
}

TEST_CASE("DDPM: with the exact noise predictor of Gaussian data, DDPM and DDIM recover its mean and variance") {
  models::DDPM<double> ddpm;
  const ddpm_test::GaussianData data;
  const models::Denoiser<double> oracle = data.oracle(ddpm);
  Generator gen(11);
  const std::int64_t n = 4000;
  const Tensor<double> x_T = randn<double>({n, 2}, gen);
  // With all T steps both samplers reach the data distribution (up to a discretisation
  // error well under 1% here, and the sampling error).
  const std::vector<std::pair<std::string, Tensor<double>>> runs = {
      {"ddpm", ddpm.sample(oracle, x_T, gen).x}, {"ddim 1000, eta 0", ddpm.ddim_sample(oracle, x_T, 1000, 0.0, gen).x}};
  for (const auto& run : runs) {
    INFO("sampler ", run.first);
    for (std::size_t d = 0; d < 2; ++d) {
      const double mu = data.mu[d], var = data.s[d] * data.s[d];
      const auto [m, v] = ddpm_test::moments(run.second, std::int64_t(d));
      CHECK(std::fabs(m - mu) < 5 * std::sqrt(var / double(n)) + 0.01);
      CHECK(std::fabs(v - var) < 5 * var * std::sqrt(2.0 / double(n)) + 0.01 * var);
    }
  }
  // With few steps DDIM is off by its discretisation error (its variance 0.137 instead of
  // 0.25 with 10 steps): the samples follow the Gaussian that the steps map N(0, 1) to.
  for (std::int64_t steps : {10, 50}) {
    for (double eta : {0.0, 1.0}) {
      INFO("ddim ", steps, " steps, eta ", eta);
      const Tensor<double> x = ddpm.ddim_sample(oracle, x_T, steps, eta, gen).x;
      for (std::size_t d = 0; d < 2; ++d) {
        const auto [mean, var] = data.ddim_moments(ddpm, steps, eta, d);
        const auto [m, v] = ddpm_test::moments(x, std::int64_t(d));
        CHECK(std::fabs(m - mean) < 5 * std::sqrt(var / double(n)));
        CHECK(std::fabs(v - var) < 5 * var * std::sqrt(2.0 / double(n)));
      }
    }
  }
  CHECK(data.ddim_moments(ddpm, 10, 0.0, 0).second == doctest::Approx(0.13687).epsilon(1e-4));  // numpy, by hand
}

TEST_CASE("DDPM: DDIM with eta = 0 is deterministic; eta = 1 over all steps is DDPM") {
  models::DDPM<double> ddpm;
  const ddpm_test::GaussianData data;
  const models::Denoiser<double> oracle = data.oracle(ddpm);
  Generator gen(3);
  const Tensor<double> x_T = randn<double>({64, 2}, gen);
  Generator g1(1), g2(2);
  const Tensor<double> a = ddpm.ddim_sample(oracle, x_T, 20, 0.0, g1).x, b = ddpm.ddim_sample(oracle, x_T, 20, 0.0, g2).x;
  CHECK(ddpm_test::max_abs_diff(a, b) == 0.0);
  CHECK(g1.get_state().offset == 0);  // no noise drawn at all
  Generator g3(1), g4(2);
  const Tensor<double> c = ddpm.ddim_sample(oracle, x_T, 20, 0.5, g3).x, d = ddpm.ddim_sample(oracle, x_T, 20, 0.5, g4).x;
  CHECK(ddpm_test::max_abs_diff(c, d) > 1e-3);
  // eta = 1 with every step: sigma_t^2 = beta~_t and the same draws as ancestral sampling.
  Generator g5(9), g6(9);
  const Tensor<double> ancestral = ddpm.sample(oracle, x_T, g5).x, ddim = ddpm.ddim_sample(oracle, x_T, 1000, 1.0, g6).x;
  CHECK(ddpm_test::max_abs_diff(ancestral, ddim) < 1e-9);
  // The visited timesteps: trailing spacing, the first at T - 1.
  CHECK(ddpm.ddim_timesteps(10) == std::vector<std::int64_t>{999, 899, 799, 699, 599, 499, 399, 299, 199, 99});
  CHECK(ddpm.ddim_timesteps(3) == std::vector<std::int64_t>{999, 665, 332});
  CHECK(ddpm.ddim_timesteps(1000)[999] == 0);
  // Frames: x_T first, the result last, evenly spaced between.
  models::SampleOptions o;
  o.frames = 6;
  const models::SampleResult<double> r = ddpm.ddim_sample(oracle, x_T, 10, 0.0, gen, o);
  REQUIRE(r.frames.size() == 6);
  CHECK(ddpm_test::max_abs_diff(r.frames.front(), x_T) == 0.0);
  CHECK(ddpm_test::max_abs_diff(r.frames.back(), r.x) == 0.0);
  o.frames = 1;
  CHECK(ddpm.ddim_sample(oracle, x_T, 10, 0.0, gen, o).frames.size() == 1);
}

TEST_CASE("DDPM: classifier-free guidance at w = 0 and w = 1 is the unconditional and the conditional model") {
  models::DDPM<double> ddpm;
  // A model whose output depends on the label: x * (1 + label) + t / 1000.
  std::vector<std::int64_t> seen;
  const models::Denoiser<double> model = [&seen](const Tensor<double>& x, const Tensor<std::int64_t>& t,
                                                 const Tensor<std::int64_t>& y) {
    const std::vector<std::int64_t> labels = y.to_vector();
    seen.insert(seen.end(), labels.begin(), labels.end());
    return x * (y.to<double>().unsqueeze(1) + 1.0) + t.to<double>().unsqueeze(1) / 1000.0;
  };
  Generator gen(5);
  const Tensor<double> x = randn<double>({3, 2}, gen);
  const Tensor<std::int64_t> t = tensor<std::int64_t>({10, 20, 30}, {3});
  const Tensor<std::int64_t> y = tensor<std::int64_t>({0, 1, 2}, {3});
  const Tensor<std::int64_t> nulls = full<std::int64_t>({3}, 9);
  models::SampleOptions o;
  o.labels = y;
  o.null_label = 9;
  o.guidance_scale = 1;
  CHECK(ddpm_test::max_abs_diff(ddpm.guided(model, x, t, o), model(x, t, y)) == 0.0);
  o.guidance_scale = 0;
  CHECK(ddpm_test::max_abs_diff(ddpm.guided(model, x, t, o), model(x, t, nulls)) == 0.0);
  o.guidance_scale = 3;
  seen.clear();
  const Tensor<double> guided = ddpm.guided(model, x, t, o);
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 9, 9, 9});  // one batch of 2B
  const Tensor<double> u = model(x, t, nulls), c = model(x, t, y);
  CHECK(ddpm_test::max_abs_diff(guided, u + (c - u) * 3.0) < 1e-12);
  // Sampling with w = 1 calls the model with the labels only.
  seen.clear();
  o.guidance_scale = 1;
  ddpm.ddim_sample(model, x, 2, 0.0, gen, o);
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 0, 1, 2});
}

TEST_CASE("DDPM: epsilon, x0 and v parametrisations; the loss; label dropping") {
  Generator gen(8);
  const Tensor<double> x0 = randn<double>({4, 3}, gen), eps = randn<double>({4, 3}, gen);
  const Tensor<std::int64_t> t = tensor<std::int64_t>({0, 5, 500, 999}, {4});
  for (models::Prediction p : {models::Prediction::epsilon, models::Prediction::x0, models::Prediction::v}) {
    models::DDPMConfig c;
    c.prediction = p;
    c.schedule = models::BetaSchedule::cosine;
    models::DDPM<double> ddpm(c);
    const Tensor<double> x_t = ddpm.q_sample(x0, t, eps), target = ddpm.target(x0, eps, t);
    CHECK(ddpm_test::max_abs_diff(ddpm.predict_x0(x_t, t, target), x0) < 1e-9);
    CHECK(ddpm_test::max_abs_diff(ddpm.predict_eps(x_t, t, target), eps) < 1e-9);
    // loss_at: the mean squared error against the target; zero for the perfect output.
    const models::Denoiser<double> perfect = [&](const Tensor<double>&, const Tensor<std::int64_t>&,
                                                 const Tensor<std::int64_t>&) { return target; };
    CHECK(ddpm.loss_at(perfect, x0, t, eps).item() == 0.0);
    const models::Denoiser<double> zero = [&](const Tensor<double>& x, const Tensor<std::int64_t>&,
                                              const Tensor<std::int64_t>&) { return x * 0.0; };
    CHECK(ddpm.loss_at(zero, x0, t, eps).item() == doctest::Approx(target.square().mean().item()).epsilon(1e-14));
  }
  // v at t with abar: v = sqrt(abar) eps - sqrt(1 - abar) x0, by hand.
  models::DDPMConfig cv;
  cv.prediction = models::Prediction::v;
  models::DDPM<double> vddpm(cv);
  const double abar = vddpm.schedule().alpha_bar[500];
  CHECK(vddpm.target(x0, eps, t)(2, 1) == doctest::Approx(std::sqrt(abar) * eps(2, 1) - std::sqrt(1 - abar) * x0(2, 1)));

  // loss(): per-example t and noise from gen, in that order; labels dropped with probability p.
  models::DDPM<double> ddpm;
  std::vector<std::int64_t> ts, ys;
  const models::Denoiser<double> spy = [&](const Tensor<double>& x, const Tensor<std::int64_t>& tt,
                                           const Tensor<std::int64_t>& y) {
    ts = tt.to_vector();
    ys = y.defined() ? y.to_vector() : std::vector<std::int64_t>{};
    return x * 0.0;
  };
  const Tensor<double> big = randn<double>({1000, 2}, gen);
  const Tensor<std::int64_t> labels = full<std::int64_t>({1000}, 2);
  Generator g1(4), g2(4);
  const double l = ddpm.loss(spy, big, g1).item();
  const Tensor<std::int64_t> t_again = randint(0, 1000, {1000}, g2);
  CHECK(ts == t_again.to_vector());
  CHECK(l == doctest::Approx(ddpm.loss_at(spy, big, t_again, randn<double>({1000, 2}, g2)).item()).epsilon(1e-14));
  CHECK(*std::min_element(ts.begin(), ts.end()) >= 0);
  CHECK(*std::max_element(ts.begin(), ts.end()) <= 999);
  CHECK(*std::max_element(ts.begin(), ts.end()) - *std::min_element(ts.begin(), ts.end()) > 900);  // spread over all t
  ddpm.loss(spy, big, gen, labels);
  CHECK(std::count(ys.begin(), ys.end(), 2) == 1000);
  ddpm.loss(spy, big, gen, labels, 1.0, 7);
  CHECK(std::count(ys.begin(), ys.end(), 7) == 1000);
  ddpm.loss(spy, big, gen, labels, 0.2, 7);
  const auto dropped = std::count(ys.begin(), ys.end(), 7);
  CHECK(dropped > 150);  // 200 expected, standard deviation 12.6
  CHECK(dropped < 250);
  CHECK(std::count(ys.begin(), ys.end(), 2) == 1000 - dropped);
}

TEST_CASE("DDPM: the bits/dim bound of a perfect denoiser, by hand") {
  // A denoiser that knows x_0 predicts eps exactly, so the model's posterior mean is the
  // true one. Then each KL term is that of two Gaussians with the same mean:
  //   0.5 (log sigma^2 - log beta~ + beta~ / sigma^2 - 1)   (0 when sigma^2 = beta~),
  // the decoder's mean is x_0 itself (coef1_0 = 1, coef2_0 = 0), so a pixel inside (-1, 1)
  // has mass 2 Phi(h / sigma_0) - 1, h = 1/255, and an edge pixel Phi(h / sigma_0); the
  // prior is 0.5 (-log(1 - abar) + (1 - abar) + abar x^2 - 1) per dimension.
  Generator gen(2);
  const Tensor<double> x0 = tensor<double>({-1.0, 2.0 * 100 / 255 - 1, 2.0 * 200 / 255 - 1, 1.0, 2.0 * 17 / 255 - 1,
                                            2.0 * 128 / 255 - 1},
                                           {2, 3});
  const double ln2 = std::log(2.0);
  auto phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  for (models::ReverseVariance v : {models::ReverseVariance::posterior, models::ReverseVariance::beta}) {
    models::DDPMConfig c;
    c.steps = 100;
    c.beta_end = 0.05;
    c.variance = v;
    models::DDPM<double> ddpm(c);
    const models::NoiseSchedule& s = ddpm.schedule();
    const models::Denoiser<double> perfect = [&](const Tensor<double>& x, const Tensor<std::int64_t>& t,
                                                 const Tensor<std::int64_t>&) {
      const double abar = s.alpha_bar[std::size_t(t(0))];
      return (x - x0 * std::sqrt(abar)) / std::sqrt(1 - abar);
    };
    const models::VlbTerms got = ddpm.vlb_bits_per_dim(perfect, x0, gen);
    double prior = 0, decoder = 0, diffusion = 0;
    const double abar_T = s.alpha_bar.back(), sigma0 = std::sqrt(s.posterior_variance[1]);
    for (double x : x0.to_vector()) {
      prior += 0.5 * (-std::log(1 - abar_T) + (1 - abar_T) + abar_T * x * x - 1);
      const bool edge = std::fabs(x) == 1.0;
      decoder -= std::log(edge ? phi(1.0 / 255 / sigma0) : 2 * phi(1.0 / 255 / sigma0) - 1);
    }
    for (std::size_t t = 1; t < 100; ++t) {
      const double var = v == models::ReverseVariance::posterior ? s.posterior_variance[t] : s.betas[t];
      diffusion += 6 * 0.5 * (std::log(var) - std::log(s.posterior_variance[t]) + s.posterior_variance[t] / var - 1);
    }
    const double scale = 1.0 / (6 * ln2);
    INFO("variance ", int(v));
    CHECK(got.prior_bpd == doctest::Approx(prior * scale).epsilon(1e-9));
    CHECK(got.decoder_bpd == doctest::Approx(decoder * scale).epsilon(1e-9));
    CHECK(got.diffusion_bpd == doctest::Approx(diffusion * scale).epsilon(1e-6));
    CHECK(got.bpd == doctest::Approx(got.prior_bpd + got.decoder_bpd + got.diffusion_bpd).epsilon(1e-14));
    if (v == models::ReverseVariance::posterior) CHECK(std::fabs(got.diffusion_bpd) < 1e-9);
    else CHECK(got.diffusion_bpd > 0.01);
  }
  // A model that predicts no noise pays in the KL terms; the sampled estimate agrees with the full sum.
  models::DDPMConfig c;
  c.steps = 100;
  models::DDPM<double> ddpm(c);
  const models::Denoiser<double> lazy = [](const Tensor<double>& x, const Tensor<std::int64_t>&,
                                           const Tensor<std::int64_t>&) { return x * 0.5; };
  const Tensor<double> many = x0.unsqueeze(0).expand({200, 2, 3}).reshape({400, 3});
  const models::VlbTerms full_sum = ddpm.vlb_bits_per_dim(lazy, many, gen);
  const models::VlbTerms sampled = ddpm.vlb_bits_per_dim(lazy, many, gen, {}, 20);
  CHECK(full_sum.diffusion_bpd > 0.1);
  CHECK(sampled.diffusion_bpd == doctest::Approx(full_sum.diffusion_bpd).epsilon(0.1));
  CHECK(sampled.prior_bpd == full_sum.prior_bpd);
}

TEST_CASE("MLPDenoiser: the workload's network and loss, from a PyTorch state_dict") {
  const io::SafetensorsFile f = ddpm_test::fixture("mlp_default__f32");
  Generator gen(0);
  models::MLPDenoiser<float> net(gen);
  CHECK(net.num_parameters() == 37762);
  CHECK(net.num_parameters() == f.get<std::int64_t>("params")(0));
  CHECK(net.state_dict().keys() == ddpm_test::state_dict_of<float>(f).keys());
  // PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 34 for fc1.
  CHECK(net.fc1->weight.abs().amax().item() <= float(1 / std::sqrt(34.0)));
  CHECK(net.fc1->weight.abs().amax().item() > 0.9f / std::sqrt(34.0f));
  net.load_state_dict(ddpm_test::state_dict_of<float>(f));
  NoGradGuard no_grad;
  const Tensor<float> x0 = f.get<float>("input"), eps = f.get<float>("noise");
  const Tensor<std::int64_t> t = f.get<std::int64_t>("t");
  models::DDPM<float> ddpm;
  const Tensor<float> x_t = ddpm.q_sample(x0, t, eps);
  CHECK(ddpm_test::max_abs_diff(x_t, f.get<float>("x_t")) == 0.0);  // same float32 roundings
  CHECK(ddpm_test::max_abs_diff(net.forward(x_t, t), f.get<float>("output")) < 2e-6);
  const float loss = ddpm.loss_at(models::as_denoiser<float>(net), x0, t, eps).item();
  CHECK(loss == doctest::Approx(f.get<float>("loss")(0)).epsilon(1e-5));
  // A batch at one timestep (the samplers' case) computes emb(t) once: same numbers.
  const Tensor<float> same = net.forward(x_t, full<std::int64_t>({6}, 500));
  const Tensor<float> mixed = net.forward(x_t, tensor<std::int64_t>({500, 500, 500, 500, 500, 7}, {6}));
  CHECK(ddpm_test::max_abs_diff(same.narrow(0, 0, 5), mixed.narrow(0, 0, 5)) == 0.0);
}

TEST_CASE("MLPDenoiser: float64 output and gradients against PyTorch, with and without classes") {
  for (std::int64_t classes : {0, 3}) {
    INFO("classes ", classes);
    const io::SafetensorsFile f = ddpm_test::fixture(classes ? "mlp_cond__f64" : "mlp_small__f64");
    Generator gen(0);
    models::MLPDenoiserConfig c;
    c.t_dim = 8;
    c.hidden = 16;
    c.classes = classes;
    models::MLPDenoiser<double> net(c, gen);
    net.load_state_dict(ddpm_test::state_dict_of<double>(f));
    Tensor<double> x = f.get<double>("input").requires_grad_(true);
    const Tensor<std::int64_t> labels = classes ? f.get<std::int64_t>("labels") : Tensor<std::int64_t>();
    const Tensor<double> out = net.forward(x, f.get<std::int64_t>("t"), labels);
    CHECK(ddpm_test::max_abs_diff(out, f.get<double>("output")) < 1e-12);
    (out * f.get<double>("gout")).sum().backward();
    CHECK(ddpm_test::max_abs_diff(x.grad(), f.get<double>("grad.input")) < 1e-12);
    for (const auto& p : net.named_parameters()) {
      INFO("parameter ", p.first);
      CHECK(ddpm_test::max_abs_diff(p.second.grad(), f.get<double>("grad." + p.first)) < 1e-12);
    }
    if (classes) CHECK(net.null_class() == 3);
  }
}

TEST_CASE("DDPM and MLPDenoiser: bad arguments are errors") {
  Generator gen(1);
  models::DDPM<float> ddpm;
  const Tensor<float> x = zeros<float>({2, 2});
  const Tensor<std::int64_t> t2 = tensor<std::int64_t>({0, 1}, {2});
  CHECK_THROWS_WITH_AS(ddpm.q_sample(x, tensor<std::int64_t>({0, 1000}, {2}), x),
                       doctest::Contains("q_sample: timestep 1000 out of range [0, 1000)"), Error);
  CHECK_THROWS_WITH_AS(ddpm.q_sample(x, tensor<std::int64_t>({0}, {1}), x),
                       doctest::Contains("q_sample: expects timesteps [2], got shape [1]"), Error);
  CHECK_THROWS_WITH_AS(ddpm.q_sample(x, t2, zeros<float>({2, 3})),
                       doctest::Contains("q_sample: noise has shape [2, 3], expected [2, 2]"), Error);
  models::MLPDenoiser<float> net(gen);
  const models::Denoiser<float> model = models::as_denoiser<float>(net);
  CHECK_THROWS_WITH_AS(ddpm.ddim_sample(model, x, 0, 0.0, gen), doctest::Contains("steps must be in [1, 1000], got 0"),
                       Error);
  CHECK_THROWS_WITH_AS(ddpm.ddim_sample(model, x, 10, 1.5, gen), doctest::Contains("eta must be in [0, 1], got 1.5"),
                       Error);
  CHECK_THROWS_WITH_AS(ddpm.loss(model, x, gen, {}, 0.1), doctest::Contains("drop_prob = 0.1 given without labels"),
                       Error);
  CHECK_THROWS_WITH_AS(ddpm.loss(model, x, gen, t2, 0.1), doctest::Contains("needs a null_label >= 0"), Error);
  CHECK_THROWS_WITH_AS(ddpm.loss(model, x, gen, t2, 1.5, 3), doctest::Contains("drop_prob must be in [0, 1]"), Error);
  models::SampleOptions o;
  o.labels = tensor<std::int64_t>({0, 1, 2}, {3});
  CHECK_THROWS_WITH_AS(ddpm.guided(model, x, t2, o), doctest::Contains("guided: expects labels [2], got shape [3]"),
                       Error);
  o.labels = t2;
  o.guidance_scale = 2;
  CHECK_THROWS_WITH_AS(ddpm.guided(model, x, t2, o), doctest::Contains("guidance scale 2 needs a null_label"), Error);
  const models::Denoiser<float> wrong = [](const Tensor<float>& in, const Tensor<std::int64_t>&,
                                           const Tensor<std::int64_t>&) { return in.narrow(1, 0, 1); };
  CHECK_THROWS_WITH_AS(ddpm.sample(wrong, x, gen), doctest::Contains("the model returned shape [2, 1] for input [2, 2]"),
                       Error);
  CHECK_THROWS_WITH_AS(ddpm.vlb_bits_per_dim(model, full<float>({2, 2}, 1.5f), gen),
                       doctest::Contains("data must lie in [-1, 1], got 1.5"), Error);
  models::DDPMConfig bad;
  bad.beta_end = 1.5;
  CHECK_THROWS_WITH_AS(models::DDPM<float>{bad}, doctest::Contains("linear_betas: needs 0 < start <= end < 1"), Error);
  bad = models::DDPMConfig{};
  bad.steps = 1;
  CHECK_THROWS_WITH_AS(models::DDPM<float>{bad}, doctest::Contains("needs at least 2 steps, got 1"), Error);
  CHECK_THROWS_WITH_AS(net.forward(zeros<float>({2, 3}), t2), doctest::Contains("MLPDenoiser: expects points [B, 2]"),
                       Error);
  CHECK_THROWS_WITH_AS(net.forward(x, t2, t2), doctest::Contains("labels given to an unconditional denoiser"), Error);
  models::MLPDenoiserConfig c;
  c.classes = 4;
  models::MLPDenoiser<float> cond(c, gen);
  CHECK_THROWS_WITH_AS(cond.forward(x, t2), doctest::Contains("needs labels [2] (4 for none)"), Error);
  c.t_dim = 7;
  CHECK_THROWS_WITH_AS(models::MLPDenoiser<float>(c, gen), doctest::Contains("t_dim must be even"), Error);
}
