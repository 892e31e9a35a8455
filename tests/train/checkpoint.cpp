#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <cstdio>
#include <cstring>
#include <functional>
#include <latent/latent.hpp>

#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace checkpoint_test {

using namespace latent;

// The small model of the resume test: Linear 8 -> 16, relu, Linear 16 -> 3.
template <class T>
struct Net : nn::Module<T> {
  std::shared_ptr<nn::Linear<T>> fc1, fc2;
  Net(Generator& gen, std::int64_t hidden = 16) {
    fc1 = this->register_module("fc1", std::make_shared<nn::Linear<T>>(8, hidden, gen));
    fc2 = this->register_module("fc2", std::make_shared<nn::Linear<T>>(hidden, 3, gen));
  }
  Tensor<T> forward(const Tensor<T>& x) override { return (*fc2)(relu((*fc1)(x))); }
};

// Everything a run owns; built fresh from `seed`.
template <class T>
struct Run {
  Generator gen;
  Net<T> net;
  optim::AdamW<T> opt;
  optim::WarmupCosineLR<T> sched;
  std::int64_t step = 0;
  explicit Run(std::uint64_t seed)
      : gen(seed), net(gen), opt(net.parameters(), optim::AdamWOptions().lr(1e-2)), sched(opt, 4, 20, 1e-4) {}

  // One step: a batch drawn from the generator (inputs, targets and a noise term), MSE loss.
  void train_step() {
    const Tensor<T> x = randn<T>({5, 8}, gen);
    const Tensor<T> y = randn<T>({5, 3}, gen) + T(0.1) * randn<T>({5, 3}, gen);
    opt.zero_grad();
    Tensor<T> loss = nn::functional::mse_loss(net(x), y);
    loss.backward();
    opt.step();
    sched.step();
    ++step;
  }

  train::Checkpoint<T> checkpoint() const {
    train::Checkpoint<T> ck;
    ck.add_model("model", net).add_optimizer("opt", opt).add_scheduler("sched", sched).add_generator("rng", gen);
    ck.step = step;
    ck.metadata["epoch"] = "3";
    return ck;
  }
  void restore(const train::Checkpoint<T>& ck) {
    ck.restore_model("model", net);
    ck.restore_optimizer("opt", opt);
    ck.restore_scheduler("sched", sched);
    ck.restore_generator("rng", gen);
    step = ck.step;
  }
};

template <class T>
bool bitwise_equal(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  const Tensor<T> ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data(), cb.data(), sizeof(T) * static_cast<std::size_t>(a.numel())) == 0;
}

inline std::string temp_path(const std::string& name) { return "/tmp/latent_checkpoint_test_" + name; }

template <class T>
void check_resume_is_bitwise() {
  Run<T> straight(7);
  for (int i = 0; i < 20; ++i) straight.train_step();

  const std::string path = temp_path(std::string("resume_") + (sizeof(T) == 4 ? "f32" : "f64") + ".safetensors");
  {
    Run<T> first(7);
    for (int i = 0; i < 10; ++i) first.train_step();
    first.checkpoint().save(path);
  }
  Run<T> resumed(12345);  // a different seed: everything must come from the file
  auto ck = train::Checkpoint<T>::load(path);
  CHECK(ck.step == 10);
  CHECK(ck.metadata.at("epoch") == "3");
  resumed.restore(ck);
  CHECK(resumed.sched.last_epoch() == 10);
  for (int i = 0; i < 10; ++i) resumed.train_step();

  const auto a = straight.net.named_parameters();
  const auto b = resumed.net.named_parameters();
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(bitwise_equal(a[i].second, b[i].second));
  }
  CHECK(straight.gen.get_state().offset == resumed.gen.get_state().offset);
  CHECK(straight.opt.lr() == resumed.opt.lr());
  std::remove(path.c_str());
}

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "(no error)");
}

}  // namespace checkpoint_test

TEST_CASE("checkpoint: a resumed run ends bitwise identical to an uninterrupted one") {
  SUBCASE("float") { checkpoint_test::check_resume_is_bitwise<float>(); }
  SUBCASE("double") { checkpoint_test::check_resume_is_bitwise<double>(); }
}

TEST_CASE("checkpoint: every part survives the file exactly") {
  using namespace latent;
  train::Checkpoint<double> ck;
  ck.step = std::numeric_limits<std::int64_t>::max();
  ck.metadata["note"] = "hello \"world\"\n";
  nn::StateDict<double> sd;
  sd.tensors["w"] = tensor<double>({0.1, -2.5, 1e-300, 3.0}, {2, 2});
  sd.integers["count"] = tensor<std::int64_t>({-7}, {1});
  ck.add_model("G", sd);
  optim::OptimizerState<double> os;
  os.tensors["state.0.exp_avg"] = tensor<double>({1.0 / 3.0}, {1});
  os.scalars["state.0.step"] = 123456789.0;
  os.scalars["group.0.lr"] = 0.1 + 0.2;
  ck.add_optimizer("opt", os);
  Generator g(0xFFFFFFFFFFFFFFFFull);
  g.set_state({0xFFFFFFFFFFFFFFFFull, 0x8000000000000001ull});  // beyond any double's precision
  ck.add_generator("rng", g);

  const std::vector<std::uint8_t> bytes = ck.to_bytes();
  const auto back = train::Checkpoint<double>::parse(bytes.data(), bytes.size());
  CHECK(back.step == std::numeric_limits<std::int64_t>::max());
  CHECK(back.metadata.size() == 1);
  CHECK(back.metadata.at("note") == "hello \"world\"\n");
  CHECK(checkpoint_test::bitwise_equal(back.model("G").at("w"), sd.tensors["w"]));
  CHECK(back.model("G").integers.at("count").data()[0] == -7);
  CHECK(back.optimizer("opt").tensors.at("state.0.exp_avg").data()[0] == 1.0 / 3.0);
  CHECK(back.optimizer("opt").scalars.at("state.0.step") == 123456789.0);
  CHECK(back.optimizer("opt").scalars.at("group.0.lr") == 0.1 + 0.2);
  CHECK(back.generator("rng").seed == 0xFFFFFFFFFFFFFFFFull);
  CHECK(back.generator("rng").offset == 0x8000000000000001ull);
  // The snapshot is taken when the part is added.
  sd.tensors["w"].data()[0] = 42;
  CHECK(ck.model("G").at("w").data()[0] == 0.1);
}

TEST_CASE("checkpoint: errors") {
  using namespace latent;
  using checkpoint_test::error_of;
  Generator gen(1);
  checkpoint_test::Net<float> net(gen);
  train::Checkpoint<float> ck;
  ck.add_model("model", net);
  ck.step = 3;
  const std::string path = checkpoint_test::temp_path("errors.safetensors");
  ck.save(path);
  const std::vector<std::uint8_t> good = io::read_file(path);

  SUBCASE("missing parts are named") {
    const auto loaded = train::Checkpoint<float>::load(path);
    CHECK(error_of([&] { loaded.restore_model("G", net); }) ==
          "checkpoint '" + path + "' has no model named 'G' (it has 'model')");
    optim::AdamW<float> opt(net.parameters());
    CHECK(error_of([&] { loaded.restore_optimizer("opt", opt); }) ==
          "checkpoint '" + path + "' has no optimizer named 'opt' (it has none)");
    CHECK_THROWS_AS(loaded.generator("rng"), Error);
    CHECK_THROWS_AS(ck.add_model("model", net), Error);
    CHECK_THROWS_AS(ck.add_model("a/b", net), Error);
  }
  SUBCASE("truncated or corrupted files") {
    for (std::size_t cut : {std::size_t(0), std::size_t(5), std::size_t(20), good.size() / 2, good.size() - 1}) {
      CAPTURE(cut);
      CHECK_THROWS_AS(train::Checkpoint<float>::parse(good.data(), cut), Error);
    }
    std::vector<std::uint8_t> bad = good;
    bad[9] = '[';  // the header is no longer a JSON object
    CHECK_THROWS_AS(train::Checkpoint<float>::parse(bad.data(), bad.size()), Error);
    // A plain safetensors file is not a checkpoint.
    const std::vector<std::uint8_t> plain = io::SafetensorsWriter().add("w", tensor<float>({1}, {1})).to_bytes();
    CHECK(error_of([&] { train::Checkpoint<float>::parse(plain.data(), plain.size(), "p.st"); }) ==
          "checkpoint 'p.st' is a safetensors file but not a latent checkpoint (no 'latent.checkpoint' in its metadata)");
    // A stray entry is refused.
    const std::vector<std::uint8_t> stray = io::SafetensorsWriter()
                                                .add("step", tensor<std::int64_t>({1}, {1}))
                                                .add("weights", tensor<float>({1}, {1}))
                                                .metadata("latent.checkpoint", "1")
                                                .to_bytes();
    CHECK_THROWS_AS(train::Checkpoint<float>::parse(stray.data(), stray.size()), Error);
    CHECK_THROWS_AS(train::Checkpoint<float>::load(checkpoint_test::temp_path("does_not_exist")), Error);
  }
  SUBCASE("a failed save leaves the previous checkpoint untouched") {
    train::Checkpoint<float> other;
    other.step = 99;
    CHECK_THROWS_AS(other.save("/tmp/latent_no_such_folder_xyz/ck.safetensors"), Error);
    CHECK(io::read_file(path) == good);
    other.metadata["latent.version"] = "x";  // reserved keys are refused before anything is written
    CHECK_THROWS_AS(other.save(path), Error);
    CHECK(io::read_file(path) == good);
  }
  SUBCASE("restoring into a model of another shape") {
    Generator g2(2);
    checkpoint_test::Net<float> wider(g2, 32);
    const auto loaded = train::Checkpoint<float>::load(path);
    const std::string message = error_of([&] { loaded.restore_model("model", wider); });
    CHECK(message.find("load_state_dict failed") != std::string::npos);
    CHECK(message.find("fc1.weight: checkpoint [16, 8], model [32, 8]") != std::string::npos);
  }
  std::remove(path.c_str());
}
