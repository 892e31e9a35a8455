// Tests for kernels/transcendental.hpp: accuracy of every float function over the whole
// float range (against double-precision references), special values, SIMD against the
// scalar reference, array tails and aliasing, double functions against exact values, and
// derivatives against finite differences.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <latent/latent.hpp>
#include <limits>
#include <vector>

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

  INFO(name);
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

}  // namespace transcendental_test

using namespace transcendental_test;

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
    INFO(name);
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
    INFO(name);
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

TEST_CASE("transcendental: double functions match exact values") {
  // Exact values at these inputs, computed with 50-digit arithmetic (mpmath).
  const double x[8] = {-7.5, -3.0, -1.0, -0.3, 0.2, 1.5, 4.0, 9.0};
  const double exact_exp[8] = {0.00055308437014783358, 0.049787068367863943, 0.36787944117144232,
                               0.74081822068171787,    1.2214027581601698,   4.4816890703380648,
                               54.598150033144239,     8103.083927575384};
  const double exact_tanh[8] = {-0.99999938819554615, -0.99505475368673045, -0.76159415595576489,
                                -0.29131261245159091, 0.197375320224904,    0.90514825364486644,
                                0.99932929973906704,  0.99999996954004097};
  const double exact_sigmoid[8] = {
      0.00055277863692359952, 0.047425873177566781, 0.26894142136999512, 0.42555748318834101,
      0.54983399731247791,    0.81757447619364366,  0.98201379003790844, 0.99987660542401377};
  const double exact_gelu[8] = {
      -2.3931687546831722e-13, -0.0040496940948902836, -0.15865525393145705, -0.11462657334331421,
      0.1158519418878206,      1.3997891980967129,     3.9998733150326675,   9.0};
  const double exact_gelu_tanh[8] = {
      -4.0162682175141396e-18, -0.0036373920817730188, -0.1588080093917233, -0.11462907645724075,
      0.11585142978210628,     1.3995715769802329,     3.9999297540518076,  9.0};
  const double exact_silu[8] = {-0.0041458397769269964, -0.14227761953270034, -0.26894142136999512,
                                -0.1276672449565023,    0.10996679946249558,  1.2263617142904655,
                                3.9280551601516338,     8.9988894488161239};
  const double exact_softplus[8] = {
      0.00055293147536079638, 0.048587351573742059, 0.31326168751822283, 0.55435524446852712,
      0.79813886938159184,    1.7014132779827524,   4.0181499279178097,  9.0001234021897233};

  // Within 1e-15 relative (a few ulps); gelu within 4e-15, because erfc(z) turns the
  // rounding of its argument z = -x / sqrt2 into a relative error of 2 z^2 times as much.
  auto check_double = [&](const char* name, auto fn, const double* exact,
                          double tolerance = 1e-15) {
    INFO(name);
    double y[8];
    fn(x, y, 8);
    for (int i = 0; i < 8; ++i)
      CHECK(std::fabs(y[i] - exact[i]) <= tolerance * std::fabs(exact[i]));
    // The float path at the same (float-representable or nearby) inputs.
    float xf[8], yf[8];
    for (int i = 0; i < 8; ++i) xf[i] = static_cast<float>(x[i]);
    fn(xf, yf, 8);
    for (int i = 0; i < 8; ++i) CHECK(std::fabs(yf[i] - exact[i]) <= 1e-7 * std::fabs(exact[i]));
  };
  check_double("exp", TRANSCENDENTAL_TEST_ARRAY(exp), exact_exp);
  check_double("tanh", TRANSCENDENTAL_TEST_ARRAY(tanh), exact_tanh);
  check_double("sigmoid", TRANSCENDENTAL_TEST_ARRAY(sigmoid), exact_sigmoid);
  check_double("gelu", TRANSCENDENTAL_TEST_ARRAY(gelu), exact_gelu, 4e-15);
  check_double("gelu_tanh", TRANSCENDENTAL_TEST_ARRAY(gelu_tanh), exact_gelu_tanh);
  check_double("silu", TRANSCENDENTAL_TEST_ARRAY(silu), exact_silu);
  check_double("softplus", TRANSCENDENTAL_TEST_ARRAY(softplus), exact_softplus);

  const double log_x[5] = {0.001, 0.5, 1.5, 10.0, 1e30};
  const double exact_log[5] = {-6.9077552789821371, -0.69314718055994531, 0.40546510810816438,
                               2.3025850929940457, 69.077552789821371};
  double log_y[5];
  kernels::log(log_x, log_y, 5);
  for (int i = 0; i < 5; ++i)
    CHECK(std::fabs(log_y[i] - exact_log[i]) <= 1e-15 * std::fabs(exact_log[i]));

  // PyTorch semantics at the edges, in double.
  const double inf = std::numeric_limits<double>::infinity();
  double edge_x[4] = {-inf, inf, 25.0, 0.0}, edge_y[4];
  kernels::softplus(edge_x, edge_y, 4);
  CHECK(edge_y[0] == 0.0);
  CHECK(edge_y[1] == inf);
  CHECK(edge_y[2] == 25.0);
  CHECK(edge_y[3] == doctest::Approx(0.6931471805599453).epsilon(1e-15));
  kernels::gelu(edge_x, edge_y, 2);
  CHECK(std::isnan(edge_y[0]));
  CHECK(edge_y[1] == inf);
  kernels::silu(edge_x, edge_y, 2);
  CHECK(std::isnan(edge_y[0]));
  CHECK(edge_y[1] == inf);
  kernels::sigmoid(edge_x, edge_y, 2);
  CHECK(edge_y[0] == 0.0);
  CHECK(edge_y[1] == 1.0);
}

TEST_CASE("transcendental: double exp (SIMD in a SIMD build) is within 1 ulp of std::exp") {
  std::vector<double> x;
  for (int i = 0; i <= 400000; ++i) x.push_back(-750.0 + 1462.0 * i / 400000.0);  // to 712
  for (int i = -20000; i <= 20000; ++i) x.push_back(i * 1e-5);
  const double inf = std::numeric_limits<double>::infinity();
  for (double v : {-inf, inf, 0.0, -0.0, 709.78, 709.79, -708.4, -745.13, -745.14, 1e-300})
    x.push_back(v);
  x.push_back(std::numeric_limits<double>::quiet_NaN());
  std::vector<double> y(x.size());
  kernels::exp(x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = std::exp(x[i]);
    if (std::isnan(r)) {
      CHECK(std::isnan(y[i]));
    } else if (std::isinf(r) || r == 0.0) {
      CHECK(y[i] == r);
    } else {
      const double ulp = std::nextafter(r, inf) - r;  // exact in the normal and denormal range
      worst = std::max(worst, std::fabs(y[i] - r) / ulp);
    }
  }
  CHECK(worst <= 1.0);
}

TEST_CASE("transcendental: derivatives match finite differences (double)") {
  // grad_in = grad_out * f'(x), against (f(x + h) - f(x - h)) / 2h.
  auto check_derivative = [](const char* name, auto forward, auto backward) {
    INFO(name);
    for (double x = -10.0; x <= 10.0; x += 0.173) {
      const double h = 1e-6 * std::max(1.0, std::fabs(x));
      const double numeric = (forward(x + h) - forward(x - h)) / (2 * h);
      const double grad_out = 0.75, analytic = backward(x, grad_out) / grad_out;
      INFO("x = ", x, ": finite difference ", numeric, ", backward ", analytic);
      CHECK(std::fabs(analytic - numeric) <= 1e-7 * std::max(1.0, std::fabs(analytic)));
    }
  };
  namespace scalar = kernels::scalar;
  auto array_backward = [](auto fn) {
    return [fn](double x, double g) {
      double y = 0;
      fn(&x, &g, &y, 1);
      return y;
    };
  };
  check_derivative(
      "gelu", [](double x) { return scalar::gelu(x); },
      array_backward([](const double* x, const double* g, double* y, std::int64_t n) {
        kernels::gelu_backward(x, g, y, n);
      }));
  check_derivative(
      "gelu_tanh", [](double x) { return scalar::gelu_tanh(x); },
      array_backward([](const double* x, const double* g, double* y, std::int64_t n) {
        kernels::gelu_tanh_backward(x, g, y, n);
      }));
  check_derivative(
      "silu", [](double x) { return scalar::silu(x); },
      array_backward([](const double* x, const double* g, double* y, std::int64_t n) {
        kernels::silu_backward(x, g, y, n);
      }));
  // The _from_output versions take y = f(x).
  check_derivative(
      "sigmoid", [](double x) { return scalar::sigmoid(x); },
      [](double x, double g) {
        double y = scalar::sigmoid(x), grad_in = 0;
        kernels::sigmoid_backward_from_output(&y, &g, &grad_in, 1);
        return grad_in;
      });
  check_derivative(
      "tanh", [](double x) { return scalar::tanh(x); },
      [](double x, double g) {
        double y = std::tanh(x), grad_in = 0;
        kernels::tanh_backward_from_output(&y, &g, &grad_in, 1);
        return grad_in;
      });
}

TEST_CASE("transcendental: float derivatives match the double ones, SIMD matches scalar") {
  // Float backward = the double formula at the same float inputs, rounded once (to
  // within the error of the float cores); SIMD and scalar agree to 1 ulp.
  std::vector<float> x, g;
  for (int i = -4000; i <= 4000; ++i) {
    x.push_back(static_cast<float>(i * 0.004 + 0.0007));
    g.push_back(static_cast<float>(1.0 + 0.25 * std::sin(i * 0.1)));
  }
  for (float v : {-30.0f, -15.0f, 15.0f, 30.0f, 1e-20f, -1e-20f}) {
    x.push_back(v);
    g.push_back(1.0f);
  }
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  namespace scalar = kernels::scalar;
  auto check = [&](const char* name, auto array_f, auto array_d, auto scalar_f) {
    INFO(name);
    std::vector<float> y(x.size());
    array_f(x.data(), g.data(), y.data(), n);
    std::vector<double> xd(x.begin(), x.end()), gd(g.begin(), g.end()), yd(x.size());
    array_d(xd.data(), gd.data(), yd.data(), n);
    for (std::size_t i = 0; i < x.size(); ++i) {
      INFO("x = ", x[i]);
      CHECK(std::fabs(y[i] - yd[i]) <= 2e-7 * std::fabs(yd[i]) + 1e-12);
      CHECK(ulp_distance(y[i], scalar_f(x[i], g[i])) <= 1);
    }
  };
  check("gelu_backward", TRANSCENDENTAL_TEST_BINARY(gelu_backward),
        TRANSCENDENTAL_TEST_BINARY(gelu_backward),
        [](float v, float w) { return scalar::gelu_backward(v, w); });
  check("gelu_tanh_backward", TRANSCENDENTAL_TEST_BINARY(gelu_tanh_backward),
        TRANSCENDENTAL_TEST_BINARY(gelu_tanh_backward),
        [](float v, float w) { return scalar::gelu_tanh_backward(v, w); });
  check("silu_backward", TRANSCENDENTAL_TEST_BINARY(silu_backward),
        TRANSCENDENTAL_TEST_BINARY(silu_backward),
        [](float v, float w) { return scalar::silu_backward(v, w); });
  check("sigmoid_backward_from_output", TRANSCENDENTAL_TEST_BINARY(sigmoid_backward_from_output),
        TRANSCENDENTAL_TEST_BINARY(sigmoid_backward_from_output),
        [](float v, float w) { return scalar::sigmoid_backward_from_output(v, w); });
  check("tanh_backward_from_output", TRANSCENDENTAL_TEST_BINARY(tanh_backward_from_output),
        TRANSCENDENTAL_TEST_BINARY(tanh_backward_from_output),
        [](float v, float w) { return scalar::tanh_backward_from_output(v, w); });
}

#undef TRANSCENDENTAL_TEST_ARRAY
#undef TRANSCENDENTAL_TEST_BINARY
