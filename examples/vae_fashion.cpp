// vae_fashion: a variational autoencoder (784-400-(20, 20), decoder 20-400-784, Bernoulli
// likelihood) on Fashion-MNIST, trained with Adam on the negative ELBO. Reports the test
// negative ELBO (nats per image) with its reconstruction and KL parts, and an
// importance-weighted estimate of the test log-likelihood (k = 100). Pictures:
// reconstructions beside originals, prior samples, linear and spherical interpolation
// grids, an attribute vector, and with --latent-dim 2 the latent manifold and scatter.
//
//   ./vae_fashion                       # 10 epochs
//   ./vae_fashion --beta 4              # a beta-VAE
//   ./vae_fashion --conditional         # samples drawn per class
//   ./vae_fashion --latent-dim 2        # the 2-D manifold pictures
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <chrono>
#include <iostream>

using namespace latent;
using T = float;

int main(int argc, char** argv) {
  train::Args args("vae_fashion", "A VAE on Fashion-MNIST (the PyTorch twin: examples/pytorch/vae_fashion.py).");
  args.add("latent-dim", "20", "size of the latent code");
  args.add("beta", "1", "weight of the KL term (beta-VAE when > 1)");
  args.add("conditional", "", "condition encoder and decoder on the class", true);
  args.add("iwae-k", "100", "importance samples for the log-likelihood estimate");
  args.parse(argc, argv);
  const bool quick = args.quick();
  const std::int64_t epochs = args.get_int("epochs", quick ? 1 : 10);
  const std::int64_t batch_size = args.get_int("batch-size", 128);
  const double lr = args.get_double("lr", 1e-3), beta = args.get_double("beta", 1.0);
  const std::int64_t k = args.get_int("iwae-k", quick ? 20 : 100);
  models::VAEConfig config;
  config.latent = args.get_int("latent-dim", 20);
  config.classes = args.has("conditional") ? 10 : 0;
  const std::string out = args.out_dir();
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));

  auto train_set = data::load_fashion_mnist<T>("train");
  auto test_set = data::load_fashion_mnist<T>("test");
  if (quick) {
    train_set.images = train_set.images.narrow(0, 0, 12000);
    train_set.labels = train_set.labels.narrow(0, 0, 12000);
    test_set.images = test_set.images.narrow(0, 0, 2000);
    test_set.labels = test_set.labels.narrow(0, 0, 2000);
  }
  const Tensor<T> train_x = train_set.images.flatten(1).contiguous(), test_x = test_set.images.flatten(1).contiguous();
  const Tensor<std::int64_t> none;
  auto labels_for = [&](const Tensor<std::int64_t>& y) { return config.classes ? y : none; };

  models::VAE<T> vae(config, gen);
  optim::Adam<T> opt(vae.parameters(), optim::AdamOptions().lr(lr));
  data::DataLoader<T> loader(train_x, train_set.labels, batch_size, true, &gen);
  std::cout << "vae_fashion: " << vae.num_parameters() << " parameters, latent " << config.latent
            << (config.classes ? ", conditional" : "") << ", beta " << beta << ", " << epochs << " epochs\n";

  // The test negative ELBO and its parts, in nats per image (one sample per image).
  auto evaluate = [&]() {
    NoGradGuard no_grad;
    double loss = 0, recon = 0, kl = 0;
    data::DataLoader<T> test_loader(test_x, test_set.labels, 500);
    for (const auto& b : test_loader) {
      const auto terms = vae.loss(b.x, gen, 1.0, labels_for(b.y));
      const double n = double(b.x.shape()[0]);
      loss += terms.loss.item() * n;
      recon += terms.reconstruction.item() * n;
      kl += terms.kl.item() * n;
    }
    const double n = double(test_x.shape()[0]);
    return std::array<double, 3>{loss / n, recon / n, kl / n};
  };

  // --resume: continue a saved run from the epoch after the one it stopped at.
  std::int64_t first_epoch = 1;
  if (args.has("resume")) {
    const auto ck = train::Checkpoint<T>::load(args.get("resume"));
    ck.restore_model("model", vae);
    ck.restore_optimizer("optimizer", opt);
    ck.restore_generator("generator", gen);
    first_epoch = ck.step + 1;
    std::cout << "resumed from " << args.get("resume") << " after epoch " << ck.step << "\n";
  }

  std::vector<double> train_curve, test_curve;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
    io::ProgressBar bar(static_cast<std::size_t>(loader.num_batches()), "epoch " + std::to_string(epoch));
    double total = 0;
    std::int64_t steps = 0;
    for (const auto& batch : loader) {
      opt.zero_grad();
      const auto terms = vae.loss(batch.x, gen, beta, labels_for(batch.y));
      terms.loss.backward();
      opt.step();
      total += terms.loss.item();
      bar.set("loss", total / double(++steps));
      bar.update();
    }
    bar.finish();
    train_curve.push_back(total / double(steps));
    const auto test = evaluate();
    test_curve.push_back(test[0]);
    std::cout << "epoch " << epoch << ": train loss " << train_curve.back() << ", test -ELBO " << test[0] << " (recon "
              << test[1] << ", KL " << test[2] << ")" << std::endl;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.has("save")) {  // everything needed to resume, after the last epoch
    train::Checkpoint<T> ck;
    ck.add_model("model", vae).add_optimizer("optimizer", opt).add_generator("generator", gen);
    ck.step = epochs;
    ck.save(args.get("save"));
  }
  const auto final_test = evaluate();

  // The importance-weighted log-likelihood on (part of) the test set.
  double nll = 0;
  const std::int64_t iwae_images = quick ? 200 : 2000;
  for (std::int64_t s = 0; s < iwae_images; s += 100) {
    const Tensor<std::int64_t> y = test_set.labels.narrow(0, s, 100);
    nll -= vae.log_likelihood(test_x.narrow(0, s, 100), k, gen, labels_for(y)).sum().item();
  }
  nll /= double(iwae_images);

  // Pictures.
  NoGradGuard no_grad;
  io::LinePlot curve("vae_fashion: negative ELBO (nats per image)");
  curve.x_label("epoch").y_label("nats").add("train", train_curve).add("test", test_curve);
  curve.save(out + "/elbo_curve.svg");
  const Tensor<T> originals = test_x.narrow(0, 0, 32);
  const Tensor<std::int64_t> first_labels = test_set.labels.narrow(0, 0, 32);
  const auto enc = vae.encode(originals, labels_for(first_labels));
  const Tensor<T> recon = sigmoid(vae.decode(enc.first, labels_for(first_labels)));
  io::save_image(out + "/reconstructions.png",
                 cat<T>({originals.reshape({4, 8, 1, 28, 28}), recon.reshape({4, 8, 1, 28, 28})}, 1).reshape({64, 1, 28, 28}), 8);
  if (config.classes) {
    const Tensor<std::int64_t> classes = arange<std::int64_t>(10).unsqueeze(1).expand({10, 10}).reshape({100});
    io::save_image(out + "/samples_per_class.png", vae.sample(100, gen, classes).reshape({100, 1, 28, 28}), 10);
  } else {
    io::save_image(out + "/samples.png", vae.sample(64, gen).reshape({64, 1, 28, 28}), 8);
    // Interpolations between pairs of test codes, linear and spherical.
    std::vector<Tensor<T>> rows_linear, rows_spherical;
    for (int pair = 0; pair < 6; ++pair) {
      const Tensor<T> a = enc.first.select(0, 2 * pair), b = enc.first.select(0, 2 * pair + 1);
      rows_linear.push_back(sample::interpolate(a, b, 10, false));
      rows_spherical.push_back(sample::interpolate(a, b, 10, true));
    }
    io::save_image(out + "/interpolation_linear.png", sigmoid(vae.decode(cat(rows_linear))).reshape({60, 1, 28, 28}), 10);
    io::save_image(out + "/interpolation_spherical.png", sigmoid(vae.decode(cat(rows_spherical))).reshape({60, 1, 28, 28}), 10);
    // An attribute vector: "trouser" minus "dress" (classes 1 and 3), added to dress codes.
    const auto codes = vae.encode(test_x.narrow(0, 0, 2000));
    const Tensor<T> direction = sample::attribute_vector(codes.first, test_set.labels.narrow(0, 0, 2000), 1, 3);
    std::vector<Tensor<T>> steps;
    for (std::int64_t i = 0, found = 0; i < 200 && found < 4; ++i) {
      if (test_set.labels(i) != 3) continue;
      ++found;
      for (int s = 0; s < 8; ++s) steps.push_back(codes.first.select(0, i) + direction * T(s / 7.0));
    }
    if (!steps.empty())
      io::save_image(out + "/attribute_dress_to_trouser.png",
                     sigmoid(vae.decode(stack(steps))).reshape({static_cast<std::int64_t>(steps.size()), 1, 28, 28}), 8);
  }
  if (config.latent == 2 && !config.classes) {
    // The decoded manifold over [-3, 3]^2 and the test codes coloured by class.
    std::vector<Tensor<T>> grid;
    for (int r = 0; r < 15; ++r)
      for (int c = 0; c < 15; ++c) grid.push_back(tensor<T>({T(-3 + 6.0 * c / 14), T(3 - 6.0 * r / 14)}));
    io::save_image(out + "/manifold.png", sigmoid(vae.decode(stack(grid))).reshape({225, 1, 28, 28}), 15);
    const auto codes = vae.encode(test_x);
    io::scatter_plot(codes.first, -4.0, 4.0, 500, test_set.labels).save(out + "/latent_scatter.png");
  }
  std::cout << "pictures in " << out << "/\n";
  train::print_result({{"neg_elbo", final_test[0]}, {"recon", final_test[1]}, {"kl", final_test[2]},
                       {"iwae_nll", nll}, {"seconds", seconds}});
  return 0;
}
