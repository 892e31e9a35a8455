// Storage memory: 64-byte aligned blocks from a caching allocator.
//
// Fresh pages from the operating system are expensive (on the VMs we test on, the first
// touch of a 4 KiB page costs ~12 us), and a training step frees and requests the same
// sizes over and over. So freed blocks are kept in per-size-class free lists and handed
// out again: in steady state a step asks the system for no new memory. Size classes are
// 64-byte multiples up to 4 KiB, then eight classes per power of two (at most 12.5% waste).
// The cache is bounded (set_cache_limit) and can be emptied (empty_cache). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "error.hpp"

namespace latent {

constexpr std::size_t kAlignment = 64;

namespace detail {

// Rounds a request up to its size class.
inline std::size_t size_class(std::size_t bytes) {
  if (bytes <= 4096) return (bytes + 63) / 64 * 64;
  int top = 63;
  while (!(bytes >> top)) --top;                 // bytes in [2^top, 2^(top+1))
  const std::size_t step = std::size_t(1) << (top - 3);  // eight classes per power of two
  return (bytes + step - 1) / step * step;
}

// The free list of a size class, numbered in increasing size: 0..63 for the 64-byte steps
// up to 4 KiB; above, a class in [2^top, 2^(top+1)) is m * 2^(top - 3) with m in [8, 16),
// and its number is 64 + 8 (top - 12) + (m - 8).
inline std::size_t class_index(std::size_t cls) {
  if (cls <= 4096) return cls / 64 - 1;
  int top = 63;
  while (!(cls >> top)) --top;  // cls in [2^top, 2^(top+1))
  return 64 + std::size_t(top - 12) * 8 + ((cls >> (top - 3)) - 8);
}

inline void* system_alloc(std::size_t bytes) {
  void* p = nullptr;
#if defined(_WIN32)
  p = _aligned_malloc(bytes, kAlignment);
#else
  if (posix_memalign(&p, kAlignment, bytes) != 0) p = nullptr;
#endif
  LATENT_CHECK(p != nullptr, "allocator: out of memory requesting ", bytes, " bytes");
  return p;
}

inline void system_free(void* p) {
#if defined(_WIN32)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

class CachingAllocator {
 public:
  void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const std::size_t cls = size_class(bytes);
    const std::size_t index = class_index(cls);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (index < free_.size() && !free_[index].empty()) {
        void* p = free_[index].back();
        free_[index].pop_back();
        cached_bytes_ -= cls;
        return p;
      }
      ++system_requests_;
    }
    return system_alloc(cls);
  }

  void deallocate(void* p, std::size_t bytes) {
    if (!p) return;
    const std::size_t cls = size_class(bytes);
    const std::size_t index = class_index(cls);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + cls <= limit_) {
        if (index >= free_.size()) free_.resize(index + 1);
        free_[index].push_back(p);
        cached_bytes_ += cls;
        return;
      }
    }
    system_free(p);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::vector<void*>& list : free_)
      for (void* p : list) system_free(p);
    free_.clear();
    cached_bytes_ = 0;
  }

  void set_limit(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
    }
    if (cached_bytes() > bytes) empty_cache();
  }

  std::size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }
  std::uint64_t system_requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return system_requests_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::vector<void*>> free_;  // free blocks by class_index
  std::size_t cached_bytes_ = 0;
  std::size_t limit_ = std::size_t(4) << 30;  // 4 GiB unless set otherwise
  std::uint64_t system_requests_ = 0;
};

// Created on first use (thread-safe) and never destroyed, so tensors that outlive main()
// (in user statics) can still give their memory back; the cached blocks stay reachable.
inline CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator();
  return *instance;
}

}  // namespace detail

// 64-byte aligned memory of at least `bytes` bytes (nullptr for 0), from the cache.
inline void* allocate_bytes(std::size_t bytes) { return detail::allocator().allocate(bytes); }
// Returns a block from allocate_bytes(bytes) to the cache.
inline void free_bytes(void* p, std::size_t bytes) { detail::allocator().deallocate(p, bytes); }

// Frees every cached block back to the system.
inline void empty_cache() { detail::allocator().empty_cache(); }
// Caps the bytes the cache may hold (freed blocks beyond it go back to the system).
inline void set_cache_limit(std::size_t bytes) { detail::allocator().set_limit(bytes); }
// Bytes held in the cache now, and how many times the cache has asked the system.
inline std::size_t cached_bytes() { return detail::allocator().cached_bytes(); }
inline std::uint64_t system_allocations() { return detail::allocator().system_requests(); }

}  // namespace latent
