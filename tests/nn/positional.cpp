// Position and timestep embeddings: rotary (against a rotate-half reference in PyTorch,
// relative-position property, derivatives), the DDPM timestep embedding (against the
// workload's own function), sinusoidal (against the PyTorch tutorial's formula), learned
// positions, errors.
#include <doctest/doctest.h>

#include <latent/latent.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR "."
#endif

using namespace latent;

namespace positional_test {

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

template <class T>
void check_fixtures(double tol) {
  INFO(dtype_name<T>());
  const bool f64 = sizeof(T) == 8;
  {
    const io::SafetensorsFile f = fixture("rope", f64);
    nn::RotaryEmbedding<T> rope(8);
    CHECK(max_relative_error(rope.forward(f.get<T>("input"), 3), f.get<T>("output")) < tol);
  }
  {
    const io::SafetensorsFile f = fixture("rope_partial", f64);
    CHECK(max_relative_error(nn::apply_rotary_embedding(f.get<T>("input"), 3, 4), f.get<T>("output")) < tol);
  }
  {
    const io::SafetensorsFile f = fixture("timestep", f64);
    nn::TimestepEmbedding<T> emb(32);
    CHECK(max_relative_error(emb.forward(f.get<std::int64_t>("input")), f.get<T>("output")) < tol);
    // Real timesteps give the same rows.
    CHECK(max_relative_error(emb(f.get<T>("input")), f.get<T>("output")) < tol);
  }
  {
    const io::SafetensorsFile f = fixture("sinusoidal", f64);
    nn::SinusoidalPositionalEmbedding<T> pe(12);
    CHECK(max_relative_error(pe.forward(f.get<std::int64_t>("input")), f.get<T>("output")) < tol);
  }
}

}  // namespace positional_test

TEST_CASE("positional embeddings match the PyTorch references (float64 and float32)") {
  positional_test::check_fixtures<double>(1e-12);
  positional_test::check_fixtures<float>(1e-6);
}

TEST_CASE("rotary embedding: by hand, and dot products depend only on relative position") {
  // One pair of channels (dim 2): a plain rotation by the position (w_0 = 1).
  const Tensor<double> x = tensor<double>({1, 0, 1, 0, 1, 0}, Shape{3, 2});
  const std::vector<double> y = nn::apply_rotary_embedding(x, 0).to_vector();
  for (int p = 0; p < 3; ++p) {
    CHECK(y[static_cast<std::size_t>(2 * p)] == doctest::Approx(std::cos(double(p))).epsilon(1e-15));
    CHECK(y[static_cast<std::size_t>(2 * p + 1)] == doctest::Approx(std::sin(double(p))).epsilon(1e-15));
  }
  // Channels past the rotary dim pass through.
  Generator gen(1);
  const Tensor<double> h = randn<double>({2, 5, 6}, gen);
  CHECK(nn::apply_rotary_embedding(h, 2, 4).narrow(-1, 4, 2).to_vector() == h.narrow(-1, 4, 2).contiguous().to_vector());
  // q rotated at p, k rotated at s: q_p . k_s depends on p - s alone.
  const Tensor<double> q = randn<double>({1, 8}, gen), k = randn<double>({1, 8}, gen);
  auto score = [&](std::int64_t p, std::int64_t s) {
    return (nn::apply_rotary_embedding(q, p) * nn::apply_rotary_embedding(k, s)).sum().item();
  };
  CHECK(score(5, 2) == doctest::Approx(score(13, 10)).epsilon(1e-12));
  CHECK(score(0, 0) == doctest::Approx((q * k).sum().item()).epsilon(1e-12));
  CHECK(std::fabs(score(5, 2) - score(5, 3)) > 1e-6);
  // Rotations keep norms.
  const Tensor<double> r = nn::apply_rotary_embedding(h, 7);
  CHECK(r.square().sum().item() == doctest::Approx(h.square().sum().item()).epsilon(1e-13));
}

TEST_CASE("rotary embedding: gradcheck and gradgradcheck, also on a transposed input") {
  Generator gen(2);
  const Tensor<double> x = randn<double>({2, 3, 6}, gen).requires_grad_(true);
  const auto f = [](const std::vector<Tensor<double>>& in) { return nn::apply_rotary_embedding(in[0], 4, 4); };
  CHECK(gradcheck(f, {x}));
  CHECK(gradgradcheck(f, {x}));
  const Tensor<double> xt = randn<double>({6, 3}, gen).t().requires_grad_(true);  // [3, 6], strided
  CHECK(gradcheck([](const std::vector<Tensor<double>>& in) { return nn::apply_rotary_embedding(in[0], 1); }, {xt}));
}

TEST_CASE("timestep embedding: t = 0 and hand-computed frequencies") {
  nn::TimestepEmbedding<double> emb(8);  // half 4, w_i = 10000^(-i/3)
  const Tensor<double> e = emb.forward(tensor<std::int64_t>({0, 3}));
  CHECK(e.shape() == Shape{2, 8});
  for (int i = 0; i < 4; ++i) {
    CHECK(e(0, i) == 0.0);
    CHECK(e(0, 4 + i) == 1.0);
    const double w = std::pow(10000.0, -i / 3.0);
    CHECK(e(1, i) == doctest::Approx(std::sin(3 * w)).epsilon(1e-14));
    CHECK(e(1, 4 + i) == doctest::Approx(std::cos(3 * w)).epsilon(1e-14));
  }
}

TEST_CASE("sinusoidal and learned positional embeddings") {
  nn::SinusoidalPositionalEmbedding<double> pe(6);
  const Tensor<double> rows = pe.forward(4, 2);
  CHECK(rows.shape() == Shape{4, 6});
  CHECK(rows.to_vector() == pe.forward(tensor<std::int64_t>({2, 3, 4, 5})).to_vector());
  // PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = 10000^(-2i/6).
  CHECK(rows(1, 2) == doctest::Approx(std::sin(3 * std::pow(10000.0, -2.0 / 6))).epsilon(1e-15));
  CHECK(rows(1, 5) == doctest::Approx(std::cos(3 * std::pow(10000.0, -4.0 / 6))).epsilon(1e-15));

  Generator gen(3);
  nn::LearnedPositionalEmbedding<double> wpe(10, 4, gen);
  CHECK(wpe.state_dict().keys() == std::vector<std::string>{"weight"});
  const Tensor<double> w = wpe.forward(3, 5);
  CHECK(w.to_vector() == wpe.weight.narrow(0, 5, 3).contiguous().to_vector());
  CHECK(wpe.forward(tensor<std::int64_t>({5, 6, 7})).to_vector() == w.to_vector());
  (w * 2.0).sum().backward();
  const std::vector<double> g = wpe.weight.grad().to_vector();
  CHECK(g[4 * 4] == 0.0);
  CHECK(g[5 * 4] == 2.0);
  CHECK(g[7 * 4 + 3] == 2.0);
  CHECK(g[8 * 4] == 0.0);
}

TEST_CASE("positional embedding errors") {
  Generator gen(4);
  CHECK_THROWS_WITH_AS(nn::RotaryEmbedding<double>(5), "RotaryEmbedding: dim must be positive and even, got 5", Error);
  CHECK_THROWS_WITH_AS(nn::apply_rotary_embedding(zeros<double>({3, 4}), 0, 6),
                       "apply_rotary_embedding: rotary dim must be even and in (0, 4], got 6", Error);
  CHECK_THROWS_WITH_AS(nn::TimestepEmbedding<double>(6 + 1), "TimestepEmbedding: dim must be even and at least 4, got 7",
                       Error);
  CHECK_THROWS_AS(nn::timestep_embedding<double>(zeros<std::int64_t>({2, 2}), 8), Error);
  CHECK_THROWS_AS(nn::SinusoidalPositionalEmbedding<double>(3), Error);
  nn::LearnedPositionalEmbedding<double> wpe(10, 4, gen);
  CHECK_THROWS_WITH_AS(wpe.forward(4, 7),
                       "LearnedPositionalEmbedding: positions 7 to 11 (exclusive) exceed the 10 positions of the table",
                       Error);
  CHECK_THROWS_AS(wpe.forward(tensor<std::int64_t>({10})), Error);
}
