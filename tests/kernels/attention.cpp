// The attention kernel (kernels/attention.hpp) against a naive reference that builds the
// whole score matrix, in float64 and float32; its scalar reference; thread-count
// determinism; and scaled_dot_product_attention / MultiheadAttention on top of it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <latent/latent.hpp>
#include <limits>
#include <random>
#include <vector>

using namespace latent;

namespace attention_kernel_test {

// Sizes and causal settings of one case; operands are [batch, heads, rows, cols] arrays
// whose rows are `pad` values longer than needed (so row strides differ from widths).
struct Case {
  std::int64_t batch, heads, queries, keys, dim, value_dim;
  bool causal;
  std::int64_t offset;
  std::int64_t pad = 0;
};

template <class T>
struct Operands {
  Case c;
  std::vector<T> q, k, v, dout;
  kernels::AttentionProblem<T> problem() const {
    kernels::AttentionProblem<T> p;
    p.batch = c.batch, p.heads = c.heads, p.queries = c.queries, p.keys = c.keys, p.dim = c.dim;
    p.value_dim = c.value_dim, p.scale = T(1.0 / std::sqrt(double(std::max<std::int64_t>(1, c.dim))));
    p.causal = c.causal, p.causal_offset = c.offset;
    p.q = matrix<const T>(q.data(), c.queries, c.dim);
    p.k = matrix<const T>(k.data(), c.keys, c.dim);
    p.v = matrix<const T>(v.data(), c.keys, c.value_dim);
    return p;
  }
  template <class U>
  kernels::AttentionMatrix<U> matrix(U* data, std::int64_t rows, std::int64_t cols) const {
    const std::int64_t rs = cols + c.pad;
    return {data, c.heads * rows * rs, rows * rs, rs};
  }
  std::size_t size(std::int64_t rows, std::int64_t cols) const {
    return static_cast<std::size_t>(c.batch * c.heads * rows * (cols + c.pad));
  }
};

template <class T>
Operands<T> make(const Case& c, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Operands<T> o;
  o.c = c;
  auto fill = [&](std::vector<T>& x, std::size_t n) {
    x.resize(n);
    for (T& e : x) e = static_cast<T>(normal(rng));
  };
  fill(o.q, o.size(c.queries, c.dim));
  fill(o.k, o.size(c.keys, c.dim));
  fill(o.v, o.size(c.keys, c.value_dim));
  fill(o.dout, o.size(c.queries, c.value_dim));
  return o;
}

// The naive reference, in double whatever T: P = softmax of the masked score matrix,
// out = P V, and the gradients from the materialised P:
// dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q.
struct Reference {
  std::vector<double> out, dq, dk, dv;
};

template <class T>
Reference naive(const Operands<T>& o) {
  const Case& c = o.c;
  const kernels::AttentionProblem<T> p = o.problem();
  const double scale = double(p.scale);
  Reference r;
  r.out.assign(o.size(c.queries, c.value_dim), 0.0);
  r.dq.assign(o.size(c.queries, c.dim), 0.0);
  r.dk.assign(o.size(c.keys, c.dim), 0.0);
  r.dv.assign(o.size(c.keys, c.value_dim), 0.0);
  auto at = [&](std::int64_t b, std::int64_t h, std::int64_t rows, std::int64_t cols, std::int64_t i, std::int64_t j) {
    const std::int64_t rs = cols + c.pad;
    return static_cast<std::size_t>(b * c.heads * rows * rs + h * rows * rs + i * rs + j);
  };
  for (std::int64_t b = 0; b < c.batch; ++b) {
    for (std::int64_t h = 0; h < c.heads; ++h) {
      std::vector<double> prob(static_cast<std::size_t>(c.queries * c.keys), 0.0), dprob = prob;
      for (std::int64_t i = 0; i < c.queries; ++i) {
        double m = -std::numeric_limits<double>::infinity();
        std::vector<double> s(static_cast<std::size_t>(c.keys), 0.0);
        for (std::int64_t j = 0; j < c.keys; ++j) {
          for (std::int64_t e = 0; e < c.dim; ++e)
            s[j] += double(o.q[at(b, h, c.queries, c.dim, i, e)]) * double(o.k[at(b, h, c.keys, c.dim, j, e)]);
          s[j] *= scale;
          if (c.causal && j > i + c.offset) s[j] = -std::numeric_limits<double>::infinity();
          m = std::max(m, s[j]);
        }
        double total = 0;
        for (std::int64_t j = 0; j < c.keys; ++j) total += std::exp(s[j] - m);
        for (std::int64_t j = 0; j < c.keys; ++j) prob[i * c.keys + j] = std::exp(s[j] - m) / total;
        for (std::int64_t e = 0; e < c.value_dim; ++e)
          for (std::int64_t j = 0; j < c.keys; ++j)
            r.out[at(b, h, c.queries, c.value_dim, i, e)] +=
                prob[i * c.keys + j] * double(o.v[at(b, h, c.keys, c.value_dim, j, e)]);
      }
      for (std::int64_t i = 0; i < c.queries; ++i) {
        double row = 0;
        for (std::int64_t j = 0; j < c.keys; ++j) {
          double dp = 0;
          for (std::int64_t e = 0; e < c.value_dim; ++e)
            dp += double(o.dout[at(b, h, c.queries, c.value_dim, i, e)]) * double(o.v[at(b, h, c.keys, c.value_dim, j, e)]);
          dprob[i * c.keys + j] = dp;
          row += dp * prob[i * c.keys + j];
        }
        for (std::int64_t j = 0; j < c.keys; ++j) {
          const double pij = prob[i * c.keys + j], ds = pij * (dprob[i * c.keys + j] - row) * scale;
          for (std::int64_t e = 0; e < c.value_dim; ++e)
            r.dv[at(b, h, c.keys, c.value_dim, j, e)] += pij * double(o.dout[at(b, h, c.queries, c.value_dim, i, e)]);
          for (std::int64_t e = 0; e < c.dim; ++e) {
            r.dq[at(b, h, c.queries, c.dim, i, e)] += ds * double(o.k[at(b, h, c.keys, c.dim, j, e)]);
            r.dk[at(b, h, c.keys, c.dim, j, e)] += ds * double(o.q[at(b, h, c.queries, c.dim, i, e)]);
          }
        }
      }
    }
  }
  return r;
}

// The kernel's results on the same operands.
template <class T>
struct Result {
  std::vector<T> out, lse, dq, dk, dv;
};

template <class T>
Result<T> run(const Operands<T>& o, bool reference) {
  const Case& c = o.c;
  const kernels::AttentionProblem<T> p = o.problem();
  Result<T> r;
  r.out.assign(o.size(c.queries, c.value_dim), T(0));
  r.lse.assign(static_cast<std::size_t>(c.batch * c.heads * c.queries), T(0));
  r.dq.assign(o.size(c.queries, c.dim), T(0));
  r.dk.assign(o.size(c.keys, c.dim), T(0));
  r.dv.assign(o.size(c.keys, c.value_dim), T(0));
  const auto out = o.matrix(r.out.data(), c.queries, c.value_dim);
  const auto dq = o.matrix(r.dq.data(), c.queries, c.dim), dk = o.matrix(r.dk.data(), c.keys, c.dim);
  const auto dv = o.matrix(r.dv.data(), c.keys, c.value_dim);
  const auto out_c = o.matrix(static_cast<const T*>(r.out.data()), c.queries, c.value_dim);
  const auto dout = o.matrix(o.dout.data(), c.queries, c.value_dim);
  if (reference) {
    kernels::attention_forward_reference(p, out, r.lse.data());
    kernels::attention_backward_reference(p, out_c, r.lse.data(), dout, dq, dk, dv);
  } else {
    kernels::attention_forward(p, out, r.lse.data());
    kernels::attention_backward(p, out_c, r.lse.data(), dout, dq, dk, dv);
  }
  return r;
}

// Largest |a - b| / (1 + |b|) over the values of rows (the padding is not compared).
template <class T, class U>
double max_error(const std::vector<T>& a, const std::vector<U>& b, std::int64_t cols, std::int64_t pad) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (static_cast<std::int64_t>(i) % (cols + pad) >= cols) continue;
    worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / (1.0 + std::abs(double(b[i]))));
  }
  return worst;
}

template <class T>
void check_against_naive(const Case& c, double tolerance, unsigned seed) {
  const Operands<T> o = make<T>(c, seed);
  const Reference want = naive(o);
  for (const bool reference : {false, true}) {
    CAPTURE(reference);
    const Result<T> got = run(o, reference);
    CHECK(max_error(got.out, want.out, c.value_dim, c.pad) < tolerance);
    CHECK(max_error(got.dq, want.dq, c.dim, c.pad) < tolerance);
    CHECK(max_error(got.dk, want.dk, c.dim, c.pad) < tolerance);
    CHECK(max_error(got.dv, want.dv, c.value_dim, c.pad) < tolerance);
  }
}

const Case cases[] = {
    {2, 3, 5, 7, 4, 4, false, 0},       // tiny, one block
    {1, 2, 70, 70, 13, 7, true, 0},     // two query and key blocks, odd widths
    {2, 1, 150, 90, 16, 16, true, 0},   // L > S: later rows see every key
    {1, 2, 40, 130, 9, 11, true, 90},   // L < S, aligned to the bottom right (a cache)
    {1, 1, 66, 200, 33, 5, false, 0, 3},  // padded rows
    {3, 2, 1, 77, 32, 32, false, 0},    // one query: the decoding path
    {2, 2, 3, 129, 8, 20, true, 126},   // a few queries at the end of a cache
};

// Sum of the values that thread counts could disturb, compared bit for bit.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](T x, T y) {
           return (x == y) || (std::isnan(x) && std::isnan(y));
         });
}

}  // namespace attention_kernel_test

TEST_CASE("attention kernel: forward and backward match the naive reference, float64") {
  unsigned seed = 1;
  for (const attention_kernel_test::Case& c : attention_kernel_test::cases) {
    CAPTURE(c.queries);
    CAPTURE(c.keys);
    attention_kernel_test::check_against_naive<double>(c, 1e-12, seed++);
  }
}

TEST_CASE("attention kernel: forward and backward match the naive reference, float32") {
  unsigned seed = 11;
  for (const attention_kernel_test::Case& c : attention_kernel_test::cases) {
    CAPTURE(c.queries);
    CAPTURE(c.keys);
    attention_kernel_test::check_against_naive<float>(c, 2e-5, seed++);
  }
}

TEST_CASE("attention kernel: the log-sum-exp it saves, and a hand-computed case") {
  // One query [1, 0] over keys [1, 0] and [0, 1], scale 1: scores 1 and 0,
  // weights e / (e + 1) and 1 / (e + 1), lse = log(e + 1).
  const double q[2] = {1, 0}, k[4] = {1, 0, 0, 1}, v[4] = {2, 0, 0, 4};
  kernels::AttentionProblem<double> p;
  p.queries = 1, p.keys = 2, p.dim = 2, p.value_dim = 2;
  p.q = {q, 0, 0, 2}, p.k = {k, 0, 0, 2}, p.v = {v, 0, 0, 2};
  double out[2], lse = 0;
  kernels::attention_forward(p, kernels::AttentionMatrix<double>{out, 0, 0, 2}, &lse);
  const double e = std::exp(1.0);
  CHECK(out[0] == doctest::Approx(2 * e / (e + 1)).epsilon(1e-15));
  CHECK(out[1] == doctest::Approx(4 / (e + 1)).epsilon(1e-15));
  CHECK(lse == doctest::Approx(std::log(e + 1)).epsilon(1e-15));
  // Causal with offset -1: the query sees no key, and gets NaN (as PyTorch does).
  p.causal = true, p.causal_offset = -1;
  kernels::attention_forward(p, kernels::AttentionMatrix<double>{out, 0, 0, 2}, &lse);
  CHECK(std::isnan(out[0]));
  CHECK(lse == -std::numeric_limits<double>::infinity());
}

TEST_CASE("attention kernel: decoding one query over caches of every length up to 300") {
  for (std::int64_t keys : {1, 2, 15, 16, 17, 64, 65, 255, 300}) {
    CAPTURE(keys);
    const attention_kernel_test::Case c{1, 4, 1, keys, 32, 32, false, 0};
    const attention_kernel_test::Operands<float> o = attention_kernel_test::make<float>(c, unsigned(keys));
    const attention_kernel_test::Reference want = attention_kernel_test::naive(o);
    std::vector<float> out(o.size(1, 32));
    kernels::attention_decode(o.problem(), o.matrix(out.data(), 1, 32), static_cast<float*>(nullptr));
    CHECK(attention_kernel_test::max_error(out, want.out, 32, 0) < 2e-6);
  }
}

TEST_CASE("attention kernel: bitwise the same on 1 and 2 threads") {
  const int before = get_num_threads();
  for (const attention_kernel_test::Case& c : attention_kernel_test::cases) {
    const attention_kernel_test::Operands<float> o = attention_kernel_test::make<float>(c, 5);
    set_num_threads(1);
    const attention_kernel_test::Result<float> one = attention_kernel_test::run(o, false);
    set_num_threads(2);
    const attention_kernel_test::Result<float> two = attention_kernel_test::run(o, false);
    CHECK(attention_kernel_test::same_bits(one.out, two.out));
    CHECK(attention_kernel_test::same_bits(one.lse, two.lse));
    CHECK(attention_kernel_test::same_bits(one.dq, two.dq));
    CHECK(attention_kernel_test::same_bits(one.dk, two.dk));
    CHECK(attention_kernel_test::same_bits(one.dv, two.dv));
  }
  set_num_threads(before);
}

TEST_CASE("attention kernel: negative sizes are errors naming them") {
  kernels::AttentionProblem<double> p;
  p.queries = -1;
  CHECK_THROWS_WITH_AS(kernels::attention_forward(p, kernels::AttentionMatrix<double>{}, static_cast<double*>(nullptr)),
                       "attention_forward: negative size: batch 1, heads 1, queries -1, keys 0, dim 0, value_dim 0",
                       Error);
  p.queries = 2;
  CHECK_THROWS_AS(kernels::attention_decode(p, kernels::AttentionMatrix<double>{}, static_cast<double*>(nullptr)),
                  Error);
}

namespace attention_kernel_test {

// scaled_dot_product_attention through the kernel and through the composite path (a mask
// that changes nothing sends it there), with gradients.
template <class T>
void compare_paths(const Shape& qs, const Shape& ks, const Shape& vs, bool causal, double tolerance) {
  Generator gen(3);
  const Tensor<T> q = randn<T>(qs, gen).requires_grad_(true), k = randn<T>(ks, gen).requires_grad_(true);
  const Tensor<T> v = randn<T>(vs, gen).requires_grad_(true);
  const std::int64_t l = qs[qs.size() - 2], s = ks[ks.size() - 2];
  const Tensor<T> fast = nn::functional::scaled_dot_product_attention(q, k, v, Tensor<T>(), 0.0, causal);
  const Tensor<bool> keep = latent::detail::triangle_mask(l, s, causal ? 0 : s, true);
  const Tensor<T> slow = nn::functional::scaled_dot_product_attention(q, k, v, keep);
  CHECK(std::string(fast.grad_fn()->name) == "scaled_dot_product_attention");
  CHECK((fast - slow).abs().amax().item() < tolerance);
  const Tensor<T> g = randn<T>(fast.shape(), gen);
  const std::vector<Tensor<T>> a = autograd::grad<T>({fast}, {q, k, v}, {g});
  const std::vector<Tensor<T>> b = autograd::grad<T>({slow}, {q, k, v}, {g});
  for (int i = 0; i < 3; ++i) CHECK((a[i] - b[i]).abs().amax().item() < tolerance);
}

}  // namespace attention_kernel_test

TEST_CASE("scaled_dot_product_attention: the kernel path matches the composite path") {
  using attention_kernel_test::compare_paths;
  compare_paths<double>({2, 3, 70, 12}, {2, 3, 90, 12}, {2, 3, 90, 5}, false, 1e-12);
  compare_paths<double>({2, 3, 70, 12}, {2, 3, 90, 12}, {2, 3, 90, 5}, true, 1e-12);
  compare_paths<double>({2, 1, 5, 4}, {3, 6, 4}, {6, 4}, true, 1e-12);  // broadcast batch dims
  compare_paths<double>({2, 2, 2, 3, 4}, {2, 1, 2, 5, 4}, {2, 2, 2, 5, 2}, false, 1e-12);  // three levels
  compare_paths<float>({4, 4, 64, 32}, {4, 4, 64, 32}, {4, 4, 64, 32}, true, 1e-5);
  compare_paths<float>({1, 100, 16}, {1, 130, 16}, {1, 130, 16}, false, 1e-5);
}

TEST_CASE("scaled_dot_product_attention: gradcheck and gradgradcheck through the kernel path") {
  Generator gen(8);
  auto input = [&](const Shape& s) { return randn<double>(s, gen).requires_grad_(true); };
  for (const bool causal : {false, true}) {
    CAPTURE(causal);
    auto f = [causal](const std::vector<Tensor<double>>& x) {
      return nn::functional::scaled_dot_product_attention(x[0], x[1], x[2], Tensor<double>(), 0.0, causal);
    };
    const std::vector<Tensor<double>> plain{input({2, 5, 3}), input({2, 4, 3}), input({2, 4, 2})};
    CHECK(gradcheck(f, plain).ok);
    CHECK(gradgradcheck(f, plain).ok);  // create_graph: the differentiable backward
    // Non-contiguous operands (a transposed key) and a broadcast value.
    const std::vector<Tensor<double>> odd{input({3, 4}), input({4, 3}).detach().t().requires_grad_(true),
                                          input({2, 3, 2})};
    CHECK(gradcheck(f, odd).ok);
  }
}

TEST_CASE("MultiheadAttention: forward_step through the kernel matches the full causal forward") {
  Generator gen(21);
  nn::MultiheadAttention<double> mha(8, 2, gen);
  const Tensor<double> x = randn<double>({2, 9, 8}, gen);
  const Tensor<double> full = mha.forward(x, x, x, Tensor<bool>(), Tensor<double>(), true);
  NoGradGuard no_grad;
  nn::KVCache<double> cache;
  std::vector<Tensor<double>> parts{mha.forward_step(x.narrow(1, 0, 3), cache)};  // a prompt of 3
  for (std::int64_t t = 3; t < 9; ++t) parts.push_back(mha.forward_step(x.narrow(1, t, 1), cache));
  CHECK(cache.length() == 9);
  CHECK((cat<double>(parts, 1) - full).abs().amax().item() < 1e-12);
}

TEST_CASE("KVCache: appends in place when it alone holds its buffer, and forks stay apart") {
  Generator gen(2);
  NoGradGuard no_grad;
  nn::KVCache<double> cache;
  const Tensor<double> a = randn<double>({1, 2, 3, 4}, gen), b = randn<double>({1, 2, 1, 4}, gen);
  const Tensor<double> c = randn<double>({1, 2, 1, 4}, gen), d = randn<double>({1, 2, 1, 4}, gen);
  cache.append(a, a);
  cache.append(b, b);  // copied into a buffer with room
  const double* buffer = cache.k.data();
  cache.append(c, c);  // written in place
  CHECK(cache.k.data() == buffer);
  CHECK((cache.k - cat<double>({a, b, c}, 2)).abs().amax().item() == 0);
  nn::KVCache<double> fork = cache;  // shares the buffer: the next appends copy
  fork.append(d, d);
  cache.append(b, b);
  CHECK(fork.k.data() != cache.k.data());
  CHECK((fork.k - cat<double>({a, b, c, d}, 2)).abs().amax().item() == 0);
  CHECK((cache.v - cat<double>({a, b, c, b}, 2)).abs().amax().item() == 0);
}
