// Random numbers: latent::Generator, the library's only source of randomness (random
// tensor fills, dropout masks, shuffling, sampling).
//
// Philox 4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC'11) is counter-based: a block of four random 32-bit words is a pure function of a
// 128-bit counter and a 64-bit key, block = philox(counter, key). Nothing is advanced from
// one draw to the next; the n-th block is just philox(n, key). So a fill can reserve a range
// of counters and compute element i from (key, first counter, i) on any thread, and the
// result never depends on the thread count.
//
// The stream. The seed is the key. `offset` counts the 32-bit words used so far: stream
// word w is word w % 4 of block philox({lo32(w / 4), hi32(w / 4), 0, 0}, seed). Single draws
// (next_u32, uniform, normal, randint, ...) read the stream in order. A fill of n elements
// first skips the rest of a partly read block, then takes ceil(n / per_block) whole blocks
// (per_block: elements one block makes, fixed by the kind of fill and the type) and moves
// offset past them. So (seed, offset) is the whole state, no counter is ever used twice, and
// a generator restored with set_state continues exactly. Not thread-safe: one generator per
// thread, or one owner. 2^64 words at 10^9 a second last 584 years: offset never wraps.
//
// From words to numbers (u64 = first word | second word << 32):
//   uniform float  in [0, 1):  (w >> 8) * 2^-24      one word, 24 bits, 4 per block
//   uniform double in [0, 1):  (u64 >> 11) * 2^-53   two words, 53 bits, 2 per block
//   normal (Box-Muller): for u1 in (0, 1] and u2 in [0, 1), r = sqrt(-2 ln u1) and
//     z0 = r cos(2 pi u2), z1 = r sin(2 pi u2) are independent N(0, 1). u1 is never 0, so
//     ln u1 is finite: float u1 = (w + 1) * 2^-32 (so |z| <= 6.66), double
//     u1 = ((u64 >> 11) + 1) * 2^-53 (|z| <= 8.57). A fill uses both z0 and z1; a single
//     normal() draws its own u1, u2 and returns z0.
//   randint in [low, high): x % range is uniform when x comes from the largest multiple of
//     range below 2^64, so the lowest 2^64 mod range values of x are rejected and redrawn.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "error.hpp"
#include "parallel.hpp"

namespace latent {

using PhiloxBlock = std::array<std::uint32_t, 4>;

// The Philox 4x32 block function with 10 rounds. Each round multiplies counter words 0 and 2
// by M0 and M1 (64-bit products split into hi and lo halves), swaps the pairs and xors in the
// key, a cheap bijection that mixes well: out = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0).
// M0 = 0xD2511F53 and M1 = 0xCD9E8D57 are the multipliers the authors picked by search for
// the best avalanche. Between rounds the key steps by a Weyl sequence, W0 = 0x9E3779B9 =
// 2^32 (sqrt(5) - 1) / 2 (golden ratio) and W1 = 0xBB67AE85 = 2^32 (sqrt(3) - 1), so each
// round sees a different key.
inline PhiloxBlock philox4x32_10(const std::array<std::uint32_t, 4>& counter,
                                 const std::array<std::uint32_t, 2>& key) {
  constexpr std::uint64_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  std::uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = M0 * c0, p1 = M1 * c2;
    const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = static_cast<std::uint32_t>(p1);
    c2 = n2;
    c3 = static_cast<std::uint32_t>(p0);
    k0 += W0;
    k1 += W1;
  }
  return {c0, c1, c2, c3};
}

namespace detail {

// How a float type is made from random words: `Bits` is one unit of randomness (one word
// for float, two for double), `per_block` how many units one Philox block holds.
template <class T>
struct UnitBits {
  static_assert(sizeof(T) == 0, "Generator: only float and double are supported here");
};
template <>
struct UnitBits<float> {
  using Bits = std::uint32_t;
  static constexpr int per_block = 4;
  static Bits from_block(const PhiloxBlock& b, int k) { return b[k]; }
  static float half_open(Bits w) { return static_cast<float>(w >> 8) * 0x1p-24f; }  // [0, 1)
  static float nonzero(Bits w) {                                                   // (0, 1]
    return static_cast<float>(static_cast<std::uint64_t>(w) + 1) * 0x1p-32f;
  }
};
template <>
struct UnitBits<double> {
  using Bits = std::uint64_t;
  static constexpr int per_block = 2;
  static Bits from_block(const PhiloxBlock& b, int k) {
    return b[2 * k] | (static_cast<std::uint64_t>(b[2 * k + 1]) << 32);
  }
  static double half_open(Bits w) { return static_cast<double>(w >> 11) * 0x1p-53; }
  static double nonzero(Bits w) { return static_cast<double>((w >> 11) + 1) * 0x1p-53; }
};

// Box-Muller (see the top of the file): u1 in (0, 1], u2 in [0, 1) -> two N(0, 1).
template <class T>
struct NormalPair {
  T z0, z1;
};
template <class T>
inline NormalPair<T> box_muller(T u1, T u2) {
  const T r = std::sqrt(T(-2) * std::log(u1));
  const T theta = T(6.283185307179586476925286766559) * u2;
  return {r * std::cos(theta), r * std::sin(theta)};
}

// x mapped to [0, range) without modulo bias; false when x must be redrawn.
inline bool below_without_bias(std::uint64_t x, std::uint64_t range, std::uint64_t& out) {
  const std::uint64_t rejected = (0 - range) % range;  // 2^64 mod range
  if (x < rejected) return false;
  out = x % range;
  return true;
}

// low + r for low < high and r < high - low (two's complement wrap, as on every target).
inline std::int64_t offset_int(std::int64_t low, std::uint64_t r) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + r);
}

inline void check_fill(const char* op, const void* out, std::int64_t n) {
  LATENT_CHECK(n >= 0, op, ": need n >= 0, got ", n);
  LATENT_CHECK(out != nullptr || n == 0, op, ": null output for n = ", n);
}

}  // namespace detail

// Everything that determines a generator's future stream.
struct GeneratorState {
  std::uint64_t seed = 0;    // the Philox key
  std::uint64_t offset = 0;  // 32-bit words of the stream used so far
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}

  // Restarts the stream of `seed` from its beginning.
  Generator& manual_seed(std::uint64_t seed) {
    set_state({seed, 0});
    return *this;
  }
  std::uint64_t seed() const { return seed_; }
  GeneratorState get_state() const { return {seed_, offset_}; }
  void set_state(const GeneratorState& state) {
    seed_ = state.seed;
    offset_ = state.offset;
    cached_ = false;
  }

  // Block `index` of this generator's stream; `retry` > 0 only for fill_randint's redraws.
  PhiloxBlock block(std::uint64_t index, std::uint32_t retry = 0) const {
    return philox4x32_10({static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                          retry, 0},
                         {static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32)});
  }

  // ---- single draws, in stream order ----
  std::uint32_t next_u32() {
    const std::uint64_t index = offset_ / 4;
    if (!cached_ || cached_index_ != index) {
      cached_block_ = block(index);
      cached_index_ = index;
      cached_ = true;
    }
    return cached_block_[offset_++ % 4];
  }
  std::uint64_t next_u64() {
    const std::uint64_t lo = next_u32();
    return lo | (static_cast<std::uint64_t>(next_u32()) << 32);
  }

  template <class T>
  T uniform() {  // in [0, 1)
    return detail::UnitBits<T>::half_open(next_bits<T>());
  }
  template <class T>
  T normal(T mean = T(0), T stddev = T(1)) {
    LATENT_CHECK(stddev >= T(0), "normal: need stddev >= 0, got ", stddev);
    const T u1 = detail::UnitBits<T>::nonzero(next_bits<T>());
    const T u2 = detail::UnitBits<T>::half_open(next_bits<T>());
    return mean + stddev * detail::box_muller(u1, u2).z0;
  }
  std::int64_t randint(std::int64_t low, std::int64_t high) {  // in [low, high)
    LATENT_CHECK(low < high, "randint: need low < high, got low=", low, " high=", high);
    const std::uint64_t range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    std::uint64_t r = 0;
    while (!detail::below_without_bias(next_u64(), range, r)) {
    }
    return detail::offset_int(low, r);
  }
  bool bernoulli(double p) {
    LATENT_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: need 0 <= p <= 1, got ", p);
    return uniform<double>() < p;
  }
  // A uniformly random order of 0..n-1 (Fisher-Yates: for i = n-1 down to 1, swap element i
  // with a uniformly chosen element of 0..i).
  std::vector<std::int64_t> permutation(std::int64_t n) {
    LATENT_CHECK(n >= 0, "permutation: need n >= 0, got ", n);
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), std::int64_t(0));
    for (std::int64_t i = n - 1; i > 0; --i)
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(randint(0, i + 1))]);
    return order;
  }

  // ---- bulk fills: counter-split, identical for any thread count ----
  template <class T>
  void fill_uniform(T* out, std::int64_t n, T low, T high) {  // in [low, high)
    detail::check_fill("fill_uniform", out, n);
    LATENT_CHECK(low <= high && std::isfinite(high - low),
                 "fill_uniform: need finite low <= high, got low=", low, " high=", high);
    using U = detail::UnitBits<T>;
    const T width = high - low, below_high = std::nextafter(high, low);
    for_each_block(n, U::per_block, [&](std::uint64_t index, std::int64_t first, int count) {
      const PhiloxBlock words = block(index);
      for (int k = 0; k < count; ++k) {
        const T x = low + width * U::half_open(U::from_block(words, k));
        out[first + k] = x < high ? x : below_high;  // rounding can reach high
      }
    });
  }

  template <class T>
  void fill_normal(T* out, std::int64_t n, T mean, T stddev) {
    detail::check_fill("fill_normal", out, n);
    LATENT_CHECK(stddev >= T(0), "fill_normal: need stddev >= 0, got ", stddev);
    using U = detail::UnitBits<T>;
    for_each_block(n, U::per_block, [&](std::uint64_t index, std::int64_t first, int count) {
      const PhiloxBlock words = block(index);
      for (int k = 0; k < count; k += 2) {  // units k, k+1 -> elements k, k+1
        const auto z = detail::box_muller(U::nonzero(U::from_block(words, k)),
                                          U::half_open(U::from_block(words, k + 1)));
        out[first + k] = mean + stddev * z.z0;
        if (k + 1 < count) out[first + k + 1] = mean + stddev * z.z1;
      }
    });
  }

  // One block per element: its two 64-bit halves are tried in turn, then (with odds below
  // 2^-64 per element) blocks with the same index and third counter word 1, 2, ...
  void fill_randint(std::int64_t* out, std::int64_t n, std::int64_t low, std::int64_t high) {
    detail::check_fill("fill_randint", out, n);
    LATENT_CHECK(low < high, "fill_randint: need low < high, got low=", low, " high=", high);
    const std::uint64_t range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    for_each_block(n, 1, [&](std::uint64_t index, std::int64_t first, int) {
      std::uint64_t r = 0;
      for (std::uint32_t retry = 0;; ++retry) {
        const PhiloxBlock words = block(index, retry);
        if (detail::below_without_bias(detail::UnitBits<double>::from_block(words, 0), range, r) ||
            detail::below_without_bias(detail::UnitBits<double>::from_block(words, 1), range, r))
          break;
      }
      out[first] = detail::offset_int(low, r);
    });
  }

  // Writes 1 with probability p and 0 otherwise, from double uniforms (2 per block).
  template <class T>
  void fill_bernoulli(T* out, std::int64_t n, double p) {
    detail::check_fill("fill_bernoulli", out, n);
    LATENT_CHECK(p >= 0.0 && p <= 1.0, "fill_bernoulli: need 0 <= p <= 1, got ", p);
    using U = detail::UnitBits<double>;
    for_each_block(n, U::per_block, [&](std::uint64_t index, std::int64_t first, int count) {
      const PhiloxBlock words = block(index);
      for (int k = 0; k < count; ++k)
        out[first + k] = U::half_open(U::from_block(words, k)) < p ? T(1) : T(0);
    });
  }

 private:
  template <class T>
  typename detail::UnitBits<T>::Bits next_bits() {
    if constexpr (sizeof(typename detail::UnitBits<T>::Bits) == 4) return next_u32();
    else return next_u64();
  }

  // Reserves ceil(n / per_block) fresh blocks and calls body(block index, first element,
  // element count) for each, in parallel chunks of about 16384 elements.
  template <class Body>
  void for_each_block(std::int64_t n, int per_block, Body&& body) {
    if (n == 0) return;
    const std::int64_t blocks = (n + per_block - 1) / per_block;
    const std::uint64_t base = (offset_ + 3) / 4;  // skip the rest of a partly read block
    offset_ = (base + static_cast<std::uint64_t>(blocks)) * 4;
    parallel_for(0, blocks, 16384 / per_block, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t j = begin; j < end; ++j) {
        const std::int64_t first = j * per_block;
        body(base + static_cast<std::uint64_t>(j), first,
             static_cast<int>(std::min<std::int64_t>(per_block, n - first)));
      }
    });
  }

  std::uint64_t seed_ = 0;
  std::uint64_t offset_ = 0;
  // The block that next_u32 is reading (a cache: always equal to block(cached_index_)).
  PhiloxBlock cached_block_{};
  std::uint64_t cached_index_ = 0;
  bool cached_ = false;
};

}  // namespace latent
