// DataLoader: batches of rows from in-memory tensors, shuffled each epoch by a Generator.
//
//   data::DataLoader<float> loader(images, labels, 64, /*shuffle=*/true, gen);
//   for (const auto& batch : loader) { ... batch.x, batch.y ... }
//
// Every pass over the loader is one epoch; with shuffling, each epoch draws a fresh
// permutation, so a run is reproducible from its seed (and from the generator's state).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/random.hpp"
#include "../tensor/tensor.hpp"

namespace latent::data {

template <class T>
struct Batch {
  Tensor<T> x;
  Tensor<std::int64_t> y;  // undefined when the loader has no targets
};

namespace detail {
// Rows `index[begin..end)` of a contiguous tensor, gathered into a new tensor.
template <class U>
Tensor<U> gather_rows(const Tensor<U>& t, const std::vector<std::int64_t>& index, std::size_t begin, std::size_t end) {
  Shape shape = t.shape();
  shape[0] = static_cast<std::int64_t>(end - begin);
  Tensor<U> out(shape);
  const std::int64_t row = t.shape()[0] == 0 ? 0 : t.numel() / t.shape()[0];
  for (std::size_t i = begin; i < end; ++i)
    std::memcpy(out.data() + static_cast<std::int64_t>(i - begin) * row, t.data() + index[i] * row,
                static_cast<std::size_t>(row) * sizeof(U));
  return out;
}
}  // namespace detail

template <class T>
class DataLoader {
 public:
  DataLoader(const Tensor<T>& inputs, const Tensor<std::int64_t>& targets, std::int64_t batch_size,
             bool shuffle = false, Generator* gen = nullptr, bool drop_last = false)
      : x_(inputs.contiguous()), y_(targets.defined() ? targets.contiguous() : targets),
        batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last), gen_(gen) {
    LATENT_CHECK(inputs.dim() >= 1, "DataLoader: inputs need a leading sample dim, got shape ", inputs.shape());
    LATENT_CHECK(batch_size > 0, "DataLoader: batch_size must be positive, got ", batch_size);
    LATENT_CHECK(!targets.defined() || (targets.dim() >= 1 && targets.shape()[0] == inputs.shape()[0]),
                 "DataLoader: ", inputs.shape()[0], " inputs but targets of shape ", targets.shape());
    LATENT_CHECK(!shuffle || gen != nullptr, "DataLoader: shuffling needs a Generator");
  }
  DataLoader(const Tensor<T>& inputs, std::int64_t batch_size, bool shuffle = false, Generator* gen = nullptr,
             bool drop_last = false)
      : DataLoader(inputs, Tensor<std::int64_t>(), batch_size, shuffle, gen, drop_last) {}

  std::int64_t size() const { return x_.shape()[0]; }
  std::int64_t num_batches() const {
    return drop_last_ ? size() / batch_size_ : (size() + batch_size_ - 1) / batch_size_;
  }

  class Iterator {
   public:
    Iterator(const DataLoader* loader, std::vector<std::int64_t> order, std::int64_t batch)
        : loader_(loader), order_(std::move(order)), batch_(batch) {
      load();
    }
    const Batch<T>& operator*() const { return current_; }
    const Batch<T>* operator->() const { return &current_; }
    Iterator& operator++() {
      ++batch_;
      load();
      return *this;
    }
    bool operator!=(const Iterator& other) const { return batch_ != other.batch_; }

   private:
    void load() {
      if (!loader_ || batch_ >= loader_->num_batches()) return;
      const std::size_t begin = static_cast<std::size_t>(batch_ * loader_->batch_size_);
      const std::size_t end = std::min(order_.size(), begin + static_cast<std::size_t>(loader_->batch_size_));
      current_.x = detail::gather_rows(loader_->x_, order_, begin, end);
      if (loader_->y_.defined()) current_.y = detail::gather_rows(loader_->y_, order_, begin, end);
    }
    const DataLoader* loader_;
    std::vector<std::int64_t> order_;
    std::int64_t batch_;
    Batch<T> current_;
  };

  // Starts an epoch: draws the epoch's order (a fresh permutation when shuffling).
  Iterator begin() const {
    std::vector<std::int64_t> order;
    if (shuffle_) {
      order = gen_->permutation(size());
    } else {
      for (std::int64_t i = 0; i < size(); ++i) order.push_back(i);
    }
    return Iterator(this, std::move(order), 0);
  }
  Iterator end() const { return Iterator(nullptr, {}, num_batches()); }

 private:
  Tensor<T> x_;
  Tensor<std::int64_t> y_;
  std::int64_t batch_size_;
  bool shuffle_, drop_last_;
  Generator* gen_;
};

}  // namespace latent::data
