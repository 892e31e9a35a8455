// Link test, first translation unit: together with b.cpp it proves that two files
// including the library link into one program (no duplicate or missing symbols), and
// that the library's lazily initialised state is one object shared by both of them.
#include <latent/latent.hpp>

#include <cstdio>
#include <string>

namespace link_test {
std::string describe_build();  // in b.cpp
int threads_seen_from_b();     // in b.cpp
}  // namespace link_test

int main() {
  const latent::BuildInfo info = latent::build_info();
  const std::string here = std::string(info.version) + " " + info.simd;
  const std::string there = link_test::describe_build();

  // Set here, read there: both files must see the same thread-count setting.
  latent::set_num_threads(3);
  const int expected = info.openmp ? 3 : 1;
  const int seen = link_test::threads_seen_from_b();

  std::printf("latent %s, openmp %d: a.cpp set 3 threads, b.cpp sees %d\n", here.c_str(),
              info.openmp ? 1 : 0, seen);
  if (there != here || seen != expected || latent::get_num_threads() != expected) {
    std::printf("mismatch: a.cpp '%s', b.cpp '%s', threads expected %d\n", here.c_str(),
                there.c_str(), expected);
    return 1;
  }
  return 0;
}
