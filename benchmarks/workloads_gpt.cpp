// The transformer workloads of anchors/WORKLOADS.md, as benchmarks/torch_workloads.py runs
// them in PyTorch, on models/gpt.hpp's GPT (pre-LayerNorm blocks, GELU(tanh), learned
// positions, output weights tied to the token embeddings, no dropout, biases on;
// N(0, 0.02) init, residual projections N(0, 0.02 / sqrt(2 n_layer))):
//
//   gpt_step      vocab 96, 4 layers, 4 heads, width 128, block 64; batch 12 x 64 random
//                 tokens and targets; mean cross-entropy; AdamW(lr 1e-3, betas (0.9, 0.999),
//                 eps 1e-8, weight decay 0.1 on matrices and embeddings only). 813,824 params
//   gpt_generate  the same model with block 256 (838,400 params), eval mode; a prompt of one
//                 token, then 255 new tokens, one cached forward pass of one token each;
//                 logits / 0.8, the top 40 kept, softmax, a multinomial draw. tokens/s.
//   gpt2_step     GPT-2 small: vocab 50257, 12 layers, 12 heads, width 768, block 1024;
//                 batch 4 x 64 tokens; AdamW(lr 1e-4, weight decay 0), as llm.c's
//                 train_gpt2.c.                                           124,439,808 params
//
// A step: zero the gradients, forward, loss, backward, optimiser update.
#include "workload_common.hpp"

#include <latent/models/gpt.hpp>
#include <latent/sample/token.hpp>

#include <cstdint>
#include <vector>

namespace gpt_workloads {

using latent::Tensor;
using latent::models::GPT;
using latent::models::GPTConfig;

// A training step of `config` on random tokens and targets [batch, seq].
void gpt_training(benchmark::State& state, int threads, const GPTConfig& config, std::int64_t expected_parameters,
                  std::int64_t batch, std::int64_t seq, double lr, double weight_decay, int warmup, int steps) {
  workload_bench::use_threads(threads);
  latent::Generator gen(0);
  GPT<float> model(config, gen);
  if (model.num_parameters() != expected_parameters)
    return state.SkipWithError("GPT: the parameter count differs from torch_workloads.py's");
  const Tensor<std::int64_t> idx = latent::randint(0, config.vocab_size, {batch, seq}, gen);
  const Tensor<std::int64_t> targets = latent::randint(0, config.vocab_size, {batch, seq}, gen);
  auto optimizer = latent::models::gpt_optimizer(model, lr, weight_decay);
  workload_bench::run_steps(state, warmup, steps, [&] {
    optimizer.zero_grad();
    Tensor<float> loss = model.loss(idx, targets);
    loss.backward();
    optimizer.step();
  });
}

void gpt_step(benchmark::State& state, int threads) {
  gpt_training(state, threads, GPTConfig{}, 813824, 12, 64, 1e-3, 0.1, 10, 100);
}

void gpt2_step(benchmark::State& state, int threads) {
  GPTConfig gpt2;
  gpt2.vocab_size = 50257;
  gpt2.block_size = 1024;
  gpt2.n_layer = 12;
  gpt2.n_head = 12;
  gpt2.n_embd = 768;
  gpt_training(state, threads, gpt2, 124439808, 4, 64, 1e-4, 0.0, 2, 5);
}

void gpt_generate(benchmark::State& state, int threads) {
  constexpr std::int64_t new_tokens = 255;
  workload_bench::use_threads(threads);
  latent::Generator gen(0);
  GPTConfig config;
  config.block_size = 256;
  GPT<float> model(config, gen);
  if (model.num_parameters() != 838400) return state.SkipWithError("gpt_generate: parameter count is not 838,400");
  model.eval();
  const latent::sample::SamplerChain sampler = latent::sample::SamplerChain().temperature(0.8).top_k(40);
  const std::vector<std::int64_t> prompt = {0};
  workload_bench::run_steps(
      state, 2, 10,
      [&] {
        const std::vector<std::int64_t> tokens = model.generate(prompt, new_tokens, sampler, gen);
        benchmark::DoNotOptimize(tokens.data());
      },
      double(new_tokens));
}

const bool registered = workload_bench::register_workload("gpt_step", gpt_step) &&
                        workload_bench::register_workload("gpt_generate", gpt_generate) &&
                        workload_bench::register_workload("gpt2_step", gpt2_step);

}  // namespace gpt_workloads
