// Fashion-MNIST: 70,000 grey 28x28 pictures of clothing in 10 classes (60,000 for
// training, 10,000 for testing), read from Debian's dataset-fashion-mnist package
// (/usr/share/datasets/fashion-mnist/*.gz, IDX format) or from a folder you give.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

#include "../io/file.hpp"
#include "../io/idx.hpp"
#include "../tensor/creation.hpp"

namespace latent::data {

constexpr const char* kFashionMnistFolder = "/usr/share/datasets/fashion-mnist";

inline const std::array<const char*, 10>& fashion_mnist_classes() {
  static const std::array<const char*, 10> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

namespace detail {
// True when the file can be opened for reading.
inline bool readable(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file) std::fclose(file);
  return file != nullptr;
}
}  // namespace detail

template <class T>
struct ImageDataset {
  Tensor<T> images;             // [N, 1, 28, 28], values in [0, 1]
  Tensor<std::int64_t> labels;  // [N], class indices 0..9
  std::int64_t size() const { return labels.numel(); }
};

// Loads the "train" or "test" split.
template <class T>
ImageDataset<T> load_fashion_mnist(const std::string& split, const std::string& folder = kFashionMnistFolder) {
  LATENT_CHECK(split == "train" || split == "test", "load_fashion_mnist: split must be 'train' or 'test', got '",
               split, "'");
  const std::string prefix = folder + "/" + (split == "train" ? "train" : "t10k");
  const std::string image_path = prefix + "-images-idx3-ubyte.gz";
  const std::string label_path = prefix + "-labels-idx1-ubyte.gz";
  LATENT_CHECK(detail::readable(image_path) && detail::readable(label_path), "load_fashion_mnist: ", image_path,
               " not found; install Debian's package with `sudo apt-get install dataset-fashion-mnist`, or pass "
               "the folder that holds the four *-ubyte.gz files");
  const io::IdxData images = io::read_idx(image_path);
  const io::IdxData labels = io::read_idx(label_path);
  LATENT_CHECK(images.type == io::IdxType::UInt8 && images.dims.size() == 3 && images.dims[1] == 28 &&
                   images.dims[2] == 28,
               "load_fashion_mnist: ", image_path, " does not hold 28x28 uint8 images");
  LATENT_CHECK(labels.type == io::IdxType::UInt8 && labels.dims.size() == 1 && labels.dims[0] == images.dims[0],
               "load_fashion_mnist: ", label_path, " does not hold one uint8 label per image");
  const std::int64_t n = static_cast<std::int64_t>(images.dims[0]);
  ImageDataset<T> out;
  out.images = Tensor<T>(Shape{n, 1, 28, 28});
  out.labels = Tensor<std::int64_t>(Shape{n});
  T* px = out.images.data();
  for (std::int64_t i = 0; i < n * 784; ++i) px[i] = static_cast<T>(images.data[static_cast<std::size_t>(i)]) / T(255);
  std::int64_t* lb = out.labels.data();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t label = labels.data[static_cast<std::size_t>(i)];
    LATENT_CHECK(label < 10, "load_fashion_mnist: label ", int(label), " of image ", i, " is not a class 0..9");
    lb[i] = label;
  }
  return out;
}

}  // namespace latent::data
