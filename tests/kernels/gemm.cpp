// Tests for kernels/gemm.hpp: the blocked, packed, SIMD product against the reference
// triple loop, over shapes that hit every edge of the blocking, every operand layout,
// alpha/beta, batches, and the thread count.
#include <latent/latent.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace gemm_test {

using latent::kernels::gemm;
using latent::kernels::gemm_batched;
using latent::kernels::gemm_reference;
using latent::kernels::gemv;

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

// How a matrix of rows x cols is laid out in memory.
enum class Layout { row_major, col_major, strided };

struct Matrix {
  std::int64_t rows, cols, row_stride, col_stride, size;
};

// Row-major, column-major, or every element two apart with padded rows (a non-unit
// column stride, as a view of every other column would have).
inline Matrix make_matrix(std::int64_t rows, std::int64_t cols, Layout layout) {
  switch (layout) {
    case Layout::row_major: return {rows, cols, cols, 1, rows * cols};
    case Layout::col_major: return {rows, cols, 1, rows, rows * cols};
    default: return {rows, cols, 2 * cols + 3, 2, rows * (2 * cols + 3)};
  }
}

// Largest |alpha * sum_p |A(i,p) B(p,j)| + |beta C(i,j)||, the scale rounding errors follow.
template <class T>
double error_scale(const Matrix& a, const std::vector<T>& av, const Matrix& b,
                   const std::vector<T>& bv, const Matrix& c, const std::vector<T>& cv,
                   T alpha, T beta, std::int64_t i, std::int64_t j) {
  double sum = 0;
  for (std::int64_t p = 0; p < a.cols; ++p) {
    sum += std::fabs(static_cast<double>(av[i * a.row_stride + p * a.col_stride]) *
                     static_cast<double>(bv[p * b.row_stride + j * b.col_stride]));
  }
  double scale = std::fabs(static_cast<double>(alpha)) * sum;
  if (beta != T(0)) {
    scale += std::fabs(static_cast<double>(beta) * cv[i * c.row_stride + j * c.col_stride]);
  }
  return scale;
}

// A product with gemm's arguments: gemm itself, or gemv.
template <class T>
using Multiply = void (*)(std::int64_t, std::int64_t, std::int64_t, T, const T*, std::int64_t,
                          std::int64_t, const T*, std::int64_t, std::int64_t, T, T*,
                          std::int64_t, std::int64_t);

// Runs `multiply` (gemm unless told) and gemm_reference on the same operands and checks
// every element of C agrees within the rounding error bound of a K-term sum:
// |error| <= 2 (K + 2) eps * scale.
template <class T>
void check_against_reference(std::int64_t M, std::int64_t N, std::int64_t K, Layout a_layout,
                             Layout b_layout, Layout c_layout, T alpha, T beta,
                             Multiply<T> multiply = &gemm<T>) {
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(static_cast<int>(a_layout));
  CAPTURE(static_cast<int>(b_layout));
  CAPTURE(static_cast<int>(c_layout));
  CAPTURE(alpha);
  CAPTURE(beta);
  const Matrix a = make_matrix(M, K, a_layout);
  const Matrix b = make_matrix(K, N, b_layout);
  const Matrix c = make_matrix(M, N, c_layout);
  const auto av = random_values<T>(a.size, 1 + M);
  const auto bv = random_values<T>(b.size, 2 + N);
  auto c_start = random_values<T>(c.size, 3 + K);
  if (beta == T(0)) {
    // beta == 0 must never read C: fill it with NaN, which would poison any read.
    for (auto& v : c_start) v = std::numeric_limits<T>::quiet_NaN();
  }
  auto c_fast = c_start;
  auto c_ref = c_start;
  multiply(M, N, K, alpha, av.data(), a.row_stride, a.col_stride, bv.data(), b.row_stride,
           b.col_stride, beta, c_fast.data(), c.row_stride, c.col_stride);
  gemm_reference<T>(M, N, K, alpha, av.data(), a.row_stride, a.col_stride, bv.data(),
                    b.row_stride, b.col_stride, beta, c_ref.data(), c.row_stride,
                    c.col_stride);
  const double eps = std::numeric_limits<T>::epsilon();
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      const std::int64_t at = i * c.row_stride + j * c.col_stride;
      const double bound =
          2.0 * static_cast<double>(K + 2) * eps *
              error_scale(a, av, b, bv, c, c_start, alpha, beta, i, j) +
          std::numeric_limits<T>::min();
      const double error = std::fabs(static_cast<double>(c_fast[at]) - c_ref[at]);
      if (!(error <= bound)) ++bad;   // also counts NaN
    }
  }
  CHECK(bad == 0);
  // Memory between the elements of a strided C must be left alone.
  std::int64_t touched = 0;
  for (std::int64_t at = 0; at < c.size; ++at) {
    const bool element = c.col_stride == 2 && (at % c.row_stride) % 2 == 0 &&
                         (at % c.row_stride) / 2 < N;
    if (c_layout == Layout::strided && !element) {
      const bool same = std::memcmp(&c_fast[at], &c_start[at], sizeof(T)) == 0;
      if (!same) ++touched;
    }
  }
  CHECK(touched == 0);
}

// The four transpose combinations (row- or column-major A and B).
template <class T>
void check_all_layouts(std::int64_t M, std::int64_t N, std::int64_t K, T alpha, T beta,
                       Layout c_layout = Layout::row_major) {
  for (Layout a_layout : {Layout::row_major, Layout::col_major}) {
    for (Layout b_layout : {Layout::row_major, Layout::col_major}) {
      check_against_reference<T>(M, N, K, a_layout, b_layout, c_layout, alpha, beta);
    }
  }
}

struct Shape {
  std::int64_t M, N, K;
};

// Empty, unit, prime, exactly one tile (6 x 16 for AVX2 float), one past a tile, larger
// than every block size (mc, kc, nc), and small enough in M or N for A or B to be read in
// place rather than packed.
inline std::vector<Shape> test_shapes() {
  return {{0, 0, 0},     {0, 5, 3},      {5, 0, 3},      {1, 1, 1},     {1, 1, 7},
          {1, 17, 1},    {7, 1, 13},     {2, 3, 5},      {13, 17, 19},  {6, 16, 8},
          {7, 17, 9},    {12, 32, 33},   {31, 37, 41},   {64, 64, 64},  {97, 61, 300},
          {150, 45, 257}, {301, 70, 520}, {301, 20, 520}, {5, 129, 600}, {3, 4100, 5}};
}

// Runs gemm with `threads` threads and returns C.
template <class T>
std::vector<T> run_with_threads(int threads, std::int64_t M, std::int64_t N, std::int64_t K,
                                Layout a_layout, Layout b_layout) {
  const Matrix a = make_matrix(M, K, a_layout);
  const Matrix b = make_matrix(K, N, b_layout);
  const auto av = random_values<T>(a.size, 11);
  const auto bv = random_values<T>(b.size, 12);
  auto cv = random_values<T>(M * N, 13);
  const int saved = latent::get_num_threads();
  latent::set_num_threads(threads);
  gemm<T>(M, N, K, T(0.5), av.data(), a.row_stride, a.col_stride, bv.data(), b.row_stride,
          b.col_stride, T(-1.5), cv.data(), N, 1);
  latent::set_num_threads(saved);
  return cv;
}

// Every combination of a few rows of A (M) with sizes of N and K that are odd, below,
// at and past a vector or a tile, B with contiguous rows and with contiguous columns, A and
// C plain and strided, and two choices of alpha and beta.
template <class T>
void check_few_rows(const std::vector<std::int64_t>& row_counts, Multiply<T> multiply) {
  const std::vector<std::int64_t> sizes = {1, 7, 17, 64, 129};
  const T alphas[] = {T(1), T(-0.75)};
  const T betas[] = {T(0), T(0.5)};
  for (std::int64_t M : row_counts) {
    for (std::int64_t N : sizes) {
      for (std::int64_t K : sizes) {
        for (Layout b_layout : {Layout::row_major, Layout::col_major}) {
          for (Layout ac_layout : {Layout::row_major, Layout::strided}) {
            for (int choice = 0; choice < 2; ++choice) {
              check_against_reference<T>(M, N, K, ac_layout, b_layout, ac_layout, alphas[choice],
                                         betas[choice], multiply);
            }
          }
        }
      }
    }
  }
}

template <class T>
bool bitwise_equal(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}


// ---- packing -----------------------------------------------------------------------------

namespace detail = latent::kernels::gemm_detail;

// Values for packing tests: random, with -0, infinities and a NaN among them (packing
// moves bits, so they must come out as they went in).
template <class T>
std::vector<T> packing_values(std::int64_t count, std::uint64_t seed) {
  auto values = random_values<T>(count, seed);
  const T specials[] = {T(-0.0), std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity(), std::numeric_limits<T>::quiet_NaN()};
  for (std::size_t i = 0; i < 4 && 7 * i < values.size(); ++i) values[7 * i] = specials[i];
  return values;
}

// Slivers of `width` lines straight from the definition of packing: sliver q holds, for
// p < k, the values of lines q * width .. q * width + width - 1 side by side, zeros past
// `lines`. Line i runs along k at src + i * line_stride with step k_stride.
template <class T>
std::vector<T> pack_by_definition(std::int64_t lines, std::int64_t k, int width, const T* src,
                                  std::int64_t line_stride, std::int64_t k_stride) {
  const std::int64_t slivers = (lines + width - 1) / width;
  std::vector<T> packed(static_cast<std::size_t>(slivers * width * k));
  for (std::int64_t q = 0; q < slivers; ++q) {
    for (std::int64_t p = 0; p < k; ++p) {
      for (int w = 0; w < width; ++w) {
        const std::int64_t i = q * width + w;
        packed[q * width * k + p * width + w] =
            i < lines ? src[i * line_stride + p * k_stride] : T(0);
      }
    }
  }
  return packed;
}

// `pack(out)` writes `expected.size()` values at out; checks them bitwise against
// `expected`, and that the values after them are left alone.
template <class T, class Pack>
bool packs_exactly(const std::vector<T>& expected, Pack pack) {
  const std::size_t guard = 16;
  std::vector<T> packed(expected.size() + guard, T(12345));
  pack(packed.data());
  bool guard_intact = true;
  for (std::size_t i = expected.size(); i < packed.size(); ++i) {
    guard_intact = guard_intact && packed[i] == T(12345);
  }
  const std::size_t bytes = expected.size() * sizeof(T);
  // (expected.data() may be null when there is nothing to compare, which memcmp forbids.)
  return guard_intact && (bytes == 0 || std::memcmp(packed.data(), expected.data(), bytes) == 0);
}

// pack_transposed<Lines> (SIMD tiles, a narrower tile for Lines % tile lines, the scalar
// tail) and pack_transposed_scalar<Lines> against the definition, for k below, at and past
// multiples of every tile size, lines packed tightly, padded, and in reverse order.
template <class T, int Lines>
void check_transposed_pack() {
  CAPTURE(Lines);
  for (std::int64_t k : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 199, 256}) {
    for (std::int64_t padding : {0, 5}) {
      for (bool reversed : {false, true}) {
        CAPTURE(k);
        CAPTURE(padding);
        CAPTURE(reversed);
        const std::int64_t line_length = k + padding;
        const auto source = packing_values<T>(Lines * line_length + 1, 61 + k);
        const T* first = reversed ? source.data() + (Lines - 1) * line_length : source.data();
        const std::int64_t stride = reversed ? -line_length : line_length;
        const auto expected = pack_by_definition<T>(Lines, k, Lines, first, stride, 1);
        CHECK(packs_exactly(expected, [&](T* out) {
          detail::pack_transposed<Lines>(k, first, stride, out);
        }));
        CHECK(packs_exactly(expected, [&](T* out) {
          detail::pack_transposed_scalar<Lines>(k, first, stride, out);
        }));
      }
    }
  }
}

template <class T, int... Lines>
void check_transposed_packs(std::integer_sequence<int, Lines...>) {
  (check_transposed_pack<T, Lines>(), ...);
}

// pack_a and pack_b of this build against the definition for every layout (a row-major A
// and a B with contiguous columns are the transposing ones), ragged last slivers and odd k.
template <class T>
void check_block_packing() {
  using G = detail::NativeGemm<T>;
  constexpr int MR = G::mr;
  constexpr int NR = G::nr;
  for (Layout layout : {Layout::row_major, Layout::col_major, Layout::strided}) {
    for (std::int64_t k : {1, 7, 8, 9, 33, 256}) {
      for (std::int64_t lines : {1, 2, MR - 1, MR, MR + 1, 2 * NR, 3 * NR + 5}) {
        CAPTURE(static_cast<int>(layout));
        CAPTURE(k);
        CAPTURE(lines);
        // A block of `lines` rows.
        const Matrix a = make_matrix(lines, k, layout);
        const auto av = packing_values<T>(a.size, 71 + lines);
        CHECK(packs_exactly(
            pack_by_definition<T>(lines, k, MR, av.data(), a.row_stride, a.col_stride),
            [&](T* out) {
              detail::pack_a<MR>(lines, k, av.data(), a.row_stride, a.col_stride, out);
            }));
        // A panel of B with `lines` columns.
        const Matrix b = make_matrix(k, lines, layout);
        const auto bv = packing_values<T>(b.size, 81 + lines);
        CHECK(packs_exactly(
            pack_by_definition<T>(lines, k, NR, bv.data(), b.col_stride, b.row_stride),
            [&](T* out) {
              detail::pack_b<NR>(k, lines, bv.data(), b.row_stride, b.col_stride, out);
            }));
      }
    }
  }
}

// gemm_serial's loops (gemm.hpp) with every operand packed by the definition instead of by
// pack_a and pack_b: on one thread, the result gemm must give bit for bit.
template <class T>
void gemm_packed_by_definition(const detail::Problem<T>& p) {
  using G = detail::NativeGemm<T>;
  constexpr int MR = G::mr;
  constexpr int NR = G::nr;
  const detail::Plan plan = detail::make_plan<G>(p);
  const std::int64_t mc_step = detail::balanced_step(p.M, G::mc, MR);
  const std::int64_t nc_step = std::min<std::int64_t>(G::nc, (p.N + NR - 1) / NR * NR);
  for (std::int64_t jc = 0; jc < p.N; jc += nc_step) {
    const std::int64_t nc = std::min(nc_step, p.N - jc);
    for (std::int64_t pc = 0; pc < p.K; pc += plan.kc) {
      const std::int64_t kc = std::min(plan.kc, p.K - pc);
      const T* b_panel = p.B + pc * p.b_row_stride + jc * p.b_col_stride;
      std::vector<T> b_packed;
      detail::BlockView<T> v;
      v.b_packed = plan.pack_b;
      if (plan.pack_b) {
        b_packed = pack_by_definition<T>(nc, kc, NR, b_panel, p.b_col_stride, p.b_row_stride);
        v.b = b_packed.data();
        v.b_sliver_step = NR * kc;
        v.b_k_stride = NR;
      } else {
        const std::int64_t edge = nc / NR * NR;  // the ragged last sliver, if any
        b_packed = pack_by_definition<T>(nc - edge, kc, NR, b_panel + edge, 1, p.b_row_stride);
        v.b = b_panel;
        v.b_sliver_step = NR;
        v.b_k_stride = p.b_row_stride;
      }
      v.b_edge = b_packed.data();
      for (std::int64_t ic = 0; ic < p.M; ic += mc_step) {
        const std::int64_t mc = std::min(mc_step, p.M - ic);
        const T* a_block = p.A + ic * p.a_row_stride + pc * p.a_col_stride;
        std::vector<T> a_packed;
        if (plan.pack_a) {
          a_packed = pack_by_definition<T>(mc, kc, MR, a_block, p.a_row_stride, p.a_col_stride);
          v.a = a_packed.data();
          v.a_sliver_step = MR * kc;
          v.a_row_stride = 1;
          v.a_k_stride = MR;
        } else {
          v.a = a_block;
          v.a_sliver_step = MR * p.a_row_stride;
          v.a_row_stride = p.a_row_stride;
          v.a_k_stride = p.a_col_stride;
        }
        detail::multiply_block<G>(v, mc, nc, kc, p.C + ic * p.c_row_stride + jc * p.c_col_stride,
                                  p.c_row_stride, p.c_col_stride, p.alpha,
                                  pc == 0 ? p.beta : T(1));
      }
    }
  }
}

// gemm (one thread) against gemm_packed_by_definition, bitwise, for row-major C and every
// layout of A and B. M and N stay past the matrix-vector path's limits.
template <class T>
void check_gemm_bitwise_with_packing_by_definition(std::int64_t M, std::int64_t N,
                                                    std::int64_t K) {
  for (Layout a_layout : {Layout::row_major, Layout::col_major}) {
    for (Layout b_layout : {Layout::row_major, Layout::col_major}) {
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      CAPTURE(static_cast<int>(a_layout));
      CAPTURE(static_cast<int>(b_layout));
      const Matrix a = make_matrix(M, K, a_layout);
      const Matrix b = make_matrix(K, N, b_layout);
      const auto av = random_values<T>(a.size, 91 + M);
      const auto bv = random_values<T>(b.size, 92 + N);
      const auto c_start = random_values<T>(M * N, 93 + K);
      auto c_gemm = c_start;
      auto c_definition = c_start;
      const int saved = latent::get_num_threads();
      latent::set_num_threads(1);
      gemm<T>(M, N, K, T(0.75), av.data(), a.row_stride, a.col_stride, bv.data(), b.row_stride,
              b.col_stride, T(-0.5), c_gemm.data(), N, 1);
      latent::set_num_threads(saved);
      gemm_packed_by_definition(detail::Problem<T>{M, N, K, T(0.75), av.data(), a.row_stride,
                                                   a.col_stride, bv.data(), b.row_stride,
                                                   b.col_stride, T(-0.5), c_definition.data(),
                                                   N, 1});
      CHECK(bitwise_equal(c_gemm, c_definition));
    }
  }
}

}  // namespace gemm_test

TEST_CASE("gemm: 2x2 by hand") {
  // [1 2; 3 4] @ [5 6; 7 8] = [19 22; 43 50]
  const float a[] = {1, 2, 3, 4};
  const float b[] = {5, 6, 7, 8};
  float c[] = {1, 1, 1, 1};
  latent::kernels::gemm<float>(2, 2, 2, 1.0f, a, 2, 1, b, 2, 1, 0.0f, c, 2, 1);
  CHECK(c[0] == 19);
  CHECK(c[1] == 22);
  CHECK(c[2] == 43);
  CHECK(c[3] == 50);
  // alpha = 2, beta = 3, A transposed through its strides: 2 * A^T B + 3 C
  // A^T = [1 3; 2 4], A^T B = [26 30; 38 44].
  double ad[] = {1, 2, 3, 4}, bd[] = {5, 6, 7, 8}, cd[] = {1, 2, 3, 4};
  latent::kernels::gemm<double>(2, 2, 2, 2.0, ad, 1, 2, bd, 2, 1, 3.0, cd, 2, 1);
  CHECK(cd[0] == 55);
  CHECK(cd[1] == 66);
  CHECK(cd[2] == 85);
  CHECK(cd[3] == 100);
  // Other element types use the reference loop.
  const std::int64_t ai[] = {1, 2, 3, 4}, bi[] = {5, 6, 7, 8};
  std::int64_t ci[] = {0, 0, 0, 0};
  latent::kernels::gemm<std::int64_t>(2, 2, 2, 1, ai, 2, 1, bi, 2, 1, 0, ci, 2, 1);
  CHECK(ci[0] == 19);
  CHECK(ci[3] == 50);
}

TEST_CASE("gemm: float agrees with the reference on every shape and transpose") {
  for (const auto& s : gemm_test::test_shapes()) {
    gemm_test::check_all_layouts<float>(s.M, s.N, s.K, 1.0f, 0.0f);
  }
}

TEST_CASE("gemm: double agrees with the reference on every shape and transpose") {
  for (const auto& s : gemm_test::test_shapes()) {
    gemm_test::check_all_layouts<double>(s.M, s.N, s.K, 1.0, 0.0);
  }
}

TEST_CASE("gemm: alpha and beta") {
  using gemm_test::Layout;
  for (const auto& s : {gemm_test::Shape{13, 17, 19}, gemm_test::Shape{150, 45, 257}}) {
    for (float alpha : {1.0f, -0.75f}) {
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        gemm_test::check_all_layouts<float>(s.M, s.N, s.K, alpha, beta);
      }
    }
    gemm_test::check_all_layouts<double>(s.M, s.N, s.K, 2.5, -1.0);
  }
}

TEST_CASE("gemm: C with a non-unit column stride, and column-major C") {
  using gemm_test::Layout;
  for (const auto& s : {gemm_test::Shape{7, 17, 9}, gemm_test::Shape{97, 61, 300}}) {
    for (Layout c_layout : {Layout::strided, Layout::col_major}) {
      gemm_test::check_all_layouts<float>(s.M, s.N, s.K, 1.5f, 0.0f, c_layout);
      gemm_test::check_all_layouts<float>(s.M, s.N, s.K, 1.0f, 2.0f, c_layout);
      gemm_test::check_all_layouts<double>(s.M, s.N, s.K, -1.0, 0.25, c_layout);
    }
    // Strided A and B too.
    gemm_test::check_against_reference<float>(s.M, s.N, s.K, Layout::strided, Layout::strided,
                                              Layout::strided, 1.0f, 0.5f);
  }
}

TEST_CASE("gemm: negative strides (operands read backwards)") {
  // A with its rows reversed and B with its columns reversed, as flipped views would be.
  const std::int64_t M = 23, N = 37, K = 300;
  const auto a = gemm_test::random_values<float>(M * K, 31);
  const auto b = gemm_test::random_values<float>(K * N, 32);
  std::vector<float> c(M * N), c_ref(M * N);
  const float* a_last_row = a.data() + (M - 1) * K;
  const float* b_last_column = b.data() + (N - 1);
  latent::kernels::gemm<float>(M, N, K, 1.0f, a_last_row, -K, 1, b_last_column, N, -1, 0.0f,
                               c.data(), N, 1);
  latent::kernels::gemm_reference<float>(M, N, K, 1.0f, a_last_row, -K, 1, b_last_column, N,
                                         -1, 0.0f, c_ref.data(), N, 1);
  double worst = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(c[i]) - c_ref[i]));
  }
  CHECK(worst < 1e-3);
  // Row 0 of the result is the last row of A times B reversed: spot-check one element.
  double expected = 0;
  for (std::int64_t p = 0; p < K; ++p) expected += double(a[(M - 1) * K + p]) * b[p * N + N - 1];
  CHECK(std::fabs(c[0] - expected) < 1e-3);
}

TEST_CASE("gemm: K == 0 and alpha == 0 give beta * C without reading A or B") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float a[] = {nan, nan, nan, nan};
  float c[] = {1, 2, 3, 4};
  latent::kernels::gemm<float>(2, 2, 0, 1.0f, a, 0, 0, a, 0, 0, 3.0f, c, 2, 1);
  CHECK(c[0] == 3);
  CHECK(c[3] == 12);
  latent::kernels::gemm<float>(2, 2, 2, 0.0f, a, 2, 1, a, 2, 1, 0.5f, c, 2, 1);
  CHECK(c[0] == 1.5f);
  CHECK(c[3] == 6);
  float d[] = {nan, nan, nan, nan};
  latent::kernels::gemm<float>(2, 2, 0, 1.0f, a, 0, 0, a, 0, 0, 0.0f, d, 2, 1);
  CHECK(d[0] == 0);
  CHECK(d[3] == 0);
}

#if LATENT_HAS_EXCEPTIONS
TEST_CASE("gemm: negative sizes are an error") {
  float x = 0;
  CHECK_THROWS_AS(latent::kernels::gemm<float>(-1, 1, 1, 1.0f, &x, 1, 1, &x, 1, 1, 0.0f, &x, 1, 1),
                  latent::Error);
  CHECK_THROWS_AS(latent::kernels::gemm_batched<float>(-2, 1, 1, 1, 1.0f, &x, 0, 1, 1, &x, 0, 1,
                                                       1, 0.0f, &x, 0, 1, 1),
                  latent::Error);
}
#endif

TEST_CASE("gemm_batched: each product agrees with the reference, on 1 and 2 threads") {
  const std::int64_t M = 37, N = 29, K = 45;
  for (const std::int64_t batch : {0, 1, 3, 8}) {
    for (int threads : {1, 2}) {
      CAPTURE(batch);
      CAPTURE(threads);
      // A transposed in every item, B shared by all items (batch stride 0).
      const auto a = gemm_test::random_values<double>(batch * M * K + 1, 21);
      const auto b = gemm_test::random_values<double>(K * N, 22);
      auto c = gemm_test::random_values<double>(batch * M * N + 1, 23);
      auto c_ref = c;
      const int saved = latent::get_num_threads();
      latent::set_num_threads(threads);
      latent::kernels::gemm_batched<double>(batch, M, N, K, 0.5, a.data(), M * K, 1, M, b.data(),
                                            0, N, 1, 2.0, c.data(), M * N, N, 1);
      latent::set_num_threads(saved);
      for (std::int64_t i = 0; i < batch; ++i) {
        latent::kernels::gemm_reference<double>(M, N, K, 0.5, a.data() + i * M * K, 1, M,
                                                b.data(), N, 1, 2.0, c_ref.data() + i * M * N,
                                                N, 1);
      }
      double worst = 0;
      for (std::size_t i = 0; i < c.size(); ++i) worst = std::max(worst, std::fabs(c[i] - c_ref[i]));
      CHECK(worst < 1e-12);
      CHECK(c.back() == c_ref.back());   // the element past the last product is untouched
    }
  }
}

TEST_CASE("gemm: a few rows of A or columns of B (the matrix-vector path)") {
  // gemm takes the matrix-vector path for up to 8 rows of A when B's columns are
  // contiguous (16 from K = 256 on), 2 when its rows are, and the same for columns of B
  // (transposed).
  gemm_test::check_few_rows<float>({1, 2, 3, 8}, &gemm_test::gemm<float>);
  gemm_test::check_few_rows<double>({1, 2, 3, 8}, &gemm_test::gemm<double>);
  using gemm_test::Layout;
  for (std::int64_t M : {9, 12, 16, 17}) {
    gemm_test::check_all_layouts<float>(M, 41, 300, 1.0f, 0.0f);
    gemm_test::check_all_layouts<double>(M, 33, 257, -0.5, 2.0, Layout::strided);
  }
  for (std::int64_t N : {1, 2, 3, 8}) {
    for (std::int64_t K : {7, 129}) {
      gemm_test::check_all_layouts<float>(37, N, K, 1.0f, 0.0f);
      gemm_test::check_all_layouts<double>(130, N, K, -0.5, 2.0, Layout::strided);
    }
  }
}

TEST_CASE("gemv: every row count and layout agrees with the reference") {
  // Called directly: groups of up to four rows of A, and a last, shorter group.
  gemm_test::check_few_rows<float>({1, 2, 3, 4, 5, 9}, &gemm_test::gemv<float>);
  gemm_test::check_few_rows<double>({1, 2, 3, 4, 5, 9}, &gemm_test::gemv<double>);
  // Column-major C, and A read backwards.
  for (auto b_layout : {gemm_test::Layout::row_major, gemm_test::Layout::col_major}) {
    gemm_test::check_against_reference<float>(3, 70, 33, gemm_test::Layout::col_major, b_layout,
                                              gemm_test::Layout::col_major, 2.0f, -1.0f,
                                              &gemm_test::gemv<float>);
  }
  const std::int64_t N = 19, K = 40;
  const auto a = gemm_test::random_values<float>(K, 41);
  const auto b = gemm_test::random_values<float>(N * K, 42);
  std::vector<float> c(N), c_ref(N);
  latent::kernels::gemv<float>(1, N, K, 1.0f, a.data() + K - 1, 0, -1, b.data(), 1, K, 0.0f,
                               c.data(), N, 1);
  latent::kernels::gemm_reference<float>(1, N, K, 1.0f, a.data() + K - 1, 0, -1, b.data(), 1, K,
                                         0.0f, c_ref.data(), N, 1);
  for (std::int64_t n = 0; n < N; ++n) CHECK(std::fabs(c[n] - c_ref[n]) < 1e-5);
}

TEST_CASE("gemv: K == 0 and alpha == 0 give beta * C; B needs a unit stride") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float a[] = {nan, nan, nan, nan};
  float c[] = {1, 2, 3, 4};
  latent::kernels::gemv<float>(1, 4, 0, 1.0f, a, 0, 1, a, 1, 1, 3.0f, c, 4, 1);
  CHECK(c[0] == 3);
  CHECK(c[3] == 12);
  latent::kernels::gemv<float>(2, 2, 2, 0.0f, a, 2, 1, a, 1, 2, 0.5f, c, 2, 1);
  CHECK(c[0] == 1.5f);
  CHECK(c[3] == 6);
  float d[] = {nan, nan};
  latent::kernels::gemv<float>(1, 2, 0, 1.0f, a, 0, 1, a, 1, 1, 0.0f, d, 2, 1);
  CHECK(d[0] == 0);
  CHECK(d[1] == 0);
  // [1 2 3] @ [[1 4] [2 5] [3 6]] = [14 32], B with contiguous columns and then rows.
  const double x[] = {1, 2, 3};
  const double w[] = {1, 2, 3, 4, 5, 6};         // W [2, 3], B = W^T
  const double b_rows[] = {1, 4, 2, 5, 3, 6};    // B [3, 2]
  double y[] = {0, 0};
  latent::kernels::gemv<double>(1, 2, 3, 1.0, x, 3, 1, w, 1, 3, 0.0, y, 2, 1);
  CHECK(y[0] == 14);
  CHECK(y[1] == 32);
  latent::kernels::gemv<double>(1, 2, 3, 1.0, x, 3, 1, b_rows, 2, 1, 1.0, y, 2, 1);
  CHECK(y[0] == 28);
  CHECK(y[1] == 64);
  CHECK(latent::kernels::gemv_supports(1, 5));
  CHECK(latent::kernels::gemv_supports(5, 1));
  CHECK_FALSE(latent::kernels::gemv_supports(2, 5));
#if LATENT_HAS_EXCEPTIONS
  CHECK_THROWS_AS(latent::kernels::gemv<double>(1, 2, 3, 1.0, x, 3, 1, w, 2, 6, 0.0, y, 2, 1),
                  latent::Error);
#endif
}

TEST_CASE("gemv: the SIMD tiles agree with the scalar tiles") {
  namespace detail = latent::kernels::gemv_detail;
  using Simd = detail::NativeTiles<float>;
  using Scalar = detail::ScalarTiles<float>;
  constexpr int lanes = Simd::lanes;
  for (std::int64_t K : {1, 5, 16, 37, 130}) {
    CAPTURE(K);
    const auto x = gemm_test::random_values<float>(2 * K, 51);
    const auto b = gemm_test::random_values<float>(8 * lanes * K, 52);
    // |x|, |b| < 1: K bounds the sum of |terms|, and the error is within 2 (K + 2) eps of it.
    const double bound = static_cast<double>(K) * 2.0 * static_cast<double>(K + 2) *
                         std::numeric_limits<float>::epsilon();
    // Two rows of A against four columns of B, each contiguous in k.
    float simd_dots[2][4], scalar_dots[2][4];
    Simd::dot<2, 4>(K, x.data(), K, b.data(), K, simd_dots);
    Scalar::dot<2, 4>(K, x.data(), K, b.data(), K, scalar_dots);
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 4; ++c) CHECK(std::fabs(simd_dots[r][c] - scalar_dots[r][c]) <= bound);
    // One row of A (every other value) against rows of B, 8 vectors wide.
    float simd_rows[1][8 * lanes], scalar_rows[1][8 * lanes];
    Simd::axpy<1, 8 * lanes>(K, x.data(), 0, 2, b.data(), 8 * lanes, simd_rows);
    Scalar::axpy<1, 8 * lanes>(K, x.data(), 0, 2, b.data(), 8 * lanes, scalar_rows);
    for (int c = 0; c < 8 * lanes; ++c)
      CHECK(std::fabs(simd_rows[0][c] - scalar_rows[0][c]) <= bound);
  }
}

TEST_CASE("gemm: 1 and 2 threads give bitwise identical results") {
  using gemm_test::Layout;
  // Tall (rows are split), wide (columns are split), a big square one with B packed, and
  // matrix-vector products big enough to share their columns out: 1 row of A, 3 and 8
  // rows (B's rows, then columns, contiguous) and 2 columns of B (through the transpose).
  for (const auto& s : {gemm_test::Shape{300, 260, 310}, gemm_test::Shape{20, 700, 500},
                        gemm_test::Shape{9, 300, 1100}, gemm_test::Shape{1, 4100, 600},
                        gemm_test::Shape{3, 1000, 777}, gemm_test::Shape{8, 301, 1000},
                        gemm_test::Shape{2000, 2, 600}}) {
    CAPTURE(s.M);
    CAPTURE(s.N);
    CAPTURE(s.K);
    for (Layout b_layout : {Layout::row_major, Layout::col_major}) {
      const auto one_f = gemm_test::run_with_threads<float>(1, s.M, s.N, s.K, Layout::row_major,
                                                            b_layout);
      const auto two_f = gemm_test::run_with_threads<float>(2, s.M, s.N, s.K, Layout::row_major,
                                                            b_layout);
      CHECK(gemm_test::bitwise_equal(one_f, two_f));
      const auto one_d = gemm_test::run_with_threads<double>(1, s.M, s.N, s.K, Layout::col_major,
                                                             b_layout);
      const auto two_d = gemm_test::run_with_threads<double>(2, s.M, s.N, s.K, Layout::col_major,
                                                             b_layout);
      CHECK(gemm_test::bitwise_equal(one_d, two_d));
    }
  }
}

TEST_CASE("gemm packing: the transposing pack equals the scalar one and the definition") {
  // Line counts of every narrower tile (1 .. 8 and more), and the MR and NR of every
  // instruction set (scalar 4, 4; AVX2 6, 16 / 8; AVX-512 12, 32 / 16; NEON 8, 12 / 6).
  using LineCounts =
      std::integer_sequence<int, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, 32>;
  gemm_test::check_transposed_packs<float>(LineCounts{});
  gemm_test::check_transposed_packs<double>(LineCounts{});
}

TEST_CASE("gemm packing: pack_a and pack_b equal the definition in every layout") {
  gemm_test::check_block_packing<float>();
  gemm_test::check_block_packing<double>();
}

TEST_CASE("gemm: bitwise the result of packing by the definition") {
  // The shapes of test_shapes past the matrix-vector limits, an MLP layer (64 x 784 @
  // 784 x 256, B = W^T in a Linear layer), a transformer projection and a few rows.
  for (const auto& s :
       {gemm_test::Shape{13, 17, 19}, gemm_test::Shape{12, 32, 33}, gemm_test::Shape{31, 37, 41},
        gemm_test::Shape{64, 64, 64}, gemm_test::Shape{97, 61, 300},
        gemm_test::Shape{150, 45, 257}, gemm_test::Shape{301, 70, 520},
        gemm_test::Shape{301, 20, 520}, gemm_test::Shape{64, 256, 784},
        gemm_test::Shape{200, 130, 96}, gemm_test::Shape{16, 100, 129}}) {
    gemm_test::check_gemm_bitwise_with_packing_by_definition<float>(s.M, s.N, s.K);
    gemm_test::check_gemm_bitwise_with_packing_by_definition<double>(s.M, s.N, s.K);
  }
}
