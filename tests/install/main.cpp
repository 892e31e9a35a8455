// A user's program: includes the library and runs a parallel loop with it.
#include <latent/latent.hpp>

#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
  const latent::BuildInfo info = latent::build_info();
  std::vector<std::int64_t> squares(1000, 0);
  latent::parallel_for(0, 1000, 64, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) squares[static_cast<std::size_t>(i)] = i * i;
  });
  std::int64_t sum = 0;
  for (std::int64_t s : squares) sum += s;
  const std::int64_t expected = 999LL * 1000 * 1999 / 6;  // sum of i^2 for i < 1000
  std::printf("latent %s (%s, openmp %d, %d threads): sum of squares %lld\n", info.version,
              info.simd, info.openmp ? 1 : 0, latent::get_num_threads(),
              static_cast<long long>(sum));
  return sum == expected ? 0 : 1;
}
