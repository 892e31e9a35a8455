// Storage<T>: one reference-counted block of elements that tensors view. Its memory comes
// from the caching allocator (core/allocator.hpp), 64-byte aligned.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../core/allocator.hpp"

namespace latent {

template <class T>
class Storage {
  static_assert(std::is_trivially_copyable<T>::value, "Storage holds plain element types");

 public:
  explicit Storage(std::int64_t size)
      : size_(size), data_(static_cast<T*>(allocate_bytes(bytes()))) {}
  ~Storage() { free_bytes(data_, bytes()); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::int64_t size() const { return size_; }

 private:
  std::size_t bytes() const { return static_cast<std::size_t>(size_) * sizeof(T); }
  std::int64_t size_;
  T* data_;
};

}  // namespace latent
