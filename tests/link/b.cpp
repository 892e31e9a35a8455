// Link test, second translation unit (see a.cpp).
#include <latent/latent.hpp>

#include <string>

namespace link_test {

std::string describe_build() {
  const latent::BuildInfo info = latent::build_info();
  return std::string(info.version) + " " + info.simd;
}

int threads_seen_from_b() { return latent::get_num_threads(); }

}  // namespace link_test
