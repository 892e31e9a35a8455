// IntPair: a size argument of the 2-d ops (kernel_size, stride, padding, dilation, ...),
// given as one int for both dims or as {h, w}, as PyTorch accepts `3` or `(3, 5)`.
//
//   conv2d(x, w, b, /*stride=*/2, /*padding=*/{1, 0});
//   max_pool2d(x, {2, 3});                  // stride defaults to the kernel size
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>

namespace latent::nn::functional {

struct IntPair {
  std::int64_t h = 0, w = 0;
  IntPair() = default;
  IntPair(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit by design
  IntPair(std::int64_t h_, std::int64_t w_) : h(h_), w(w_) {}

  friend bool operator==(const IntPair& a, const IntPair& b) { return a.h == b.h && a.w == b.w; }
  friend bool operator!=(const IntPair& a, const IntPair& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const IntPair& p) {
    return os << '[' << p.h << ", " << p.w << ']';
  }
};

// An IntPair that may be left out (PyTorch's None), e.g. the stride of a pooling, which
// then defaults to the kernel size.
struct OptionalIntPair {
  std::optional<IntPair> pair;
  OptionalIntPair() = default;
  OptionalIntPair(std::nullopt_t) {}                           // NOLINT
  OptionalIntPair(std::int64_t both) : pair(IntPair(both)) {}  // NOLINT
  OptionalIntPair(std::int64_t h, std::int64_t w) : pair(IntPair(h, w)) {}
  OptionalIntPair(const IntPair& p) : pair(p) {}  // NOLINT

  bool has_value() const { return pair.has_value(); }
  IntPair value_or(const IntPair& fallback) const { return pair ? *pair : fallback; }
};

}  // namespace latent::nn::functional
