// dcgan_fashion: a DCGAN (the `dcgan_step` workload: 778k-parameter generator, 139k
// discriminator) on Fashion-MNIST, images scaled to [-1, 1], batch 64, Adam 2e-4 with betas
// (0.5, 0.999), BCE with logits and the non-saturating generator loss. Pictures: a sample
// grid after every epoch from the same fixed noise (so the grids show the progress), the
// loss curves (SVG). At the end: FD-Fashion (metrics/fd_fashion.hpp) of 10,000 samples
// against the 10,000 test images, and of 10,000 training images as the floor it could reach.
//
//   ./dcgan_fashion                     # 5 epochs
//   ./dcgan_fashion --conditional       # class-conditional: one row of samples per class
//   ./dcgan_fashion --ema 0.999         # samples from an exponential moving average of G
//   ./dcgan_fashion --quick             # 60 steps, FD over 2,000 samples (for the demo)
//
// The FD classifier is trained on the first run (a few minutes) and cached in
// out/fd_fashion_classifier.safetensors; the PyTorch twin (examples/pytorch/dcgan_fashion.py)
// loads that same file, so both sides measure with one classifier.
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <chrono>
#include <iostream>
#include <memory>

using namespace latent;
using T = float;

int main(int argc, char** argv) {
  train::Args args("dcgan_fashion", "A DCGAN on Fashion-MNIST (the PyTorch twin: examples/pytorch/dcgan_fashion.py).");
  args.add("conditional", "", "condition G and D on the class (one row of samples per class)", true);
  args.add("ema", "0", "decay of an exponential moving average of G's weights for sampling (0: off)");
  args.add("fd-samples", "", "samples for FD-Fashion (default 10000; 2000 with --quick)");
  args.add("classifier", metrics::kFashionClassifierPath, "the FD-Fashion classifier (trained and cached if missing)");
  args.parse(argc, argv);
  const bool quick = args.quick();
  const std::int64_t epochs = args.get_int("epochs", quick ? 1 : 5);
  const std::int64_t max_steps = args.get_int("steps", quick ? 60 : -1);  // per run; -1: whole epochs
  const std::int64_t batch_size = args.get_int("batch-size", 64);
  const double lr = args.get_double("lr", 2e-4), ema_decay = args.get_double("ema", 0);
  const std::int64_t fd_samples = args.get_int("fd-samples", quick ? 2000 : 10000);
  LATENT_CHECK(fd_samples >= 2 && fd_samples <= 60000, "dcgan_fashion: --fd-samples must be in [2, 60000]");
  models::DCGANConfig config;
  config.classes = args.has("conditional") ? 10 : 0;
  const std::string out = args.out_dir();
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));

  // Data: pixels in [-1, 1], the range of G's tanh.
  const auto train_set = data::load_fashion_mnist<T>("train");
  const Tensor<T> train_x = (train_set.images * T(2) - T(1)).contiguous();
  data::DataLoader<T> loader(train_x, train_set.labels, batch_size, /*shuffle=*/true, &gen);

  models::DCGANGenerator<T> generator(config, gen);
  models::DCGANDiscriminator<T> discriminator(config, gen);
  const auto adam = optim::AdamOptions().lr(lr).betas(0.5, 0.999);
  optim::Adam<T> opt_g(generator.parameters(), adam), opt_d(discriminator.parameters(), adam);
  std::unique_ptr<models::ExponentialMovingAverage<T>> ema;
  if (ema_decay > 0) ema = std::make_unique<models::ExponentialMovingAverage<T>>(generator, ema_decay);
  std::cout << "dcgan_fashion: G " << generator.num_parameters() << " parameters, D "
            << discriminator.num_parameters() << (config.classes ? ", conditional" : "") << ", " << epochs
            << " epochs of " << loader.num_batches() << " steps" << (max_steps > 0 ? " (capped)" : "") << "\n";

  // Fixed noise for the progress grids (its own generator, so it is the same every run):
  // 64 samples, or 10 per class, one row per class.
  Generator fixed_gen(1234);
  const std::int64_t grid_n = config.classes ? 100 : 64, grid_cols = config.classes ? 10 : 8;
  const Tensor<T> fixed_z = randn<T>({grid_n, config.n_z}, fixed_gen);
  const Tensor<std::int64_t> fixed_labels =
      config.classes ? arange<std::int64_t>(10).unsqueeze(1).expand({10, 10}).reshape({100}) : Tensor<std::int64_t>();
  // Images from G in eval mode (batch norm with its running statistics), EMA weights if on.
  auto draw = [&](const Tensor<T>& z, const Tensor<std::int64_t>& labels) {
    NoGradGuard no_grad;
    generator.eval();
    std::unique_ptr<models::ExponentialMovingAverage<T>::Applied> swapped;
    if (ema) swapped = std::make_unique<models::ExponentialMovingAverage<T>::Applied>(ema->apply_to(generator));
    const Tensor<T> images = generator.forward(z, labels);
    swapped.reset();
    generator.train();
    return images;
  };

  std::int64_t first_epoch = 1;
  if (args.has("resume")) {
    const auto ck = train::Checkpoint<T>::load(args.get("resume"));
    ck.restore_model("generator", generator);
    ck.restore_model("discriminator", discriminator);
    ck.restore_optimizer("opt_g", opt_g);
    ck.restore_optimizer("opt_d", opt_d);
    ck.restore_generator("rng", gen);
    if (ema) {  // the averages, through a scratch generator module
      Generator scratch_gen(0);
      models::DCGANGenerator<T> averaged(config, scratch_gen);
      ck.restore_model("ema", averaged, /*strict=*/false);
      ema = std::make_unique<models::ExponentialMovingAverage<T>>(averaged, ema_decay);
    }
    first_epoch = ck.step + 1;
    std::cout << "resumed from " << args.get("resume") << " after epoch " << ck.step << "\n";
  }

  // Losses per step, averaged over windows of 50 steps for the curves.
  std::vector<double> curve_x, curve_d, curve_g;
  double window_d = 0, window_g = 0, last_d = 0, last_g = 0;
  std::int64_t window = 0, steps = 0, last_count = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
    const std::int64_t epoch_steps = max_steps > 0 ? std::min(max_steps - steps, loader.num_batches()) : loader.num_batches();
    if (epoch_steps <= 0) break;
    io::ProgressBar bar(static_cast<std::size_t>(epoch_steps), "epoch " + std::to_string(epoch));
    last_d = last_g = 0;
    last_count = 0;
    std::int64_t in_epoch = 0;
    for (const auto& batch : loader) {
      if (in_epoch++ == epoch_steps) break;
      const Tensor<T> z = randn<T>({batch.x.shape()[0], config.n_z}, gen);
      const Tensor<std::int64_t> labels = config.classes ? batch.y : Tensor<std::int64_t>();
      const models::DCGANStepStats s = models::dcgan_step(generator, discriminator, opt_g, opt_d, batch.x, z, labels);
      if (ema) ema->update(generator);
      ++steps;
      window_d += s.d_loss;
      window_g += s.g_loss;
      last_d += s.d_loss;
      last_g += s.g_loss;
      ++last_count;
      if (++window == 50) {
        curve_x.push_back(double(epoch - 1) + double(in_epoch) / double(loader.num_batches()));
        curve_d.push_back(window_d / 50);
        curve_g.push_back(window_g / 50);
        window_d = window_g = 0;
        window = 0;
      }
      bar.set("D", s.d_loss);
      bar.set("G", s.g_loss);
      bar.update();
    }
    bar.finish();
    std::cout << "epoch " << epoch << ": D loss " << last_d / double(last_count) << ", G loss "
              << last_g / double(last_count) << std::endl;
    io::save_image(out + "/samples_epoch" + std::to_string(epoch) + ".png", draw(fixed_z, fixed_labels), grid_cols, -1, 1);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.has("save")) {
    train::Checkpoint<T> ck;
    ck.add_model("generator", generator).add_model("discriminator", discriminator);
    ck.add_optimizer("opt_g", opt_g).add_optimizer("opt_d", opt_d).add_generator("rng", gen);
    if (ema) ck.add_model("ema", ema->state_dict());
    ck.step = epochs;
    ck.save(args.get("save"));
  }
  io::save_image(out + "/samples.png", draw(fixed_z, fixed_labels), grid_cols, -1, 1);
  io::LinePlot curve("dcgan_fashion: losses (means over 50 steps)");
  curve.x_label("epoch").y_label("loss").add("discriminator", curve_x, curve_d).add("generator", curve_x, curve_g);
  curve.save(out + "/loss_curves.svg");

  // FD-Fashion: fd_samples generated images (labels cycling over the classes when
  // conditional), pixels mapped back to [0, 1]; and as many training images, the floor.
  const auto fd_start = std::chrono::steady_clock::now();
  auto classifier = metrics::load_or_train_fashion_classifier<T>(args.get("classifier"));
  std::vector<Tensor<T>> parts;
  for (std::int64_t s = 0; s < fd_samples; s += 500) {
    const std::int64_t n = std::min<std::int64_t>(500, fd_samples - s);
    const Tensor<T> z = randn<T>({n, config.n_z}, gen);
    Tensor<std::int64_t> labels;
    if (config.classes) {
      labels = Tensor<std::int64_t>(Shape{n});
      for (std::int64_t i = 0; i < n; ++i) labels.data()[i] = (s + i) % 10;
    }
    parts.push_back((draw(z, labels) + T(1)) * T(0.5));
  }
  const double fd = metrics::fd_fashion(*classifier, cat(parts));
  const double fd_real = metrics::fd_fashion(*classifier, train_set.images.narrow(0, 0, fd_samples));
  const double fd_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - fd_start).count();
  std::cout << "FD-Fashion over " << fd_samples << " samples: " << fd << " (training images: " << fd_real << "), "
            << fd_seconds << " s\n";
  std::cout << "pictures in " << out << "/\n";
  train::print_result({{"fd_fashion", fd}, {"fd_real", fd_real}, {"d_loss", last_d / double(std::max<std::int64_t>(last_count, 1))},
                       {"g_loss", last_g / double(std::max<std::int64_t>(last_count, 1))}, {"seconds", seconds}});
  return 0;
}
