// Tests for latent::Generator (core/random.hpp). Reference values come from
// tests/core/philox_reference.py, an independent Python implementation; the Philox
// known-answer vectors are Random123's kat_vectors.
#include <latent/latent.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace random_test {

using PhiloxBlock = latent::PhiloxBlock;

// Sample mean and (population) variance.
template <class T>
std::pair<double, double> mean_var(const std::vector<T>& v) {
  double sum = 0, sq = 0;
  for (T x : v) sum += double(x);
  const double mean = sum / double(v.size());
  for (T x : v) sq += (double(x) - mean) * (double(x) - mean);
  return {mean, sq / double(v.size())};
}

// Pearson chi-square of counts against equal expected counts.
inline double chi_square(const std::vector<std::int64_t>& counts, double total) {
  const double expected = total / double(counts.size());
  double chi = 0;
  for (std::int64_t c : counts) chi += (double(c) - expected) * (double(c) - expected) / expected;
  return chi;
}

// Element i of fill_normal<double> reconstructed by hand from the block function.
inline double normal_double_at(std::uint64_t seed, std::uint64_t base, std::int64_t i) {
  const PhiloxBlock w = latent::philox4x32_10(
      {std::uint32_t(base + std::uint64_t(i / 2)), std::uint32_t((base + std::uint64_t(i / 2)) >> 32), 0, 0},
      {std::uint32_t(seed), std::uint32_t(seed >> 32)});
  const std::uint64_t a = w[0] | (std::uint64_t(w[1]) << 32), b = w[2] | (std::uint64_t(w[3]) << 32);
  const double u1 = double((a >> 11) + 1) * 0x1p-53, u2 = double(b >> 11) * 0x1p-53;
  const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2 * 3.14159265358979323846 * u2;
  return r * (i % 2 == 0 ? std::cos(theta) : std::sin(theta));
}

// Element i of fill_normal<float>: 4 per block, pairs (w0, w1) and (w2, w3).
inline float normal_float_at(std::uint64_t seed, std::uint64_t base, std::int64_t i) {
  const std::uint64_t index = base + std::uint64_t(i / 4);
  const PhiloxBlock w = latent::philox4x32_10({std::uint32_t(index), std::uint32_t(index >> 32), 0, 0},
                                              {std::uint32_t(seed), std::uint32_t(seed >> 32)});
  const int pair = int(i % 4) / 2;
  const float u1 = float(std::uint64_t(w[2 * pair]) + 1) * 0x1p-32f;
  const float u2 = float(w[2 * pair + 1] >> 8) * 0x1p-24f;
  const float r = std::sqrt(-2.0f * std::log(u1)), theta = 6.283185307179586f * u2;
  return r * (i % 2 == 0 ? std::cos(theta) : std::sin(theta));
}

}  // namespace random_test

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
  using latent::philox4x32_10;
  CHECK(philox4x32_10({0, 0, 0, 0}, {0, 0}) == latent::PhiloxBlock{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
        latent::PhiloxBlock{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
        latent::PhiloxBlock{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("latent::Generator stream matches the Python reference") {
  latent::Generator gen(42);
  const std::uint32_t words[6] = {0x9ceaf053, 0x77f5493b, 0x12bf50ad, 0x5742b3d7, 0xfcdb2127, 0x53ba6cfd};
  for (std::uint32_t w : words) CHECK(gen.next_u32() == w);

  std::vector<float> u(5);
  gen.manual_seed(42).fill_uniform(u.data(), 5, 0.0f, 1.0f);
  const float expected_u[5] = {0.6129598617553711f, 0.4685865044593811f, 0.07323169708251953f,
                               0.3408614993095398f, 0.9877186417579651f};
  for (int i = 0; i < 5; ++i) CHECK(u[i] == expected_u[i]);  // exact: 24-bit fractions

  std::vector<double> z(5);
  gen.manual_seed(42).fill_normal(z.data(), 5, 0.0, 1.0);
  const double expected_z[5] = {-0.6653748678073486, 1.036023808655465, -1.4338891806537384,
                                0.4232781812444527, 0.13500793462831734};
  for (int i = 0; i < 5; ++i) CHECK(z[i] == doctest::Approx(expected_z[i]).epsilon(1e-13));
}

TEST_CASE("latent::Generator: seeds, single draws and the offset") {
  latent::Generator a(7), b(7), c(8);
  CHECK(a.seed() == 7);
  bool all_same = true, any_diff_seed = false;
  for (int i = 0; i < 100; ++i) {
    const std::uint32_t x = a.next_u32();
    all_same = all_same && x == b.next_u32();
    any_diff_seed = any_diff_seed || x != c.next_u32();
  }
  CHECK(all_same);
  CHECK(any_diff_seed);
  CHECK(a.get_state().offset == 100);

  // next_u64 is two stream words, the first in the low half; uniform<T> uses 24 / 53 bits.
  a.manual_seed(42);
  CHECK(a.get_state().offset == 0);
  CHECK(a.next_u64() == ((std::uint64_t(0x77f5493b) << 32) | 0x9ceaf053));
  a.manual_seed(42);
  CHECK(a.uniform<float>() == float(0x9ceaf053u >> 8) * 0x1p-24f);
  CHECK(a.uniform<double>() ==  // stream words 1 and 2
        double((((std::uint64_t(0x12bf50ad) << 32) | 0x77f5493b) >> 11)) * 0x1p-53);
  CHECK(a.get_state().offset == 3);
}

TEST_CASE("latent::Generator: get_state/set_state resume exactly mid-block and after fills") {
  latent::Generator gen(123);
  gen.next_u32();
  gen.normal<float>();
  std::vector<double> scratch(37);
  gen.fill_normal(scratch.data(), 37, 0.0, 1.0);
  gen.randint(0, 1000);
  gen.next_u32();  // offset now not a multiple of 4
  const latent::GeneratorState saved = gen.get_state();
  CHECK(saved.offset % 4 != 0);

  auto draw_mixed = [](latent::Generator& g) {
    std::vector<double> out;
    out.push_back(double(g.next_u32()));
    out.push_back(g.uniform<double>());
    out.push_back(g.normal<double>(1.0, 2.0));
    std::vector<float> f(10);
    g.fill_uniform(f.data(), 10, -1.0f, 1.0f);
    for (float x : f) out.push_back(x);
    out.push_back(double(g.randint(-5, 5)));
    out.push_back(double(g.next_u64() >> 12));
    return out;
  };
  const std::vector<double> first = draw_mixed(gen);
  gen.set_state(saved);
  CHECK(draw_mixed(gen) == first);
  latent::Generator other(999);  // a different generator with a stale cache takes the state too
  other.next_u32();
  other.set_state(saved);
  CHECK(draw_mixed(other) == first);
}

TEST_CASE("latent::Generator fills: fixed offset advance, fresh counters, fill == single draws") {
  latent::Generator gen(5);
  std::vector<float> f(10);
  gen.fill_uniform(f.data(), 10, 0.0f, 1.0f);  // 10 floats -> 3 blocks -> 12 words
  CHECK(gen.get_state().offset == 12);
  gen.next_u32();                                 // 13: block 3 partly read
  std::vector<double> d(3);
  gen.fill_uniform(d.data(), 3, 0.0, 1.0);      // skips to block 4, 3 doubles -> 2 blocks
  CHECK(gen.get_state().offset == 24);
  std::vector<std::int64_t> r(5);
  gen.fill_randint(r.data(), 5, 0, 10);          // one block per element
  CHECK(gen.get_state().offset == 44);
  gen.fill_uniform(f.data(), 0, 0.0f, 1.0f);     // empty fill: no change
  CHECK(gen.get_state().offset == 44);

  // The single draw after a fill reads the next fresh block.
  const latent::PhiloxBlock next = gen.block(11);
  CHECK(gen.next_u32() == next[0]);

  // A fill from a fresh generator equals the same number of single uniform draws.
  latent::Generator g1(77), g2(77);
  std::vector<float> fu(9);
  g1.fill_uniform(fu.data(), 9, 0.0f, 1.0f);
  for (float x : fu) CHECK(x == g2.uniform<float>());
  std::vector<double> du(5);
  g1.manual_seed(77).fill_uniform(du.data(), 5, 0.0, 1.0);
  g2.manual_seed(77);
  for (double x : du) CHECK(x == g2.uniform<double>());

  // Two consecutive fills differ.
  std::vector<float> x(1000), y(1000);
  gen.fill_normal(x.data(), 1000, 0.0f, 1.0f);
  gen.fill_normal(y.data(), 1000, 0.0f, 1.0f);
  int equal = 0;
  for (int i = 0; i < 1000; ++i) equal += x[i] == y[i];
  CHECK(equal == 0);
}

TEST_CASE("latent::Generator fills are identical for 1 and 2 threads and match a serial reconstruction") {
  const int saved_threads = latent::get_num_threads();
  const std::int64_t n = 1000000;
  std::vector<float> f1(n), f2(n);
  std::vector<double> d1(n), d2(n);
  std::vector<std::int64_t> r1(n), r2(n);
  latent::Generator gen(2024);
  gen.next_u32();  // start mid-block: the fill skips to block 1
  const latent::GeneratorState start = gen.get_state();

  latent::set_num_threads(1);
  gen.fill_normal(f1.data(), n, 0.0f, 1.0f);
  gen.fill_normal(d1.data(), n, 0.0, 1.0);
  gen.fill_randint(r1.data(), n, -3, 1000003);
  latent::set_num_threads(2);
  gen.set_state(start);
  gen.fill_normal(f2.data(), n, 0.0f, 1.0f);
  gen.fill_normal(d2.data(), n, 0.0, 1.0);
  gen.fill_randint(r2.data(), n, -3, 1000003);
  latent::set_num_threads(saved_threads);

  CHECK(std::equal(f1.begin(), f1.end(), f2.begin()));  // bitwise (no NaNs, checked below)
  CHECK(std::equal(d1.begin(), d1.end(), d2.begin()));
  CHECK(r1 == r2);

  const std::uint64_t float_base = 1, double_base = float_base + std::uint64_t(n / 4);
  int float_mismatch = 0, double_mismatch = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    float_mismatch += f1[i] != random_test::normal_float_at(2024, float_base, i);
    double_mismatch += d1[i] != random_test::normal_double_at(2024, double_base, i);
  }
  CHECK(float_mismatch == 0);
  CHECK(double_mismatch == 0);
}

TEST_CASE("latent::Generator: uniform and normal moments within 5 standard errors") {
  const std::int64_t n = 1000000;
  latent::Generator gen(31337);
  std::vector<float> uf(n);
  std::vector<double> ud(n);
  gen.fill_uniform(uf.data(), n, 0.0f, 1.0f);
  gen.fill_uniform(ud.data(), n, 0.0, 1.0);
  // U(0,1): mean 1/2 (SE sqrt(1/12/n) = 2.9e-4), variance 1/12 (SE sqrt((1/80 - 1/144)/n) = 7.5e-5).
  for (const auto& mv : {random_test::mean_var(uf), random_test::mean_var(ud)}) {
    CHECK(std::abs(mv.first - 0.5) < 5 * 2.89e-4);
    CHECK(std::abs(mv.second - 1.0 / 12) < 5 * 7.46e-5);
  }
  CHECK(*std::min_element(uf.begin(), uf.end()) >= 0.0f);
  CHECK(*std::max_element(uf.begin(), uf.end()) < 1.0f);

  std::vector<float> ab(n);
  gen.fill_uniform(ab.data(), n, -2.0f, 6.0f);
  const auto ab_mv = random_test::mean_var(ab);  // U(-2, 6): mean 2, variance 64/12
  CHECK(std::abs(ab_mv.first - 2.0) < 5 * 8 * 2.89e-4);
  CHECK(*std::min_element(ab.begin(), ab.end()) >= -2.0f);
  CHECK(*std::max_element(ab.begin(), ab.end()) < 6.0f);
  // A range one float wide: low + width * u rounds to high for u >= 1/2 and is clamped below.
  std::vector<float> narrow(1000);
  gen.fill_uniform(narrow.data(), 1000, 1.0f, 1.0f + 0x1p-23f);
  CHECK(std::count(narrow.begin(), narrow.end(), 1.0f) == 1000);

  // N(3, 2^2): mean SE 2/sqrt(n) = 0.002, variance SE 4 sqrt(2/n) = 0.00566.
  std::vector<float> zf(n);
  std::vector<double> zd(n);
  gen.fill_normal(zf.data(), n, 3.0f, 2.0f);
  gen.fill_normal(zd.data(), n, 3.0, 2.0);
  for (const auto& mv : {random_test::mean_var(zf), random_test::mean_var(zd)}) {
    CHECK(std::abs(mv.first - 3.0) < 5 * 0.002);
    CHECK(std::abs(mv.second - 4.0) < 5 * 0.00566);
  }
  // Tails: P(|z| > 3) = 0.0026998, SE sqrt(p(1-p)/n) = 5.19e-5; all values finite.
  for (const auto& v : {std::vector<double>(zf.begin(), zf.end()), zd}) {
    std::int64_t beyond3 = 0, finite = 0;
    for (double x : v) {
      beyond3 += std::abs(x - 3.0) > 3 * 2.0;
      finite += std::isfinite(x);
    }
    CHECK(finite == n);
    CHECK(std::abs(double(beyond3) / double(n) - 0.0026998) < 5 * 5.19e-5);
  }

  // Single draws follow the same laws.
  double sum = 0, sq = 0;
  for (int i = 0; i < 200000; ++i) {
    const double z = gen.normal<double>();
    sum += z;
    sq += z * z;
  }
  CHECK(std::abs(sum / 200000) < 5 / std::sqrt(200000.0));
  CHECK(std::abs(sq / 200000 - 1.0) < 5 * std::sqrt(2 / 200000.0));
}

TEST_CASE("Box-Muller never takes log(0): extreme words give finite normals") {
  using FloatBits = latent::detail::UnitBits<float>;
  using DoubleBits = latent::detail::UnitBits<double>;
  CHECK(FloatBits::nonzero(0) == 0x1p-32f);
  CHECK(FloatBits::nonzero(0xffffffffu) == 1.0f);
  CHECK(FloatBits::half_open(0xffffffffu) == 1.0f - 0x1p-24f);
  CHECK(DoubleBits::nonzero(0) == 0x1p-53);
  CHECK(DoubleBits::half_open(~std::uint64_t(0)) == 1.0 - 0x1p-53);
  const auto zf = latent::detail::box_muller(FloatBits::nonzero(0), 0.0f);
  CHECK(zf.z0 == doctest::Approx(std::sqrt(64 * std::log(2.0))).epsilon(1e-6));  // 6.66
  CHECK(std::isfinite(zf.z1));
  const auto zd = latent::detail::box_muller(DoubleBits::nonzero(0), 0.25);
  CHECK(zd.z1 == doctest::Approx(std::sqrt(106 * std::log(2.0))));  // 8.57
  const auto one = latent::detail::box_muller(1.0f, 0.5f);
  CHECK(one.z0 == 0.0f);
}

TEST_CASE("latent::Generator: randint is in range and unbiased (chi-square)") {
  latent::Generator gen(11);
  // fill_randint over 10 values: chi-square with 9 degrees of freedom, 99.9% point 27.88.
  const std::int64_t n = 1000000;
  std::vector<std::int64_t> r(n);
  gen.fill_randint(r.data(), n, -3, 7);
  std::vector<std::int64_t> counts(10, 0);
  std::int64_t outside = 0;
  for (std::int64_t x : r) {
    if (x < -3 || x >= 7) ++outside;
    else ++counts[std::size_t(x + 3)];
  }
  CHECK(outside == 0);
  CHECK(random_test::chi_square(counts, double(n)) < 27.88);

  // Single draws over 7 values: 6 degrees of freedom, 99.9% point 22.46.
  std::vector<std::int64_t> counts7(7, 0);
  for (int i = 0; i < 700000; ++i) ++counts7[std::size_t(gen.randint(100, 107) - 100)];
  CHECK(random_test::chi_square(counts7, 700000.0) < 22.46);

  // [-2^63, 2^62), a range of 3 * 2^62: a plain x % range would put half the draws in the
  // lowest third. Chi-square over the thirds: 2 degrees of freedom, 99.9% point 13.82.
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
  const std::int64_t quarter = std::int64_t(1) << 62;
  auto third_of = [&](std::int64_t x) { return std::size_t((std::uint64_t(x) - std::uint64_t(lo)) >> 62); };
  std::vector<std::int64_t> thirds(3, 0);
  std::vector<std::int64_t> big(300000);
  gen.fill_randint(big.data(), 300000, lo, quarter);
  for (std::int64_t x : big) ++thirds[third_of(x)];
  for (int i = 0; i < 100000; ++i) ++thirds[third_of(gen.randint(lo, quarter))];
  CHECK(random_test::chi_square(thirds, 400000.0) < 13.82);

  // Extreme and trivial ranges.
  bool negative = false, positive = false;
  for (int i = 0; i < 64; ++i) {
    const std::int64_t x = gen.randint(lo, hi);
    negative = negative || x < 0;
    positive = positive || x > 0;
  }
  CHECK((negative && positive));
  CHECK(gen.randint(5, 6) == 5);
}

TEST_CASE("latent::Generator: permutation and bernoulli") {
  latent::Generator gen(3);
  std::vector<std::int64_t> p = gen.permutation(1000);
  std::vector<std::int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  bool identity_sorted = true, moved = false;
  for (std::int64_t i = 0; i < 1000; ++i) {
    identity_sorted = identity_sorted && sorted[std::size_t(i)] == i;
    moved = moved || p[std::size_t(i)] != i;
  }
  CHECK(identity_sorted);
  CHECK(moved);
  CHECK(gen.permutation(0).empty());
  CHECK(gen.permutation(1) == std::vector<std::int64_t>{0});

  // All 6 orders of 3 items equally likely: 5 degrees of freedom, 99.9% point 20.52.
  std::vector<std::int64_t> counts(6, 0);
  for (int t = 0; t < 60000; ++t) {
    const std::vector<std::int64_t> q = gen.permutation(3);
    ++counts[std::size_t(q[0] * 2 + (q[1] > q[2] ? 1 : 0))];
  }
  CHECK(random_test::chi_square(counts, 60000.0) < 20.52);

  // Bernoulli(0.3): SE sqrt(0.21 / n).
  const std::int64_t n = 1000000;
  std::vector<float> mask(n);
  gen.fill_bernoulli(mask.data(), n, 0.3);
  double ones = 0, others = 0;
  for (float m : mask) {
    ones += m == 1.0f;
    others += m != 0.0f && m != 1.0f;
  }
  CHECK(others == 0);
  CHECK(std::abs(ones / double(n) - 0.3) < 5 * std::sqrt(0.21 / double(n)));
  std::vector<std::uint8_t> bytes(1000);
  gen.fill_bernoulli(bytes.data(), 1000, 0.0);
  CHECK(std::count(bytes.begin(), bytes.end(), std::uint8_t(0)) == 1000);
  gen.fill_bernoulli(bytes.data(), 1000, 1.0);
  CHECK(std::count(bytes.begin(), bytes.end(), std::uint8_t(1)) == 1000);
  int heads = 0;
  for (int i = 0; i < 100000; ++i) heads += gen.bernoulli(0.75);
  CHECK(std::abs(heads / 100000.0 - 0.75) < 5 * std::sqrt(0.1875 / 100000));
}

#if LATENT_HAS_EXCEPTIONS
TEST_CASE("latent::Generator: bad arguments raise latent::Error") {
  latent::Generator gen(0);
  std::vector<float> out(4);
  CHECK_THROWS_AS(gen.randint(5, 5), latent::Error);
  CHECK_THROWS_AS(gen.bernoulli(1.5), latent::Error);
  CHECK_THROWS_AS(gen.permutation(-1), latent::Error);
  CHECK_THROWS_AS(gen.fill_uniform(out.data(), 4, 1.0f, 0.0f), latent::Error);
  CHECK_THROWS_AS(gen.fill_normal(out.data(), -1, 0.0f, 1.0f), latent::Error);
  CHECK_THROWS_AS(gen.fill_normal(out.data(), 4, 0.0f, -1.0f), latent::Error);
  CHECK_THROWS_AS(gen.fill_bernoulli(out.data(), 4, -0.1), latent::Error);
}
#endif
