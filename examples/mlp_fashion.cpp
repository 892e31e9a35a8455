// mlp_fashion: an MLP classifier (784-256-256-10, ReLU) on Fashion-MNIST, trained with
// Adam (learning rate decayed by a cosine over the run) and the cross-entropy loss. Writes the learning curve (SVG), the confusion matrix
// (PNG) and a grid of test images it gets wrong; prints test accuracy every epoch.
//
//   ./mlp_fashion                 # 10 epochs
//   ./mlp_fashion --quick         # 1 epoch on a fifth of the data, for the demo
#include <latent/latent.hpp>
#include <latent/models.hpp>
#include <latent/train/cli.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>

using namespace latent;
using T = float;

int main(int argc, char** argv) {
  train::Args args("mlp_fashion", "An MLP classifier on Fashion-MNIST (the PyTorch twin: examples/pytorch/mlp_fashion.py).");
  args.add("hidden", "256", "width of the two hidden layers");
  args.parse(argc, argv);
  const bool quick = args.quick();
  const std::int64_t epochs = args.get_int("epochs", quick ? 1 : 10);
  const std::int64_t batch_size = args.get_int("batch-size", 64);
  const double lr = args.get_double("lr", 1e-3);
  const std::int64_t hidden = args.get_int("hidden", 256);
  const std::string out = args.out_dir();
  Generator gen(static_cast<std::uint64_t>(args.get_int("seed", 0)));

  // Data: pixels in [0, 1], standardised with the training set's mean and deviation.
  auto train_set = data::load_fashion_mnist<T>("train");
  auto test_set = data::load_fashion_mnist<T>("test");
  if (quick) {
    train_set.images = train_set.images.narrow(0, 0, 12000);
    train_set.labels = train_set.labels.narrow(0, 0, 12000);
  }
  const T mean = 0.2860f, stddev = 0.3530f;
  const Tensor<T> train_x = ((train_set.images - mean) / stddev).flatten(1).contiguous();
  const Tensor<T> test_x = ((test_set.images - mean) / stddev).flatten(1).contiguous();

  models::MLP<T> model({784, hidden, hidden, 10}, gen);
  optim::Adam<T> opt(model.parameters(), optim::AdamOptions().lr(lr));
  data::DataLoader<T> loader(train_x, train_set.labels, batch_size, /*shuffle=*/true, &gen);
  // The learning rate follows a cosine from lr down to 0 over the whole run (per step).
  optim::CosineAnnealingLR<T> schedule(opt, epochs * loader.num_batches());
  std::cout << "mlp_fashion: " << model.num_parameters() << " parameters, " << train_x.shape()[0]
            << " training images, " << epochs << " epochs of " << loader.num_batches() << " steps\n";

  auto evaluate = [&](const Tensor<T>& x, const Tensor<std::int64_t>& y) {
    NoGradGuard no_grad;
    return models::accuracy(model(x), y);
  };

  // --resume: continue a saved run from the epoch after the one it stopped at.
  std::int64_t first_epoch = 1;
  if (args.has("resume")) {
    const auto ck = train::Checkpoint<T>::load(args.get("resume"));
    ck.restore_model("model", model);
    ck.restore_optimizer("optimizer", opt);
    ck.restore_scheduler("schedule", schedule);
    ck.restore_generator("generator", gen);
    first_epoch = ck.step + 1;
    std::cout << "resumed from " << args.get("resume") << " after epoch " << ck.step << "\n";
  }

  std::vector<double> train_loss, test_acc;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
    io::ProgressBar bar(static_cast<std::size_t>(loader.num_batches()), "epoch " + std::to_string(epoch));
    double total = 0;
    std::int64_t steps = 0;
    for (const auto& batch : loader) {
      opt.zero_grad();
      Tensor<T> loss = nn::functional::cross_entropy(model(batch.x), batch.y);
      loss.backward();
      opt.step();
      schedule.step();
      total += loss.item();
      ++steps;
      bar.set("loss", total / double(steps));
      bar.update();
    }
    bar.finish();
    train_loss.push_back(total / double(steps));
    test_acc.push_back(evaluate(test_x, test_set.labels));
    std::cout << "epoch " << epoch << ": train loss " << train_loss.back() << ", test accuracy " << test_acc.back()
              << std::endl;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Pictures: the learning curve, the confusion matrix, some mistakes.
  io::LinePlot curve("mlp_fashion: learning curve");
  curve.x_label("epoch").y_label("value").add("train loss", train_loss).add("test accuracy", test_acc);
  curve.save(out + "/learning_curve.svg");
  Tensor<T> logits;
  {
    NoGradGuard no_grad;
    logits = model(test_x);
  }
  const std::vector<std::int64_t> predicted = logits.argmax(1).to_vector(), truth = test_set.labels.to_vector();
  Tensor<double> confusion = zeros<double>({10, 10});
  std::vector<Tensor<T>> mistakes;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    confusion.at({truth[i], predicted[i]}) += 1;
    if (predicted[i] != truth[i] && mistakes.size() < 32) mistakes.push_back(test_set.images.select(0, static_cast<std::int64_t>(i)));
  }
  io::heatmap(confusion, 24).save(out + "/confusion.png");
  if (!mistakes.empty()) io::save_image(out + "/mistakes.png", stack(mistakes), 8);
  std::cout << "confusion matrix (rows: true class, columns: predicted):\n";
  for (int r = 0; r < 10; ++r) {
    for (int c = 0; c < 10; ++c) std::cout << std::setw(5) << confusion(r, c);
    std::cout << "  " << data::fashion_mnist_classes()[static_cast<std::size_t>(r)] << "\n";
  }
  if (args.has("save")) {  // everything needed to resume, after the last epoch
    train::Checkpoint<T> ck;
    ck.add_model("model", model).add_optimizer("optimizer", opt).add_scheduler("schedule", schedule);
    ck.add_generator("generator", gen);
    ck.step = epochs;
    ck.save(args.get("save"));
  }
  std::cout << "pictures: " << out << "/learning_curve.svg, " << out << "/confusion.png, " << out << "/mistakes.png\n";
  train::print_result({{"test_acc", test_acc.back()}, {"seconds", seconds}});
  return 0;
}
