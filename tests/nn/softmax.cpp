// softmax and log_softmax: values by hand, stability for large and infinite inputs, any
// dim of any layout, gradients and second derivatives, the fused backward against the
// differentiable one, thread-count independence, errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <latent/latent.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace softmax_test {
using namespace latent;
namespace F = latent::nn::functional;

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-14) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::fabs(got[i] - want[i]) <= tol * (1 + std::fabs(want[i])));
  }
}

// softmax along `dim` computed the slow way, element by element, in long double.
inline std::vector<double> reference_softmax(const Tensor<double>& x, int dim, bool log) {
  const Tensor<double> c = x.contiguous();
  std::int64_t outer = 1, n = x.shape()[dim], inner = 1;
  for (int i = 0; i < dim; ++i) outer *= x.shape()[i];
  for (int i = dim + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  std::vector<double> out(static_cast<std::size_t>(x.numel()));
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t j = 0; j < inner; ++j) {
      auto at = [&](std::int64_t i) { return (o * n + i) * inner + j; };
      long double m = -INFINITY, s = 0;
      for (std::int64_t i = 0; i < n; ++i) m = std::max<long double>(m, c.data()[at(i)]);
      for (std::int64_t i = 0; i < n; ++i) s += std::exp(static_cast<long double>(c.data()[at(i)]) - m);
      for (std::int64_t i = 0; i < n; ++i) {
        const long double d = c.data()[at(i)] - m;
        out[at(i)] = static_cast<double>(log ? d - std::log(s) : std::exp(d) / s);
      }
    }
  return out;
}

using Softmax = std::function<Tensor<double>(const Tensor<double>&, std::int64_t)>;
inline const Softmax softmax = [](const Tensor<double>& x, std::int64_t d) { return F::softmax(x, d); };
inline const Softmax log_softmax = [](const Tensor<double>& x, std::int64_t d) {
  return F::log_softmax(x, d);
};
TEST_CASE("softmax and log_softmax values") {
  const std::vector<double> p = {0.090030573170380462, 0.24472847105479767, 0.66524095577481771};
  check_close(F::softmax(tensor<double>({1, 2, 3}), 0).to_vector(), p);
  check_close(F::log_softmax(tensor<double>({1, 2, 3}), -1).to_vector(),
              {std::log(p[0]), std::log(p[1]), std::log(p[2])});
  // Shifting by a constant changes nothing, even far beyond exp's range.
  check_close(F::softmax(tensor<double>({1001, 1002, 1003}), 0).to_vector(), p);
  check_close(F::log_softmax(tensor<double>({0, -1000}), 0).to_vector(), {0.0, -1000.0});
  // A scalar is its own single class.
  check_close(F::softmax(latent::scalar_tensor(5.0), 0).to_vector(), {1.0});
  check_close(F::log_softmax(latent::scalar_tensor(5.0), -1).to_vector(), {0.0});
  // Infinite scores: -inf gets probability 0; a row of only -inf is NaN, as in PyTorch.
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> y =
      F::softmax(tensor<double>({0.0, -inf, 0.0, -inf, -inf, -inf}, Shape{2, 3}), 1).to_vector();
  check_close({y[0], y[1], y[2]}, {0.5, 0.0, 0.5});
  CHECK(std::isnan(y[3]));
}

TEST_CASE("softmax along every dim, of contiguous and strided inputs") {
  Generator gen(11);
  const Tensor<double> x = latent::randn<double>({3, 4, 5}, gen, 0.0, 3.0);
  for (int d = 0; d < 3; ++d) {
    CAPTURE(d);
    check_close(F::softmax(x, d).to_vector(), reference_softmax(x, d, false));
    check_close(F::log_softmax(x, d - 3).to_vector(), reference_softmax(x, d, true));
  }
  // A permuted view: same values as its contiguous copy.
  const Tensor<double> v = x.permute({2, 0, 1});
  for (int d = 0; d < 3; ++d) {
    check_close(F::softmax(v, d).to_vector(), reference_softmax(v.contiguous(), d, false));
    check_close(F::log_softmax(v, d).to_vector(), reference_softmax(v.contiguous(), d, true));
  }
  // Long rows (pairwise sums) and a float tensor.
  const Tensor<double> wide = latent::randn<double>({2, 1500}, gen, 0.0, 5.0);
  check_close(F::softmax(wide, 1).to_vector(), reference_softmax(wide, 1, false), 1e-13);
  const std::vector<double> want = reference_softmax(wide, 1, true);
  const std::vector<float> got = F::log_softmax(wide.to<float>(), 1).to_vector();
  for (std::size_t i = 0; i < want.size(); ++i)
    CHECK(std::fabs(got[i] - want[i]) <= 1e-5 * (1 + std::fabs(want[i])));
}

TEST_CASE("softmax and log_softmax: gradcheck and gradgradcheck") {
  Generator gen(12);
  struct Case {
    Tensor<double> x;
    std::int64_t dim;
  };
  const std::vector<Case> cases = {
      {latent::randn<double>({4}, gen), 0},         {latent::randn<double>({2, 5}, gen), 1},
      {latent::randn<double>({2, 5}, gen), 0},      {latent::randn<double>({3, 2, 4}, gen), 1},
      {latent::randn<double>({4, 3}, gen).t(), -1},  // non-contiguous
      {latent::randn<double>({2, 1, 3}, gen), -2},   // a dim of size 1
  };
  for (const softmax_test::Softmax& f : {softmax_test::softmax, softmax_test::log_softmax}) {
    for (const Case& c : cases) {
      CAPTURE(c.x.shape());
      CAPTURE(c.dim);
      Tensor<double> x = c.x.detach();
      x.requires_grad_(true);
      const latent::GradcheckFn fn = [&](const std::vector<Tensor<double>>& in) { return f(in[0], c.dim); };
      const latent::GradcheckResult first = latent::gradcheck(fn, {x});
      INFO(first.message);
      CHECK(first.ok);
      const latent::GradcheckResult second = latent::gradgradcheck(fn, {x});
      INFO(second.message);
      CHECK(second.ok);
    }
  }
}

TEST_CASE("softmax backward: hand values; fused and differentiable paths agree") {
  // d softmax_0 / dx = y_0 (e_0 - y): for a gradient of [1, 0, 0].
  const Tensor<double> x = tensor<double>({1, 2, 3}).requires_grad_(true);
  const std::vector<double> y = F::softmax(x.detach(), 0).to_vector();
  F::softmax(x, 0).backward(tensor<double>({1, 0, 0}));
  check_close(x.grad().to_vector(), {y[0] * (1 - y[0]), -y[0] * y[1], -y[0] * y[2]});
  // d sum(log_softmax) / dx = 1 - n y.
  x.zero_grad();
  F::log_softmax(x, 0).sum().backward();
  check_close(x.grad().to_vector(), {1 - 3 * y[0], 1 - 3 * y[1], 1 - 3 * y[2]});

  Generator gen(13);
  for (int d = 0; d < 3; ++d) {
    const Tensor<double> z = latent::randn<double>({3, 4, 5}, gen).requires_grad_(true);
    const Tensor<double> g = latent::randn<double>({5, 3, 4}, gen).permute({1, 2, 0});  // strided gradient
    for (const softmax_test::Softmax& f : {softmax_test::softmax, softmax_test::log_softmax}) {
      const Tensor<double> fused = latent::autograd::grad<double>({f(z, d)}, {z}, {g}, false)[0];
      const Tensor<double> composed = latent::autograd::grad<double>({f(z, d)}, {z}, {g}, true)[0];
      check_close(fused.to_vector(), composed.to_vector(), 1e-13);
    }
  }
}

TEST_CASE("softmax gives the same bits for any thread count") {
  Generator gen(14);
  const Tensor<float> x = latent::randn<float>({96, 513}, gen, 0.0f, 4.0f).requires_grad_(true);
  const Tensor<float> g = latent::randn<float>({96, 513}, gen);
  const int threads = latent::get_num_threads();
  std::vector<std::vector<float>> results;
  for (int n : {1, 2, 3}) {
    latent::set_num_threads(n);
    for (int d : {0, 1}) {
      results.push_back(F::softmax(x, d).to_vector());
      results.push_back(latent::autograd::grad<float>({F::log_softmax(x, d)}, {x}, {g})[0].to_vector());
    }
  }
  latent::set_num_threads(threads);
  for (std::size_t i = 4; i < results.size(); ++i) CHECK(results[i] == results[i % 4]);
}

TEST_CASE("softmax errors") {
  const Tensor<double> x = latent::zeros<double>({2, 3});
  CHECK(error_of([&] { F::softmax(x, 2); }) ==
        "softmax: dim 2 is out of range for a tensor of rank 2 (expected [-2, 1])");
  CHECK(error_of([&] { F::log_softmax(x, -3); }) ==
        "log_softmax: dim -3 is out of range for a tensor of rank 2 (expected [-2, 1])");
}

}  // namespace softmax_test
