// conv2d, conv_transpose2d, conv1d, conv_transpose1d: hand-computed cases, a direct
// (seven-loop) reference over many configurations, first and second derivatives, thread
// independence, and argument errors.
#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <latent/latent.hpp>
#include <string>
#include <vector>

using namespace latent;

namespace conv_test {
namespace F = latent::nn::functional;

inline std::string error_of(const std::function<void()>& fn) {
  return latent_test::error_message(fn, "no error");
}

template <class T>
Tensor<T> random(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn<T>(shape, gen);
}

// The definition, one output element at a time:
//   y[n, o, oh, ow] = b[o] + sum_{c in o's group, i, j} w[o, c, i, j] x[n, c, oh s - p + i d, ow s
//   - p + j d]
template <class T>
Tensor<T> direct_conv2d(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, F::IntPair s,
                        F::IntPair p, F::IntPair d, std::int64_t groups) {
  const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t O = w.size(0), Cg = w.size(1), KH = w.size(2), KW = w.size(3);
  const std::int64_t OH = (H + 2 * p.h - d.h * (KH - 1) - 1) / s.h + 1;
  const std::int64_t OW = (W + 2 * p.w - d.w * (KW - 1) - 1) / s.w + 1;
  const std::int64_t Og = O / groups;
  (void)C;
  Tensor<T> y = zeros<T>({N, O, OH, OW});
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t o = 0; o < O; ++o)
      for (std::int64_t oh = 0; oh < OH; ++oh)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          T acc = b.defined() ? b(o) : T(0);
          for (std::int64_t c = 0; c < Cg; ++c)
            for (std::int64_t i = 0; i < KH; ++i)
              for (std::int64_t j = 0; j < KW; ++j) {
                const std::int64_t ih = oh * s.h - p.h + i * d.h, iw = ow * s.w - p.w + j * d.w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += w(o, c, i, j) * x(n, (o / Og) * Cg + c, ih, iw);
              }
          y(n, o, oh, ow) = acc;
        }
  return y;
}

// The weight gradient by its definition:
//   dw[o, c, i, j] = sum_{n, oh, ow} g[n, o, oh, ow] x[n, group(o) C/groups + c, oh s - p + i d, ow
//   s - p + j d]
template <class T>
Tensor<T> direct_weight_grad(const Tensor<T>& x, const Tensor<T>& g, const Shape& w_shape,
                             F::IntPair s, F::IntPair p, F::IntPair d, std::int64_t groups) {
  const std::int64_t N = x.size(0), H = x.size(2), W = x.size(3), OH = g.size(2), OW = g.size(3);
  const std::int64_t O = w_shape[0], Cg = w_shape[1], KH = w_shape[2], KW = w_shape[3];
  const std::int64_t Og = O / groups;
  Tensor<T> dw = zeros<T>(w_shape);
  for (std::int64_t o = 0; o < O; ++o)
    for (std::int64_t c = 0; c < Cg; ++c)
      for (std::int64_t i = 0; i < KH; ++i)
        for (std::int64_t j = 0; j < KW; ++j) {
          T acc = 0;
          for (std::int64_t n = 0; n < N; ++n)
            for (std::int64_t oh = 0; oh < OH; ++oh)
              for (std::int64_t ow = 0; ow < OW; ++ow) {
                const std::int64_t ih = oh * s.h - p.h + i * d.h, iw = ow * s.w - p.w + j * d.w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += g(n, o, oh, ow) * x(n, (o / Og) * Cg + c, ih, iw);
              }
          dw(o, c, i, j) = acc;
        }
  return dw;
}

// The transposed convolution by its definition: each input pixel scatters its value times
// the kernel onto the output.
template <class T>
Tensor<T> direct_conv_transpose2d(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                                  F::IntPair s, F::IntPair p, F::IntPair op, std::int64_t groups,
                                  F::IntPair d) {
  const std::int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t Cg = w.size(1), KH = w.size(2), KW = w.size(3), Cout = Cg * groups;
  const std::int64_t OH = (H - 1) * s.h - 2 * p.h + d.h * (KH - 1) + op.h + 1;
  const std::int64_t OW = (W - 1) * s.w - 2 * p.w + d.w * (KW - 1) + op.w + 1;
  const std::int64_t in_per_group = Cin / groups;
  Tensor<T> y = zeros<T>({N, Cout, OH, OW});
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t ci = 0; ci < Cin; ++ci)
      for (std::int64_t ih = 0; ih < H; ++ih)
        for (std::int64_t iw = 0; iw < W; ++iw)
          for (std::int64_t co = 0; co < Cg; ++co)
            for (std::int64_t i = 0; i < KH; ++i)
              for (std::int64_t j = 0; j < KW; ++j) {
                const std::int64_t oh = ih * s.h - p.h + i * d.h, ow = iw * s.w - p.w + j * d.w;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                y(n, (ci / in_per_group) * Cg + co, oh, ow) += x(n, ci, ih, iw) * w(ci, co, i, j);
              }
  if (b.defined())
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t c = 0; c < Cout; ++c)
        for (std::int64_t oh = 0; oh < OH; ++oh)
          for (std::int64_t ow = 0; ow < OW; ++ow) y(n, c, oh, ow) += b(c);
  return y;
}

// got == want within tol (relative, with an absolute floor of tol).
template <class T>
void check_close(const Tensor<T>& got, const Tensor<T>& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<T> g = got.to_vector(), w = want.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, std::fabs(double(g[i] - w[i])) / (1 + std::fabs(double(w[i]))));
  INFO("shape ", got.shape(), ", worst relative error ", worst);
  CHECK(worst <= tol);
}

struct Config {
  Shape x, w;
  F::IntPair stride, padding, dilation;
  std::int64_t groups;
  bool bias;
  F::IntPair output_padding = 0;  // conv_transpose2d only
};

// conv2d configurations: x [N, C, H, W], w [O, C/groups, kh, kw].
inline std::vector<Config> conv_configs() {
  return {
      {{2, 3, 7, 6}, {4, 3, 3, 3}, 1, 0, 1, 1, true},
      {{1, 2, 8, 9}, {3, 2, 3, 3}, 2, 1, 1, 1, true},
      {{2, 2, 9, 7}, {2, 2, 3, 2}, 1, {2, 1}, 2, 1, false},
      {{1, 4, 6, 6}, {6, 2, 3, 3}, 1, 0, 1, 2, true},
      {{1, 3, 5, 5}, {3, 1, 3, 3}, 1, 1, 1, 3, true},   // depthwise
      {{2, 5, 4, 3}, {3, 5, 1, 1}, 1, 0, 1, 1, true},   // pointwise: no im2col
      {{1, 4, 7, 5}, {4, 1, 1, 1}, 2, 0, 1, 4, false},  // 1x1 strided
      {{1, 4, 9, 11}, {4, 2, 3, 2}, {2, 3}, {1, 2}, {2, 1}, 2, true},
      {{7, 2, 12, 12}, {3, 2, 3, 3}, 1, 0, 1, 1, true},  // 6 + 1 images per product
      {{2, 2, 24, 24}, {3, 2, 1, 1}, 1, 0, 1, 1, true},  // large pointwise: in place
      // Large images, one per product
      {{2, 16, 40, 36}, {4, 16, 3, 3}, 1, 1, 1, 1, true},
      {{1, 32, 61, 45}, {4, 16, 3, 3}, 2, 1, 1, 2, false},
  };
}

// conv_transpose2d configurations: x [N, Cin, H, W], w [Cin, Cout/groups, kh, kw].
inline std::vector<Config> transpose_configs() {
  return {
      {{2, 3, 4, 5}, {3, 2, 3, 3}, 1, 0, 1, 1, true},
      {{1, 2, 4, 4}, {2, 3, 3, 3}, 2, 1, 1, 1, true, 1},
      {{1, 4, 3, 3}, {4, 1, 3, 3}, 2, 0, 1, 2, false},
      {{1, 2, 4, 3}, {2, 2, 3, 2}, 1, 1, 2, 1, true, 1},  // output_padding >= stride, < dilation
      {{1, 3, 4, 5}, {3, 2, 2, 3}, {2, 3}, {1, 0}, 1, 1, true, {1, 2}},
      {{2, 4, 3, 3}, {4, 1, 1, 1}, 1, 0, 1, 2, true},     // pointwise
      {{7, 2, 10, 10}, {2, 3, 3, 3}, 1, 0, 1, 1, true},   // 6 + 1 images per product
      {{2, 3, 24, 24}, {3, 2, 1, 1}, 1, 0, 1, 1, false},  // large pointwise: in place
      {{2, 8, 30, 30}, {8, 16, 3, 3}, 1, 1, 1, 1, true},  // large: one image per product
  };
}

inline GradcheckFn conv_fn(const Config& c) {
  return [c](const std::vector<Tensor<double>>& in) {
    return F::conv2d(in[0], in[1], c.bias ? in[2] : Tensor<double>(), c.stride, c.padding,
                     c.dilation, c.groups);
  };
}

inline GradcheckFn transpose_fn(const Config& c) {
  return [c](const std::vector<Tensor<double>>& in) {
    return F::conv_transpose2d(in[0], in[1], c.bias ? in[2] : Tensor<double>(), c.stride, c.padding,
                               c.output_padding, c.groups, c.dilation);
  };
}

inline void expect_grads(const GradcheckFn& f, const std::vector<Tensor<double>>& inputs) {
  const GradcheckResult first = gradcheck(f, inputs);
  INFO(first.message);
  CHECK(first.ok);
  const GradcheckResult second = gradgradcheck(f, inputs);
  INFO(second.message);
  CHECK(second.ok);
}

}  // namespace conv_test

TEST_CASE("conv2d of a 3x3 image with a 2x2 kernel, by hand") {
  namespace F = latent::nn::functional;
  // x = [[0 1 2] [3 4 5] [6 7 8]], w = [[1 2] [3 4]]: y[0,0] = 0 + 2 + 9 + 16 = 27, ...
  const Tensor<double> x = arange<double>(9).reshape({1, 1, 3, 3});
  const Tensor<double> w = tensor<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK(F::conv2d(x, w).to_vector() == std::vector<double>{27, 37, 57, 67});
  CHECK(F::conv2d(x, w, tensor<double>({0.5})).to_vector() ==
        std::vector<double>{27.5, 37.5, 57.5, 67.5});
  // Padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1) of the zero-padded image.
  // y[0,0] = 4*0 = 0; y[0,1] = 3*1 + 4*2 = 11; y[1,0] = 2*3 + 4*6 = 30; y[1,1] = 1*4 + 2*5 + 3*7 +
  // 4*8 = 67.
  CHECK(F::conv2d(x, w, {}, 2, 1).to_vector() == std::vector<double>{0, 11, 30, 67});
  // Dilation 2 on the 3x3 image: the taps are the four corners, 0 + 2*2 + 3*6 + 4*8 = 54.
  CHECK(F::conv2d(x, w, {}, 1, 0, 2).to_vector() == std::vector<double>{54});
  // Unbatched input [C, H, W] gives [O, OH, OW].
  CHECK(F::conv2d(x.reshape({1, 3, 3}), w).shape() == Shape{1, 2, 2});
}

TEST_CASE("conv_transpose2d of a 2x2 image with a 2x2 kernel, by hand") {
  namespace F = latent::nn::functional;
  // Each pixel stamps the kernel scaled by its value: the full 2-d convolution.
  const Tensor<double> x = tensor<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor<double> w = tensor<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK(F::conv_transpose2d(x, w).to_vector() ==
        std::vector<double>{1, 4, 4, 6, 20, 16, 9, 24, 16});
  // Stride 2: the stamps tile the output without overlapping.
  CHECK(F::conv_transpose2d(x, w, {}, 2).to_vector() ==
        std::vector<double>{1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16});
  // Padding 1 crops a ring of that 4x4 output; output_padding 1 gives back its last row
  // and column, so the result is rows and columns 1..3 of it, plus the bias.
  const Tensor<double> y = F::conv_transpose2d(x, w, tensor<double>({1}), 2, 1, 1);
  CHECK(y.shape() == Shape{1, 1, 3, 3});
  CHECK(y.to_vector() == std::vector<double>{5, 7, 9, 7, 5, 9, 13, 13, 17});
}

TEST_CASE("conv2d and its gradients match the direct definitions") {
  using namespace conv_test;
  for (const Config& c : conv_configs()) {
    const Tensor<double> x = random<double>(c.x, 1).requires_grad_(true);
    const Tensor<double> w = random<double>(c.w, 2).requires_grad_(true);
    const Tensor<double> b = c.bias ? random<double>({c.w[0]}, 3) : Tensor<double>();
    const Tensor<double> want = direct_conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
    const Tensor<double> y = F::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
    check_close(y, want, 1e-12);
    const Tensor<float> xf = x.to<float>(), wf = w.to<float>();
    const Tensor<float> bf = c.bias ? b.to<float>() : Tensor<float>();
    check_close(F::conv2d(xf, wf, bf, c.stride, c.padding, c.dilation, c.groups), want.to<float>(),
                1e-5);
    // Gradients: the weight's by its definition; the input's is the transposed
    // convolution, with the output_padding that recovers the input size.
    const Tensor<double> g = random<double>(y.shape(), 4);
    y.backward(g);
    check_close(w.grad(), direct_weight_grad(x, g, c.w, c.stride, c.padding, c.dilation, c.groups),
                1e-12);
    const F::IntPair span{c.dilation.h * (c.w[2] - 1) + 1, c.dilation.w * (c.w[3] - 1) + 1};
    const F::IntPair extra{(c.x[2] + 2 * c.padding.h - span.h) % c.stride.h,
                           (c.x[3] + 2 * c.padding.w - span.w) % c.stride.w};
    check_close(x.grad(),
                direct_conv_transpose2d(g, w, Tensor<double>(), c.stride, c.padding, extra,
                                        c.groups, c.dilation),
                1e-12);
  }
}

TEST_CASE("conv_transpose2d matches the direct definition") {
  using namespace conv_test;
  for (const Config& c : transpose_configs()) {
    const std::int64_t out_channels = c.w[1] * c.groups;
    const Tensor<double> x = random<double>(c.x, 4), w = random<double>(c.w, 5);
    const Tensor<double> b = c.bias ? random<double>({out_channels}, 6) : Tensor<double>();
    const Tensor<double> want = direct_conv_transpose2d(x, w, b, c.stride, c.padding,
                                                        c.output_padding, c.groups, c.dilation);
    check_close(
        F::conv_transpose2d(x, w, b, c.stride, c.padding, c.output_padding, c.groups, c.dilation),
        want, 1e-12);
    const Tensor<float> bf = c.bias ? b.to<float>() : Tensor<float>();
    check_close(F::conv_transpose2d(x.to<float>(), w.to<float>(), bf, c.stride, c.padding,
                                    c.output_padding, c.groups, c.dilation),
                want.to<float>(), 1e-5);
  }
}

TEST_CASE("conv2d and conv_transpose2d read non-contiguous inputs") {
  using namespace conv_test;
  const Tensor<double> x = random<double>({2, 3, 6, 5}, 7).transpose(2, 3);   // [2, 3, 5, 6]
  const Tensor<double> w = random<double>({4, 3, 2, 3}, 8).transpose(2, 3);   // [4, 3, 3, 2]
  const Tensor<double> wt = random<double>({4, 3, 3, 2}, 9).transpose(0, 1);  // [3, 4, 3, 2]
  REQUIRE(!x.is_contiguous());
  REQUIRE(!w.is_contiguous());
  REQUIRE(!wt.is_contiguous());
  check_close(F::conv2d(x, w, {}, 1, 1), direct_conv2d(x, w, Tensor<double>(), 1, 1, 1, 1), 1e-12);
  check_close(F::conv_transpose2d(x, wt, {}, 2),
              direct_conv_transpose2d(x, wt, Tensor<double>(), 2, 0, 0, 1, 1), 1e-12);
}

TEST_CASE("conv2d gradients and second derivatives") {
  using namespace conv_test;
  // Small versions of the configurations: gradcheck costs inputs x outputs.
  const std::vector<Config> configs = {
      {{1, 2, 5, 5}, {2, 2, 3, 3}, 2, 1, 1, 1, true},
      {{2, 1, 5, 6}, {2, 1, 2, 3}, {1, 2}, {0, 1}, 1, 1, false},  // non-square kernel
      {{1, 2, 6, 6}, {2, 2, 2, 2}, 1, 1, 2, 1, true},             // dilation 2
      {{1, 4, 4, 4}, {2, 2, 2, 2}, 1, 0, 1, 2, true},             // groups 2
      {{1, 3, 3, 2}, {2, 3, 1, 1}, 1, 0, 1, 1, true},             // pointwise
  };
  for (const Config& c : configs) {
    std::vector<Tensor<double>> inputs = {random<double>(c.x, 11).requires_grad_(true),
                                          random<double>(c.w, 12).requires_grad_(true)};
    if (c.bias) inputs.push_back(random<double>({c.w[0]}, 13).requires_grad_(true));
    expect_grads(conv_fn(c), inputs);
  }
  // A non-contiguous input.
  const Config c{{1, 2, 4, 5}, {2, 2, 2, 2}, 1, 1, 1, 1, true};
  expect_grads(
      conv_fn(c),
      {random<double>({1, 2, 5, 4}, 14).transpose(2, 3).detach().requires_grad_(true),
       random<double>(c.w, 15).requires_grad_(true), random<double>({2}, 16).requires_grad_(true)});
}

TEST_CASE("conv_transpose2d gradients and second derivatives") {
  using namespace conv_test;
  const std::vector<Config> configs = {
      {{1, 2, 3, 3}, {2, 2, 3, 3}, 2, 1, 1, 1, true, 1},
      {{1, 2, 3, 2}, {2, 1, 2, 3}, {1, 2}, 0, 1, 1, false},  // non-square kernel
      {{1, 2, 3, 3}, {2, 2, 2, 2}, 1, 1, 2, 1, true, 1},     // dilation 2, output_padding 1
      {{1, 4, 2, 3}, {4, 1, 2, 2}, 2, 0, 1, 2, true},        // groups 2
  };
  for (const Config& c : configs) {
    std::vector<Tensor<double>> inputs = {random<double>(c.x, 21).requires_grad_(true),
                                          random<double>(c.w, 22).requires_grad_(true)};
    if (c.bias) inputs.push_back(random<double>({c.w[1] * c.groups}, 23).requires_grad_(true));
    expect_grads(transpose_fn(c), inputs);
  }
  const Config c{{1, 2, 3, 3}, {2, 2, 2, 2}, 2, 0, 1, 1, false};
  expect_grads(transpose_fn(c),
               {random<double>({1, 2, 3, 3}, 24).transpose(2, 3).detach().requires_grad_(true),
                random<double>(c.w, 25).requires_grad_(true)});
}

TEST_CASE("conv2d input gradient is conv_transpose2d with the same weight") {
  using namespace conv_test;
  // <conv2d(x, w), g> = <x, conv_transpose2d(g, w)>, output_padding recovering x's size.
  const Tensor<double> x = random<double>({2, 2, 8, 7}, 31).requires_grad_(true);
  const Tensor<double> w = random<double>({3, 2, 3, 3}, 32);
  const Tensor<double> y = F::conv2d(x, w, {}, 2, 1);  // [2, 3, 4, 4]
  const Tensor<double> g = random<double>(y.shape(), 33);
  y.backward(g);
  check_close(x.grad(), F::conv_transpose2d(g, w, {}, 2, 1, {1, 0}), 1e-12);
}

TEST_CASE("conv1d and conv_transpose1d") {
  using namespace conv_test;
  // x = [1 2 3 4 5], w = [1 0 -1]: y[i] = x[i] - x[i+2] = -2 each.
  const Tensor<double> x = tensor<double>({1, 2, 3, 4, 5}, {1, 1, 5});
  const Tensor<double> w = tensor<double>({1, 0, -1}, {1, 1, 3});
  CHECK(F::conv1d(x, w).to_vector() == std::vector<double>{-2, -2, -2});
  // Padding 1, stride 2: windows [0 1 2], [2 3 4], [4 5 0].
  CHECK(F::conv1d(x, w, tensor<double>({10}), 2, 1).to_vector() == std::vector<double>{8, 8, 14});
  CHECK(F::conv1d(x.reshape({1, 5}), w).shape() == Shape{1, 3});
  // Transposed: [1 2] stamps w: [1 2 -1 -2].
  CHECK(F::conv_transpose1d(tensor<double>({1, 2}, {1, 1, 2}), w).to_vector() ==
        std::vector<double>{1, 2, -1, -2});
  const GradcheckFn f = [](const std::vector<Tensor<double>>& in) {
    return F::conv1d(in[0], in[1], in[2], 2, 1, 2, 2);
  };
  expect_grads(f, {random<double>({1, 4, 7}, 41).requires_grad_(true),
                   random<double>({2, 2, 3}, 42).requires_grad_(true),
                   random<double>({2}, 43).requires_grad_(true)});
  const GradcheckFn ft = [](const std::vector<Tensor<double>>& in) {
    return F::conv_transpose1d(in[0], in[1], Tensor<double>(), 2, 1, 1);
  };
  expect_grads(ft, {random<double>({1, 2, 3}, 44).requires_grad_(true),
                    random<double>({2, 1, 3}, 45).requires_grad_(true)});
}

TEST_CASE("conv2d gives the same bits for any thread count") {
  using namespace conv_test;
  // Two layouts: small images side by side in one product (the products' own threads),
  // and larger images one per product, shared out over the threads.
  struct Case {
    Shape x, w;
    std::int64_t groups;
  };
  for (const Case& c :
       {Case{{5, 6, 9, 9}, {8, 6, 3, 3}, 1}, Case{{8, 8, 32, 32}, {16, 4, 3, 3}, 2}}) {
    const Tensor<float> x = random<float>(c.x, 51).requires_grad_(true);
    const Tensor<float> w = random<float>(c.w, 52).requires_grad_(true);
    auto run = [&](int threads) {
      set_num_threads(threads);
      x.zero_grad();
      w.zero_grad();
      const Tensor<float> y = F::conv2d(x, w, {}, 2, 1, 1, c.groups);
      y.backward(random<float>(y.shape(), 53));
      std::vector<float> all = y.to_vector();
      for (float v : x.grad().to_vector()) all.push_back(v);
      for (float v : w.grad().to_vector()) all.push_back(v);
      return all;
    };
    const int saved = get_num_threads();
    const std::vector<float> one = run(1), two = run(2), three = run(3);
    set_num_threads(saved);
    CHECK(one == two);
    CHECK(one == three);
  }
}

TEST_CASE("conv2d and conv_transpose2d argument errors") {
  using namespace conv_test;
  const Tensor<double> x = zeros<double>({1, 4, 5, 5});
  const Tensor<double> w = zeros<double>({2, 4, 3, 3});
  CHECK(error_of([&] {
          F::conv2d(zeros<double>({4, 5}), w);
        }) == "conv2d: expected a 4-d input [N, C, H, W] or 3-d [C, H, W], got shape [4, 5]");
  CHECK(error_of([&] {
          F::conv2d(x, zeros<double>({2, 4, 3}));
        }) ==
        "conv2d: expected a 4-d weight [out_channels, in_channels / groups, kH, kW], got shape [2, "
        "4, 3]");
  CHECK(
      error_of([&] {
        F::conv2d(x, zeros<double>({2, 3, 3, 3}));
      }) ==
      "conv2d: weight of shape [2, 3, 3, 3] expects 3 input channels (groups=1), but the input of "
      "shape [1, 4, 5, 5] has 4");
  CHECK(error_of([&] {
          F::conv2d(x, zeros<double>({2, 1, 3, 3}), {}, 1, 0, 1, 3);
        }) ==
        "conv2d: input channels 4 (input of shape [1, 4, 5, 5]) are not divisible by groups=3");
  CHECK(error_of([&] {
          F::conv2d(x, zeros<double>({3, 2, 3, 3}), {}, 1, 0, 1, 2);
        }) ==
        "conv2d: out_channels 3 (weight of shape [3, 2, 3, 3]) are not divisible by groups=2");
  CHECK(error_of([&] { F::conv2d(x, w, zeros<double>({3})); }) ==
        "conv2d: bias must have shape [2], got [3]");
  CHECK(error_of([&] {
          F::conv2d(x, w, {}, {1, 0});
        }) == "conv2d: stride must be positive, got [1, 0]");
  CHECK(error_of([&] { F::conv2d(x, w, {}, 1, 0, 0); }) ==
        "conv2d: dilation must be positive, got [0, 0]");
  CHECK(error_of([&] { F::conv2d(x, w, {}, 1, -1); }) ==
        "conv2d: padding must be non-negative, got [-1, -1]");
  CHECK(error_of([&] { F::conv2d(x, w, {}, 1, 0, 1, 0); }) ==
        "conv2d: groups must be positive, got 0");
  CHECK(error_of([&] { F::conv2d(x, w, {}, 1, 0, 3); }) ==
        "conv2d: padded input size [5, 5] is smaller than the dilated kernel size [7, 7] (input of "
        "shape [1, 4, 5, 5], weight of shape [2, 4, 3, 3], padding [0, 0], dilation [3, 3])");
  CHECK_THROWS_AS(F::conv2d(zeros<double>({1, 4, 2, 5}), w), Error);
  CHECK_THROWS_AS(F::conv2d(x, zeros<double>({2, 4, 0, 3})), Error);

  const Tensor<double> wt = zeros<double>({4, 2, 3, 3});  // [Cin, Cout / groups, kh, kw]
  CHECK(error_of([&] {
          F::conv_transpose2d(x, zeros<double>({3, 2, 3, 3}));
        }) ==
        "conv_transpose2d: weight of shape [3, 2, 3, 3] expects 3 input channels, but the input of "
        "shape [1, 4, 5, 5] has 4");
  CHECK(error_of([&] { F::conv_transpose2d(x, wt, {}, 2, 0, 2); }) ==
        "conv_transpose2d: output_padding [2, 2] must be smaller than either stride [2, 2] or "
        "dilation [1, 1]");
  CHECK_NOTHROW(F::conv_transpose2d(x, wt, {}, 1, 0, 1, 1, 2));  // smaller than the dilation
  CHECK(error_of([&] { F::conv_transpose2d(x, wt, zeros<double>({4})); }) ==
        "conv_transpose2d: bias must have shape [2], got [4]");
  CHECK(error_of([&] { F::conv_transpose2d(x, wt, {}, 1, 0, 0, 3); }) ==
        "conv_transpose2d: input channels 4 (input of shape [1, 4, 5, 5]) are not divisible by "
        "groups=3");
  CHECK(
      error_of([&] {
        F::conv_transpose2d(zeros<double>({1, 4, 1, 1}), wt, {}, 1, 2);
      }) ==
      "conv_transpose2d: output size [-1, -1] is not positive (input of shape [1, 4, 1, 1], weight "
      "of shape [4, 2, 3, 3], stride [1, 1], padding [2, 2], output_padding [0, 0], dilation [1, "
      "1])");
  CHECK_THROWS_AS(F::conv_transpose2d(x, wt, {}, 0), Error);
  CHECK_THROWS_AS(F::conv_transpose2d(x, wt, {}, 1, -1), Error);
  CHECK_THROWS_AS(F::conv_transpose2d(x, wt, {}, 2, 0, -1), Error);
  CHECK(error_of([&] {
          F::conv1d(zeros<double>({5}), zeros<double>({1, 1, 3}));
        }) == "conv1d: expected a 3-d input [N, C, L] or 2-d [C, L], got shape [5]");
}
