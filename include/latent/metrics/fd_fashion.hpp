// FD-Fashion: the FID recipe on Fashion-MNIST. A small convolutional classifier, trained
// by the library from a fixed seed, maps each 28x28 image to the 128 activations of its
// penultimate layer; FD-Fashion is the Fréchet distance between Gaussians fitted to the
// features of generated images and of the 10,000 test images:
//
//   FD = ||mu_g - mu_t||^2 + tr(C_g + C_t - 2 (C_g C_t)^(1/2))        (metrics::frechet_distance)
//
// Lower is better; the test set against itself scores 0. The figure depends on the
// classifier's weights, so compare numbers made with the same cached classifier only.
//
// The classifier (state dict keys as PyTorch's would be):
//   conv1 Conv2d(1, 32, 3, padding 1), bn1 BatchNorm2d, ReLU, max-pool 2     28x28 -> 14x14
//   conv2 Conv2d(32, 64, 3, padding 1), bn2 BatchNorm2d, ReLU, max-pool 2    14x14 -> 7x7
//   fc1 Linear(64*7*7, 128), ReLU                                            -> the 128 features
//   fc2 Linear(128, 10)                                                      -> class logits
// trained for 2 epochs with Adam (batch 64, lr 1e-3 decayed to 0 by a cosine over the
// run) from seed 8 on the 60,000 training images (test accuracy printed; it should be
// >= 90%), and used in eval mode (batch norm with its running statistics, so an image's
// features do not depend on the batch it comes in); cached as safetensors with its test
// accuracy in the metadata.
//
// The API (latent::metrics):
//
//   auto classifier = load_or_train_fashion_classifier<float>();   // path, verbose optional
//     // loads `path` (default out/fd_fashion_classifier.safetensors) when it holds this
//     // classifier, else trains one (a few minutes on 2 cores) and writes it atomically
//     // there; returns std::shared_ptr<FashionClassifier<T>>
//   Tensor<double> f = fashion_features(*classifier, images);   // images [N, 1, 28, 28] or
//                                                                // [N, 784], pixels in [0, 1]
//   double fd = fd_fashion(*classifier, images);                 // vs the test set (N >= 2)
//   double fd = fd_fashion(*classifier, images, reference);      // vs FeatureStatistics of
//                                                                // your own (feature_statistics)
//   save_fashion_classifier(path, *classifier);                  // what the cache holds
//
// Images from a generator with tanh outputs in [-1, 1] go in as (x + 1) / 2. The test
// set's feature statistics are computed on the first fd_fashion call and kept in the
// classifier object.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../data/fashion_mnist.hpp"
#include "../data/loader.hpp"
#include "../io/safetensors.hpp"
#include "../nn/conv.hpp"
#include "../nn/functional/cross_entropy.hpp"
#include "../nn/functional/pooling.hpp"
#include "../nn/layers.hpp"
#include "../nn/linear.hpp"
#include "../nn/module.hpp"
#include "../ops/grad_mode.hpp"
#include "../ops/unary_ops.hpp"
#include "../optim/adam.hpp"
#include "../optim/lr_scheduler.hpp"
#include "distances.hpp"
#include "linalg.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#endif

namespace latent::metrics {

constexpr const char* kFashionClassifierPath = "out/fd_fashion_classifier.safetensors";
// Written into the cached file's metadata; a file without it (or another value) is retrained.
constexpr const char* kFashionClassifierTag = "fd_fashion classifier v2: conv32-bn-pool-conv64-bn-pool-fc128-fc10";

// Mean and covariance of a set of feature vectors: a Gaussian fitted to them.
struct FeatureStatistics {
  std::vector<double> mean;
  Matrix covariance;
  std::int64_t count = 0;
};

// Features [N, D] (fashion_features gives them in double).
template <class T>
FeatureStatistics feature_statistics(const Tensor<T>& features) {
  FeatureStatistics s;
  mean_and_covariance(features, s.mean, s.covariance);
  s.count = features.shape()[0];
  return s;
}

template <class T>
class FashionClassifier : public nn::Module<T> {
 public:
  static constexpr std::int64_t kFeatures = 128;
  std::shared_ptr<nn::Conv2d<T>> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d<T>> bn1, bn2;
  std::shared_ptr<nn::Linear<T>> fc1, fc2;

  explicit FashionClassifier(Generator& gen) {
    conv1 = this->register_module("conv1", std::make_shared<nn::Conv2d<T>>(1, 32, 3, gen, 1, 1));
    bn1 = this->register_module("bn1", std::make_shared<nn::BatchNorm2d<T>>(32));
    conv2 = this->register_module("conv2", std::make_shared<nn::Conv2d<T>>(32, 64, 3, gen, 1, 1));
    bn2 = this->register_module("bn2", std::make_shared<nn::BatchNorm2d<T>>(64));
    fc1 = this->register_module("fc1", std::make_shared<nn::Linear<T>>(64 * 7 * 7, kFeatures, gen));
    fc2 = this->register_module("fc2", std::make_shared<nn::Linear<T>>(kFeatures, 10, gen));
  }
  std::string name() const override { return "FashionClassifier"; }

  // The penultimate activations [N, 128] of images [N, 1, 28, 28] or [N, 784].
  Tensor<T> features(const Tensor<T>& images) {
    const Tensor<T> x = as_images(images);
    Tensor<T> h = nn::functional::max_pool2d(relu(bn1->forward(conv1->forward(x))), 2);
    h = nn::functional::max_pool2d(relu(bn2->forward(conv2->forward(h))), 2);
    return relu(fc1->forward(h.flatten(1)));
  }
  // Class logits [N, 10].
  Tensor<T> forward(const Tensor<T>& images) override { return fc2->forward(features(images)); }

  // The test set's feature statistics, computed on first use and kept.
  const FeatureStatistics& test_statistics();
  double test_accuracy = 0;  // as measured after training (or read from the cache)

 private:
  static Tensor<T> as_images(const Tensor<T>& images) {
    LATENT_CHECK((images.dim() == 4 && images.shape()[1] == 1 && images.shape()[2] == 28 && images.shape()[3] == 28) ||
                     (images.dim() == 2 && images.shape()[1] == 784),
                 "FashionClassifier: expects images [N, 1, 28, 28] or [N, 784], got shape ", images.shape());
    LATENT_CHECK(images.shape()[0] >= 1, "FashionClassifier: got no images (shape ", images.shape(), ")");
    return images.dim() == 4 ? images : images.reshape({images.shape()[0], 1, 28, 28});
  }
  std::shared_ptr<FeatureStatistics> test_stats_;
};

// Features [N, 128] in double, computed in batches of 500 without a graph.
template <class T>
Tensor<double> fashion_features(FashionClassifier<T>& classifier, const Tensor<T>& images) {
  LATENT_CHECK(images.dim() == 4 || images.dim() == 2,
               "fashion_features: expects images [N, 1, 28, 28] or [N, 784], got shape ", images.shape());
  NoGradGuard no_grad;
  const bool was_training = classifier.is_training();
  classifier.eval();
  const std::int64_t n = images.shape()[0], batch = 500;
  Tensor<double> out(Shape{n, FashionClassifier<T>::kFeatures});
  for (std::int64_t start = 0; start < n; start += batch) {
    const std::int64_t size = std::min(batch, n - start);
    const Tensor<double> f = classifier.features(images.narrow(0, start, size)).template to<double>().contiguous();
    std::copy(f.data(), f.data() + f.numel(), out.data() + start * FashionClassifier<T>::kFeatures);
  }
  classifier.train(was_training);
  return out;
}

template <class T>
const FeatureStatistics& FashionClassifier<T>::test_statistics() {
  if (!test_stats_) {
    const data::ImageDataset<T> test = data::load_fashion_mnist<T>("test");
    test_stats_ = std::make_shared<FeatureStatistics>(feature_statistics(fashion_features(*this, test.images)));
  }
  return *test_stats_;
}

// The Fréchet distance between the features of images (pixels in [0, 1]) and a reference.
template <class T>
double fd_fashion(FashionClassifier<T>& classifier, const Tensor<T>& images, const FeatureStatistics& reference) {
  LATENT_CHECK((images.dim() == 4 || images.dim() == 2) && images.shape()[0] >= 2,
               "fd_fashion: needs at least 2 images [N, 1, 28, 28] or [N, 784], got shape ", images.shape());
  LATENT_CHECK(reference.covariance.n == FashionClassifier<T>::kFeatures &&
                   static_cast<std::int64_t>(reference.mean.size()) == FashionClassifier<T>::kFeatures,
               "fd_fashion: the reference statistics are of ", reference.mean.size(), " features, expected ",
               FashionClassifier<T>::kFeatures);
  const FeatureStatistics generated = feature_statistics(fashion_features(classifier, images));
  return frechet_distance(generated.mean, generated.covariance, reference.mean, reference.covariance);
}

// FD-Fashion: against the Fashion-MNIST test set.
template <class T>
double fd_fashion(FashionClassifier<T>& classifier, const Tensor<T>& images) {
  return fd_fashion(classifier, images, classifier.test_statistics());
}

// Trains the classifier (Adam, cross-entropy) on the training set; returns its test accuracy.
template <class T>
double train_fashion_classifier(FashionClassifier<T>& model, Generator& gen, std::int64_t epochs = 2,
                                bool verbose = true) {
  const data::ImageDataset<T> train_set = data::load_fashion_mnist<T>("train");
  const data::ImageDataset<T> test_set = data::load_fashion_mnist<T>("test");
  optim::Adam<T> opt(model.parameters(), optim::AdamOptions().lr(1e-3));
  data::DataLoader<T> loader(train_set.images, train_set.labels, 64, /*shuffle=*/true, &gen);
  optim::CosineAnnealingLR<T> schedule(opt, epochs * loader.num_batches());
  // Test accuracy, in batches of 500.
  auto test_accuracy = [&]() {
    NoGradGuard no_grad;
    model.eval();
    std::int64_t right = 0;
    const std::int64_t n = test_set.size();
    for (std::int64_t start = 0; start < n; start += 500) {
      const std::int64_t size = std::min<std::int64_t>(500, n - start);
      const std::vector<std::int64_t> predicted =
          model.forward(test_set.images.narrow(0, start, size)).argmax(1).to_vector();
      const std::vector<std::int64_t> truth = test_set.labels.narrow(0, start, size).contiguous().to_vector();
      for (std::size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
    }
    model.train();
    return double(right) / double(n);
  };
  model.train();
  for (std::int64_t epoch = 1; epoch <= epochs; ++epoch) {
    double total = 0;
    std::int64_t steps = 0;
    for (const auto& batch : loader) {
      opt.zero_grad();
      const Tensor<T> loss = nn::functional::cross_entropy(model.forward(batch.x), batch.y);
      loss.backward();
      opt.step();
      schedule.step();
      total += double(loss.item());
      ++steps;
    }
    model.test_accuracy = test_accuracy();
    if (verbose)
      std::cout << "fd_fashion classifier: epoch " << epoch << ", train loss " << total / double(steps)
                << ", test accuracy " << 100 * model.test_accuracy << "%" << std::endl;
  }
  model.eval();
  return model.test_accuracy;
}

namespace detail {

inline void make_parent_folders(const std::string& path) {
#if defined(__unix__) || defined(__APPLE__)
  for (std::size_t i = 1; i < path.size(); ++i)
    if (path[i] == '/') ::mkdir(path.substr(0, i).c_str(), 0755);
#else
  (void)path;
#endif
}

// Loads a cached classifier; false when the file is missing, is not this classifier's, or
// does not fit (with exceptions off, a corrupt file is reported by the error handler).
template <class T>
bool load_fashion_classifier(const std::string& path, FashionClassifier<T>& model) {
  if (!data::detail::readable(path)) return false;
  auto attempt = [&]() {
    const io::SafetensorsFile file = io::load_safetensors(path);
    const auto tag = file.metadata.find("format");
    if (tag == file.metadata.end() || tag->second != kFashionClassifierTag) return false;
    nn::StateDict<T> sd;
    for (const std::string& name : file.names()) {
      if (file.entry(name).dtype == io::Dtype::I64) sd.integers[name] = file.get<std::int64_t>(name);
      else sd.tensors[name] = file.get<T>(name);
    }
    model.load_state_dict(sd, /*strict=*/true);
    const auto acc = file.metadata.find("test_accuracy");
    model.test_accuracy = acc == file.metadata.end() ? 0.0 : std::strtod(acc->second.c_str(), nullptr);
    return true;
  };
#if LATENT_HAS_EXCEPTIONS
  try {
    return attempt();
  } catch (const Error&) {
    return false;
  }
#else
  return attempt();
#endif
}

}  // namespace detail

// Writes the classifier with its tag and test accuracy (atomically; folders created).
template <class T>
void save_fashion_classifier(const std::string& path, const FashionClassifier<T>& model) {
  io::SafetensorsWriter writer;
  const nn::StateDict<T> sd = model.state_dict();
  for (const auto& p : sd.tensors) writer.add(p.first, p.second);
  for (const auto& p : sd.integers) writer.add(p.first, p.second);
  writer.metadata("format", kFashionClassifierTag).metadata("test_accuracy", std::to_string(model.test_accuracy));
  detail::make_parent_folders(path);
  writer.write(path);
}

// The FD-Fashion classifier: loaded from `path` when it holds one, else trained from the
// fixed seed and written there (atomically). With verbose, says which and the accuracy.
template <class T = float>
std::shared_ptr<FashionClassifier<T>> load_or_train_fashion_classifier(
    const std::string& path = kFashionClassifierPath, bool verbose = true) {
  Generator gen(8);
  auto model = std::make_shared<FashionClassifier<T>>(gen);
  if (detail::load_fashion_classifier(path, *model)) {
    model->eval();
    if (verbose)
      std::cout << "fd_fashion classifier: loaded " << path << " (test accuracy " << 100 * model->test_accuracy
                << "%)" << std::endl;
    return model;
  }
  if (verbose) std::cout << "fd_fashion classifier: training (2 epochs), to be cached in " << path << std::endl;
  const auto start = std::chrono::steady_clock::now();
  const double accuracy = train_fashion_classifier(*model, gen, 2, verbose);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (verbose)
    std::cout << "fd_fashion classifier: test accuracy " << 100 * accuracy << "% after " << seconds << " s" << std::endl;
  if (accuracy < 0.9)
    std::cerr << "load_or_train_fashion_classifier: warning: test accuracy " << accuracy
              << " is below the expected 0.9" << std::endl;
  save_fashion_classifier(path, *model);
  model->eval();
  return model;
}

}  // namespace latent::metrics
