// The diffusion workloads of anchors/WORKLOADS.md, one training step each, as
// benchmarks/torch_workloads.py runs them in PyTorch. Both train a noise predictor with
// the DDPM loss of models/ddpm.hpp (Ho et al. 2020): T = 1000, betas linear 1e-4..0.02,
//   abar_t = prod_{s <= t} (1 - beta_s)
//   t ~ U{0..999}, eps ~ N(0, I),  x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps
//   loss = MSE(model(x_t, t), eps)
//
//   ddpm_mlp_step   models/mlp_denoiser.hpp: concat(x [2], sinusoidal t-embedding [32]) ->
//                   Linear 128, SiLU, Linear 128, SiLU, Linear 128, SiLU, Linear 2; batch
//                   256 of fixed x0 ~ N(0, I)^2; Adam(1e-3).               37,762 params
//   ddpm_unet_step  the small U-Net of models/unet.hpp on 1x28x28 images x0 ~ U[-1,1);
//                   batch 32; Adam(2e-4).                                 793,697 params
//
// A step: zero the gradients, forward, loss, backward, optimiser update.
#include "workload_common.hpp"

#include <latent/models/ddpm.hpp>
#include <latent/models/mlp_denoiser.hpp>
#include <latent/models/unet.hpp>
#include <latent/optim/adam.hpp>

#include <cstdint>

namespace ddpm_workloads {

using latent::Tensor;

// Training steps of `model` on the fixed batch x0 with Adam(lr).
template <class Model>
void ddpm_training(benchmark::State& state, Model& model, const Tensor<float>& x0, latent::Generator& gen, double lr,
                   int warmup, int steps) {
  const latent::models::DDPM<float> ddpm;  // the workload's schedule: 1000 linear betas, eps prediction
  const latent::models::Denoiser<float> denoiser = latent::models::as_denoiser<float>(model);
  latent::optim::Adam<float> optimizer(model.parameters(), latent::optim::AdamOptions().lr(lr));
  workload_bench::run_steps(state, warmup, steps, [&] {
    optimizer.zero_grad();
    Tensor<float> loss = ddpm.loss(denoiser, x0, gen);  // draws t, then eps, from gen
    loss.backward();
    optimizer.step();
  });
}

void ddpm_mlp_step(benchmark::State& state, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(0);
  latent::models::MLPDenoiser<float> model(gen);
  if (model.num_parameters() != 37762) return state.SkipWithError("ddpm_mlp_step: parameter count is not 37,762");
  const Tensor<float> x0 = latent::randn<float>({256, 2}, gen);
  ddpm_training(state, model, x0, gen, 1e-3, 20, 300);
}

void ddpm_unet_step(benchmark::State& state, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(0);
  latent::models::UNet<float> model(gen);
  if (model.num_parameters() != 793697) return state.SkipWithError("ddpm_unet_step: parameter count is not 793,697");
  const Tensor<float> x0 = latent::rand<float>({32, 1, 28, 28}, gen, -1.0f, 1.0f);
  ddpm_training(state, model, x0, gen, 2e-4, 3, 20);
}

const bool registered = workload_bench::register_workload("ddpm_mlp_step", ddpm_mlp_step) &&
                        workload_bench::register_workload("ddpm_unet_step", ddpm_unet_step);

}  // namespace ddpm_workloads
