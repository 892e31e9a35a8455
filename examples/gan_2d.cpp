// gan_2d: GANs on the two classic 2-D testbeds, 8 Gaussians on a ring (radius 2, std 0.02)
// and 25 on a grid ({-4,-2,0,2,4}^2, std 0.05), each trained with three objectives:
//   ns      the non-saturating GAN (BCE discriminator, -log D(G(z)) for the generator),
//           one discriminator step per generator step
//   wgangp  WGAN-GP: a Wasserstein critic with the gradient penalty, 5 critic steps per
//           generator step
//   hinge   the hinge loss with spectral normalisation on every critic layer, 5 critic
//           steps per generator step (SNGAN's n_dis)
// The generator maps 2-D Gaussian noise through an MLP (3 hidden layers of 128, ReLU) to
// the plane; the critic is the same MLP with one output. Adam with betas (0.5, 0.9) (the
// WGAN-GP paper's), lr 2e-3 decayed linearly to 0, batch 256; samples are drawn with an
// exponential moving average of the generator's weights (decay 0.999, warmed up). The
// networks see the points divided by 1.414 (ring) or 2.828 (grid), about unit size, as
// in the WGAN-GP authors' toy code; samples are scaled back before scoring.
//
// The penalty weight: lambda = 0.1 by default, not the paper's 10. The authors' own toy
// code uses 0.1 ("smaller lambda seems to help for toy tasks"), and here with 10 the
// critic cannot carve 25 wells of std 0.05 / 2.828 with slopes held at 1: the grid run
// ends as a diffuse cloud (0/25 modes; try --gp 10), while the ring still works.
//
// Scored as in the unrolled-GAN and VEEGAN papers on 10,000 samples: a mode is covered
// when at least 1% of the samples lie within 3 std of its centre; the high-quality share
// is the fraction of samples within 3 std of some centre. Pictures: for each objective
// and testbed a strip of 6 snapshots of the samples over training (orange: the
// centres), and the losses. The same scores over training are printed after each run.
//
//   ./gan_2d                                      # all six runs
//   ./gan_2d --objective wgangp --testbed ring    # one of them (also --objective minimax)
//   ./gan_2d --quick                              # all six, briefly
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace latent;
using T = float;

namespace {

struct Testbed {
  std::string name;
  std::vector<std::array<double, 2>> centres;
  double std;
  double view;   // pictures span [-view, view]^2
  double scale;  // the networks see points / scale (about unit size); samples are scaled back
  Tensor<T> sample(std::int64_t n, Generator& gen) const {
    const Tensor<T> x = name == "ring" ? data::ring_of_gaussians<T>(n, gen) : data::grid_of_gaussians<T>(n, gen);
    return x / T(scale);
  }
};

struct Settings {
  std::int64_t steps, batch, hidden, depth, eval_samples, snapshots, critic_steps;  // critic_steps 0: by objective
  double lr, beta1, beta2, ema_decay, gp_weight;
};

struct Outcome {
  metrics::ModeCoverage coverage;
  double seconds;
};

// Pictures side by side, separated by a grey bar.
io::Image strip(const std::vector<io::Image>& frames) {
  const std::int64_t gap = 4, h = frames[0].height, w = frames[0].width;
  io::Image out(h, std::int64_t(frames.size()) * (w + gap) - gap, 3, 160);
  for (std::size_t f = 0; f < frames.size(); ++f)
    for (std::int64_t y = 0; y < h; ++y)
      std::copy(frames[f].pixels.begin() + y * w * 3, frames[f].pixels.begin() + (y + 1) * w * 3,
                out.at(y, std::int64_t(f) * (w + gap)));
  return out;
}

// Samples (blue) with the mixture's centres drawn over them (orange).
io::Image snapshot(const Tensor<T>& samples, const Testbed& bed) {
  std::vector<T> centre_xy;
  for (const auto& c : bed.centres) centre_xy.insert(centre_xy.end(), {T(c[0]), T(c[1])});
  const std::int64_t k = std::int64_t(bed.centres.size()), n = samples.shape()[0];
  const Tensor<T> points = cat<T>({samples, tensor<T>(centre_xy, {k, 2})}, 0);
  Tensor<std::int64_t> labels = cat<std::int64_t>({zeros<std::int64_t>({n}), ones<std::int64_t>({k})}, 0);
  return io::scatter_plot(points, -bed.view, bed.view, 240, labels, 1);
}

Outcome train_one(models::GanObjective objective, const Testbed& bed, const Settings& s, std::uint64_t seed,
                  const std::string& out) {
  const std::string tag = std::string(models::gan_objective_name(objective)) + "_" + bed.name;
  Generator gen(seed);
  models::GanMLPConfig config;
  config.latent = 2;
  config.hidden = s.hidden;
  config.depth = int(s.depth);
  models::MLPGenerator<T> g(config, gen);
  config.spectral_norm = objective == models::GanObjective::hinge;
  models::MLPDiscriminator<T> d(config, gen);
  const auto adam = optim::AdamOptions().lr(s.lr).betas(s.beta1, s.beta2);
  optim::Adam<T> opt_g(g.parameters(), adam), opt_d(d.parameters(), adam);
  models::ExponentialMovingAverage<T> ema(g, s.ema_decay, /*warmup=*/true);
  models::GanStepOptions step_options;
  step_options.objective = objective;
  step_options.gp_weight = s.gp_weight;
  const std::int64_t critic_steps =
      s.critic_steps > 0 ? s.critic_steps
                         : (objective == models::GanObjective::wgan_gp || objective == models::GanObjective::hinge ? 5 : 1);

  auto critic = [&](const Tensor<T>& x) { return d.forward(x); };
  auto generate = [&] { return g.sample(s.batch, gen); };
  // Samples from the averaged generator, drawn from their own stream so that evaluating
  // does not change the training run.
  Generator eval_gen(seed + 1000);
  auto averaged_samples = [&](std::int64_t n) {
    NoGradGuard no_grad;
    auto guard = ema.apply_to(g);
    return g.sample(n, eval_gen) * T(bed.scale);
  };

  std::vector<io::Image> frames;
  std::ostringstream history;  // step:modes/high-quality share at each snapshot
  std::vector<double> curve_steps, d_curve, g_curve;  // mean losses over windows of steps
  double d_sum = 0, g_sum = 0;
  const std::int64_t every = std::max<std::int64_t>(1, s.steps / std::max<std::int64_t>(1, s.snapshots));
  const std::int64_t curve_every = std::max<std::int64_t>(1, s.steps / 200);
  io::ProgressBar bar(static_cast<std::size_t>(s.steps), tag);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t step = 1; step <= s.steps; ++step) {
    // lr_t = lr (1 - (t - 1) / steps): linear decay to (nearly) zero.
    const double lr = s.lr * (1 - double(step - 1) / double(s.steps));
    opt_g.set_lr(lr);
    opt_d.set_lr(lr);
    for (std::int64_t k = 0; k < critic_steps; ++k) {
      Tensor<T> fake;
      {
        NoGradGuard no_grad;
        fake = g.sample(s.batch, gen);
      }
      d_sum += models::discriminator_step(critic, opt_d, bed.sample(s.batch, gen), fake, step_options, gen).total /
               double(critic_steps);
    }
    g_sum += models::generator_step(generate, critic, opt_g, step_options);
    ema.update(g);
    if (step % curve_every == 0) {
      curve_steps.push_back(double(step));
      d_curve.push_back(d_sum / double(curve_every));
      g_curve.push_back(g_sum / double(curve_every));
      d_sum = g_sum = 0;
    }
    if ((step % every == 0 || step == s.steps) && frames.size() < std::size_t(s.snapshots)) {
      const Tensor<T> shot = averaged_samples(2500);
      frames.push_back(snapshot(shot.narrow(0, 0, 1000), bed));
      const metrics::ModeCoverage c = metrics::mode_coverage(shot, bed.centres, bed.std);
      history << " " << step << ":" << c.modes_covered << "/" << 100 * c.high_quality << "%";
    }
    bar.set("d", d_curve.empty() ? 0.0 : d_curve.back());
    bar.update();
  }
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Tensor<T> samples = averaged_samples(s.eval_samples);
  const metrics::ModeCoverage coverage = metrics::mode_coverage(samples, bed.centres, bed.std);
  strip(frames).save(out + "/" + tag + ".png");
  io::LinePlot plot("gan_2d " + tag + ": losses");
  plot.x_label("generator step").y_label("loss").add("critic", curve_steps, d_curve).add("generator", curve_steps, g_curve);
  plot.save(out + "/" + tag + "_loss.svg");
  std::cout << tag << ": " << coverage.modes_covered << "/" << coverage.modes_total << " modes, "
            << 100 * coverage.high_quality << "% high quality, " << seconds << " s\n"
            << "  over training (step:modes/high quality, 2500 samples):" << history.str() << std::endl;
  return {coverage, seconds};
}

}  // namespace

int main(int argc, char** argv) {
  train::Args args("gan_2d", "GANs (ns, wgangp, hinge) on 8 Gaussians on a ring and 25 on a grid "
                             "(the PyTorch twin: examples/pytorch/gan_2d.py).");
  args.add("objective", "all", "ns, wgangp, hinge or all");
  args.add("testbed", "all", "ring, grid or all");
  args.add("hidden", "128", "width of the hidden layers");
  args.add("depth", "3", "number of hidden layers");
  args.add("critic-steps", "", "critic steps per generator step (default: 5 for wgangp and hinge, else 1)");
  args.add("beta1", "0.5", "Adam's beta1 (beta2 is 0.9)");
  args.add("gp", "0.1", "weight lambda of the gradient penalty");
  args.add("ema", "0.999", "decay of the moving average of the generator's weights");
  args.add("ring-scale", "1.414", "the ring's points are divided by this for training");
  args.add("grid-scale", "2.828", "the grid's points are divided by this for training");
  args.add("eval-samples", "10000", "samples scored for the modes and the high-quality share");
  args.parse(argc, argv);
  const bool quick = args.quick();
  Settings s;
  s.steps = args.get_int("steps", quick ? 200 : 3000);
  s.batch = args.get_int("batch-size", 256);
  s.hidden = args.get_int("hidden", 128);
  s.depth = args.get_int("depth", 3);
  s.eval_samples = args.get_int("eval-samples", 10000);
  s.snapshots = 6;
  s.critic_steps = args.get_int("critic-steps", 0);
  s.lr = args.get_double("lr", 2e-3);
  s.beta1 = args.get_double("beta1", 0.5);
  s.beta2 = 0.9;
  s.ema_decay = args.get_double("ema", quick ? 0.99 : 0.999);
  s.gp_weight = args.get_double("gp", 0.1);
  LATENT_CHECK(s.steps > 0 && s.batch > 0 && s.eval_samples > 0, "gan_2d: steps, batch size and eval samples must be positive");
  const std::string out = args.out_dir();
  const std::uint64_t seed = static_cast<std::uint64_t>(args.get_int("seed", 0));

  std::vector<models::GanObjective> objectives;
  for (const char* name : {"ns", "wgangp", "hinge"})
    if (args.get("objective") == "all" || args.get("objective") == name) objectives.push_back(models::parse_gan_objective(name));
  if (objectives.empty()) objectives.push_back(models::parse_gan_objective(args.get("objective")));
  std::vector<Testbed> beds;
  const double ring_scale = args.get_double("ring-scale", 1.414), grid_scale = args.get_double("grid-scale", 2.828);
  if (args.get("testbed") == "all" || args.get("testbed") == "ring")
    beds.push_back({"ring", data::ring_centres(), 0.02, 3, ring_scale});
  if (args.get("testbed") == "all" || args.get("testbed") == "grid")
    beds.push_back({"grid", data::grid_centres(), 0.05, 5.5, grid_scale});
  LATENT_CHECK(!beds.empty(), "gan_2d: unknown testbed '", args.get("testbed"), "' (expected ring, grid or all)");

  std::cout << "gan_2d: " << s.steps << " generator steps, batch " << s.batch << ", MLPs " << s.depth << " x "
            << s.hidden << ", Adam lr " << s.lr << " betas (" << s.beta1 << ", " << s.beta2 << "), EMA " << s.ema_decay
            << "\n";
  std::vector<std::pair<std::string, double>> figures;
  double seconds = 0;
  for (const Testbed& bed : beds)
    for (models::GanObjective objective : objectives) {
      const Outcome o = train_one(objective, bed, s, seed, out);
      const std::string tag = std::string(models::gan_objective_name(objective)) + "_" + bed.name;
      figures.push_back({tag + "_modes", o.coverage.modes_covered});
      figures.push_back({tag + "_hq", o.coverage.high_quality});
      seconds += o.seconds;
    }
  figures.push_back({"seconds", seconds});
  std::cout << "pictures in " << out << "/\n";
  train::print_result(figures);
  return 0;
}
