// nn::SpectralNorm against torch.nn.utils.spectral_norm (Linear, Conv2d, ConvTranspose2d:
// three power iterations, outputs, u and v, gradients, eval mode), the largest singular
// value after many iterations, state dict names, gradcheck; nn::LoRALinear: start equal
// to the base layer, only the adapters train, merge/unmerge, gradcheck, errors.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace spectral_lora_test {

inline io::SafetensorsFile fixture(const std::string& name, bool f64) {
  return io::load_safetensors(std::string(LATENT_SOURCE_DIR) + "/tests/fixtures/transformer/" + name + "__" +
                              (f64 ? "f64" : "f32") + ".safetensors");
}

template <class T>
double max_relative_error(const Tensor<T>& got, const Tensor<T>& want) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<T> a = got.to_vector(), b = want.to_vector();
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return worst / std::max(scale, 1.0);
}

inline double max_abs_difference(const Tensor<double>& a, const Tensor<double>& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst;
}

template <class T>
std::shared_ptr<nn::Module<T>> make_spectral(const std::string& name, Generator& gen) {
  if (name == "spectral_linear") return nn::spectral_norm(std::make_shared<nn::Linear<T>>(6, 5, gen), gen);
  if (name == "spectral_conv2d") return nn::spectral_norm(std::make_shared<nn::Conv2d<T>>(3, 4, 3, gen, 1, 1), gen);
  return nn::spectral_norm(std::make_shared<nn::ConvTranspose2d<T>>(3, 4, 3, gen, 2), gen);
}

template <class T>
void check_spectral(const std::string& name, double tol) {
  INFO(name, " (", dtype_name<T>(), ")");
  const io::SafetensorsFile f = fixture(name, sizeof(T) == 8);
  Generator gen(0);
  const std::shared_ptr<nn::Module<T>> m = make_spectral<T>(name, gen);
  nn::StateDict<T> sd;
  for (const std::string& key : f.names())
    if (key.rfind("sd.", 0) == 0) sd.tensors[key.substr(3)] = f.get<T>(key);
  m->load_state_dict(sd);
  m->train();
  Tensor<T> x = f.get<T>("input").requires_grad_(true);
  m->forward(x);
  m->forward(x);
  const Tensor<T> out = m->forward(x);  // the third power iteration
  CHECK(max_relative_error(out, f.get<T>("output")) < tol);
  (out * f.get<T>("gout")).sum().backward();
  CHECK(max_relative_error(x.grad(), f.get<T>("grad.input")) < tol);
  for (const auto& p : m->named_parameters()) {
    INFO("parameter ", p.first);
    CHECK(max_relative_error(p.second.grad(), f.get<T>("grad." + p.first)) < tol);
  }
  for (const auto& b : m->named_buffers()) {
    INFO("buffer ", b.first);
    CHECK(max_relative_error(b.second, f.get<T>("after." + b.first)) < tol);
  }
  m->eval();
  NoGradGuard no_grad;
  CHECK(max_relative_error(m->forward(x), f.get<T>("eval_output")) < tol);
}

// Largest singular value of a matrix [h, w], by a long power iteration on W^T W in double.
inline double largest_singular_value(const Tensor<double>& w) {
  const std::int64_t h = w.size(0), n = w.size(1);
  std::vector<double> v(static_cast<std::size_t>(n), 1.0), u(static_cast<std::size_t>(h));
  double sigma = 0;
  for (int it = 0; it < 5000; ++it) {
    for (std::int64_t i = 0; i < h; ++i) {
      u[static_cast<std::size_t>(i)] = 0;
      for (std::int64_t j = 0; j < n; ++j) u[static_cast<std::size_t>(i)] += w(i, j) * v[static_cast<std::size_t>(j)];
    }
    double norm = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t i = 0; i < h; ++i) s += w(i, j) * u[static_cast<std::size_t>(i)];
      v[static_cast<std::size_t>(j)] = s;
      norm += s * s;
    }
    norm = std::sqrt(norm);
    for (double& e : v) e /= norm;
    sigma = std::sqrt(norm);  // |W^T W v| -> sigma^2 for a unit v
  }
  return sigma;
}

}  // namespace spectral_lora_test

TEST_CASE("SpectralNorm matches torch.nn.utils.spectral_norm (float64 and float32)") {
  for (const char* name : {"spectral_linear", "spectral_conv2d", "spectral_convt2d"}) {
    spectral_lora_test::check_spectral<double>(name, 1e-10);
    spectral_lora_test::check_spectral<float>(name, 1e-5);
  }
}

TEST_CASE("SpectralNorm: state dict names, the largest singular value goes to 1") {
  Generator gen(1);
  auto sn = nn::spectral_norm(std::make_shared<nn::Linear<double>>(8, 6, gen), gen);
  CHECK(sn->state_dict().keys() == std::vector<std::string>{"bias", "weight_orig", "weight_u", "weight_v"});
  std::vector<std::string> names;
  for (const auto& p : sn->named_parameters()) names.push_back(p.first);
  CHECK(names == std::vector<std::string>{"bias", "weight_orig"});
  CHECK(sn->weight_u.shape() == Shape{6});
  CHECK(sn->weight_v.shape() == Shape{8});
  CHECK(sn->weight_u.square().sum().item() == doctest::Approx(1.0).epsilon(1e-14));
  // The wrapped layer's own weight is the raw one, before and after forward.
  CHECK(sn->layer()->weight.storage() == sn->weight_orig.storage());
  const Tensor<double> x = randn<double>({3, 8}, gen);
  for (int i = 0; i < 200; ++i) sn->forward(x);
  CHECK(sn->layer()->weight.storage() == sn->weight_orig.storage());
  sn->eval();
  const Tensor<double> w = sn->normalized_weight().detach();
  CHECK(spectral_lora_test::largest_singular_value(w) == doctest::Approx(1.0).epsilon(1e-9));
  CHECK(spectral_lora_test::largest_singular_value(sn->weight_orig.detach()) > 0.2);
  // Eval mode runs no iteration: u and v stay put.
  const std::vector<double> u = sn->weight_u.to_vector();
  sn->forward(x);
  CHECK(sn->weight_u.to_vector() == u);
  // Output = x (W / sigma)^T + b.
  CHECK(spectral_lora_test::max_abs_difference(sn->forward(x), matmul(x, w.t()) + sn->layer()->bias) < 1e-14);

  // Known singular values 3, 2, 1, 0.5: the normalised weight is W / 3.
  auto diag = nn::spectral_norm(std::make_shared<nn::Linear<double>>(4, 4, gen, false), gen, 5);
  {
    NoGradGuard no_grad;
    diag->weight_orig.copy_(tensor<double>({0, 2, 0, 0, 3, 0, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 1}, Shape{4, 4}));
  }
  for (int i = 0; i < 20; ++i) diag->forward(x.narrow(1, 0, 4));
  CHECK(spectral_lora_test::max_abs_difference(diag->normalized_weight().detach(), diag->weight_orig.detach() / 3.0) < 1e-12);
}

TEST_CASE("SpectralNorm gradcheck (eval mode: u and v fixed)") {
  Generator gen(2);
  auto sn = nn::spectral_norm(std::make_shared<nn::Conv2d<double>>(2, 3, 2, gen), gen, 2);
  sn->forward(randn<double>({1, 2, 3, 3}, gen));
  sn->eval();
  const Tensor<double> x = randn<double>({1, 2, 3, 3}, gen).requires_grad_(true);
  const auto f = [&](const std::vector<Tensor<double>>& in) {
    sn->weight_orig = in[1];
    return sn->forward(in[0]);
  };
  CHECK(gradcheck(f, {x, sn->weight_orig}));
  CHECK_THROWS_AS(nn::spectral_norm(std::make_shared<nn::Linear<double>>(2, 2, gen), gen, -1), Error);
}

TEST_CASE("LoRALinear starts as the base layer, trains only A and B, merges and unmerges") {
  Generator gen(3);
  auto base = std::make_shared<nn::Linear<double>>(6, 4, gen);
  nn::LoRALinear<double> lora(base, 2, 4.0, gen);
  CHECK(lora.scaling() == 2.0);
  CHECK(lora.state_dict().keys() == std::vector<std::string>{"bias", "lora_A.weight", "lora_B.weight", "weight"});
  CHECK(lora.lora_A->weight.shape() == Shape{2, 6});
  CHECK(lora.lora_B->weight.shape() == Shape{4, 2});
  CHECK(lora.num_parameters(true) == 2 * (6 + 4));
  CHECK(!base->weight.requires_grad());
  CHECK(nn::lora_parameters(lora).size() == 2);
  const Tensor<double> x = randn<double>({5, 6}, gen);
  const Tensor<double> base_out = base->forward(x);
  CHECK(spectral_lora_test::max_abs_difference(lora(x), base_out) == 0);  // B = 0

  const std::vector<double> w0 = base->weight.to_vector(), b0 = base->bias.to_vector();
  const std::vector<double> a0 = lora.lora_A->weight.to_vector();
  optim::SGD<double> opt(nn::lora_parameters(lora), optim::SGDOptions().lr(0.1));
  const Tensor<double> target = randn<double>({5, 4}, gen);
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    const Tensor<double> loss = nn::functional::mse_loss(lora(x), target);
    loss.backward();
    CHECK(!base->weight.grad().defined());
    opt.step();
    (step == 0 ? first_loss : last_loss) = loss.item();
  }
  CHECK(last_loss < first_loss);
  CHECK(base->weight.to_vector() == w0);
  CHECK(base->bias.to_vector() == b0);
  CHECK(lora.lora_A->weight.to_vector() != a0);
  CHECK(lora.lora_B->weight.abs().amax().item() > 0);

  // Merged: the same outputs from the base layer alone; unmerged: the weight comes back.
  const Tensor<double> adapted = lora(x);
  CHECK(spectral_lora_test::max_abs_difference(adapted, base_out) > 1e-3);
  const Tensor<double> update = matmul(lora.lora_B->weight, lora.lora_A->weight).detach() * 2.0;
  lora.merge();
  CHECK(lora.merged());
  CHECK(spectral_lora_test::max_abs_difference(base->weight.detach(), tensor<double>(w0, Shape{4, 6}) + update) < 1e-15);
  CHECK(spectral_lora_test::max_abs_difference(lora(x), adapted) < 1e-13);
  CHECK(spectral_lora_test::max_abs_difference(base->forward(x), adapted) < 1e-13);
  CHECK_THROWS_WITH_AS(lora.merge(), "LoRALinear: merge(): the adapter is already merged", Error);
  lora.unmerge();
  CHECK(spectral_lora_test::max_abs_difference(base->weight.detach(), tensor<double>(w0, Shape{4, 6})) < 1e-15);
  CHECK(spectral_lora_test::max_abs_difference(lora(x), adapted) < 1e-13);
  CHECK_THROWS_WITH_AS(lora.unmerge(), "LoRALinear: unmerge(): the adapter is not merged", Error);
}

TEST_CASE("LoRALinear gradcheck, dropout and errors") {
  Generator gen(4);
  nn::LoRALinear<double> lora(std::make_shared<nn::Linear<double>>(3, 2, gen), 2, 1.0, gen);
  {
    NoGradGuard no_grad;
    lora.lora_B->weight.copy_(randn<double>({2, 2}, gen));
  }
  const Tensor<double> x = randn<double>({4, 3}, gen).requires_grad_(true);
  const auto f = [&](const std::vector<Tensor<double>>& in) {
    lora.lora_A->weight = in[1];
    lora.lora_B->weight = in[2];
    return lora(in[0]);
  };
  CHECK(gradcheck(f, {x, lora.lora_A->weight, lora.lora_B->weight}));

  nn::LoRALinear<double> dropped(std::make_shared<nn::Linear<double>>(3, 2, gen), 2, 1.0, gen, 0.5);
  {
    NoGradGuard no_grad;
    dropped.lora_B->weight.copy_(randn<double>({2, 2}, gen));
  }
  const Tensor<double> in = randn<double>({4, 3}, gen);
  dropped.eval();
  const Tensor<double> clean = dropped(in);
  dropped.train();
  CHECK(spectral_lora_test::max_abs_difference(dropped(in), clean) > 1e-6);

  CHECK_THROWS_WITH_AS(nn::LoRALinear<double>(std::make_shared<nn::Linear<double>>(3, 2, gen), 0, 1.0, gen),
                       "LoRALinear: rank must be positive, got 0", Error);
  CHECK_THROWS_AS(nn::LoRALinear<double>(nullptr, 2, 1.0, gen), Error);
  CHECK_THROWS_AS(lora(zeros<double>({2, 4})), Error);
}
