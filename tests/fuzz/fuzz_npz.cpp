// libFuzzer target: io::read_zip, then every member parsed as .npy.
#include <cstddef>
#include <cstdint>
#include <latent/io/npz.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto members = latent::io::read_zip(data, size, "fuzz");
    for (const auto& m : members) {
      try {
        const latent::io::NpyArray a = latent::io::parse_npy(m.second.data(), m.second.size(), m.first);
        (void)a.to_tensor<double>();
      } catch (const latent::Error&) {
      }
    }
  } catch (const latent::Error&) {
  }
  return 0;
}
