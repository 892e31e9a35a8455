// GEMM throughput: gemm/<M>/<K>/<N>/threads:<n> for square sizes and the shapes training
// runs hit (an MLP on 28x28 images, a transformer block), all row-major float32,
// C = A @ B; then the matrix-vector products of decoding one token (M = 1), both as
// gemm/... and as gemm_linear/... (C = A @ W^T with W [N, K] row-major, as nn::Linear
// multiplies), and the training shapes and 16 rows as gemm_linear/... too; and
// packing alone, gemm_pack/<operand layout>/<rows>/<columns> with an ns_per_value counter
// (a k x n panel of B, an m x k block of A, as one K slice of the 64/784/256 product packs
// them). With LATENT_BENCH_HAVE_OPENBLAS the same products through cblas_sgemm, as
// openblas_gemm/... and openblas_gemm_linear/..., for comparison. The gflops counter is
// 2 M N K per second: of the thread's CPU time on one thread, of the wall clock on more
// (timed here rather than with UseRealTime, which would append "/real_time" to the names
// compare.py looks for).
#include <benchmark/benchmark.h>

#include <latent/core/parallel.hpp>
#include <latent/kernels/gemm.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#if defined(LATENT_BENCH_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace gemm_bench {

struct Shape {
  std::int64_t M, K, N;
};

// Square sizes, then (batch x 784) @ (784 x 256), (tokens x 128) @ (128 x 512) and
// (tokens x 512) @ (512 x 128).
const Shape shapes[] = {{64, 64, 64},   {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
                        {64, 784, 256}, {768, 128, 512}, {768, 512, 128}};

// One token through a transformer block's MLP (128 -> 512 -> 128) and a GPT-2 projection.
const Shape vector_shapes[] = {{1, 128, 512}, {1, 512, 128}, {1, 768, 768}};

// Through a Linear layer too (B = W^T): the training shapes, 16 tokens (past the
// matrix-vector path, which takes up to 8 rows) and 512^3.
const Shape linear_shapes[] = {{64, 784, 256}, {768, 128, 512}, {768, 512, 128},
                               {16, 128, 512},  {16, 768, 768},  {512, 512, 512}};

// Operands with values in [-1, 1), C filled too (beta = 0 does not read it).
struct Operands {
  std::vector<float> a, b, c;
  explicit Operands(const Shape& s)
      : a(static_cast<std::size_t>(s.M * s.K)),
        b(static_cast<std::size_t>(s.K * s.N)),
        c(static_cast<std::size_t>(s.M * s.N)) {
    std::uint32_t state = 12345;
    for (auto* v : {&a, &b, &c}) {
      for (float& x : *v) {
        state = state * 1664525u + 1013904223u;
        x = static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
      }
    }
  }
};

// One thread: a rate over the thread's CPU time (Google Benchmark's own clock). More
// threads: over `wall_seconds`, the wall-clock time of the whole timed loop.
void set_flops_counter(benchmark::State& state, const Shape& s, int threads, double wall_seconds) {
  const double flops = 2.0 * static_cast<double>(s.M) * static_cast<double>(s.N) *
                       static_cast<double>(s.K);
  if (threads == 1) {
    state.counters["gflops"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  } else if (wall_seconds > 0) {
    state.counters["gflops"] = flops * 1e-9 * static_cast<double>(state.iterations()) / wall_seconds;
  }
}

using WallClock = std::chrono::steady_clock;
double seconds_since(WallClock::time_point start) {
  return std::chrono::duration<double>(WallClock::now() - start).count();
}

// How B is laid out: row-major [K, N], or W^T for a row-major W [N, K].
enum class BLayout { row_major, transposed };

void latent_gemm(benchmark::State& state, Shape s, int threads, BLayout layout) {
  Operands x(s);
  const int saved = latent::get_num_threads();
  latent::set_num_threads(threads);
  const std::int64_t b_row_stride = layout == BLayout::row_major ? s.N : 1;
  const std::int64_t b_col_stride = layout == BLayout::row_major ? 1 : s.K;
  const WallClock::time_point start = WallClock::now();
  for (auto _ : state) {
    latent::kernels::gemm<float>(s.M, s.N, s.K, 1.0f, x.a.data(), s.K, 1, x.b.data(),
                                 b_row_stride, b_col_stride, 0.0f, x.c.data(), s.N, 1);
    benchmark::DoNotOptimize(x.c.data());
    benchmark::ClobberMemory();
  }
  const double wall = seconds_since(start);
  latent::set_num_threads(saved);
  set_flops_counter(state, s, threads, wall);
  state.SetLabel(LATENT_SIMD_NAME);
}

#if defined(LATENT_BENCH_HAVE_OPENBLAS)
void openblas_gemm(benchmark::State& state, Shape s, int threads, BLayout layout) {
  Operands x(s);
  openblas_set_num_threads(threads);
  const bool row_major = layout == BLayout::row_major;
  const WallClock::time_point start = WallClock::now();
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, row_major ? CblasNoTrans : CblasTrans,
                static_cast<int>(s.M), static_cast<int>(s.N), static_cast<int>(s.K), 1.0f,
                x.a.data(), static_cast<int>(s.K), x.b.data(),
                static_cast<int>(row_major ? s.N : s.K), 0.0f, x.c.data(),
                static_cast<int>(s.N));
    benchmark::DoNotOptimize(x.c.data());
    benchmark::ClobberMemory();
  }
  set_flops_counter(state, s, threads, seconds_since(start));
}
#endif

std::string shape_name(const char* prefix, const Shape& s, int threads) {
  return std::string(prefix) + "/" + std::to_string(s.M) + "/" + std::to_string(s.K) + "/" +
         std::to_string(s.N) + "/threads:" + std::to_string(threads);
}

// Ours and OpenBLAS side by side, shape by shape, so both see the same machine load.
// One-thread rates are per second of the thread's CPU time, which a busy machine does not
// inflate; two-thread rates are per second of wall-clock time, the only fair measure there.
void register_shape(const char* name, const Shape& s, BLayout layout) {
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(shape_name(name, s, threads).c_str(), latent_gemm, s, threads,
                                 layout);
#if defined(LATENT_BENCH_HAVE_OPENBLAS)
    benchmark::RegisterBenchmark(shape_name((std::string("openblas_") + name).c_str(), s, threads)
                                     .c_str(),
                                 openblas_gemm, s, threads, layout);
#endif
  }
}

// Packing alone, on one thread: an operand of rows x columns, as gemm sees it, read
// through its strides and packed as a panel of B (k = rows, NR-column slivers) or as a block
// of A (k = columns, MR-row slivers).
struct PackCase {
  const char* name;
  bool is_b;
  std::int64_t rows, columns, row_stride, col_stride;
};

void latent_pack(benchmark::State& state, PackCase c) {
  namespace detail = latent::kernels::gemm_detail;
  using Gemm = detail::NativeGemm<float>;
  std::vector<float> operand(
      static_cast<std::size_t>((c.rows - 1) * c.row_stride + (c.columns - 1) * c.col_stride + 1));
  for (std::size_t i = 0; i < operand.size(); ++i) operand[i] = static_cast<float>(i % 1000);
  const std::int64_t width = c.is_b ? Gemm::nr : Gemm::mr;
  const std::int64_t lines = c.is_b ? c.columns : c.rows;
  const std::int64_t k = c.is_b ? c.rows : c.columns;
  std::vector<float> packed(static_cast<std::size_t>((lines + width - 1) / width * width * k));
  for (auto _ : state) {
    if (c.is_b) {
      detail::pack_b<Gemm::nr>(k, lines, operand.data(), c.row_stride, c.col_stride,
                               packed.data());
    } else {
      detail::pack_a<Gemm::mr>(lines, k, operand.data(), c.row_stride, c.col_stride,
                               packed.data());
    }
    benchmark::DoNotOptimize(packed.data());
    benchmark::ClobberMemory();
  }
  const double values = static_cast<double>(c.rows) * static_cast<double>(c.columns);
  state.counters["ns_per_value"] = benchmark::Counter(
      values * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetLabel(LATENT_SIMD_NAME);
}

// One K slice (196 of 784) of the MLP's first layer, x [64, 784] @ W^T, W [256, 784]:
// B = W^T (contiguous columns) or a row-major B of the same size, and a block of 144 rows
// of A, row-major or transposed, all in buffers with rows of 784 values.
const PackCase pack_cases[] = {{"b_transposed", true, 196, 256, 1, 784},
                               {"b_row_major", true, 196, 256, 784, 1},
                               {"a_row_major", false, 144, 196, 784, 1},
                               {"a_transposed", false, 144, 196, 1, 784}};

bool register_all() {
  for (const Shape& s : shapes) register_shape("gemm", s, BLayout::row_major);
  for (const Shape& s : vector_shapes) register_shape("gemm", s, BLayout::row_major);
  for (const Shape& s : vector_shapes) register_shape("gemm_linear", s, BLayout::transposed);
  for (const Shape& s : linear_shapes) register_shape("gemm_linear", s, BLayout::transposed);
  for (const PackCase& c : pack_cases) {
    const std::string name = std::string("gemm_pack/") + c.name + "/" + std::to_string(c.rows) +
                             "/" + std::to_string(c.columns);
    benchmark::RegisterBenchmark(name.c_str(), latent_pack, c);
  }
  return true;
}

const bool registered = register_all();

}  // namespace gemm_bench
