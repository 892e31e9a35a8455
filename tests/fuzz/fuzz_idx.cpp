// libFuzzer target: io::parse_idx (plain or gzipped), gunzipped output capped at 1 MiB.
#include <cstddef>
#include <cstdint>
#include <latent/io/idx.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const latent::io::IdxData d = latent::io::parse_idx(data, size, "fuzz", std::size_t(1) << 20);
    if (d.numel() * latent::io::idx_element_size(d.type) != d.data.size()) __builtin_trap();
  } catch (const latent::Error&) {
  }
  return 0;
}
