// Dims: a fixed-capacity inline array of up to 8 sizes or strides, so that describing a
// tensor never touches the heap. Shape and Strides are the two names it goes by.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

#include "error.hpp"

namespace latent {

constexpr int kMaxRank = 8;

class Dims {
 public:
  Dims() = default;
  Dims(std::initializer_list<std::int64_t> values) { assign(values.begin(), values.end()); }
  explicit Dims(const std::vector<std::int64_t>& values) { assign(values.begin(), values.end()); }

  // `rank` copies of `value`.
  static Dims filled(int rank, std::int64_t value) {
    Dims d;
    d.resize(rank);
    for (int i = 0; i < rank; ++i) d.data_[i] = value;
    return d;
  }

  int size() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  std::int64_t& operator[](int i) { return data_[i]; }
  std::int64_t operator[](int i) const { return data_[i]; }
  std::int64_t* begin() { return data_; }
  std::int64_t* end() { return data_ + rank_; }
  const std::int64_t* begin() const { return data_; }
  const std::int64_t* end() const { return data_ + rank_; }
  const std::int64_t* data() const { return data_; }
  std::int64_t back() const { return data_[rank_ - 1]; }

  void resize(int rank) {
    LATENT_CHECK(rank >= 0 && rank <= kMaxRank, "tensor rank ", rank,
                 " is beyond the supported maximum of ", kMaxRank);
    for (int i = rank_; i < rank; ++i) data_[i] = 0;
    rank_ = rank;
  }
  void push_back(std::int64_t v) {
    resize(rank_ + 1);
    data_[rank_ - 1] = v;
  }
  void insert(int pos, std::int64_t v) {
    resize(rank_ + 1);
    for (int i = rank_ - 1; i > pos; --i) data_[i] = data_[i - 1];
    data_[pos] = v;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < rank_; ++i) data_[i] = data_[i + 1];
    --rank_;
  }

  // Product of the entries (1 for rank 0): the element count of a shape.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= data_[i];
    return n;
  }
  std::vector<std::int64_t> vec() const { return std::vector<std::int64_t>(begin(), end()); }

  friend bool operator==(const Dims& a, const Dims& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.data_[i] != b.data_[i]) return false;
    return true;
  }
  friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const Dims& d) {
    os << '[';
    for (int i = 0; i < d.rank_; ++i) os << (i ? ", " : "") << d.data_[i];
    return os << ']';
  }

 private:
  template <class It>
  void assign(It first, It last) {
    resize(static_cast<int>(last - first));
    for (int i = 0; first != last; ++first, ++i) data_[i] = *first;
  }

  std::int64_t data_[kMaxRank] = {};
  int rank_ = 0;
};

using Shape = Dims;
using Strides = Dims;

// Row-major (C order) strides of a shape, in elements.
inline Strides contiguous_strides(const Shape& shape) {
  Strides s = Dims::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

// Maps a possibly negative dim into [0, rank); `op` names the caller in the error.
inline int wrap_dim(std::int64_t dim, int rank, const char* op) {
  const int r = rank == 0 ? 1 : rank;  // a scalar accepts dim 0 and -1, as in PyTorch
  LATENT_CHECK(dim >= -r && dim < r, op, ": dim ", dim, " is out of range for a tensor of rank ",
               rank, " (expected [", -r, ", ", r - 1, "])");
  return static_cast<int>(dim < 0 ? dim + r : dim);
}

// NumPy broadcasting of two shapes: align at the right; sizes must match or be 1.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = a.size() > b.size() ? a.size() : b.size();
  Shape out = Dims::filled(rank, 1);
  for (int i = 0; i < rank; ++i) {
    const int ia = a.size() - rank + i, ib = b.size() - rank + i;
    const std::int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
    LATENT_CHECK(sa == sb || sa == 1 || sb == 1, op, ": shapes ", a, " and ", b,
                 " cannot be broadcast (size ", sa, " vs ", sb, " at dim ", i, ")");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

}  // namespace latent
