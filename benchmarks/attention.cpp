// Attention: the blocked kernel behind scaled_dot_product_attention against the composite
// of ops it replaces (matmul, masked_fill, softmax, matmul), on float32, one thread:
//
//   attention/<path>/<pass>/<B>/<H>/<L>/<d>/causal:<0|1>
//       path: flash (scaled_dot_product_attention, the kernel) or composite;
//       pass: fwd (no grad) or fwdbwd (forward, then backward of a fixed gradient)
//   attention_decode/<path>/<S>   one new query per head (B = 1, H = 4, d = 32) against a
//       cache of S keys and values, as in gpt_generate
//
// Shapes: gpt_step's attention (B = 12, H = 4, L = S = 64, d = 32), gpt_generate's block
// (B = 2, H = 4, L = S = 256, d = 64) and a long sequence (B = 1, H = 4, L = S = 1024, d = 64).
#include <cmath>
#include <cstdint>
#include <limits>

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>

namespace attention_bench {

using latent::Tensor;

// What scaled_dot_product_attention computed before the kernel: every op materialised.
inline Tensor<float> composite(const Tensor<float>& q, const Tensor<float>& k, const Tensor<float>& v, bool causal) {
  const float scale = 1.0f / std::sqrt(float(q.size(-1)));
  Tensor<float> scores = latent::matmul(q, k.transpose(-2, -1)) * scale;
  if (causal)
    scores = latent::masked_fill(scores, latent::detail::triangle_mask(q.size(-2), k.size(-2), 1, false),
                                 -std::numeric_limits<float>::infinity());
  return latent::matmul(latent::nn::functional::softmax(scores, -1), v);
}

inline Tensor<float> flash(const Tensor<float>& q, const Tensor<float>& k, const Tensor<float>& v, bool causal) {
  return latent::nn::functional::scaled_dot_product_attention(q, k, v, Tensor<float>(), 0.0, causal);
}

template <bool Flash, bool Backward>
void run(benchmark::State& state) {
  latent::set_num_threads(1);
  const std::int64_t b = state.range(0), h = state.range(1), l = state.range(2), d = state.range(3);
  const bool causal = state.range(4) != 0;
  latent::Generator gen(1);
  const Tensor<float> q = latent::randn<float>({b, h, l, d}, gen).requires_grad_(Backward);
  const Tensor<float> k = latent::randn<float>({b, h, l, d}, gen).requires_grad_(Backward);
  const Tensor<float> v = latent::randn<float>({b, h, l, d}, gen).requires_grad_(Backward);
  const Tensor<float> g = latent::randn<float>({b, h, l, d}, gen);
  for (auto _ : state) {
    if constexpr (Backward) {
      const Tensor<float> out = Flash ? flash(q, k, v, causal) : composite(q, k, v, causal);
      out.backward(g);
      benchmark::DoNotOptimize(q.grad().data());
      q.zero_grad(), k.zero_grad(), v.zero_grad();
    } else {
      latent::NoGradGuard no_grad;
      const Tensor<float> out = Flash ? flash(q, k, v, causal) : composite(q, k, v, causal);
      benchmark::DoNotOptimize(out.data());
    }
  }
  // Multiply-adds of the two products (the causal triangle not discounted).
  state.counters["gflops"] = benchmark::Counter(double(state.iterations()) * 4.0 * double(b * h) * double(l * l * d),
                                                benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

void shapes(benchmark::internal::Benchmark* bench) {
  bench->ArgNames({"B", "H", "L", "d", "causal"});
  bench->Args({12, 4, 64, 32, 1});
  bench->Args({12, 4, 64, 32, 0});
  bench->Args({2, 4, 256, 64, 1});
  bench->Args({2, 4, 256, 64, 0});
  bench->Args({1, 4, 1024, 64, 1});
  bench->Args({1, 4, 1024, 64, 0});
  bench->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(run, true, false)->Name("attention/flash/fwd")->Apply(shapes);
BENCHMARK_TEMPLATE(run, false, false)->Name("attention/composite/fwd")->Apply(shapes);
BENCHMARK_TEMPLATE(run, true, true)->Name("attention/flash/fwdbwd")->Apply(shapes);
BENCHMARK_TEMPLATE(run, false, true)->Name("attention/composite/fwdbwd")->Apply(shapes);

// One decoding step of one layer: the query [1, 4, 1, 32] against a cache of S positions.
// kernel: kernels::attention_decode on the cache buffers; flash / composite: the tensor
// paths (the cache a view of a buffer with room, as KVCache keeps it).
template <int Path>
void decode(benchmark::State& state) {
  latent::set_num_threads(1);
  const std::int64_t s = state.range(0), heads = 4, d = 32, room = 256;
  latent::Generator gen(2);
  const Tensor<float> q = latent::randn<float>({1, heads, 1, d}, gen);
  const Tensor<float> k = latent::randn<float>({1, heads, room, d}, gen).narrow(2, 0, s);
  const Tensor<float> v = latent::randn<float>({1, heads, room, d}, gen).narrow(2, 0, s);
  Tensor<float> out({1, heads, 1, d});
  latent::kernels::AttentionProblem<float> p;
  p.heads = heads, p.queries = 1, p.keys = s, p.dim = d, p.value_dim = d, p.scale = 1.0f / std::sqrt(float(d));
  p.q = {q.data(), 0, d, d};
  p.k = {k.data(), 0, room * d, d};
  p.v = {v.data(), 0, room * d, d};
  latent::NoGradGuard no_grad;
  for (auto _ : state) {
    if constexpr (Path == 0) {
      latent::kernels::attention_decode(p, latent::kernels::AttentionMatrix<float>{out.data(), 0, d, d},
                                        static_cast<float*>(nullptr));
      benchmark::DoNotOptimize(out.data());
    } else {
      const Tensor<float> y = Path == 1 ? flash(q, k, v, false) : composite(q, k, v, false);
      benchmark::DoNotOptimize(y.data());
    }
  }
}

void cache_lengths(benchmark::internal::Benchmark* bench) {
  for (std::int64_t s : {16, 64, 128, 256}) bench->Arg(s);
  bench->ArgName("S");
  bench->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(decode, 0)->Name("attention_decode/kernel")->Apply(cache_lengths);
BENCHMARK_TEMPLATE(decode, 1)->Name("attention_decode/flash")->Apply(cache_lengths);
BENCHMARK_TEMPLATE(decode, 2)->Name("attention_decode/composite")->Apply(cache_lengths);

}  // namespace attention_bench
