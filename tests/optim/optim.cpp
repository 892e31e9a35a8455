// Optimisers and schedules follow PyTorch's trajectories: 20 steps of each on a fixed
// float64 least-squares problem (tests/fixtures/optim/trajectories.safetensors, made by
// tools/gen_optim_fixtures.py with torch) agree to 1e-10. Plus state_dict round trips and
// gradient clipping by hand.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace optim_test {
struct Problem {
  io::SafetensorsFile file = io::load_safetensors(std::string(LATENT_SOURCE_DIR) +
                                                  "/tests/fixtures/optim/trajectories.safetensors");
  Tensor<double> x = file.get<double>("x"), y = file.get<double>("y");
  Tensor<double> w = file.get<double>("init.w").requires_grad_(true);
  Tensor<double> b = file.get<double>("init.b").requires_grad_(true);
  Tensor<double> loss() const { return square(matmul(x, w) + b - y).sum() / 5.0; }
};

using Scheduler = std::function<void(double loss)>;

// Runs 20 steps and returns the largest relative error against torch's parameters.
inline double run(const std::string& name, const std::function<std::unique_ptr<optim::Optimizer<double>>(Problem&)>& make,
                  const std::function<Scheduler(optim::Optimizer<double>&)>& schedule = nullptr) {
  Problem p;
  auto opt = make(p);
  Scheduler step_schedule = schedule ? schedule(*opt) : nullptr;
  double worst = 0;
  for (int k = 1; k <= 20; ++k) {
    opt->zero_grad();
    Tensor<double> loss = p.loss();
    loss.backward();
    opt->step();
    if (step_schedule) step_schedule(loss.item());
    for (const char* which : {"w", "b"}) {
      const Tensor<double> want = p.file.get<double>(name + "." + which + "." + std::to_string(k));
      const Tensor<double> got = std::string(which) == "w" ? p.w : p.b;
      const std::vector<double> a = got.to_vector(), e = want.to_vector();
      for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(a[i] - e[i]) / std::max(1.0, std::fabs(e[i])));
    }
  }
  return worst;
}
template <class O, class Opt>
std::function<std::unique_ptr<optim::Optimizer<double>>(Problem&)> make(Opt options) {
  return [options](Problem& p) { return std::make_unique<O>(std::vector<Tensor<double>>{p.w, p.b}, options); };
}
}  // namespace optim_test

using optim_test::make;
using optim_test::run;

TEST_CASE("every optimiser follows PyTorch's trajectory to 1e-10") {
  CHECK(run("sgd", make<optim::SGD<double>>(optim::SGDOptions().lr(0.1))) < 1e-10);
  CHECK(run("sgd_momentum", make<optim::SGD<double>>(optim::SGDOptions().lr(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01))) < 1e-10);
  CHECK(run("sgd_nesterov", make<optim::SGD<double>>(optim::SGDOptions().lr(0.05).momentum(0.8).nesterov(true))) < 1e-10);
  CHECK(run("adam", make<optim::Adam<double>>(optim::AdamOptions().lr(0.05))) < 1e-10);
  CHECK(run("adam_amsgrad_wd", make<optim::Adam<double>>(optim::AdamOptions().lr(0.02).betas(0.8, 0.99).eps(1e-6).weight_decay(0.1).amsgrad(true))) < 1e-10);
  CHECK(run("adamw", make<optim::AdamW<double>>(optim::AdamWOptions().lr(0.05).weight_decay(0.1))) < 1e-10);
  CHECK(run("rmsprop", make<optim::RMSprop<double>>(optim::RMSpropOptions().lr(0.01))) < 1e-10);
  CHECK(run("rmsprop_centered", make<optim::RMSprop<double>>(optim::RMSpropOptions().lr(0.01).alpha(0.9).eps(1e-6).weight_decay(0.05).momentum(0.5).centered(true))) < 1e-10);
  // Parameter groups with their own learning rate.
  CHECK(run("groups", [](optim_test::Problem& p) {
          using Group = optim::ParamGroup<double, optim::SGDOptions>;
          return std::make_unique<optim::SGD<double>>(std::vector<Group>{
              Group{{p.w}, optim::SGDOptions().lr(0.1).momentum(0.9)}, Group{{p.b}, optim::SGDOptions().lr(0.01).momentum(0.9)}});
        }) < 1e-10);
}

TEST_CASE("every schedule follows PyTorch's learning rates") {
  using optim_test::Scheduler;
  CHECK(run("steplr", make<optim::SGD<double>>(optim::SGDOptions().lr(0.1)), [](optim::Optimizer<double>& o) {
          auto s = std::make_shared<optim::StepLR<double>>(o, 5, 0.5);
          return Scheduler([s](double) { s->step(); });
        }) < 1e-10);
  CHECK(run("cosine", make<optim::Adam<double>>(optim::AdamOptions().lr(0.05)), [](optim::Optimizer<double>& o) {
          auto s = std::make_shared<optim::CosineAnnealingLR<double>>(o, 10, 0.001);
          return Scheduler([s](double) { s->step(); });
        }) < 1e-10);
  CHECK(run("warmup_cosine", make<optim::AdamW<double>>(optim::AdamWOptions().lr(0.05).weight_decay(0.1)),
            [](optim::Optimizer<double>& o) {
              auto s = std::make_shared<optim::WarmupCosineLR<double>>(o, 5, 20, 0.001);
              return Scheduler([s](double) { s->step(); });
            }) < 1e-10);
  CHECK(run("plateau", make<optim::SGD<double>>(optim::SGDOptions().lr(0.3)), [](optim::Optimizer<double>& o) {
          auto s = std::make_shared<optim::ReduceLROnPlateau<double>>(o, "min", 0.5, 2, 0.05);
          return Scheduler([s](double loss) { s->step(loss); });
        }) < 1e-10);
}

TEST_CASE("an optimiser's state_dict restores its moments exactly") {
  optim_test::Problem a, b;
  optim::Adam<double> opt_a({a.w, a.b}, optim::AdamOptions().lr(0.05));
  for (int k = 0; k < 3; ++k) {
    opt_a.zero_grad();
    a.loss().backward();
    opt_a.step();
  }
  {
    NoGradGuard no_grad;
    b.w.copy_(a.w);
    b.b.copy_(a.b);
  }
  optim::Adam<double> opt_b({b.w, b.b}, optim::AdamOptions().lr(0.05));
  opt_b.load_state_dict(opt_a.state_dict());
  for (auto* p : {&a, &b}) {
    optim::Adam<double>& opt = p == &a ? opt_a : opt_b;
    opt.zero_grad();
    p->loss().backward();
    opt.step();
  }
  CHECK(a.w.to_vector() == b.w.to_vector());
  CHECK(a.b.to_vector() == b.b.to_vector());
  CHECK_THROWS_AS(opt_b.load_state_dict(optim::OptimizerState<double>{}), Error);
}

TEST_CASE("gradient clipping by norm and by value") {
  Tensor<double> p = zeros<double>({2}).requires_grad_(true), q = zeros<double>({1}).requires_grad_(true);
  p.set_grad(tensor<double>({3, 4}));
  q.set_grad(tensor<double>({12}));
  const double total = optim::clip_grad_norm_<double>({p, q}, 6.5);  // norm 13 -> halved
  CHECK(total == doctest::Approx(13));
  CHECK(p.grad()(0) == doctest::Approx(1.5 * 13 / (13 + 1e-6)));
  CHECK(q.grad()(0) == doctest::Approx(6.0).epsilon(1e-6));
  CHECK(optim::clip_grad_norm_<double>({p, q}, 100.0) == doctest::Approx(6.5).epsilon(1e-6));  // no change
  optim::clip_grad_value_<double>({p, q}, 1.0);
  CHECK(q.grad()(0) == 1.0);
  CHECK(p.grad()(1) == 1.0);
  CHECK_THROWS_AS(optim::SGD<double>({zeros<double>({1})}), Error);  // not requiring grad
  CHECK_THROWS_AS(optim::SGD<double>({p}, optim::SGDOptions().nesterov(true)), Error);
}
