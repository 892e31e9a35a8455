// The smallest useful program: load a trained MLP from safetensors and classify one input.
// scripts/build-figures builds it with -Os and strips it to measure what latent adds to a
// binary. `infer_mlp --write FILE` saves a freshly initialised 784-256-256-10 model (so the
// program can be tried without training one); `infer_mlp FILE` loads it and prints the
// class of an all-0.5 image.
#include <latent/models/mlp.hpp>
#include <latent/nn/serialize.hpp>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  using namespace latent;
  if (argc < 2) {
    std::fprintf(stderr, "usage: infer_mlp [--write] FILE\n");
    return 2;
  }
  Generator gen(0);
  models::MLP<float> model({784, 256, 256, 10}, gen);
  if (std::strcmp(argv[1], "--write") == 0 && argc == 3) {
    nn::save_safetensors(argv[2], model);
    return 0;
  }
  nn::load_safetensors(argv[1], model);
  NoGradGuard no_grad;
  const Tensor<float> logits = model.forward(full<float>({1, 784}, 0.5f));
  std::printf("class %lld\n", static_cast<long long>(logits.argmax(1).item()));
  return 0;
}
