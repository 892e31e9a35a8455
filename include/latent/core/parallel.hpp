// parallel_for: the one way the library runs a loop on several threads.
//
// The range [begin, end) is cut into fixed chunks of `grain` items (the last one may be
// shorter) and fn(chunk_begin, chunk_end) is called once per chunk. The chunks depend only
// on the range and the grain, never on the thread count, so a loop whose chunks each write
// their own results is bitwise identical on 1 or N threads. Without OpenMP (or with
// LATENT_NO_OPENMP) the chunks run in order on the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>

#include "config.hpp"
#include "error.hpp"

#if LATENT_HAS_OPENMP
#include <omp.h>
#endif

namespace latent {

namespace detail {
inline int& thread_count_slot() {
#if LATENT_HAS_OPENMP
  static int count = omp_get_max_threads();
#else
  static int count = 1;
#endif
  return count;
}
}  // namespace detail

// Threads used by the library's parallel loops (1 without OpenMP).
inline int get_num_threads() { return detail::thread_count_slot(); }

// Sets the threads for the library's loops; n >= 1. Without OpenMP it stays 1.
inline void set_num_threads(int n) {
  LATENT_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
#if LATENT_HAS_OPENMP
  detail::thread_count_slot() = n;
#endif
}

// True inside a parallel_for worker (nested loops then run serially).
inline bool in_parallel_region() {
#if LATENT_HAS_OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

template <class Fn>
inline void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, Fn&& fn) {
  if (end <= begin) return;
  if (grain < 1) grain = 1;
  const std::int64_t chunks = (end - begin + grain - 1) / grain;
#if LATENT_HAS_OPENMP
  const int threads = static_cast<int>(std::min<std::int64_t>(get_num_threads(), chunks));
  if (threads > 1 && !in_parallel_region()) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::int64_t b = begin + c * grain;
      fn(b, std::min(end, b + grain));
    }
    return;
  }
#endif
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t b = begin + c * grain;
    fn(b, std::min(end, b + grain));
  }
}

}  // namespace latent
