// Tests for kernels/gemm_int8.hpp: per-row int8 quantisation by hand, the SIMD products
// against the scalar reference (float: to rounding; integer: bitwise) over sizes that are
// not multiples of any vector width, against the float product of the dequantised weights,
// the quantisation error bound, thread-count independence, and the errors.
#include <latent/latent.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace gemm_int8_test {

using namespace latent::kernels;

// Deterministic values in [-1, 1) (a 64-bit LCG, top bits).
template <class T>
std::vector<T> random_values(std::int64_t count, std::uint64_t seed) {
  std::vector<T> values(static_cast<std::size_t>(count));
  std::uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& v : values) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<T>(static_cast<double>(state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  return values;
}

// A quantised weight matrix W [N, K] with padded rows (row stride K + 3).
template <class T>
struct Weights {
  std::int64_t n, k, stride;
  std::vector<T> dense;        // the float original, row stride `stride`
  std::vector<std::int8_t> q;  // row stride `stride`
  std::vector<T> scale, bias;
};

template <class T>
Weights<T> make_weights(std::int64_t n, std::int64_t k, std::uint64_t seed) {
  Weights<T> w{n, k, k + 3, random_values<T>(n * (k + 3), seed), {}, {}, random_values<T>(n, seed + 1)};
  for (std::int64_t r = 0; r < n; ++r)  // rows of different magnitudes
    for (std::int64_t c = 0; c < k; ++c) w.dense[r * w.stride + c] *= T(1 + r % 5);
  w.q.assign(static_cast<std::size_t>(n * w.stride), 0);
  w.scale.assign(static_cast<std::size_t>(n), 0);
  quantize_rows_int8(n, k, w.dense.data(), w.stride, w.q.data(), w.stride, w.scale.data());
  return w;
}

// sum_k |x[m,k]| s_n |Q[n,k]|, the size of the terms (what rounding errors scale with).
template <class T>
double term_size(const std::vector<T>& x, std::int64_t ldx, const Weights<T>& w, std::int64_t m, std::int64_t n) {
  double s = 0;
  for (std::int64_t k = 0; k < w.k; ++k)
    s += std::fabs(double(x[m * ldx + k])) * double(w.scale[n]) * std::fabs(double(w.q[n * w.stride + k]));
  return s;
}

inline const std::int64_t ms[] = {1, 2, 3, 5, 15, 16, 17, 40};
inline const std::int64_t ns[] = {1, 3, 4, 5, 7, 13, 64, 67};
inline const std::int64_t ks[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129};

}  // namespace gemm_int8_test

TEST_CASE("quantize_rows_int8: per-row scales, rounding, clamping, zero rows") {
  using namespace latent::kernels;
  // Row 0: max 1.27 -> scale 0.01. Row 1: all zero. Row 2: max 2.54 -> scale 0.02, and
  // 0.03 / 0.02 = 1.5 rounds to even (2), -0.01 / 0.02 = -0.5 to -0.
  const double src[] = {0.5, -1.27, 0.011, 9.0,  // the last column is padding
                        0.0, 0.0,   0.0,   9.0,  //
                        2.54, 0.03, -0.01, 9.0};
  std::int8_t q[9];
  double scale[3];
  quantize_rows_int8<double>(3, 3, src, 4, q, 3, scale);
  CHECK(scale[0] == doctest::Approx(0.01).epsilon(1e-15));
  CHECK(scale[1] == 0.0);
  CHECK(scale[2] == doctest::Approx(0.02).epsilon(1e-15));
  const std::int8_t expected[] = {50, -127, 1, 0, 0, 0, 127, 2, 0};
  for (int i = 0; i < 9; ++i) CHECK(int(q[i]) == int(expected[i]));

  double back[9];
  dequantize_rows_int8<double>(3, 3, q, 3, scale, back, 3);
  CHECK(back[0] == doctest::Approx(0.5));
  CHECK(back[1] == doctest::Approx(-1.27));
  CHECK(back[2] == doctest::Approx(0.01));
  CHECK(back[3] == 0.0);
  CHECK(back[7] == doctest::Approx(0.04));

  // Every value within half a step of its original, and never -128.
  const auto w = gemm_int8_test::make_weights<float>(37, 45, 7);
  for (std::int64_t r = 0; r < w.n; ++r)
    for (std::int64_t c = 0; c < w.k; ++c) {
      const float original = w.dense[r * w.stride + c];
      const float restored = w.scale[r] * float(w.q[r * w.stride + c]);
      CHECK(std::fabs(original - restored) <= 0.5f * w.scale[r] * (1 + 1e-5f));
      CHECK(w.q[r * w.stride + c] >= -127);
    }
}

TEST_CASE("gemm_int8 by hand") {
  using namespace latent::kernels;
  const float x[] = {1, 2, 3, -1};  // two rows
  const std::int8_t w[] = {1, -1, 2, 3, -127, 127};
  const float scale[] = {0.5f, 2.0f, 1.0f}, bias[] = {1.0f, -1.0f, 0.0f};
  float y[6], y_ref[6];
  gemm_int8<float>(2, 3, 2, x, 2, w, 2, scale, bias, y, 3);
  gemm_int8_reference<float>(2, 3, 2, x, 2, w, 2, scale, bias, y_ref, 3);
  const float expected[] = {0.5f * (1 - 2) + 1, 2.0f * (2 + 6) - 1, -127 + 254,  //
                            0.5f * (3 + 1) + 1, 2.0f * (6 - 3) - 1, -381 - 127};
  for (int i = 0; i < 6; ++i) {
    CHECK(y[i] == expected[i]);
    CHECK(y_ref[i] == expected[i]);
  }
  // int8 activations: x = 2 * [1, -3] scaled, no bias.
  const std::int8_t xq[] = {1, -3};
  const float x_scale[] = {2.0f};
  float z[3];
  gemm_int8_int8<float>(1, 3, 2, xq, 2, x_scale, w, 2, scale, nullptr, z, 3);
  CHECK(z[0] == 2.0f * 0.5f * (1 + 3));
  CHECK(z[1] == 4.0f * (2 - 9));
  CHECK(z[2] == 2.0f * (-127 - 381));
}

TEST_CASE("gemm_int8 (float activations) agrees with the scalar reference and the dequantised float product") {
  using namespace gemm_int8_test;
  std::uint64_t seed = 100;
  for (std::int64_t m : ms)
    for (std::int64_t n : ns)
      for (std::int64_t k : ks) {
        const Weights<float> w = make_weights<float>(n, k, ++seed);
        const std::int64_t ldx = k + 1, ldy = n + 2;
        const std::vector<float> x = random_values<float>(m * ldx, ++seed);
        const float sentinel = -12345.0f;
        std::vector<float> y(m * ldy, sentinel), y_ref(m * ldy, sentinel), y_dense(m * ldy, sentinel);
        gemm_int8<float>(m, n, k, x.data(), ldx, w.q.data(), w.stride, w.scale.data(), w.bias.data(), y.data(), ldy);
        gemm_int8_reference<float>(m, n, k, x.data(), ldx, w.q.data(), w.stride, w.scale.data(), w.bias.data(),
                                   y_ref.data(), ldy);
        // The float gemm of the dequantised weights, plus the bias.
        std::vector<float> dense(n * k);
        dequantize_rows_int8<float>(n, k, w.q.data(), w.stride, w.scale.data(), dense.data(), k);
        gemm_reference<float>(m, n, k, 1.0f, x.data(), ldx, 1, dense.data(), 1, k, 0.0f, y_dense.data(), ldy, 1);
        double worst = 0, worst_dense = 0;
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t j = 0; j < n; ++j) {
            const double size = term_size(x, ldx, w, i, j) + std::fabs(w.bias[j]) + 1e-30;
            const double got = y[i * ldy + j];
            worst = std::max(worst, std::fabs(got - y_ref[i * ldy + j]) / size);
            worst_dense = std::max(worst_dense, std::fabs(got - (y_dense[i * ldy + j] + w.bias[j])) / size);
          }
        INFO("M=", m, " N=", n, " K=", k);
        CHECK(worst < 4e-6 * std::sqrt(double(k) + 1));
        CHECK(worst_dense < 4e-6 * std::sqrt(double(k) + 1));
        bool padding_untouched = true;  // the two padding columns of y are never written
        for (std::int64_t i = 0; i < m; ++i)
          padding_untouched = padding_untouched && y[i * ldy + n] == sentinel && y[i * ldy + n + 1] == sentinel;
        CHECK(padding_untouched);
      }
}

TEST_CASE("gemm_int8 in double equals the reference exactly for few rows, to rounding for many") {
  using namespace gemm_int8_test;
  for (std::int64_t m : {1, 3, 20})
    for (std::int64_t k : {5, 33, 70}) {
      const std::int64_t n = 11;
      const Weights<double> w = make_weights<double>(n, k, 5 + m + k);
      const std::vector<double> x = random_values<double>(m * k, 9 + k);
      std::vector<double> y(m * n), y_ref(m * n);
      gemm_int8<double>(m, n, k, x.data(), k, w.q.data(), w.stride, w.scale.data(), nullptr, y.data(), n);
      gemm_int8_reference<double>(m, n, k, x.data(), k, w.q.data(), w.stride, w.scale.data(), nullptr, y_ref.data(),
                                  n);
      double worst = 0;
      for (std::int64_t i = 0; i < m * n; ++i) worst = std::max(worst, std::fabs(y[i] - y_ref[i]));
      INFO("M=", m, " K=", k);
      if (m < 16)
        CHECK(worst == 0.0);  // the scalar dot products, in the reference's order
      else
        CHECK(worst < 1e-13 * double(k));
    }
}

TEST_CASE("gemm_int8 stays within the weight-quantisation error bound of the float product") {
  using namespace gemm_int8_test;
  const std::int64_t m = 3, n = 21, k = 77;
  const Weights<double> w = make_weights<double>(n, k, 31);
  const std::vector<double> x = random_values<double>(m * k, 32);
  std::vector<double> y(m * n);
  gemm_int8<double>(m, n, k, x.data(), k, w.q.data(), w.stride, w.scale.data(), w.bias.data(), y.data(), n);
  double largest_ratio = 0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double exact = w.bias[j], abs_x = 0;
      for (std::int64_t c = 0; c < k; ++c) {
        exact += x[i * k + c] * w.dense[j * w.stride + c];
        abs_x += std::fabs(x[i * k + c]);
      }
      const double bound = 0.5 * w.scale[j] * abs_x;
      CHECK(std::fabs(y[i * n + j] - exact) <= bound * (1 + 1e-9));
      largest_ratio = std::max(largest_ratio, std::fabs(y[i * n + j] - exact) / bound);
    }
  CHECK(largest_ratio > 0.01);  // the error is real (the bound is not vacuous)
}

TEST_CASE("gemm_int8_int8 equals its scalar reference bitwise, and stays within its error bound") {
  using namespace gemm_int8_test;
  std::uint64_t seed = 500;
  for (std::int64_t m : ms)
    for (std::int64_t n : ns)
      for (std::int64_t k : ks) {
        const Weights<float> w = make_weights<float>(n, k, ++seed);
        const std::vector<float> x = random_values<float>(m * k, ++seed);
        std::vector<std::int8_t> xq(m * k);
        std::vector<float> x_scale(m), y(m * n), y_ref(m * n);
        quantize_rows_int8<float>(m, k, x.data(), k, xq.data(), k, x_scale.data());
        gemm_int8_int8<float>(m, n, k, xq.data(), k, x_scale.data(), w.q.data(), w.stride, w.scale.data(),
                              w.bias.data(), y.data(), n);
        gemm_int8_int8_reference<float>(m, n, k, xq.data(), k, x_scale.data(), w.q.data(), w.stride, w.scale.data(),
                                        w.bias.data(), y_ref.data(), n);
        INFO("M=", m, " N=", n, " K=", k);
        CHECK(std::memcmp(y.data(), y_ref.data(), y.size() * sizeof(float)) == 0);
        bool within = true;
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t j = 0; j < n; ++j) {
            double exact = w.bias[j], abs_x = 0, abs_w = 0;
            for (std::int64_t c = 0; c < k; ++c) {
              exact += double(x[i * k + c]) * double(w.dense[j * w.stride + c]);
              abs_x += std::fabs(x[i * k + c]);
              abs_w += std::fabs(w.dense[j * w.stride + c]);
            }
            const double bound = 0.5 * w.scale[j] * abs_x + 0.5 * x_scale[i] * abs_w +
                                 0.25 * x_scale[i] * w.scale[j] * double(k);
            within = within && std::fabs(y[i * n + j] - exact) <= bound * 1.001 + 1e-5;
          }
        CHECK(within);
      }
}

TEST_CASE("gemm_int8_int8 at the extremes: no saturation, exact sums") {
  using namespace latent::kernels;
  // All products 127 * 127 or (-127) * (-127) or 127 * (-127): pairs of 32258 would saturate a
  // signed 16-bit sum of unsigned-by-signed products if the signs were not handled.
  for (std::int64_t k : {1, 31, 32, 64, 65, 1000}) {
    std::vector<std::int8_t> x(k), w(4 * k);
    for (std::int64_t i = 0; i < k; ++i) {
      x[i] = (i % 3 == 0) ? -127 : 127;
      w[i] = x[i];                         // row 0: +16129 each
      w[k + i] = std::int8_t(-x[i]);       // row 1: -16129 each
      w[2 * k + i] = -127;                 // row 2: alternating signs
      w[3 * k + i] = 0;                    // row 3: zero
    }
    const float one = 1.0f, scales[] = {1.0f, 1.0f, 1.0f, 1.0f};
    float y[4];
    gemm_int8_int8<float>(1, 4, k, x.data(), k, &one, w.data(), k, scales, nullptr, y, 4);
    std::int64_t row2 = 0;
    for (std::int64_t i = 0; i < k; ++i) row2 += -127 * std::int64_t(x[i]);
    INFO("K=", k);
    CHECK(y[0] == float(16129 * k));
    CHECK(y[1] == float(-16129 * k));
    CHECK(y[2] == float(row2));
    CHECK(y[3] == 0.0f);
  }
}

TEST_CASE("gemm_int8 and gemm_int8_int8 give bitwise the same result on 1 and 2 threads") {
  using namespace gemm_int8_test;
  const int saved = latent::get_num_threads();
  for (std::int64_t m : {1, 4, 48}) {
    const std::int64_t n = 300, k = 260;
    const Weights<float> w = make_weights<float>(n, k, 77);
    const std::vector<float> x = random_values<float>(m * k, 78);
    std::vector<std::int8_t> xq(m * k);
    std::vector<float> x_scale(m);
    quantize_rows_int8<float>(m, k, x.data(), k, xq.data(), k, x_scale.data());
    std::vector<float> a1(m * n), a2(m * n), b1(m * n), b2(m * n);
    for (int threads : {1, 2}) {
      latent::set_num_threads(threads);
      gemm_int8<float>(m, n, k, x.data(), k, w.q.data(), w.stride, w.scale.data(), w.bias.data(),
                       (threads == 1 ? a1 : a2).data(), n);
      gemm_int8_int8<float>(m, n, k, xq.data(), k, x_scale.data(), w.q.data(), w.stride, w.scale.data(),
                            w.bias.data(), (threads == 1 ? b1 : b2).data(), n);
    }
    INFO("M=", m);
    CHECK(std::memcmp(a1.data(), a2.data(), a1.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(b1.data(), b2.data(), b1.size() * sizeof(float)) == 0);
  }
  latent::set_num_threads(saved);
}

TEST_CASE("gemm_int8 errors") {
  using namespace latent::kernels;
  float x[8] = {}, y[8] = {}, s[4] = {};
  std::int8_t w[8] = {};
  CHECK_THROWS_WITH_AS(gemm_int8<float>(-1, 2, 2, x, 2, w, 2, s, nullptr, y, 2),
                       "gemm_int8: negative size M=-1 N=2 K=2", latent::Error);
  CHECK_THROWS_WITH_AS(gemm_int8<float>(2, 2, 4, x, 3, w, 4, s, nullptr, y, 2),
                       "gemm_int8: x row stride 3 is shorter than K=4", latent::Error);
  CHECK_THROWS_WITH_AS(gemm_int8<float>(2, 2, 4, x, 4, w, 2, s, nullptr, y, 2),
                       "gemm_int8: weight row stride 2 is shorter than K=4", latent::Error);
  CHECK_THROWS_WITH_AS(gemm_int8<float>(2, 3, 1, x, 1, w, 1, s, nullptr, y, 2),
                       "gemm_int8: y row stride 2 is shorter than N=3", latent::Error);
  CHECK_THROWS_AS(gemm_int8_reference<float>(1, -2, 1, x, 1, w, 1, s, nullptr, y, 1), latent::Error);
  CHECK_THROWS_WITH_AS(gemm_int8_int8<float>(1, 1, int8_max_depth + 1, w, int8_max_depth + 1, s, w,
                                             int8_max_depth + 1, s, nullptr, y, 1),
                       "gemm_int8_int8: K=133144 could overflow the int32 sums (at most 133143)", latent::Error);
  const float bad[] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  CHECK_THROWS_WITH_AS(quantize_rows_int8<float>(1, 2, bad, 2, w, 2, s),
                       "quantize_rows_int8: row 0 column 1 holds nan; only finite values can be quantised",
                       latent::Error);
  CHECK_THROWS_WITH_AS(quantize_rows_int8<float>(2, 3, x, 2, w, 3, s),
                       "quantize_rows_int8: row strides 2 and 3 are shorter than a row of 3", latent::Error);
  CHECK_THROWS_AS(dequantize_rows_int8<float>(-1, 2, w, 2, s, y, 2), latent::Error);
  // Empty products write nothing and read nothing.
  gemm_int8<float>(0, 3, 5, nullptr, 5, nullptr, 5, nullptr, nullptr, nullptr, 3);
  gemm_int8_int8<float>(2, 0, 5, nullptr, 5, nullptr, nullptr, 5, nullptr, nullptr, nullptr, 0);
  // K = 0: y = bias.
  const float bias[] = {3.0f, -4.0f};
  gemm_int8<float>(1, 2, 0, x, 0, w, 0, s, bias, y, 2);
  CHECK(y[0] == 3.0f);
  CHECK(y[1] == -4.0f);
}
