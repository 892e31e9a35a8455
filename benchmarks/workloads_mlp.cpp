// The multilayer-perceptron workloads of anchors/WORKLOADS.md, one training step each,
// as benchmarks/torch_workloads.py runs them in PyTorch:
//
//   mlp_step   MLP 784-256-256-10, ReLU; batch 64 of x ~ U[0,1)^784, labels in [0, 10);
//              cross-entropy; Adam(lr 1e-3).                               269,322 params
//   vae_step   encoder 784-400 ReLU, heads 400-20 (mu), 400-20 (logvar); z = mu +
//              exp(logvar / 2) eps; decoder 20-400 ReLU-784 (logits); batch 128 of
//              x ~ U[0,1)^784; loss = (sum BCE-with-logits + sum KL(q || N(0, I))) / batch;
//              Adam(1e-3).                                                 652,824 params
//
// A step: zero the gradients, forward, loss, backward, optimiser update.
#include "workload_common.hpp"

#include <latent/models/mlp.hpp>
#include <latent/models/vae.hpp>
#include <latent/nn/functional/cross_entropy.hpp>
#include <latent/nn/functional/loss.hpp>
#include <latent/optim/adam.hpp>

#include <cstdint>

namespace mlp_workloads {

using latent::Tensor;
namespace F = latent::nn::functional;

void mlp_step(benchmark::State& state, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(0);
  latent::models::MLP<float> model({784, 256, 256, 10}, gen);
  if (model.num_parameters() != 269322) return state.SkipWithError("mlp_step: parameter count is not 269,322");
  const Tensor<float> x = latent::rand<float>({64, 784}, gen);
  const Tensor<std::int64_t> y = latent::randint(0, 10, {64}, gen);
  latent::optim::Adam<float> optimizer(model.parameters(), latent::optim::AdamOptions().lr(1e-3));
  workload_bench::run_steps(state, 20, 300, [&] {
    optimizer.zero_grad();
    Tensor<float> loss = F::cross_entropy(model.forward(x), y);
    loss.backward();
    optimizer.step();
  });
}

void vae_step(benchmark::State& state, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(0);
  latent::models::VAE<float> model(latent::models::VAEConfig{}, gen);
  if (model.num_parameters() != 652824) return state.SkipWithError("vae_step: parameter count is not 652,824");
  const Tensor<float> x = latent::rand<float>({128, 784}, gen);
  latent::optim::Adam<float> optimizer(model.parameters(), latent::optim::AdamOptions().lr(1e-3));
  const float batch = 128;
  workload_bench::run_steps(state, 20, 200, [&] {
    optimizer.zero_grad();
    const latent::models::VAEOutput<float> out = model.forward(x, gen);  // z drawn from gen
    const Tensor<float> reconstruction =
        F::binary_cross_entropy_with_logits(out.logits, x, Tensor<float>(), F::Reduction::Sum);
    Tensor<float> loss = (reconstruction + F::kl_normal(out.mu, out.logvar, F::Reduction::Sum)) / batch;
    loss.backward();
    optimizer.step();
  });
}

const bool registered = workload_bench::register_workload("mlp_step", mlp_step) &&
                        workload_bench::register_workload("vae_step", vae_step);

}  // namespace mlp_workloads
