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
}

TEST_CASE("memory: 1,000 training steps of every family after warm-up make no system allocation") {
  using namespace determinism_test;
  check_flat_memory("mlp", mlp_run, 1000);
  check_flat_memory("vae", vae_run, 1000);
}
