// Tests for kernels/transcendental.hpp, double functions and derivatives: double results
// against exact values and against the scalar (C library) versions, the SIMD double exp
// against std::exp, derivatives against finite differences, and float derivatives against
// the double ones. The float functions are tested in transcendental.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <latent/latent.hpp>

namespace transcendental_double_test {

namespace kernels = latent::kernels;

// Distance in ulps between two floats (0 for equal values, including +0 and -0).
std::int64_t float_ulp_distance(float a, float b) {
  auto ordered = [](float f) {
    std::int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i < 0 ? -static_cast<std::int64_t>(i & 0x7fffffff) : static_cast<std::int64_t>(i);
  };
  return std::llabs(ordered(a) - ordered(b));
}

// Lambdas calling kernels::fn for float or double arrays: (x, y, n) and (x, g, y, n).
#define TRANSCENDENTAL_DOUBLE_TEST_ARRAY(fn) \
  [](const auto* x, auto* y, std::int64_t n) { kernels::fn(x, y, n); }
#define TRANSCENDENTAL_DOUBLE_TEST_BINARY(fn) \
  [](const auto* x, const auto* g, auto* y, std::int64_t n) { kernels::fn(x, g, y, n); }

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
    INFO(std::string(name));
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
  check_double("exp", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(exp), exact_exp);
  check_double("tanh", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(tanh), exact_tanh);
  check_double("sigmoid", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(sigmoid), exact_sigmoid);
  check_double("gelu", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(gelu), exact_gelu, 4e-15);
  check_double("gelu_tanh", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(gelu_tanh), exact_gelu_tanh);
  check_double("silu", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(silu), exact_silu);
  check_double("softplus", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(softplus), exact_softplus);

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

TEST_CASE("transcendental: double arrays agree with the scalar (C library) versions") {
  // In a SIMD build sigmoid, silu, gelu_tanh and their derivatives run on the SIMD exp:
  // forward results within 4 ulp of the scalar formulas (plus what the rounding of exp's
  // argument costs both), derivatives within 1e-15 of the size of their terms (their
  // relative error grows near their zeros, for the scalar formulas too).
  std::vector<double> x, g;
  for (int i = 0; i <= 200000; ++i) x.push_back(-50.0 + 100.0 * i / 200000.0 + 1e-7);
  for (int i = 0; i <= 20000; ++i) x.push_back(-800.0 + 1600.0 * i / 20000.0 + 1e-7);
  for (int i = -10000; i <= 10000; ++i) x.push_back(i * 1e-7);
  const double inf = std::numeric_limits<double>::infinity();
  for (double v : {inf, -inf, 0.0, -0.0}) x.push_back(v);
  for (std::size_t i = 0; i < x.size(); ++i) g.push_back(1.5 + std::sin(0.37 * i));
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  namespace scalar = kernels::scalar;

  // slack(x): extra ulps allowed where the argument a of exp is itself rounded (and the
  // compiler may contract the scalar formula into fused multiply-adds): k ulps of error in
  // a become k |a| ulps in exp(a). For gelu_tanh, a = -2u = -1.6 (x + 0.044715 x^3).
  auto check_forward = [&](const char* name, auto array_fn, auto scalar_fn, auto slack) {
    INFO(std::string(name));
    std::vector<double> y(x.size());
    array_fn(x.data(), y.data(), n);
    double worst_excess = 0, worst_x = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double r = scalar_fn(x[i]);
      if (std::isnan(r) || std::isinf(r) || r == 0.0) {
        INFO("x = ", x[i], ": ", y[i], " vs ", r);
        CHECK((std::isnan(r) ? std::isnan(y[i]) : y[i] == r));
        continue;
      }
      const double ulp = std::nextafter(std::fabs(r), inf) - std::fabs(r);
      const double excess = std::fabs(y[i] - r) / ulp - slack(x[i]);
      if (excess > worst_excess) {
        worst_excess = excess;
        worst_x = x[i];
      }
    }
    INFO("worst at x = ", worst_x);
    CHECK(worst_excess <= 4.0);
  };
  const auto no_slack = [](double) { return 0.0; };
  check_forward(
      "sigmoid", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(sigmoid),
      [](double v) { return scalar::sigmoid(v); }, no_slack);
  check_forward(
      "silu", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(silu), [](double v) { return scalar::silu(v); },
      no_slack);
  check_forward(
      "gelu_tanh", TRANSCENDENTAL_DOUBLE_TEST_ARRAY(gelu_tanh),
      [](double v) { return scalar::gelu_tanh(v); },
      [](double v) { return 8.0 * std::fabs(v + 0.044715 * v * v * v); });

  auto check_backward = [&](const char* name, auto array_fn, auto scalar_fn) {
    INFO(std::string(name));
    std::vector<double> y(x.size());
    array_fn(x.data(), g.data(), y.data(), n);
    int failures = 0;
    double first_failure = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (std::isinf(x[i])) continue;  // inf * 0 inside: NaN for both, tested elsewhere
      const double r = scalar_fn(x[i], g[i]);
      if (!(std::fabs(y[i] - r) <= 1e-15 * (std::fabs(r) + std::fabs(g[i]))) && failures++ == 0)
        first_failure = x[i];
    }
    INFO("first failure at x = ", first_failure);
    CHECK(failures == 0);
  };
  check_backward("silu_backward", TRANSCENDENTAL_DOUBLE_TEST_BINARY(silu_backward),
                 [](double v, double w) { return scalar::silu_backward(v, w); });
  check_backward("gelu_tanh_backward", TRANSCENDENTAL_DOUBLE_TEST_BINARY(gelu_tanh_backward),
                 [](double v, double w) { return scalar::gelu_tanh_backward(v, w); });
  check_backward("sigmoid_backward_from_output",
                 TRANSCENDENTAL_DOUBLE_TEST_BINARY(sigmoid_backward_from_output),
                 [](double v, double w) { return scalar::sigmoid_backward_from_output(v, w); });
  check_backward("tanh_backward_from_output",
                 TRANSCENDENTAL_DOUBLE_TEST_BINARY(tanh_backward_from_output),
                 [](double v, double w) { return scalar::tanh_backward_from_output(v, w); });
}

TEST_CASE("transcendental: derivatives match finite differences (double)") {
  // grad_in = grad_out * f'(x), against (f(x + h) - f(x - h)) / 2h.
  auto check_derivative = [](const char* name, auto forward, auto backward) {
    INFO(std::string(name));
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
    INFO(std::string(name));
    std::vector<float> y(x.size());
    array_f(x.data(), g.data(), y.data(), n);
    std::vector<double> xd(x.begin(), x.end()), gd(g.begin(), g.end()), yd(x.size());
    array_d(xd.data(), gd.data(), yd.data(), n);
    int far_from_double = 0, far_from_scalar = 0;
    float first_far = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const bool near_double = std::fabs(y[i] - yd[i]) <= 2e-7 * std::fabs(yd[i]) + 1e-12;
      const bool near_scalar = float_ulp_distance(y[i], scalar_f(x[i], g[i])) <= 1;
      far_from_double += near_double ? 0 : 1;
      far_from_scalar += near_scalar ? 0 : 1;
      if (!(near_double && near_scalar) && far_from_double + far_from_scalar == 1) first_far = x[i];
    }
    INFO("first discrepancy at x = ", first_far);
    CHECK(far_from_double == 0);
    CHECK(far_from_scalar == 0);
  };
  check("gelu_backward", TRANSCENDENTAL_DOUBLE_TEST_BINARY(gelu_backward),
        TRANSCENDENTAL_DOUBLE_TEST_BINARY(gelu_backward),
        [](float v, float w) { return scalar::gelu_backward(v, w); });
  check("gelu_tanh_backward", TRANSCENDENTAL_DOUBLE_TEST_BINARY(gelu_tanh_backward),
        TRANSCENDENTAL_DOUBLE_TEST_BINARY(gelu_tanh_backward),
        [](float v, float w) { return scalar::gelu_tanh_backward(v, w); });
  check("silu_backward", TRANSCENDENTAL_DOUBLE_TEST_BINARY(silu_backward),
        TRANSCENDENTAL_DOUBLE_TEST_BINARY(silu_backward),
        [](float v, float w) { return scalar::silu_backward(v, w); });
  check("sigmoid_backward_from_output",
        TRANSCENDENTAL_DOUBLE_TEST_BINARY(sigmoid_backward_from_output),
        TRANSCENDENTAL_DOUBLE_TEST_BINARY(sigmoid_backward_from_output),
        [](float v, float w) { return scalar::sigmoid_backward_from_output(v, w); });
  check("tanh_backward_from_output", TRANSCENDENTAL_DOUBLE_TEST_BINARY(tanh_backward_from_output),
        TRANSCENDENTAL_DOUBLE_TEST_BINARY(tanh_backward_from_output),
        [](float v, float w) { return scalar::tanh_backward_from_output(v, w); });
}

}  // namespace transcendental_double_test

#undef TRANSCENDENTAL_DOUBLE_TEST_ARRAY
#undef TRANSCENDENTAL_DOUBLE_TEST_BINARY
