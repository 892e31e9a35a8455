// The GAN workload of anchors/WORKLOADS.md, one training step, as
// benchmarks/torch_workloads.py runs it in PyTorch:
//
//   dcgan_step  G: Linear(100, 6272), BatchNorm1d, ReLU, view [128, 7, 7],
//               ConvTranspose2d(128, 64, 4, 2, 1), BatchNorm2d, ReLU,
//               ConvTranspose2d(64, 1, 4, 2, 1), Tanh.
//               D: Conv2d(1, 64, 4, 2, 1), LeakyReLU(0.2), Conv2d(64, 128, 4, 2, 1),
//               BatchNorm2d, LeakyReLU(0.2), flatten, Linear(6272, 1).
//               Batch 64, real images ~ U[-1,1)^(1x28x28), z ~ N(0, I)^100 drawn each step;
//               BCE-with-logits; Adam(2e-4, betas (0.5, 0.999)) for each network.
//               G 778,305 + D 138,817 = 917,122 params
//
// One step, as in PyTorch's DCGAN example: fake = G(z); a D update on
// BCE(D(real), 1) + BCE(D(fake.detach()), 0); then a G update on BCE(D(fake), 1) through
// the D just updated (both networks in training mode: batch statistics). The networks and
// the step are models/dcgan.hpp's (DCGANGenerator, DCGANDiscriminator, dcgan_step); its
// updates take the gradients of the optimiser's own parameters only (the G update computes
// no gradient for D's weights, which PyTorch's loss.backward() does and then discards).
#include "workload_common.hpp"

#include <latent/models/dcgan.hpp>
#include <latent/optim/adam.hpp>

namespace gan_workloads {

using latent::Tensor;

void dcgan_step(benchmark::State& state, int threads) {
  workload_bench::use_threads(threads);
  latent::Generator gen(0);
  const latent::models::DCGANConfig config;  // the workload's: n_z 100, widths 128 / 64, 1x28x28
  latent::models::DCGANGenerator<float> G(config, gen);
  latent::models::DCGANDiscriminator<float> D(config, gen);
  if (G.num_parameters() + D.num_parameters() != 917122)
    return state.SkipWithError("dcgan_step: parameter count is not 917,122");
  const Tensor<float> real = latent::rand<float>({64, 1, 28, 28}, gen, -1.0f, 1.0f);
  const auto options = latent::optim::AdamOptions().lr(2e-4).betas(0.5, 0.999);
  latent::optim::Adam<float> opt_g(G.parameters(), options), opt_d(D.parameters(), options);
  workload_bench::run_steps(state, 5, 60, [&] {
    // Each update sets its parameters' gradients afresh (zero_grad's set_to_none).
    latent::models::dcgan_step(G, D, opt_g, opt_d, real, latent::randn<float>({64, 100}, gen));
  });
}

const bool registered = workload_bench::register_workload("dcgan_step", dcgan_step);

}  // namespace gan_workloads
