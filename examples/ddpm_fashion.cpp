// ddpm_fashion: a denoising diffusion model (DDPM, Ho et al. 2020) on Fashion-MNIST, with
// the small U-Net of the ddpm_unet_step workload made class-conditional for classifier-free
// guidance (Ho & Salimans 2022).
//
// Training: images scaled to [-1, 1]; each step draws t ~ U{0..999} and eps ~ N(0, I) per
// image and regresses the U-Net's output on eps at x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t)
// eps (linear betas 1e-4..0.02, T = 1000); each label is replaced by the null class with
// probability 0.1, so the one network learns both eps(x_t, t, y) and eps(x_t, t, null).
// Adam, the learning rate warmed up over 100 steps and then decayed to 0 on a cosine.
//
// Sampling, guided: eps = eps_u + w (eps_c - eps_u); w = 0 is the unconditional model, w = 1
// the conditional one, w > 1 sharpens each class at the cost of variety. Pictures:
//   guidance.png        one row per class; columns in three blocks, w = 0, 1 and 3, with the
//                       same starting noise in each block (DDIM, 50 steps)
//   ddpm_vs_ddim.png    one row per class: ancestral DDPM (1000 steps) beside DDIM (50 steps,
//                       deterministic) from the same x_T
//   reverse_ddpm.png    the reverse process, x_T (left) to x_0 (right), one row per class
//   fd_samples.png      the first 100 of the samples scored below
//   loss_curve.svg      the training loss
// Scores: FD-Fashion (metrics/fd_fashion.hpp) of 10,000 samples (1,000 per class, w = 1,
// DDIM 50 steps) against the test set, and the test negative log-likelihood bound in bits
// per dimension of the unconditional model (the null class) on the first 200 test images:
// the variational bound, its 999 KL terms estimated without bias from 100 random t per
// image (DDPM::vlb_bits_per_dim).
//
//   ./ddpm_fashion                  # 2000 steps of batch 64, then sampling and scores
//   ./ddpm_fashion --quick          # about a minute: a short training run, small grids
//   ./ddpm_fashion --fd-samples 2000 --threads 1
// The PyTorch twin: examples/pytorch/ddpm_fashion.py (same model, data, steps and scores;
// it reads the FD-Fashion classifier this program caches in out/).
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using namespace latent;
using T = float;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Labels 0..9 repeated: [0, 1, ..., 9, 0, 1, ...] (n of them), or each class `per` times in
// a row when grouped.
Tensor<std::int64_t> class_labels(std::int64_t n, std::int64_t per = 1) {
  Tensor<std::int64_t> y(Shape{n});
  for (std::int64_t i = 0; i < n; ++i) y.data()[i] = (i / per) % 10;
  return y;
}

// [-1, 1] images to [0, 1].
Tensor<T> to_unit(const Tensor<T>& x) { return clamp((x + T(1)) * T(0.5), Scalar<T>(0), Scalar<T>(1)); }

}  // namespace

int main(int argc, char** argv) {
  train::Args args("ddpm_fashion",
                   "A class-conditional DDPM (U-Net, classifier-free guidance) on Fashion-MNIST "
                   "(the PyTorch twin: examples/pytorch/ddpm_fashion.py).");
  args.add("warmup", "100", "learning-rate warm-up steps");
  args.add("drop-prob", "0.1", "probability of training a label as the null class");
  args.add("ddim-steps", "", "DDIM steps for the grids and FD samples (default 50, quick 10)");
  args.add("fd-samples", "", "samples scored by FD-Fashion (default 10000, quick 100)");
  args.add("bpd-images", "", "test images for the bits/dim bound (default 200, quick 10)");
  args.add("bpd-t", "", "random timesteps per image for the bound's KL terms (default 100, quick 10)");
  args.add("sample-batch", "500", "images per batch while sampling");
  args.add("classifier", metrics::kFashionClassifierPath, "the cached FD-Fashion classifier");
  args.parse(argc, argv);
  const bool quick = args.quick();
  const std::int64_t steps = args.get_int("steps", quick ? 40 : 2000);
  const std::int64_t batch_size = args.get_int("batch-size", quick ? 32 : 64);
  const double lr = args.get_double("lr", 1e-3), drop_prob = args.get_double("drop-prob", 0.1);
  const std::int64_t warmup = std::min(args.get_int("warmup", 100), steps - 1);
  const std::int64_t ddim_steps = args.get_int("ddim-steps", quick ? 10 : 50);
  const std::int64_t fd_samples = args.get_int("fd-samples", quick ? 100 : 10000);
  const std::int64_t bpd_images = args.get_int("bpd-images", quick ? 10 : 200);
  const std::int64_t bpd_t = args.get_int("bpd-t", quick ? 10 : 100);
  const std::int64_t sample_batch = args.get_int("sample-batch", 500);
  LATENT_CHECK(steps >= 2 && fd_samples >= 2 && bpd_images >= 1 && bpd_t >= 1 && sample_batch >= 1,
               "ddpm_fashion: needs --steps >= 2, --fd-samples >= 2, --bpd-images, --bpd-t, --sample-batch >= 1");
  const std::string out = args.out_dir();
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));

  // The FD-Fashion classifier first: trained (and cached) if there is none yet.
  auto classifier = metrics::load_or_train_fashion_classifier<T>(args.get("classifier"));

  // Data in [-1, 1].
  auto train_set = data::load_fashion_mnist<T>("train");
  auto test_set = data::load_fashion_mnist<T>("test");
  const Tensor<T> train_x = (train_set.images * T(2) - T(1)).contiguous();
  const Tensor<T> test_x = (test_set.images * T(2) - T(1)).contiguous();

  models::UNetConfig config;
  config.classes = 10;
  models::UNet<T> unet(config, gen);
  const std::int64_t null_class = unet.null_class();
  const models::DDPM<T> ddpm;
  const models::Denoiser<T> denoiser = models::as_denoiser<T>(unet);
  optim::Adam<T> opt(unet.parameters(), optim::AdamOptions().lr(lr));
  optim::WarmupCosineLR<T> schedule(opt, warmup, steps);
  std::cout << "ddpm_fashion: U-Net with " << unet.num_parameters() << " parameters, " << steps << " steps of batch "
            << batch_size << ", lr " << lr << ", label drop " << drop_prob << ", " << get_num_threads()
            << " threads" << std::endl;

  std::int64_t step = 0;
  if (args.has("resume")) {
    const auto ck = train::Checkpoint<T>::load(args.get("resume"));
    ck.restore_model("model", unet);
    ck.restore_optimizer("optimizer", opt);
    ck.restore_scheduler("schedule", schedule);
    ck.restore_generator("generator", gen);
    step = ck.step;
    std::cout << "resumed from " << args.get("resume") << " after step " << step << "\n";
  }

  // ---- training ----
  data::DataLoader<T> loader(train_x, train_set.labels, batch_size, /*shuffle=*/true, &gen, /*drop_last=*/true);
  std::vector<double> curve;  // mean loss per 50 steps
  double window = 0;
  const std::int64_t timed_from = step + 2, timed_steps = 5;  // the first steps of a run are slower
  std::chrono::steady_clock::time_point timer;
  const auto start = std::chrono::steady_clock::now();
  io::ProgressBar bar(static_cast<std::size_t>(steps), "training");
  bar.set_progress(static_cast<std::size_t>(step));
  while (step < steps) {
    for (const auto& batch : loader) {
      if (step == timed_from) timer = std::chrono::steady_clock::now();
      opt.zero_grad();
      const Tensor<T> loss = ddpm.loss(denoiser, batch.x, gen, batch.y, drop_prob, null_class);
      loss.backward();
      opt.step();
      schedule.step();
      ++step;
      window += double(loss.item());
      if (step % 50 == 0 || step == steps) {
        curve.push_back(window / double(step % 50 == 0 ? 50 : step % 50));
        window = 0;
      }
      bar.set("loss", double(loss.item()));
      bar.update();
      if (step == timed_from + timed_steps && step < steps) {
        const double per_step = seconds_since(timer) / double(timed_steps);
        std::printf("\nexpected training time: %.1f min (%.2f s/step over steps %lld-%lld, %d threads)\n",
                    per_step * double(steps - step) / 60.0, per_step, static_cast<long long>(timed_from + 1),
                    static_cast<long long>(step), get_num_threads());
        std::fflush(stdout);
      }
      if (step == steps) break;
    }
  }
  bar.finish();
  const double train_seconds = seconds_since(start);
  std::cout << "trained in " << train_seconds << " s, final loss " << (curve.empty() ? 0.0 : curve.back()) << std::endl;
  if (args.has("save")) {
    train::Checkpoint<T> ck;
    ck.add_model("model", unet).add_optimizer("optimizer", opt).add_scheduler("schedule", schedule);
    ck.add_generator("generator", gen);
    ck.step = step;
    ck.save(args.get("save"));
  }
  if (!curve.empty()) {
    io::LinePlot plot("ddpm_fashion: training loss (MSE on the noise, mean per 50 steps)");
    plot.x_label("step / 50").y_label("loss").add("train", curve);
    plot.save(out + "/loss_curve.svg");
  }

  // ---- pictures ----
  unet.eval();
  NoGradGuard no_grad;
  const auto sample_start = std::chrono::steady_clock::now();
  models::SampleOptions options;
  options.null_label = null_class;
  options.clip_x0 = true;
  {  // guidance: rows are classes; blocks of columns are w = 0, 1, 3 from the same noise
    const std::int64_t per = quick ? 2 : 6, n = 10 * per;
    const Tensor<T> x_T = randn<T>({n, 1, 28, 28}, gen);
    options.labels = class_labels(n, per);
    std::vector<Tensor<T>> blocks;
    for (double w : {0.0, 1.0, 3.0}) {
      options.guidance_scale = w;
      blocks.push_back(ddpm.ddim_sample(denoiser, x_T, ddim_steps, 0.0, gen, options).x.reshape({10, per, 1, 28, 28}));
    }
    io::save_image(out + "/guidance.png", to_unit(cat<T>(blocks, 1).reshape({3 * n, 1, 28, 28})), 3 * per);
  }
  if (!quick) {  // DDPM (1000 steps) beside DDIM (50 steps) from the same noise, w = 1
    const std::int64_t per = 4, n = 10 * per, frames = 10;
    const Tensor<T> x_T = randn<T>({n, 1, 28, 28}, gen);
    options.labels = class_labels(n, per);
    options.guidance_scale = 1.0;
    options.frames = frames;
    const models::SampleResult<T> ancestral = ddpm.sample(denoiser, x_T, gen, options);
    options.frames = 0;
    const Tensor<T> implicit = ddpm.ddim_sample(denoiser, x_T, ddim_steps, 0.0, gen, options).x;
    io::save_image(out + "/ddpm_vs_ddim.png",
                   to_unit(cat<T>({ancestral.x.reshape({10, per, 1, 28, 28}), implicit.reshape({10, per, 1, 28, 28})}, 1)
                               .reshape({2 * n, 1, 28, 28})),
                   2 * per);
    // The reverse process of the first image of each class, x_T to x_0.
    std::vector<Tensor<T>> strip;
    for (const Tensor<T>& f : ancestral.frames) strip.push_back(f.reshape({10, per, 1, 28, 28}).select(1, 0));
    io::save_image(out + "/reverse_ddpm.png", to_unit(stack(strip, 1).reshape({10 * frames, 1, 28, 28})), frames);
  }

  // ---- FD-Fashion of samples (w = 1, DDIM), 1/10 of them per class ----
  std::vector<Tensor<T>> chunks;
  options.guidance_scale = 1.0;
  io::ProgressBar sample_bar(static_cast<std::size_t>(fd_samples), "sampling");
  for (std::int64_t first = 0; first < fd_samples; first += sample_batch) {
    const std::int64_t n = std::min(sample_batch, fd_samples - first);
    options.labels = class_labels(first + n).narrow(0, first, n).contiguous();
    chunks.push_back(to_unit(ddpm.ddim_sample(denoiser, randn<T>({n, 1, 28, 28}, gen), ddim_steps, 0.0, gen, options).x));
    sample_bar.update(static_cast<std::size_t>(n));
  }
  sample_bar.finish();
  const Tensor<T> samples = cat<T>(chunks, 0);
  io::save_image(out + "/fd_samples.png", samples.narrow(0, 0, std::min<std::int64_t>(100, fd_samples)), 10);
  const double fd = metrics::fd_fashion(*classifier, samples);
  const double sample_seconds = seconds_since(sample_start);

  // ---- the test bits/dim bound of the unconditional model ----
  const auto bpd_start = std::chrono::steady_clock::now();
  double bpd = 0;
  const std::int64_t images = std::min(bpd_images, test_x.size(0)), bpd_batch = 100;
  for (std::int64_t first = 0; first < images; first += bpd_batch) {
    const std::int64_t n = std::min(bpd_batch, images - first);
    const Tensor<std::int64_t> nulls = full<std::int64_t>({n}, null_class);
    bpd += ddpm.vlb_bits_per_dim(denoiser, test_x.narrow(0, first, n), gen, nulls, bpd_t).bpd * double(n);
  }
  bpd /= double(images);
  const double bpd_seconds = seconds_since(bpd_start);

  std::cout << "pictures in " << out << "/\n";
  std::cout << "FD-Fashion of " << fd_samples << " samples (DDIM " << ddim_steps << " steps, w = 1): " << fd
            << "; test bound " << bpd << " bits/dim (" << images << " images, " << bpd_t << " t each)\n";
  train::print_result({{"fd_fashion", fd},
                       {"bpd", bpd},
                       {"final_loss", curve.empty() ? 0.0 : curve.back()},
                       {"train_seconds", train_seconds},
                       {"sample_seconds", sample_seconds},
                       {"bpd_seconds", bpd_seconds}});
  return 0;
}
