// The fused row kernels and the convolutions of the workloads, float32, at 1 and 2 threads:
//
//   softmax/<rows>/<cols>/threads:<n>      softmax along the last dim, forward
//   layer_norm/<rows>/<cols>/threads:<n>   layer norm over the last dim (weight and bias),
//                                          forward and backward of a fixed gradient
//   conv/<layer>/<pass>/threads:<n>        one convolution layer of dcgan_step or
//                                          ddpm_unet_step at its batch size; pass: fwd (no
//                                          grad) or fwdbwd (forward, then the gradients of
//                                          input, weight and bias); counter gflops
//
// Rows: gpt_step's attention scores (12 x 4 x 64 rows of 64) and logits (768 rows of 96),
// gpt2_step's activations (256 rows of 768).
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>

#include "workload_common.hpp"

namespace ops_bench {

using latent::Tensor;
namespace F = latent::nn::functional;

void softmax(benchmark::State& state, std::int64_t rows, std::int64_t cols, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(1);
  const Tensor<float> x = latent::randn<float>({rows, cols}, gen);
  latent::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(F::softmax(x, -1).data());
  state.SetBytesProcessed(state.iterations() * rows * cols * std::int64_t(2 * sizeof(float)));
}

void layer_norm(benchmark::State& state, std::int64_t rows, std::int64_t cols, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(2);
  const Tensor<float> x = latent::randn<float>({rows, cols}, gen).requires_grad_();
  const Tensor<float> w = latent::randn<float>({cols}, gen).requires_grad_();
  const Tensor<float> b = latent::randn<float>({cols}, gen).requires_grad_();
  const Tensor<float> g = latent::randn<float>({rows, cols}, gen);
  for (auto _ : state) {
    F::layer_norm(x, latent::Shape{cols}, w, b).backward(g);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad(), w.zero_grad(), b.zero_grad();
  }
}

// One convolution layer: conv2d, or conv_transpose2d when `transposed`.
struct ConvLayer {
  const char* name;
  std::int64_t batch, in_channels, out_channels, size, kernel, stride, padding;
  bool transposed;

  std::int64_t out_size() const {
    return transposed ? (size - 1) * stride - 2 * padding + kernel : (size + 2 * padding - kernel) / stride + 1;
  }
  // Multiply-adds of the forward pass, times two.
  double flops() const {
    const std::int64_t grid = transposed ? size : out_size();  // the side of the conv2d grid
    return 2.0 * double(batch * in_channels * out_channels * kernel * kernel) * double(grid * grid);
  }
};

const std::vector<ConvLayer>& conv_layers() {
  static const std::vector<ConvLayer> layers = {
      {"dcgan_d_conv1", 64, 1, 64, 28, 4, 2, 1, false},    {"dcgan_d_conv2", 64, 64, 128, 14, 4, 2, 1, false},
      {"dcgan_g_up1", 64, 128, 64, 7, 4, 2, 1, true},       {"dcgan_g_up2", 64, 64, 1, 14, 4, 2, 1, true},
      {"unet_3x3_32_28", 32, 32, 32, 28, 3, 1, 1, false},   {"unet_3x3_96_32_28", 32, 96, 32, 28, 3, 1, 1, false},
      {"unet_3x3_64_14", 32, 64, 64, 14, 3, 1, 1, false},   {"unet_3x3_64_7", 32, 64, 64, 7, 3, 1, 1, false},
      {"unet_down_32_28", 32, 32, 32, 28, 3, 2, 1, false},  {"unet_out_32_1_28", 32, 32, 1, 28, 3, 1, 1, false},
  };
  return layers;
}

void conv(benchmark::State& state, const ConvLayer& layer, bool backward, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(3);
  Tensor<float> x = latent::randn<float>({layer.batch, layer.in_channels, layer.size, layer.size}, gen);
  Tensor<float> w = layer.transposed
                              ? latent::randn<float>({layer.in_channels, layer.out_channels, layer.kernel, layer.kernel}, gen)
                              : latent::randn<float>({layer.out_channels, layer.in_channels, layer.kernel, layer.kernel}, gen);
  Tensor<float> b = latent::randn<float>({layer.out_channels}, gen);
  x.requires_grad_(backward), w.requires_grad_(backward), b.requires_grad_(backward);
  const auto run = [&] {
    return layer.transposed ? F::conv_transpose2d(x, w, b, layer.stride, layer.padding)
                            : F::conv2d(x, w, b, layer.stride, layer.padding);
  };
  const Tensor<float> g = latent::randn<float>({layer.batch, layer.out_channels, layer.out_size(), layer.out_size()}, gen);
  for (auto _ : state) {
    if (backward) {
      run().backward(g);
      benchmark::DoNotOptimize(w.grad().data());
      x.zero_grad(), w.zero_grad(), b.zero_grad();
    } else {
      latent::NoGradGuard no_grad;
      benchmark::DoNotOptimize(run().data());
    }
  }
  const double passes = backward ? 3.0 : 1.0;  // forward, input gradient, weight gradient
  state.counters["gflops"] = benchmark::Counter(double(state.iterations()) * passes * layer.flops(),
                                                benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

[[maybe_unused]] const bool registered = [] {
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    for (const auto& [rows, cols] : std::vector<std::pair<std::int64_t, std::int64_t>>{{3072, 64}, {768, 96}, {256, 768}}) {
      const std::string shape = std::to_string(rows) + "/" + std::to_string(cols);
      benchmark::RegisterBenchmark(("softmax/" + shape + t).c_str(), softmax, rows, cols, threads)
          ->Unit(benchmark::kMicrosecond);
    }
    for (const auto& [rows, cols] : std::vector<std::pair<std::int64_t, std::int64_t>>{{768, 128}, {256, 768}}) {
      const std::string shape = std::to_string(rows) + "/" + std::to_string(cols);
      benchmark::RegisterBenchmark(("layer_norm/" + shape + t).c_str(), layer_norm, rows, cols, threads)
          ->Unit(benchmark::kMicrosecond);
    }
    for (const ConvLayer& layer : conv_layers())
      for (bool backward : {false, true})
        benchmark::RegisterBenchmark(
            ("conv/" + std::string(layer.name) + (backward ? "/fwdbwd" : "/fwd") + t).c_str(), conv, layer, backward,
            threads)
            ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace ops_bench
