// Tests for kernels/transcendental.hpp, float functions: accuracy over the whole float
// range (against double-precision references), special values, SIMD against the scalar
// reference, array tails and aliasing, thread-count independence. The double functions and
// the derivatives are tested in transcendental_double.cpp.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <latent/latent.hpp>

namespace transcendental_test {

namespace kernels = latent::kernels;

constexpr double kFloatTolerance = 4e-7;  // issue 4: relative error in float32
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

float float_from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Distance in ulps between two floats (0 for equal values, including +0 and -0).
std::int64_t ulp_distance(float a, float b) {
  auto ordered = [](float f) {
    std::int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i < 0 ? -static_cast<std::int64_t>(i & 0x7fffffff) : static_cast<std::int64_t>(i);
  };
  return std::llabs(ordered(a) - ordered(b));
}

// Inputs that cover the float range: every 4093rd bit pattern (all signs, exponents,
// denormals, infinities; NaNs left out), a dense grid on [-100, 100], every binade down to
// the denormals, runs of consecutive floats around the thresholds where the functions
// overflow, underflow, saturate or switch formula, and a sample of the denormals.
const std::vector<float>& sweep_inputs() {
  static const std::vector<float> inputs = [] {
    std::vector<float> x;
    for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << 32); bits += 4093) {
      const float f = float_from_bits(static_cast<std::uint32_t>(bits));
      if (!std::isnan(f)) x.push_back(f);
    }
    for (int i = -100000; i <= 100000; ++i) x.push_back(static_cast<float>(i * 1e-3));
    for (int e = -149; e <= 7; ++e) {
      for (int k = 0; k < 64; ++k) {
        const float f = std::ldexp(1.0f + k / 64.0f, e);
        x.push_back(f);
        x.push_back(-f);
      }
    }
    const float thresholds[] = {88.72f, -87.34f, -103.97f, -88.0f,  9.01f, -9.01f,   -13.4f,
                                -9.5f,  20.0f,   -20.0f,   0.3466f, 0.55f, -0.7518f, 1.0f};
    for (float t : thresholds) {
      float f = t;
      for (int k = 0; k < 2000; ++k) f = std::nextafter(f, -kInf);
      for (int k = 0; k < 4000; ++k, f = std::nextafter(f, kInf)) x.push_back(f);
    }
    for (std::uint32_t bits = 1; bits < (1u << 23); bits += 97) {
      x.push_back(float_from_bits(bits));
      x.push_back(float_from_bits(bits | 0x80000000u));
    }
    return x;
  }();
  return inputs;
}

// Double-precision references, written with the C library.
double ref_exp(double x) { return std::exp(x); }
double ref_log(double x) { return std::log(x); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_silu(double x) { return x / (1.0 + std::exp(-x)); }
double ref_gelu(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double ref_gelu_tanh(double x) {  // x sigmoid(2u): x (1 + tanh u) / 2 without cancellation
  const double u = std::sqrt(2.0 / 3.141592653589793238) * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}
double ref_softplus(double x, double beta, double threshold) {
  return beta * x > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
}

// What an accuracy sweep found for one path (the array function or the scalar one).
struct SweepResult {
  double max_relative_error = 0;  // where the reference is a normal float
  float worst_input = 0;
  int wrong_outside_normal = 0;  // denormal/zero/overflowing references handled badly
  float first_wrong_input = 0;
};

// Compares y[i] with ref(x[i]): relative error where |ref| is a normal float; where it
// is below FLT_MIN, an absolute error of at most one denormal ulp; where it is beyond
// FLT_MAX, an infinity of the same sign; NaN exactly where the reference is NaN.
template <class Ref>
SweepResult compare(const std::vector<float>& x, const std::vector<float>& y, Ref ref) {
  SweepResult result;
  const double denormal_ulp = std::ldexp(1.0, -149);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = ref(static_cast<double>(x[i]));
    const double a = std::fabs(r);
    bool ok = true;
    if (std::isnan(r)) {
      ok = std::isnan(y[i]);
    } else if (a >= FLT_MIN && a <= FLT_MAX) {
      const double error = std::fabs(y[i] - r) / a;
      if (!(error <= result.max_relative_error)) {
        result.max_relative_error = std::isnan(error) ? 1.0 : error;
        result.worst_input = x[i];
      }
    } else if (a < FLT_MIN) {
      ok = std::fabs(y[i] - r) <= denormal_ulp;
    } else {
      ok = std::isinf(y[i]) && (y[i] > 0) == (r > 0);
    }
    if (!ok && result.wrong_outside_normal++ == 0) result.first_wrong_input = x[i];
  }
  return result;
}

// Runs one float function over the sweep through its array version (the SIMD path in a
// SIMD build) and its scalar version, checks both against the reference, and checks that
// they agree with each other to 1 ulp (in practice they are bitwise equal).
template <class ArrayFn, class ScalarFn, class Ref>
void check_float_function(const char* name, ArrayFn array_fn, ScalarFn scalar_fn, Ref ref) {
  const std::vector<float>& x = sweep_inputs();
  std::vector<float> y_array(x.size()), y_scalar(x.size());
  array_fn(x.data(), y_array.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i) y_scalar[i] = scalar_fn(x[i]);

  INFO(std::string(name));
  const SweepResult array_result = compare(x, y_array, ref);
  const SweepResult scalar_result = compare(x, y_scalar, ref);
  INFO("array worst at x = ", array_result.worst_input,
       ", scalar worst at x = ", scalar_result.worst_input);
  CHECK(array_result.max_relative_error <= kFloatTolerance);
  CHECK(scalar_result.max_relative_error <= kFloatTolerance);
  INFO("first wrong outside the normal range: ", array_result.first_wrong_input, " / ",
       scalar_result.first_wrong_input);
  CHECK(array_result.wrong_outside_normal == 0);
  CHECK(scalar_result.wrong_outside_normal == 0);

  std::int64_t worst_disagreement = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(y_array[i]) != std::isnan(y_scalar[i])) worst_disagreement = 1 << 30;
    if (!std::isnan(y_array[i]))
      worst_disagreement = std::max(worst_disagreement, ulp_distance(y_array[i], y_scalar[i]));
  }
  CHECK(worst_disagreement <= 1);
}

// Checks f(input) == expected for the array and scalar float paths (NaN matches NaN; zero
// signs are compared when check_sign is set).
template <class ArrayFn, class ScalarFn>
void check_special(ArrayFn array_fn, ScalarFn scalar_fn, float input, float expected,
                   bool check_sign = false) {
  float y = 0;
  array_fn(&input, &y, 1);
  const float s = scalar_fn(input);
  INFO("input ", input, ": array gives ", y, ", scalar gives ", s, ", expected ", expected);
  for (float got : {y, s}) {
    if (std::isnan(expected)) {
      CHECK(std::isnan(got));
    } else {
      CHECK(got == expected);
      if (check_sign) CHECK(std::signbit(got) == std::signbit(expected));
    }
  }
}

// Lambdas calling kernels::fn for float or double arrays: (x, y, n) and (x, g, y, n).
#define TRANSCENDENTAL_TEST_ARRAY(fn) \
  [](const auto* x, auto* y, std::int64_t n) { kernels::fn(x, y, n); }
#define TRANSCENDENTAL_TEST_BINARY(fn) \
  [](const auto* x, const auto* g, auto* y, std::int64_t n) { kernels::fn(x, g, y, n); }

TEST_CASE("transcendental: float exp and log are accurate over the whole float range") {
  check_float_function(
      "exp", TRANSCENDENTAL_TEST_ARRAY(exp), [](float v) { return kernels::scalar::exp(v); },
      ref_exp);
  check_float_function(
      "log", TRANSCENDENTAL_TEST_ARRAY(log), [](float v) { return kernels::scalar::log(v); },
      ref_log);
}

TEST_CASE("transcendental: float tanh, sigmoid, silu are accurate over the whole float range") {
  check_float_function(
      "tanh", TRANSCENDENTAL_TEST_ARRAY(tanh), [](float v) { return kernels::scalar::tanh(v); },
      ref_tanh);
  check_float_function(
      "sigmoid", TRANSCENDENTAL_TEST_ARRAY(sigmoid),
      [](float v) { return kernels::scalar::sigmoid(v); }, ref_sigmoid);
  check_float_function(
      "silu", TRANSCENDENTAL_TEST_ARRAY(silu), [](float v) { return kernels::scalar::silu(v); },
      ref_silu);
}

TEST_CASE("transcendental: float gelu and gelu_tanh are accurate, tails included") {
  check_float_function(
      "gelu", TRANSCENDENTAL_TEST_ARRAY(gelu), [](float v) { return kernels::scalar::gelu(v); },
      ref_gelu);
  check_float_function(
      "gelu_tanh", TRANSCENDENTAL_TEST_ARRAY(gelu_tanh),
      [](float v) { return kernels::scalar::gelu_tanh(v); }, ref_gelu_tanh);
}

TEST_CASE("transcendental: float softplus is accurate for several beta and threshold") {
  const float settings[][2] = {{1.0f, 20.0f}, {2.5f, 5.0f}, {0.5f, 20.0f}, {1.0f, 200.0f}};
  for (const auto& setting : settings) {
    const float beta = setting[0], threshold = setting[1];
    INFO("beta ", beta, ", threshold ", threshold);
    check_float_function(
        "softplus",
        [=](const float* x, float* y, std::int64_t n) {
          kernels::softplus(x, y, n, beta, threshold);
        },
        [=](float v) { return kernels::scalar::softplus(v, beta, threshold); },
        [=](double v) { return ref_softplus(v, beta, threshold); });
  }
}

TEST_CASE("transcendental: float special values follow the C library and PyTorch") {
  const auto exp_a = TRANSCENDENTAL_TEST_ARRAY(exp);
  const auto exp_s = [](float v) { return kernels::scalar::exp(v); };
  check_special(exp_a, exp_s, -kInf, 0.0f, true);
  check_special(exp_a, exp_s, kInf, kInf);
  check_special(exp_a, exp_s, kNaN, kNaN);
  check_special(exp_a, exp_s, 0.0f, 1.0f);
  check_special(exp_a, exp_s, -0.0f, 1.0f);
  check_special(exp_a, exp_s, 88.8f, kInf);    // exp(88.8) > FLT_MAX
  check_special(exp_a, exp_s, -110.0f, 0.0f);  // below half the smallest denormal
  check_special(exp_a, exp_s, 1.0f, 2.71828182845904523f);

  const auto log_a = TRANSCENDENTAL_TEST_ARRAY(log);
  const auto log_s = [](float v) { return kernels::scalar::log(v); };
  check_special(log_a, log_s, 0.0f, -kInf);
  check_special(log_a, log_s, -0.0f, -kInf);
  check_special(log_a, log_s, -1.0f, kNaN);
  check_special(log_a, log_s, -kInf, kNaN);
  check_special(log_a, log_s, kInf, kInf);
  check_special(log_a, log_s, kNaN, kNaN);
  check_special(log_a, log_s, 1.0f, 0.0f, true);
  check_special(log_a, log_s, float_from_bits(1), -103.27892990343185f);  // log(2^-149)

  const auto tanh_a = TRANSCENDENTAL_TEST_ARRAY(tanh);
  const auto tanh_s = [](float v) { return kernels::scalar::tanh(v); };
  check_special(tanh_a, tanh_s, kInf, 1.0f);
  check_special(tanh_a, tanh_s, -kInf, -1.0f);
  check_special(tanh_a, tanh_s, kNaN, kNaN);
  check_special(tanh_a, tanh_s, -0.0f, -0.0f, true);
  check_special(tanh_a, tanh_s, 1e-30f, 1e-30f);
  check_special(tanh_a, tanh_s, -10.0f, -1.0f);

  const auto sigmoid_a = TRANSCENDENTAL_TEST_ARRAY(sigmoid);
  const auto sigmoid_s = [](float v) { return kernels::scalar::sigmoid(v); };
  check_special(sigmoid_a, sigmoid_s, kInf, 1.0f);
  check_special(sigmoid_a, sigmoid_s, -kInf, 0.0f);
  check_special(sigmoid_a, sigmoid_s, kNaN, kNaN);
  check_special(sigmoid_a, sigmoid_s, 0.0f, 0.5f);

  // x * (something tending to 0) at -inf: NaN, as PyTorch computes it.
  const auto gelu_a = TRANSCENDENTAL_TEST_ARRAY(gelu);
  const auto gelu_s = [](float v) { return kernels::scalar::gelu(v); };
  const auto gelu_tanh_a = TRANSCENDENTAL_TEST_ARRAY(gelu_tanh);
  const auto gelu_tanh_s = [](float v) { return kernels::scalar::gelu_tanh(v); };
  const auto silu_a = TRANSCENDENTAL_TEST_ARRAY(silu);
  const auto silu_s = [](float v) { return kernels::scalar::silu(v); };
  for (float input : {kInf, -kInf, kNaN, 0.0f, -30.0f, 3e38f}) {
    const float expected = input == -kInf || std::isnan(input) ? kNaN
                           : input == -30.0f                   ? 0.0f
                                                               : input;
    check_special(gelu_a, gelu_s, input, expected);
    check_special(gelu_tanh_a, gelu_tanh_s, input, expected);
    check_special(silu_a, silu_s, input, input == -30.0f ? -2.8072868906517897e-12f : expected);
  }

  const auto softplus_a = TRANSCENDENTAL_TEST_ARRAY(softplus);
  const auto softplus_s = [](float v) { return kernels::scalar::softplus(v); };
  check_special(softplus_a, softplus_s, -kInf, 0.0f);
  check_special(softplus_a, softplus_s, kInf, kInf);
  check_special(softplus_a, softplus_s, kNaN, kNaN);
  check_special(softplus_a, softplus_s, 0.0f, 0.693147180559945309f);
  check_special(softplus_a, softplus_s, 20.5f, 20.5f);  // above the threshold: x itself
  check_special(softplus_a, softplus_s, -200.0f, 0.0f);
}

TEST_CASE("transcendental: array lengths around the vector width and aliasing") {
  // Each element must come out exactly as in a long array, whatever its position, and
  // nothing past n may be written.
  const std::int64_t lengths[] = {0, 1, 7, 8, 9, 15, 17, 1000};
  std::vector<float> source(1000), reference(1000), grads(1000);
  for (std::size_t i = 0; i < source.size(); ++i) {
    source[i] = static_cast<float>(-12.0 + 24.0 * ((i * 389) % 1000) / 1000.0);
    grads[i] = static_cast<float>(0.5 + 0.001 * i);
  }
  const float sentinel = 12345.0f;
  auto check_unary = [&](const char* name, auto fn) {
    INFO(std::string(name));
    fn(source.data(), reference.data(), 1000);
    for (std::int64_t n : lengths) {
      std::vector<float> y(static_cast<std::size_t>(n) + 1, sentinel);
      fn(source.data(), y.data(), n);
      for (std::int64_t i = 0; i < n; ++i) CHECK(y[i] == reference[i]);
      CHECK(y[n] == sentinel);
      std::vector<float> in_place(source.begin(), source.begin() + n);
      fn(in_place.data(), in_place.data(), n);  // y == x
      for (std::int64_t i = 0; i < n; ++i) CHECK(in_place[i] == reference[i]);
    }
  };
  check_unary("exp", TRANSCENDENTAL_TEST_ARRAY(exp));
  check_unary("log", [](const float* x, float* y, std::int64_t n) {
    std::vector<float> positive(x, x + n);
    for (float& v : positive) v = std::fabs(v);
    kernels::log(positive.data(), y, n);
  });
  check_unary("tanh", TRANSCENDENTAL_TEST_ARRAY(tanh));
  check_unary("sigmoid", TRANSCENDENTAL_TEST_ARRAY(sigmoid));
  check_unary("gelu", TRANSCENDENTAL_TEST_ARRAY(gelu));
  check_unary("gelu_tanh", TRANSCENDENTAL_TEST_ARRAY(gelu_tanh));
  check_unary("silu", TRANSCENDENTAL_TEST_ARRAY(silu));
  check_unary("softplus", TRANSCENDENTAL_TEST_ARRAY(softplus));
  check_unary("exp (double)", [](const float* x, float* y, std::int64_t n) {
    std::vector<double> xd(x, x + n), yd(static_cast<std::size_t>(n));
    kernels::exp(xd.data(), yd.data(), n);
    for (std::int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(yd[i]);
  });

  // Backward kernels: grad_in may be grad_out or x.
  auto check_binary = [&](const char* name, auto fn) {
    INFO(std::string(name));
    fn(source.data(), grads.data(), reference.data(), 1000);
    for (std::int64_t n : lengths) {
      std::vector<float> y(static_cast<std::size_t>(n) + 1, sentinel);
      fn(source.data(), grads.data(), y.data(), n);
      for (std::int64_t i = 0; i < n; ++i) CHECK(y[i] == reference[i]);
      CHECK(y[n] == sentinel);
      std::vector<float> g(grads.begin(), grads.begin() + n);
      fn(source.data(), g.data(), g.data(), n);  // grad_in == grad_out
      for (std::int64_t i = 0; i < n; ++i) CHECK(g[i] == reference[i]);
      std::vector<float> x(source.begin(), source.begin() + n);
      fn(x.data(), grads.data(), x.data(), n);  // grad_in == x
      for (std::int64_t i = 0; i < n; ++i) CHECK(x[i] == reference[i]);
    }
  };
  check_binary("gelu_backward", [](const float* x, const float* g, float* y, std::int64_t n) {
    kernels::gelu_backward(x, g, y, n);
  });
  check_binary("silu_backward", [](const float* x, const float* g, float* y, std::int64_t n) {
    kernels::silu_backward(x, g, y, n);
  });
  check_binary("tanh_backward_from_output",
               [](const float* x, const float* g, float* y, std::int64_t n) {
                 kernels::tanh_backward_from_output(x, g, y, n);
               });
}

TEST_CASE("transcendental: results do not depend on the thread count") {
  const std::int64_t n = 200003;  // several parallel chunks and a ragged tail
  std::vector<float> x(static_cast<std::size_t>(n)), one(x.size()), many(x.size());
  for (std::int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::sin(i * 0.01) * 20.0);
  const int saved = latent::get_num_threads();
  latent::set_num_threads(1);
  kernels::gelu(x.data(), one.data(), n);
  latent::set_num_threads(4);
  kernels::gelu(x.data(), many.data(), n);
  latent::set_num_threads(saved);
  CHECK(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0);
}

}  // namespace transcendental_test

#undef TRANSCENDENTAL_TEST_ARRAY
#undef TRANSCENDENTAL_TEST_BINARY
