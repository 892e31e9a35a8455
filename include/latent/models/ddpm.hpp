// Denoising diffusion (Ho et al. 2020, DDPM; Song et al. 2021, DDIM; Nichol & Dhariwal 2021;
// Ho & Salimans 2022, classifier-free guidance). docs/diffusion.md teaches the maths.
//
// Indices: t = 0 .. T-1 here is the paper's 1 .. T (x_0 is the data; x_{t} below is the
// paper's x_{t+1}). All schedule values are computed in double and cast to T when used.
//
// Public API (models::):
//   enum class BetaSchedule { linear, cosine };        enum class Prediction { epsilon, x0, v };
//   enum class ReverseVariance { posterior, beta };    // sigma_t^2 = beta~_t (default) or beta_t
//   struct DDPMConfig { steps = 1000; schedule = linear; beta_start = 1e-4; beta_end = 0.02;
//                       cosine_s = 0.008; max_beta = 0.999; prediction = epsilon;
//                       variance = posterior; };
//   struct NoiseSchedule (double vectors of length T): betas, alphas, alpha_bar, alpha_bar_prev,
//       posterior_variance, posterior_log_variance_clipped, posterior_mean_coef1/2;
//   NoiseSchedule make_schedule(const DDPMConfig&);
//   std::vector<double> linear_betas(T, start, end), cosine_betas(T, s, max_beta);
//   template <T> using Denoiser = std::function<Tensor<T>(x_t, t [B] int64, labels [B] or undefined)>;
//   template <T, Model> Denoiser<T> as_denoiser(Model& m)   // m.forward(x, t, labels)
//   struct SampleOptions { Tensor<int64> labels;          // [B] or undefined: unconditional
//                          double guidance_scale = 1;     // w: 0 unconditional, 1 conditional
//                          int64 null_label = -1;         // the "no class" label (needed if w != 1)
//                          int64 frames = 0;              // keep this many frames x_T .. x_0
//                          bool clip_x0 = false; };       // clamp predicted x0 to [-1, 1]
//   template <T> struct SampleResult { Tensor<T> x; std::vector<Tensor<T>> frames; };
//   template <T> struct VlbTerms { double bpd, prior_bpd, decoder_bpd, diffusion_bpd; };
//   template <T> class DDPM {
//     explicit DDPM(const DDPMConfig& = {});
//     config(), steps(), schedule();
//     Tensor<T> q_sample(x0, t, noise);            // closed form q(x_t | x_0)
//     Tensor<T> q_step(x_prev, t, noise);          // one Markov step q(x_t | x_{t-1})
//     Tensor<T> posterior_mean(x0, x_t, t);        // mean of q(x_{t-1} | x_t, x_0)
//     Tensor<T> predict_x0(x_t, t, pred), predict_eps(x_t, t, pred);  // from the model's output
//     Tensor<T> target(x0, noise, t);              // what the model should output
//     Tensor<T> loss(model, x0, gen, labels = {}, drop_prob = 0, null_label = -1);  // random t, noise
//     Tensor<T> loss_at(model, x0, t, noise, labels = {});                       // fixed t, noise
//     Tensor<T> guided(model, x_t, t, options);   // classifier-free guided model output
//     SampleResult<T> sample(model, x_T, gen, options = {});                      // ancestral, T steps
//     SampleResult<T> ddim_sample(model, x_T, steps, eta, gen, options = {});     // DDIM
//     std::vector<std::int64_t> ddim_timesteps(steps);   // the visited t, decreasing
//     VlbTerms vlb_bits_per_dim(model, x0, gen, labels = {}, t_samples = 0);    // x0 in [-1, 1]
//   };
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../ops/binary_ops.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/join_ops.hpp"
#include "../ops/reduce_ops.hpp"
#include "../ops/shape_ops.hpp"
#include "../ops/unary_ops.hpp"
#include "../tensor/creation.hpp"

namespace latent::models {

enum class BetaSchedule { linear, cosine };
// What the network outputs: the noise eps, the clean x0, or v = sqrt(abar) eps - sqrt(1 - abar) x0.
enum class Prediction { epsilon, x0, v };
// The reverse process's fixed variance sigma_t^2: the posterior's beta~_t or beta_t itself.
enum class ReverseVariance { posterior, beta };

struct DDPMConfig {
  std::int64_t steps = 1000;                   // T
  BetaSchedule schedule = BetaSchedule::linear;
  double beta_start = 1e-4, beta_end = 0.02;   // linear schedule
  double cosine_s = 0.008, max_beta = 0.999;   // cosine schedule: offset s and the clip on beta
  Prediction prediction = Prediction::epsilon;
  ReverseVariance variance = ReverseVariance::posterior;
};

// ---- schedules ----

// Ho et al.: beta_t evenly spaced from beta_start to beta_end (torch.linspace in float64).
inline std::vector<double> linear_betas(std::int64_t steps, double start, double end) {
  LATENT_CHECK(steps >= 2, "linear_betas: needs at least 2 steps, got ", steps);
  LATENT_CHECK(start > 0 && end >= start && end < 1, "linear_betas: needs 0 < start <= end < 1, got ", start, " and ",
               end);
  std::vector<double> betas(static_cast<std::size_t>(steps));
  const double step = (end - start) / double(steps - 1);
  for (std::int64_t i = 0; i < steps; ++i)  // from both ends, as torch.linspace
    betas[std::size_t(i)] = i < steps / 2 ? start + step * double(i) : end - step * double(steps - 1 - i);
  return betas;
}

// Nichol & Dhariwal: abar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t/T + s) / (1 + s)), and
// beta_t = min(1 - abar(t+1) / abar(t), max_beta) for t = 0 .. T-1 (the clip stops the
// last steps from destroying everything at once: abar(T) = 0).
inline std::vector<double> cosine_betas(std::int64_t steps, double s = 0.008, double max_beta = 0.999) {
  LATENT_CHECK(steps >= 2, "cosine_betas: needs at least 2 steps, got ", steps);
  LATENT_CHECK(s >= 0 && max_beta > 0 && max_beta < 1, "cosine_betas: needs s >= 0 and 0 < max_beta < 1, got s = ",
               s, ", max_beta = ", max_beta);
  const double half_pi = 2.0 * std::atan(1.0);
  auto f = [&](double t) {
    const double c = std::cos((t / double(steps) + s) / (1 + s) * half_pi);
    return c * c;
  };
  std::vector<double> betas(static_cast<std::size_t>(steps));
  for (std::int64_t i = 0; i < steps; ++i)
    betas[std::size_t(i)] = std::min(1 - f(double(i + 1)) / f(double(i)), max_beta);
  return betas;
}

// Everything the process needs per step, from the betas:
//   alpha_t = 1 - beta_t,  abar_t = prod_{s<=t} alpha_s,  abar_prev_t = abar_{t-1} (1 at t = 0)
//   q(x_{t-1} | x_t, x_0) = N(coef1_t x_0 + coef2_t x_t, beta~_t I)
//   beta~_t = beta_t (1 - abar_prev_t) / (1 - abar_t)
//   coef1_t = beta_t sqrt(abar_prev_t) / (1 - abar_t),  coef2_t = (1 - abar_prev_t) sqrt(alpha_t) / (1 - abar_t)
// beta~_0 = 0, so its log is "clipped": log beta~_1 stands in at t = 0.
struct NoiseSchedule {
  std::vector<double> betas, alphas, alpha_bar, alpha_bar_prev;
  std::vector<double> posterior_variance, posterior_log_variance_clipped;
  std::vector<double> posterior_mean_coef1, posterior_mean_coef2;
  std::int64_t steps() const { return std::int64_t(betas.size()); }
};

inline NoiseSchedule make_schedule(const std::vector<double>& betas) {
  LATENT_CHECK(betas.size() >= 2, "make_schedule: needs at least 2 betas, got ", betas.size());
  NoiseSchedule s;
  s.betas = betas;
  double abar = 1;
  for (double beta : betas) {
    LATENT_CHECK(beta > 0 && beta < 1, "make_schedule: every beta must be in (0, 1), got ", beta);
    s.alphas.push_back(1 - beta);
    s.alpha_bar_prev.push_back(abar);
    abar *= 1 - beta;
    s.alpha_bar.push_back(abar);
  }
  for (std::size_t t = 0; t < betas.size(); ++t) {
    const double one_minus = 1 - s.alpha_bar[t];
    s.posterior_variance.push_back(betas[t] * (1 - s.alpha_bar_prev[t]) / one_minus);
    s.posterior_mean_coef1.push_back(betas[t] * std::sqrt(s.alpha_bar_prev[t]) / one_minus);
    s.posterior_mean_coef2.push_back((1 - s.alpha_bar_prev[t]) * std::sqrt(s.alphas[t]) / one_minus);
  }
  for (std::size_t t = 0; t < betas.size(); ++t)
    s.posterior_log_variance_clipped.push_back(std::log(s.posterior_variance[t == 0 ? 1 : t]));
  return s;
}

inline NoiseSchedule make_schedule(const DDPMConfig& c) {
  return make_schedule(c.schedule == BetaSchedule::linear ? linear_betas(c.steps, c.beta_start, c.beta_end)
                                                          : cosine_betas(c.steps, c.cosine_s, c.max_beta));
}

// ---- the denoiser and the sampling options ----

// model(x_t, t, labels) -> its prediction, x_t's shape. t [B] holds integer timesteps in
// 0 .. T-1; labels are [B] class labels, or an undefined tensor for an unconditional model.
template <class T>
using Denoiser =
    std::function<Tensor<T>(const Tensor<T>&, const Tensor<std::int64_t>&, const Tensor<std::int64_t>&)>;

// Wraps any model with forward(x, t, labels) (MLPDenoiser, UNet); the model must outlive it.
template <class T, class Model>
Denoiser<T> as_denoiser(Model& model) {
  return [&model](const Tensor<T>& x, const Tensor<std::int64_t>& t, const Tensor<std::int64_t>& labels) {
    return model.forward(x, t, labels);
  };
}

struct SampleOptions {
  Tensor<std::int64_t> labels;    // [B] class labels; undefined: the unconditional model alone
  double guidance_scale = 1.0;    // w in eps = eps_u + w (eps_c - eps_u)
  std::int64_t null_label = -1;   // the label meaning "no class"; needed when w != 1
  std::int64_t frames = 0;        // > 0: keep this many evenly spaced states, x_T first, x_0 last
  bool clip_x0 = false;           // clamp each predicted x_0 to [-1, 1] (data scaled to [-1, 1])
};

template <class T>
struct SampleResult {
  Tensor<T> x;                    // the samples x_0
  std::vector<Tensor<T>> frames;  // the kept states of the chain (options.frames of them)
};

// The variational bound in bits per dimension, averaged over the batch, and its parts:
// bpd = prior_bpd + diffusion_bpd + decoder_bpd.
struct VlbTerms {
  double bpd = 0, prior_bpd = 0, decoder_bpd = 0, diffusion_bpd = 0;
};

namespace ddpm_detail {

// Per-example values [B] of a schedule column, as a [B, 1, ..., 1] tensor of x's rank.
template <class T>
Tensor<T> per_example(const std::vector<double>& column, const Tensor<std::int64_t>& t, int rank,
                      double (*f)(double) = nullptr) {
  const std::vector<std::int64_t> ts = t.to_vector();
  std::vector<T> values;
  values.reserve(ts.size());
  for (std::int64_t i : ts) {
    const double v = column[std::size_t(i)];
    values.push_back(static_cast<T>(f ? f(v) : v));
  }
  Shape shape;
  shape.push_back(std::int64_t(ts.size()));
  for (int d = 1; d < rank; ++d) shape.push_back(1);
  return tensor<T>(values, shape);
}

inline double sqrt_of(double v) { return std::sqrt(v); }
inline double sqrt_one_minus(double v) { return std::sqrt(1 - v); }
inline double sqrt_recip(double v) { return std::sqrt(1 / v); }
inline double sqrt_recip_minus_one(double v) { return std::sqrt(1 / v - 1); }

// log of the standard normal CDF, via erfc for accuracy in the lower tail.
inline double log_normal_cdf(double z) { return std::log(0.5 * std::erfc(-z / std::sqrt(2.0))); }

}  // namespace ddpm_detail

// ---- the diffusion process ----

template <class T>
class DDPM {
 public:
  explicit DDPM(const DDPMConfig& config = {}) : config_(config), s_(make_schedule(config)) {}
  const DDPMConfig& config() const { return config_; }
  std::int64_t steps() const { return s_.steps(); }
  const NoiseSchedule& schedule() const { return s_; }

  // Closed form of the forward process: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),
  //   x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise,  noise ~ N(0, I).
  Tensor<T> q_sample(const Tensor<T>& x0, const Tensor<std::int64_t>& t, const Tensor<T>& noise) const {
    check_batch(x0, t, "q_sample");
    check_same(x0, noise, "q_sample", "noise");
    return coef(s_.alpha_bar, t, x0, ddpm_detail::sqrt_of) * x0 +
           coef(s_.alpha_bar, t, x0, ddpm_detail::sqrt_one_minus) * noise;
  }

  // One step of the Markov chain: q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
  // (t = 0 takes the data to the first noisy state).
  Tensor<T> q_step(const Tensor<T>& x_prev, const Tensor<std::int64_t>& t, const Tensor<T>& noise) const {
    check_batch(x_prev, t, "q_step");
    check_same(x_prev, noise, "q_step", "noise");
    return coef(s_.alphas, t, x_prev, ddpm_detail::sqrt_of) * x_prev +
           coef(s_.betas, t, x_prev, ddpm_detail::sqrt_of) * noise;
  }

  // The mean of q(x_{t-1} | x_t, x_0): coef1_t x_0 + coef2_t x_t.
  Tensor<T> posterior_mean(const Tensor<T>& x0, const Tensor<T>& x_t, const Tensor<std::int64_t>& t) const {
    check_batch(x_t, t, "posterior_mean");
    check_same(x_t, x0, "posterior_mean", "x0");
    return coef(s_.posterior_mean_coef1, t, x_t) * x0 + coef(s_.posterior_mean_coef2, t, x_t) * x_t;
  }

  // The model's output read as x_0 and as eps (the three parametrisations are affine in
  // each other given x_t):
  //   eps:  x0 = sqrt(1/abar) x_t - sqrt(1/abar - 1) eps
  //   x0:   eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar)
  //   v:    x0 = sqrt(abar) x_t - sqrt(1 - abar) v,   eps = sqrt(1 - abar) x_t + sqrt(abar) v
  Tensor<T> predict_x0(const Tensor<T>& x_t, const Tensor<std::int64_t>& t, const Tensor<T>& pred) const {
    check_batch(x_t, t, "predict_x0");
    check_same(x_t, pred, "predict_x0", "prediction");
    switch (config_.prediction) {
      case Prediction::epsilon:
        return coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_recip) * x_t -
               coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_recip_minus_one) * pred;
      case Prediction::x0: return pred;
      default:
        return coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_of) * x_t -
               coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_one_minus) * pred;
    }
  }
  Tensor<T> predict_eps(const Tensor<T>& x_t, const Tensor<std::int64_t>& t, const Tensor<T>& pred) const {
    check_batch(x_t, t, "predict_eps");
    check_same(x_t, pred, "predict_eps", "prediction");
    switch (config_.prediction) {
      case Prediction::epsilon: return pred;
      case Prediction::x0: return eps_from_x0(x_t, t, pred);
      default:
        return coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_one_minus) * x_t +
               coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_of) * pred;
    }
  }

  // What the network should output for x_t = q_sample(x0, t, noise): noise, x0 or
  // v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0.
  Tensor<T> target(const Tensor<T>& x0, const Tensor<T>& noise, const Tensor<std::int64_t>& t) const {
    check_batch(x0, t, "target");
    check_same(x0, noise, "target", "noise");
    switch (config_.prediction) {
      case Prediction::epsilon: return noise;
      case Prediction::x0: return x0;
      default:
        return coef(s_.alpha_bar, t, x0, ddpm_detail::sqrt_of) * noise -
               coef(s_.alpha_bar, t, x0, ddpm_detail::sqrt_one_minus) * x0;
    }
  }

  // The simple objective (Ho et al. eq. 14) at given t and noise: the mean over all
  // elements of (model(x_t, t, y) - target)^2, x_t = q_sample(x0, t, noise).
  Tensor<T> loss_at(const Denoiser<T>& model, const Tensor<T>& x0, const Tensor<std::int64_t>& t,
                    const Tensor<T>& noise, const Tensor<std::int64_t>& labels = {}) const {
    const Tensor<T> x_t = q_sample(x0, t, noise);
    const Tensor<T> pred = model(x_t, t, labels);
    check_same(x_t, pred, "loss", "model output");
    return square(pred - target(x0, noise, t)).mean();
  }

  // The training loss of a batch x0 [B, ...]: per example t ~ U{0 .. T-1}, then noise ~ N(0, I)
  // (drawn in that order from gen); with labels, each is replaced by null_label with
  // probability drop_prob (classifier-free guidance training: one network learns both the
  // conditional and the unconditional model).
  Tensor<T> loss(const Denoiser<T>& model, const Tensor<T>& x0, Generator& gen, const Tensor<std::int64_t>& labels = {},
                 double drop_prob = 0.0, std::int64_t null_label = -1) const {
    LATENT_CHECK(x0.dim() >= 1 && x0.size(0) > 0, "DDPM::loss: expects a batch [B, ...], got shape ", x0.shape());
    LATENT_CHECK(drop_prob >= 0 && drop_prob <= 1, "DDPM::loss: drop_prob must be in [0, 1], got ", drop_prob);
    const std::int64_t batch = x0.size(0);
    const Tensor<std::int64_t> t = randint(0, steps(), {batch}, gen);
    const Tensor<T> noise = randn<T>(x0.shape(), gen);
    Tensor<std::int64_t> y = labels;
    if (labels.defined()) {
      check_labels(labels, batch, "DDPM::loss");
      if (drop_prob > 0) {
        LATENT_CHECK(null_label >= 0, "DDPM::loss: dropping labels (drop_prob = ", drop_prob,
                     ") needs a null_label >= 0, got ", null_label);
        std::vector<std::int64_t> kept = labels.to_vector();
        for (auto& label : kept)
          if (gen.uniform<double>() < drop_prob) label = null_label;
        y = tensor<std::int64_t>(kept, {batch});
      }
    } else {
      LATENT_CHECK(drop_prob == 0, "DDPM::loss: drop_prob = ", drop_prob, " given without labels");
    }
    return loss_at(model, x0, t, noise, y);
  }

  // Classifier-free guidance on the model's output (Ho & Salimans 2022):
  //   out = out_u + w (out_c - out_u),  out_c = model(x, t, y),  out_u = model(x, t, null)
  // w = 0 is the unconditional model, w = 1 the conditional one (one call each); other w
  // evaluate both in one batch of 2B. The outputs are affine in eps for fixed x_t and t,
  // so guiding x0 or v predictions is the same as guiding eps.
  Tensor<T> guided(const Denoiser<T>& model, const Tensor<T>& x_t, const Tensor<std::int64_t>& t,
                   const SampleOptions& options) const {
    check_batch(x_t, t, "guided");
    const std::int64_t batch = x_t.size(0);
    if (!options.labels.defined()) return checked(model(x_t, t, {}), x_t);
    check_labels(options.labels, batch, "guided");
    const double w = options.guidance_scale;
    if (w == 1) return checked(model(x_t, t, options.labels), x_t);
    LATENT_CHECK(options.null_label >= 0, "guided: guidance scale ", w, " needs a null_label >= 0, got ",
                 options.null_label);
    const Tensor<std::int64_t> nulls = full<std::int64_t>({batch}, options.null_label);
    if (w == 0) return checked(model(x_t, t, nulls), x_t);
    std::vector<std::int64_t> ts = t.to_vector(), ys = options.labels.to_vector();
    ts.insert(ts.end(), ts.begin(), ts.end());
    ys.insert(ys.end(), std::size_t(batch), options.null_label);
    const Tensor<T> both = model(cat<T>({x_t, x_t}, 0), tensor<std::int64_t>(ts, {2 * batch}),
                                 tensor<std::int64_t>(ys, {2 * batch}));
    LATENT_CHECK(both.dim() >= 1 && both.size(0) == 2 * batch, "guided: the model returned shape ", both.shape(),
                 " for a batch of ", 2 * batch);
    const Tensor<T> cond = both.narrow(0, 0, batch), uncond = both.narrow(0, batch, batch);
    return checked(uncond + (cond - uncond) * T(w), x_t);
  }

  // Ancestral sampling (Ho et al. Algorithm 2), t = T-1 .. 0:
  //   x0^ = predict_x0(x_t, t, model(...)) (clamped to [-1, 1] if asked)
  //   x_{t-1} = coef1_t x0^ + coef2_t x_t + sigma_t z,  z ~ N(0, I), no noise at the last step
  // (with eps-prediction and no clamp the mean is 1/sqrt(alpha_t) (x_t - beta_t/sqrt(1 - abar_t) eps^)).
  SampleResult<T> sample(const Denoiser<T>& model, const Tensor<T>& x_T, Generator& gen,
                         const SampleOptions& options = {}) const {
    NoGradGuard no_grad;
    std::vector<std::int64_t> ts(static_cast<std::size_t>(steps()));
    for (std::int64_t i = 0; i < steps(); ++i) ts[std::size_t(i)] = steps() - 1 - i;
    const std::vector<double>& variance =
        config_.variance == ReverseVariance::posterior ? s_.posterior_variance : s_.betas;
    return run_chain(x_T, ts, options, [&](const Tensor<T>& x, std::int64_t step, std::int64_t /*next*/) {
      const Tensor<std::int64_t> t = full<std::int64_t>({x.size(0)}, step);
      const Tensor<T> x0 = clip(predict_x0(x, t, guided(model, x, t, options)), options);
      const Tensor<T> mean = posterior_mean(x0, x, t);
      if (step == 0) return mean;
      return mean + randn<T>(x.shape(), gen) * T(std::sqrt(variance[std::size_t(step)]));
    });
  }

  // DDIM (Song et al. 2021) over the timesteps ddim_timesteps(steps), from t to the next t'
  // (abar' = 1 after the last one):
  //   x0^, eps^ from the model (eps^ recomputed from x0^ when x0^ is clamped)
  //   sigma = eta sqrt((1 - abar') / (1 - abar)) sqrt(1 - abar / abar')
  //   x_t' = sqrt(abar') x0^ + sqrt(1 - abar' - sigma^2) eps^ + sigma z
  // eta = 0 is deterministic given x_T (an ODE-like path); eta = 1 with all T steps is DDPM.
  SampleResult<T> ddim_sample(const Denoiser<T>& model, const Tensor<T>& x_T, std::int64_t steps, double eta,
                              Generator& gen, const SampleOptions& options = {}) const {
    LATENT_CHECK(eta >= 0 && eta <= 1, "ddim_sample: eta must be in [0, 1], got ", eta);
    NoGradGuard no_grad;
    return run_chain(x_T, ddim_timesteps(steps), options, [&](const Tensor<T>& x, std::int64_t step, std::int64_t next) {
      const Tensor<std::int64_t> t = full<std::int64_t>({x.size(0)}, step);
      const Tensor<T> pred = guided(model, x, t, options);
      const Tensor<T> x0 = clip(predict_x0(x, t, pred), options);
      const Tensor<T> eps = options.clip_x0 ? eps_from_x0(x, t, x0) : predict_eps(x, t, pred);
      const double abar = s_.alpha_bar[std::size_t(step)], abar_next = next < 0 ? 1.0 : s_.alpha_bar[std::size_t(next)];
      const double sigma = eta * std::sqrt((1 - abar_next) / (1 - abar)) * std::sqrt(1 - abar / abar_next);
      Tensor<T> out = x0 * T(std::sqrt(abar_next)) + eps * T(std::sqrt(std::max(0.0, 1 - abar_next - sigma * sigma)));
      if (sigma > 0) out = out + randn<T>(x.shape(), gen) * T(sigma);
      return out;
    });
  }

  // The timesteps DDIM visits with `steps` steps, decreasing, evenly spaced and ending at
  // the top ("trailing" spacing): t_i = floor((i + 1) T / steps) - 1, so the first one is
  // T - 1 (where x_T ~ N(0, I) holds) and steps = T visits every t.
  std::vector<std::int64_t> ddim_timesteps(std::int64_t count) const {
    LATENT_CHECK(count >= 1 && count <= steps(), "ddim_sample: steps must be in [1, ", steps(), "], got ", count);
    std::vector<std::int64_t> ts;
    for (std::int64_t i = count - 1; i >= 0; --i) ts.push_back((i + 1) * steps() / count - 1);
    return ts;
  }

  // The variational bound -log p(x_0) <= L_prior + sum_{t>=1} L_t + L_decoder, in bits per
  // dimension, for data x0 [B, ...] in [-1, 1] that were 8-bit values (x = 2 k / 255 - 1):
  //   L_prior = KL(q(x_{T-1} | x_0) || N(0, I))
  //   L_t     = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),  x_t ~ q(x_t | x_0),  t = 1 .. T-1
  //             p(x_{t-1} | x_t) = N(mean from the model, sigma_t^2 I)
  //   L_decoder = -log p(x_0 | x_{t=0}): the Gaussian N(mean, sigma^2) (sigma^2 = beta~ at
  //             index 1) integrated over the 8-bit bin [x - 1/255, x + 1/255], the outer bins
  //             reaching to -inf and +inf.
  // t_samples = 0 sums all T - 1 KL terms (T model calls per batch); t_samples = k > 0
  // estimates their sum without bias as (T - 1) times the mean over k random t per example.
  // Labels, if given, condition the model (guidance scale 1). Divided by (D ln 2), D = x0[0].numel().
  VlbTerms vlb_bits_per_dim(const Denoiser<T>& model, const Tensor<T>& x0, Generator& gen,
                            const Tensor<std::int64_t>& labels = {}, std::int64_t t_samples = 0) const;

 private:
  // a schedule column (through f) per example, shaped to broadcast against x
  Tensor<T> coef(const std::vector<double>& column, const Tensor<std::int64_t>& t, const Tensor<T>& x,
                 double (*f)(double) = nullptr) const {
    return ddpm_detail::per_example<T>(column, t, x.dim(), f);
  }
  Tensor<T> eps_from_x0(const Tensor<T>& x_t, const Tensor<std::int64_t>& t, const Tensor<T>& x0) const {
    return (x_t - coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_of) * x0) /
           coef(s_.alpha_bar, t, x_t, ddpm_detail::sqrt_one_minus);
  }
  static Tensor<T> clip(const Tensor<T>& x0, const SampleOptions& options) {
    return options.clip_x0 ? clamp(x0, Scalar<T>(-1), Scalar<T>(1)) : x0;
  }
  static Tensor<T> checked(const Tensor<T>& out, const Tensor<T>& x) {
    LATENT_CHECK(out.shape() == x.shape(), "DDPM: the model returned shape ", out.shape(), " for input ", x.shape());
    return out;
  }
  void check_batch(const Tensor<T>& x, const Tensor<std::int64_t>& t, const char* op) const {
    LATENT_CHECK(x.dim() >= 1 && x.size(0) > 0, op, ": expects a batch [B, ...], got shape ", x.shape());
    LATENT_CHECK(t.dim() == 1 && t.size(0) == x.size(0), op, ": expects timesteps [", x.size(0), "], got shape ",
                 t.shape());
    for (std::int64_t v : t.to_vector())
      LATENT_CHECK(v >= 0 && v < steps(), op, ": timestep ", v, " out of range [0, ", steps(), ")");
  }
  static void check_same(const Tensor<T>& x, const Tensor<T>& other, const char* op, const char* what) {
    LATENT_CHECK(other.shape() == x.shape(), op, ": ", what, " has shape ", other.shape(), ", expected ", x.shape());
  }
  static void check_labels(const Tensor<std::int64_t>& labels, std::int64_t batch, const char* op) {
    LATENT_CHECK(labels.dim() == 1 && labels.size(0) == batch, op, ": expects labels [", batch, "], got shape ",
                 labels.shape());
  }

  // Runs x through `update(x, t, next_t)` for each t of ts (next_t = -1 after the last),
  // keeping options.frames evenly spaced states (x_T first, the result last).
  template <class Update>
  SampleResult<T> run_chain(const Tensor<T>& x_T, const std::vector<std::int64_t>& ts, const SampleOptions& options,
                            Update update) const {
    LATENT_CHECK(x_T.dim() >= 1 && x_T.size(0) > 0, "sample: expects x_T [B, ...], got shape ", x_T.shape());
    LATENT_CHECK(options.frames >= 0, "sample: frames must be >= 0, got ", options.frames);
    const std::int64_t n = std::int64_t(ts.size());
    std::vector<bool> keep(std::size_t(n + 1), false);  // state k: after k updates
    if (options.frames == 1) keep[std::size_t(n)] = true;
    for (std::int64_t k = 0; options.frames > 1 && k < options.frames; ++k)
      keep[std::size_t((k * n + (options.frames - 1) / 2) / (options.frames - 1))] = true;
    SampleResult<T> result;
    Tensor<T> x = x_T.detach();
    if (keep[0]) result.frames.push_back(x.clone());
    for (std::int64_t i = 0; i < n; ++i) {
      x = update(x, ts[std::size_t(i)], i + 1 < n ? ts[std::size_t(i + 1)] : -1);
      if (keep[std::size_t(i + 1)]) result.frames.push_back(x.clone());
    }
    result.x = x;
    return result;
  }

  DDPMConfig config_;
  NoiseSchedule s_;
};

template <class T>
VlbTerms DDPM<T>::vlb_bits_per_dim(const Denoiser<T>& model, const Tensor<T>& x0, Generator& gen,
                                   const Tensor<std::int64_t>& labels, std::int64_t t_samples) const {
  LATENT_CHECK(x0.dim() >= 2 && x0.size(0) > 0, "vlb_bits_per_dim: expects a batch [B, ...], got shape ", x0.shape());
  LATENT_CHECK(t_samples >= 0, "vlb_bits_per_dim: t_samples must be >= 0, got ", t_samples);
  NoGradGuard no_grad;
  const std::int64_t batch = x0.size(0), dims = x0.numel() / batch, n_steps = steps();
  if (labels.defined()) check_labels(labels, batch, "vlb_bits_per_dim");
  const std::vector<T> data = x0.contiguous().to_vector();
  for (T v : data)
    LATENT_CHECK(v >= T(-1) && v <= T(1), "vlb_bits_per_dim: data must lie in [-1, 1], got ", v);
  const std::vector<double>& variance =
      config_.variance == ReverseVariance::posterior ? s_.posterior_variance : s_.betas;
  auto model_var = [&](std::int64_t t) { return t == 0 ? s_.posterior_variance[1] : variance[std::size_t(t)]; };
  SampleOptions cond;
  cond.labels = labels;

  // The model's mean of p(x_{t-1} | x_t) at timesteps t [B] (x_t drawn from q), and the true
  // posterior mean.
  auto means = [&](const std::vector<std::int64_t>& ts) {
    const Tensor<std::int64_t> t = tensor<std::int64_t>(ts, {batch});
    const Tensor<T> x_t = q_sample(x0, t, randn<T>(x0.shape(), gen));
    const Tensor<T> x0_hat = predict_x0(x_t, t, guided(model, x_t, t, cond));
    return std::make_pair(posterior_mean(x0_hat, x_t, t).contiguous().to_vector(),
                          posterior_mean(x0, x_t, t).contiguous().to_vector());
  };
  // KL(N(m1, v1) || N(m2, v2)) per dimension = 0.5 (log v2 - log v1 + (v1 + (m1 - m2)^2) / v2 - 1)
  auto kl_sum = [&](const std::vector<T>& model_mean, const std::vector<T>& true_mean, std::int64_t b, std::int64_t t) {
    const double v1 = s_.posterior_variance[std::size_t(t)], v2 = model_var(t);
    double sum = 0;
    for (std::int64_t d = 0; d < dims; ++d) {
      const double diff = double(true_mean[std::size_t(b * dims + d)]) - double(model_mean[std::size_t(b * dims + d)]);
      sum += 0.5 * (std::log(v2) - std::log(v1) + (v1 + diff * diff) / v2 - 1);
    }
    return sum;
  };

  VlbTerms terms;
  const double to_bits = 1.0 / (double(dims) * std::log(2.0) * double(batch));
  // prior: KL(N(sqrt(abar) x0, 1 - abar) || N(0, 1)) per dimension
  const double abar_T = s_.alpha_bar.back();
  for (T v : data)
    terms.prior_bpd += 0.5 * (-std::log(1 - abar_T) + (1 - abar_T) + abar_T * double(v) * double(v) - 1) * to_bits;

  // decoder: -log of the Gaussian's mass over each 8-bit bin
  {
    const auto [mean, unused] = means(std::vector<std::int64_t>(std::size_t(batch), 0));
    (void)unused;
    const double inv_std = 1 / std::sqrt(model_var(0)), half_bin = 1.0 / 255.0;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const double x = double(data[i]), m = double(mean[i]);
      const double upper = (x + half_bin - m) * inv_std, lower = (x - half_bin - m) * inv_std;
      double log_mass;
      if (x < -0.999) log_mass = ddpm_detail::log_normal_cdf(upper);
      else if (x > 0.999) log_mass = ddpm_detail::log_normal_cdf(-lower);
      else {
        const double mass = 0.5 * (std::erfc(-upper / std::sqrt(2.0)) - std::erfc(-lower / std::sqrt(2.0)));
        log_mass = std::log(std::max(mass, 1e-300));
      }
      terms.decoder_bpd -= log_mass * to_bits;
    }
  }

  // the KL terms for t = 1 .. T-1, all of them or sampled
  const std::int64_t rounds = t_samples == 0 ? n_steps - 1 : t_samples;
  const double weight = t_samples == 0 ? 1.0 : double(n_steps - 1) / double(t_samples);
  for (std::int64_t r = 0; r < rounds; ++r) {
    std::vector<std::int64_t> ts(std::size_t(batch), r + 1);
    if (t_samples > 0) ts = randint(1, n_steps, {batch}, gen).to_vector();
    const auto [model_mean, true_mean] = means(ts);
    for (std::int64_t b = 0; b < batch; ++b)
      terms.diffusion_bpd += weight * kl_sum(model_mean, true_mean, b, ts[std::size_t(b)]) * to_bits;
  }
  terms.bpd = terms.prior_bpd + terms.diffusion_bpd + terms.decoder_bpd;
  return terms;
}

}  // namespace latent::models
