// libFuzzer target: io::parse_npy, then the array converted to tensors.
#include <cstddef>
#include <cstdint>
#include <latent/io/npy.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const latent::io::NpyArray a = latent::io::parse_npy(data, size, "fuzz");
    try { (void)a.to_tensor<double>(); } catch (const latent::Error&) {}
    try { (void)a.to_tensor<float>(); } catch (const latent::Error&) {}
    try { (void)a.to_tensor<std::int64_t>(); } catch (const latent::Error&) {}
  } catch (const latent::Error&) {
  }
  return 0;
}
