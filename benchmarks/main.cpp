// The entry point of latent-bench, shared by every benchmarks/*.cpp.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
