// What the workload benchmarks (benchmarks/workloads_*.cpp) share: thread setup, timing
// steps one by one, and the counters compare.py reads.
//
// Each workload of anchors/WORKLOADS.md is one benchmark, "<workload>/threads:<n>" for
// n = 1 and 2, timed as benchmarks/torch_workloads.py times its PyTorch twin: `warmup`
// untimed steps, then `steps` timed steps one by one (wall clock around each); the figure
// is the median, with the fastest and the slowest beside it:
//
//   ms_per_step      median milliseconds per step (min: ms_min, max: ms_max)
//   tokens_per_s     tokens per step / median seconds per step (generation workloads)
//   cpu_ms_per_step  median CPU time of the process per step (all its threads), ms: on a
//                    busy machine a better guide than the wall clock to a quiet one
//   steps            how many timed steps the figures summarise
//   peak_rss_mb      the process's peak resident memory (getrusage), MiB; meaningful
//                    when one benchmark runs per process (compare.py does that)
//   page_faults_per_step  minor page faults of the process per timed step (getrusage):
//                    0 once the caching allocator holds every buffer a step needs
//
// LATENT_BENCH_STEPS and LATENT_BENCH_WARMUP, when set, replace every workload's counts
// (for a quick run: LATENT_BENCH_STEPS=3 LATENT_BENCH_WARMUP=1).
#pragma once

#include <benchmark/benchmark.h>

#include <latent/core/config.hpp>
#include <latent/core/parallel.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#endif
#if LATENT_HAS_OPENMP
#include <omp.h>
#endif

namespace workload_bench {

// The process's peak resident set size so far, in MiB (0 where getrusage is missing).
// Linux reports ru_maxrss in KiB, macOS in bytes.
inline double peak_rss_mb() {
#if defined(__unix__) || defined(__APPLE__)
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
#if defined(__APPLE__)
  return static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);
#else
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
#endif
#else
  return 0.0;
#endif
}

// Minor page faults of the process so far (first touches of fresh pages; 0 where
// getrusage is missing).
inline double minor_page_faults() {
#if defined(__unix__) || defined(__APPLE__)
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  return static_cast<double>(usage.ru_minflt);
#else
  return 0.0;
#endif
}

// A positive integer from the environment, or `fallback` when unset or not a number.
inline int count_from_env(const char* variable, int fallback) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  return (*end == '\0' && value >= 0 && value < 1000000) ? static_cast<int>(value) : fallback;
}

// The library's loops, and any other OpenMP region of the process, on `threads` threads.
inline void use_threads(int threads) {
  latent::set_num_threads(threads);
#if LATENT_HAS_OPENMP
  omp_set_num_threads(threads);
#endif
}

// The median as Python's statistics.median takes it: the mean of the middle two when even.
inline double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Runs `warmup` untimed calls of step(), then `steps` timed calls, one by one, and sets
// the counters above (LATENT_BENCH_WARMUP and LATENT_BENCH_STEPS override the counts).
// tokens_per_step > 0 adds tokens_per_s (tokens / median seconds).
//
// One benchmark iteration is the whole timed run of `steps` steps, so that a run of
// latent-bench with a tiny --benchmark_min_time (as compare.py runs it) times exactly the
// steps torch_workloads.py times, and the names stay "<workload>/threads:<n>" (a fixed
// iteration count or real-time flag would append "/iterations:..", "/real_time"). Google
// Benchmark's own Time column is then the time of a whole run; the counters are per step.
// Without that flag Google Benchmark may repeat the run until 0.5 s of CPU time have
// passed: every step of the last call counts.
template <class Step>
void run_steps(benchmark::State& state, int warmup, int steps, Step&& step, double tokens_per_step = 0) {
  warmup = count_from_env("LATENT_BENCH_WARMUP", warmup);
  steps = std::max(1, count_from_env("LATENT_BENCH_STEPS", steps));
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> seconds, cpu_seconds;
  const double faults_before = minor_page_faults();
  for (auto _ : state) {
    for (int i = 0; i < steps; ++i) {
      const std::clock_t cpu_start = std::clock();  // CPU time of the whole process
      const auto start = std::chrono::steady_clock::now();
      step();
      const auto stop = std::chrono::steady_clock::now();
      const std::clock_t cpu_stop = std::clock();
      seconds.push_back(std::chrono::duration<double>(stop - start).count());
      cpu_seconds.push_back(static_cast<double>(cpu_stop - cpu_start) / CLOCKS_PER_SEC);
    }
  }
  if (seconds.empty()) return;
  const double median = median_of(seconds);
  state.counters["ms_per_step"] = 1e3 * median;
  state.counters["ms_min"] = 1e3 * *std::min_element(seconds.begin(), seconds.end());
  state.counters["ms_max"] = 1e3 * *std::max_element(seconds.begin(), seconds.end());
  state.counters["cpu_ms_per_step"] = 1e3 * median_of(cpu_seconds);
  state.counters["steps"] = static_cast<double>(seconds.size());
  if (tokens_per_step > 0) state.counters["tokens_per_s"] = tokens_per_step / median;
  state.counters["peak_rss_mb"] = peak_rss_mb();
  state.counters["page_faults_per_step"] = (minor_page_faults() - faults_before) / static_cast<double>(seconds.size());
  state.SetLabel(LATENT_SIMD_NAME);
}

// The build, in the JSON output's "context" (compare.py writes it into RESULTS.md): the
// compiler, the SIMD path and whether OpenMP is on. Added once per process.
inline void add_build_context() {
  static const bool added = [] {
#if defined(__clang__)
    benchmark::AddCustomContext("latent_compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
    benchmark::AddCustomContext("latent_compiler", std::string("g++ ") + __VERSION__);
#endif
    benchmark::AddCustomContext("latent_simd", LATENT_SIMD_NAME);
    benchmark::AddCustomContext("latent_openmp", LATENT_HAS_OPENMP ? "yes" : "no");
#if defined(NDEBUG)
    benchmark::AddCustomContext("latent_ndebug", "yes");
#else
    benchmark::AddCustomContext("latent_ndebug", "no");
#endif
    return true;
  }();
  (void)added;
}

// Registers fn(state, threads) as "<name>/threads:1" and "<name>/threads:2". Returns true,
// so that a file can register its workloads in the initialiser of a namespace constant.
template <class Fn>
bool register_workload(const std::string& name, Fn fn) {
  add_build_context();
  for (int threads : {1, 2}) {
    const std::string full = name + "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(full.c_str(), [fn, threads](benchmark::State& state) { fn(state, threads); })
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}

}  // namespace workload_bench
