// ddpm_2d: denoising diffusion (DDPM, Ho et al. 2020) on two 2-D testbeds, the Swiss roll
// (data/synthetic.hpp: (t cos t, t sin t) / 5 + noise 0.1) and 8 Gaussians on a ring
// (radius 2, std 0.02), with the MLP denoiser of the ddpm_mlp_step workload
// (models/mlp_denoiser.hpp: [x, emb(t)] -> 128 SiLU 128 SiLU 128 SiLU -> 2).
//
// Training: each step draws a fresh batch x_0 of 256 points, t ~ U{0..999} and
// eps ~ N(0, I) per point, and regresses the network on eps at
// x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (linear betas 1e-4..0.02, T = 1000).
// Adam, learning rate 1e-3 decayed to 0 on a cosine.
//
// Sampling from x_T ~ N(0, I): ancestral DDPM (1000 steps) and deterministic DDIM (eta = 0)
// with 50 and 10 steps, from the same x_T. Score: the energy distance between 5,000 DDPM
// samples and 5,000 fresh data points (metrics::energy_distance; 0 for equal distributions),
// beside the same distance between two fresh data sets (the floor set by sampling error).
// Pictures, for each testbed:
//   <name>_forward.png     q(x_t | x_0) at t = 0, 50, 100, 200, 400, 999: the data dissolving into noise
//   <name>_reverse.png     three rows, DDPM 1000 steps, DDIM 50 and DDIM 10, each a strip of
//                          frames from x_T (left) to x_0 (right)
//   <name>_loss.svg        the training loss
//
//   ./ddpm_2d                          # both testbeds, 20000 steps each
//   ./ddpm_2d --quick                  # about a minute: 1500 steps, 2000 samples scored
//   ./ddpm_2d --dataset 8gauss --steps 6000 --threads 1
// The PyTorch twin: examples/pytorch/ddpm_2d.py (same model, data, steps and score).
#include <latent/latent.hpp>
#include <latent/models/mlp_denoiser.hpp>
#include <latent/train/checkpoint.hpp>
#include <latent/train/cli.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

using namespace latent;
using T = float;

namespace {

struct Testbed {
  std::string name;  // "swissroll" or "8gauss"
  double view;       // pictures span [-view, view]^2
  Tensor<T> sample(std::int64_t n, Generator& gen) const {
    return name == "swissroll" ? data::swiss_roll<T>(n, gen) : data::ring_of_gaussians<T>(n, gen);
  }
};

struct Settings {
  std::int64_t steps, batch, eval_samples, picture_points, frames;
  double lr;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Pictures side by side (one row) or stacked (rows), separated by grey bars.
io::Image tile(const std::vector<io::Image>& pictures, bool side_by_side) {
  const std::int64_t gap = 4, h = pictures[0].height, w = pictures[0].width, n = std::int64_t(pictures.size());
  io::Image out(side_by_side ? h : n * (h + gap) - gap, side_by_side ? n * (w + gap) - gap : w, 3, 160);
  for (std::int64_t f = 0; f < n; ++f) {
    const io::Image& p = pictures[std::size_t(f)];
    for (std::int64_t y = 0; y < p.height; ++y)
      std::copy(p.pixels.begin() + y * p.width * 3, p.pixels.begin() + (y + 1) * p.width * 3,
                side_by_side ? out.at(y, f * (w + gap)) : out.at(f * (h + gap) + y, 0));
  }
  return out;
}

io::Image dots(const Tensor<T>& points, const Testbed& bed) { return io::scatter_plot(points, -bed.view, bed.view, 200); }

// A strip of frames [n, 2], the first `points` of each.
io::Image strip(const std::vector<Tensor<T>>& frames, std::int64_t points, const Testbed& bed) {
  std::vector<io::Image> pictures;
  for (const Tensor<T>& f : frames) pictures.push_back(dots(f.narrow(0, 0, std::min(points, f.size(0))), bed));
  return tile(pictures, true);
}

struct Outcome {
  double energy_ddpm, energy_ddim50, energy_ddim10, energy_data, train_seconds, sample_seconds;
};

Outcome run(const Testbed& bed, const Settings& s, std::uint64_t seed, const std::string& out,
            train::Checkpoint<T>* resume, train::Checkpoint<T>* save) {
  Generator gen(seed);
  models::MLPDenoiser<T> net(gen);
  const models::DDPM<T> ddpm;  // linear betas 1e-4..0.02, T = 1000, eps-prediction
  const models::Denoiser<T> model = models::as_denoiser<T>(net);
  optim::Adam<T> opt(net.parameters(), optim::AdamOptions().lr(s.lr));

  std::int64_t first = 1;
  if (resume && resume->models.count(bed.name)) {
    resume->restore_model(bed.name, net);
    resume->restore_optimizer(bed.name, opt);
    resume->restore_generator(bed.name, gen);
    first = std::stoll(resume->metadata.at("step." + bed.name)) + 1;
    std::cout << bed.name << ": resumed after step " << first - 1 << "\n";
  }

  // Training: lr_k = lr (1 + cos(pi (k - 1) / steps)) / 2.
  std::vector<double> curve;
  double loss_sum = 0;
  std::int64_t loss_count = 0;
  const std::int64_t curve_every = std::max<std::int64_t>(1, s.steps / 200);
  const double pi = 3.14159265358979323846;
  io::ProgressBar bar(std::size_t(std::max<std::int64_t>(0, s.steps - first + 1)), bed.name);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t step = first; step <= s.steps; ++step) {
    opt.set_lr(s.lr * 0.5 * (1 + std::cos(pi * double(step - 1) / double(s.steps))));
    opt.zero_grad();
    const Tensor<T> loss = ddpm.loss(model, bed.sample(s.batch, gen), gen);
    loss.backward();
    opt.step();
    loss_sum += loss.item();
    if (++loss_count == curve_every) {
      curve.push_back(loss_sum / double(loss_count));
      loss_sum = 0;
      loss_count = 0;
      bar.set("loss", curve.back());
    }
    bar.update();
  }
  bar.finish();
  const double train_seconds = seconds_since(start);
  if (save) {
    save->add_model(bed.name, net).add_optimizer(bed.name, opt).add_generator(bed.name, gen);
    save->metadata["step." + bed.name] = std::to_string(s.steps);
  }

  // The forward process on fresh data: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
  Generator eval_gen(seed + 1000);  // its own stream: evaluating does not change training
  const Tensor<T> x0 = bed.sample(s.picture_points, eval_gen);
  std::vector<Tensor<T>> forward;
  for (std::int64_t t : {0, 50, 100, 200, 400, 999})
    forward.push_back(ddpm.q_sample(x0, full<std::int64_t>({x0.size(0)}, t), randn<T>(x0.shape(), eval_gen)));
  strip(forward, s.picture_points, bed).save(out + "/" + bed.name + "_forward.png");

  // The reverse process from one x_T, three samplers.
  const auto sample_start = std::chrono::steady_clock::now();
  const Tensor<T> x_T = randn<T>({s.eval_samples, 2}, eval_gen);
  models::SampleOptions keep;
  keep.frames = s.frames;
  const models::SampleResult<T> ddpm_run = ddpm.sample(model, x_T, eval_gen, keep);
  const models::SampleResult<T> ddim50 = ddpm.ddim_sample(model, x_T, 50, 0.0, eval_gen, keep);
  const models::SampleResult<T> ddim10 = ddpm.ddim_sample(model, x_T, 10, 0.0, eval_gen, keep);
  const double sample_seconds = seconds_since(sample_start);
  tile({strip(ddpm_run.frames, s.picture_points, bed), strip(ddim50.frames, s.picture_points, bed),
        strip(ddim10.frames, s.picture_points, bed)},
       false)
      .save(out + "/" + bed.name + "_reverse.png");
  io::LinePlot plot("ddpm_2d " + bed.name + ": training loss (MSE on the noise)");
  plot.x_label("step / " + std::to_string(curve_every)).y_label("loss").add("loss", curve);
  plot.save(out + "/" + bed.name + "_loss.svg");

  // The score: energy distance to fresh data.
  const Tensor<T> fresh = bed.sample(s.eval_samples, eval_gen);
  Outcome o{metrics::energy_distance(ddpm_run.x, fresh), metrics::energy_distance(ddim50.x, fresh),
            metrics::energy_distance(ddim10.x, fresh),
            metrics::energy_distance(bed.sample(s.eval_samples, eval_gen), fresh), train_seconds, sample_seconds};
  std::cout << bed.name << ": energy distance to data: DDPM 1000 " << o.energy_ddpm << ", DDIM 50 "
            << o.energy_ddim50 << ", DDIM 10 " << o.energy_ddim10 << " (data itself: " << o.energy_data
            << "); train " << train_seconds << " s, sample " << sample_seconds << " s" << std::endl;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  train::Args args("ddpm_2d", "DDPM with an MLP denoiser on the Swiss roll and 8 Gaussians "
                              "(the PyTorch twin: examples/pytorch/ddpm_2d.py).");
  args.add("dataset", "all", "swissroll, 8gauss or all");
  args.add("eval-samples", "5000", "samples (and fresh data points) for the energy distance");
  args.parse(argc, argv);
  const bool quick = args.quick();
  Settings s;
  s.steps = args.get_int("steps", quick ? 1500 : 20000);
  s.batch = args.get_int("batch-size", 256);
  s.lr = args.get_double("lr", 1e-3);
  s.eval_samples = args.get_int("eval-samples", quick ? 2000 : 5000);
  s.picture_points = std::min<std::int64_t>(1500, s.eval_samples);
  s.frames = 8;
  LATENT_CHECK(s.steps > 0 && s.batch > 0 && s.eval_samples > 1, "ddpm_2d: steps, batch size and eval samples must be positive");
  const std::string out = args.out_dir();
  const std::uint64_t seed = static_cast<std::uint64_t>(args.get_int("seed", 0));

  std::vector<Testbed> beds;
  if (args.get("dataset") == "all" || args.get("dataset") == "swissroll") beds.push_back({"swissroll", 3.2});
  if (args.get("dataset") == "all" || args.get("dataset") == "8gauss") beds.push_back({"8gauss", 3.2});
  LATENT_CHECK(!beds.empty(), "ddpm_2d: unknown dataset '", args.get("dataset"), "' (expected swissroll, 8gauss or all)");

  train::Checkpoint<T> resume, save;
  if (args.has("resume")) resume = train::Checkpoint<T>::load(args.get("resume"));
  std::cout << "ddpm_2d: " << s.steps << " steps of batch " << s.batch << ", Adam lr " << s.lr
            << " (cosine decay), T = 1000 linear betas; " << s.eval_samples << " samples scored" << std::endl;
  std::vector<std::pair<std::string, double>> figures;
  double seconds = 0;
  for (const Testbed& bed : beds) {
    const Outcome o = run(bed, s, seed, out, args.has("resume") ? &resume : nullptr, args.has("save") ? &save : nullptr);
    figures.push_back({"energy_distance_" + bed.name, o.energy_ddpm});
    figures.push_back({"energy_distance_" + bed.name + "_ddim50", o.energy_ddim50});
    figures.push_back({"energy_distance_" + bed.name + "_ddim10", o.energy_ddim10});
    figures.push_back({"energy_distance_" + bed.name + "_data", o.energy_data});
    seconds += o.train_seconds + o.sample_seconds;
  }
  if (args.has("save")) {
    save.step = s.steps;
    save.save(args.get("save"));
  }
  figures.push_back({"seconds", seconds});
  std::cout << "pictures in " << out << "/\n";
  train::print_result(figures);
  return 0;
}
