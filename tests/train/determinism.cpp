// Determinism and steady memory, per model family.
//
// - A few training steps at 1 thread and at 2 threads give bitwise identical parameters
//   (parallel loops split work by fixed chunks and never split a sum by thread count).
// - The same seed gives the same run twice.
// - 1,000 training steps after a warm-up make no new request to the operating system: the
//   caching allocator serves every tensor from its free lists (flat memory).
//
// Each family is a small configuration of its model with its real training step.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace determinism_test {
using namespace latent;
using T = float;

// A training run in progress: `step()` runs one step, `parameters()` lists the weights.
struct Run {
  std::function<void()> step;
  std::function<std::vector<Tensor<T>>()> parameters;
  std::shared_ptr<void> keep_alive;  // the model, optimiser and data the lambdas use
};

using Family = std::function<Run(std::uint64_t seed)>;

inline Run mlp_run(std::uint64_t seed) {
  struct State {
    Generator gen;
    models::MLP<T> model;
    optim::Adam<T> opt;
    Tensor<T> x;
    Tensor<std::int64_t> y;
    explicit State(std::uint64_t seed)
        : gen(seed), model({64, 256, 256, 10}, gen), opt(model.parameters(), optim::AdamOptions().lr(1e-3)),
          x(randn<T>({128, 64}, gen)), y(randint(0, 10, {128}, gen)) {}
  };
  auto s = std::make_shared<State>(seed);
  return {[s] {
            s->opt.zero_grad();
            nn::functional::cross_entropy(s->model.forward(s->x), s->y).backward();
            s->opt.step();
          },
          [s] { return s->model.parameters(); }, s};
}

inline Run vae_run(std::uint64_t seed) {
  struct State {
    Generator gen;
    models::VAE<T> model;
    optim::Adam<T> opt;
    Tensor<T> x;
    explicit State(std::uint64_t seed)
        : gen(seed), model(models::VAEConfig{64, 48, 8, 0}, gen), opt(model.parameters(), optim::AdamOptions().lr(1e-3)),
          x(rand<T>({32, 64}, gen)) {}
  };
  auto s = std::make_shared<State>(seed);
  return {[s] {
            s->opt.zero_grad();
            s->model.loss(s->x, s->gen).loss.backward();
            s->opt.step();
          },
          [s] { return s->model.parameters(); }, s};
}

// DCGAN at 16x16 with narrow layers: a discriminator step (non-saturating) then a
// generator step, as the dcgan_fashion example does; convolutions and batch norm.
inline Run dcgan_run(std::uint64_t seed) {
  struct State {
    Generator gen;
    models::DCGANConfig config;
    models::DCGANGenerator<T> g;
    models::DCGANDiscriminator<T> d;
    optim::Adam<T> opt_g, opt_d;
    Tensor<T> real;
    static models::DCGANConfig small() {
      models::DCGANConfig c;
      c.n_z = 16;
      c.g_width = 16;
      c.d_width = 8;
      c.image_size = 16;
      return c;
    }
    explicit State(std::uint64_t seed)
        : gen(seed), config(small()), g(config, gen), d(config, gen),
          opt_g(g.parameters(), optim::AdamOptions().lr(2e-4).betas(0.5, 0.999)),
          opt_d(d.parameters(), optim::AdamOptions().lr(2e-4).betas(0.5, 0.999)),
          real(rand<T>({16, 1, 16, 16}, gen, -1.0f, 1.0f)) {}
  };
  auto s = std::make_shared<State>(seed);
  return {[s] {
            const models::GanStepOptions options;
            auto critic = [s](const Tensor<T>& x) { return s->d.forward(x); };
            const Tensor<T> fake = s->g.sample(16, s->gen);
            models::discriminator_step(critic, s->opt_d, s->real, fake, options, s->gen);
            models::generator_step([s] { return s->g.sample(16, s->gen); }, critic, s->opt_g, options);
          },
          [s] {
            std::vector<Tensor<T>> all = s->g.parameters();
            for (const Tensor<T>& p : s->d.parameters()) all.push_back(p);
            return all;
          },
          s};
}

// A 2-layer GPT on random tokens: cross-entropy, AdamW.
inline Run gpt_run(std::uint64_t seed) {
  struct State {
    Generator gen;
    models::GPT<T> model;
    optim::AdamW<T> opt;
    Tensor<std::int64_t> idx, targets;
    static models::GPTConfig small() {
      models::GPTConfig c;
      c.vocab_size = 40;
      c.block_size = 16;
      c.n_layer = 2;
      c.n_head = 2;
      c.n_embd = 32;
      return c;
    }
    explicit State(std::uint64_t seed)
        : gen(seed), model(small(), gen), opt(model.parameters(), optim::AdamWOptions().lr(1e-3).weight_decay(0.1)),
          idx(randint(0, 40, {4, 16}, gen)), targets(randint(0, 40, {4, 16}, gen)) {}
  };
  auto s = std::make_shared<State>(seed);
  return {[s] {
            s->opt.zero_grad();
            s->model.loss(s->idx, s->targets).backward();
            s->opt.step();
          },
          [s] { return s->model.parameters(); }, s};
}

// The DDPM loss (random timesteps and noise from the run's generator) on a narrow U-Net at
// 8x8: GroupNorm, SiLU, convolutions, attention, skips.
inline Run ddpm_run(std::uint64_t seed) {
  struct State {
    Generator gen;
    models::UNet<T> model;
    models::DDPM<T> ddpm;
    optim::Adam<T> opt;
    Tensor<T> x0;
    static models::UNetConfig small() {
      models::UNetConfig c;
      c.c1 = 8;
      c.c2 = 16;
      c.t_sin_dim = 8;
      c.t_dim = 16;
      c.groups = 4;
      return c;
    }
    explicit State(std::uint64_t seed)
        : gen(seed), model(small(), gen), opt(model.parameters(), optim::AdamOptions().lr(2e-4)),
          x0(rand<T>({4, 1, 8, 8}, gen, -1.0f, 1.0f)) {}
  };
  auto s = std::make_shared<State>(seed);
  return {[s] {
            s->opt.zero_grad();
            s->ddpm.loss(models::as_denoiser<T>(s->model), s->x0, s->gen).backward();
            s->opt.step();
          },
          [s] { return s->model.parameters(); }, s};
}

// All parameters, concatenated, as raw bits.
inline std::vector<T> flat_parameters(const Run& run) {
  std::vector<T> out;
  for (const Tensor<T>& p : run.parameters()) {
    const std::vector<T> v = p.contiguous().to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

inline std::vector<T> train(const Family& family, int threads, std::uint64_t seed, int steps) {
  const int previous = get_num_threads();
  set_num_threads(threads);
  Run run = family(seed);
  for (int i = 0; i < steps; ++i) run.step();
  std::vector<T> params = flat_parameters(run);
  set_num_threads(previous);
  return params;
}

inline bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

inline void check_family(const char* name, const Family& family, int steps) {
  INFO(name);
  const std::vector<T> one = train(family, 1, 7, steps);
  const std::vector<T> two = train(family, 2, 7, steps);
  const std::vector<T> again = train(family, 2, 7, steps);
  const std::vector<T> other_seed = train(family, 1, 8, steps);
  CHECK(bitwise_equal(one, two));
  CHECK(bitwise_equal(two, again));
  CHECK_FALSE(bitwise_equal(one, other_seed));
  // Training moved the weights away from their initial values.
  CHECK_FALSE(bitwise_equal(one, train(family, 1, 7, 0)));
}

// After a warm-up, `steps` more steps ask the system for no new memory.
inline void check_flat_memory(const char* name, const Family& family, int steps) {
  INFO(name);
  Run run = family(3);
  for (int i = 0; i < 20; ++i) run.step();
  const std::uint64_t before = system_allocations();
  for (int i = 0; i < steps; ++i) run.step();
  CHECK(system_allocations() == before);
}
}  // namespace determinism_test

TEST_CASE("determinism: every family trains bitwise identically at 1 and 2 threads") {
  using namespace determinism_test;
  check_family("mlp", mlp_run, 5);
  check_family("vae", vae_run, 5);
  check_family("dcgan", dcgan_run, 3);
  check_family("gpt", gpt_run, 3);
  check_family("ddpm", ddpm_run, 3);
}

// Under AddressSanitizer (CI's sanitize stage) a step is ~20x slower: 100 steps there.
#if defined(__SANITIZE_ADDRESS__)
#define LATENT_TEST_MEMORY_STEPS 100
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LATENT_TEST_MEMORY_STEPS 100
#endif
#endif
#ifndef LATENT_TEST_MEMORY_STEPS
#define LATENT_TEST_MEMORY_STEPS 1000
#endif

TEST_CASE("memory: 1,000 training steps of every family after warm-up make no system allocation") {
  using namespace determinism_test;
  constexpr int steps = LATENT_TEST_MEMORY_STEPS;
  check_flat_memory("mlp", mlp_run, steps);
  check_flat_memory("vae", vae_run, steps);
  check_flat_memory("dcgan", dcgan_run, steps);
  check_flat_memory("gpt", gpt_run, steps);
  check_flat_memory("ddpm", ddpm_run, steps);
}
