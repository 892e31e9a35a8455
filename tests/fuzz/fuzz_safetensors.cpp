// libFuzzer target: io::parse_safetensors, then every tensor read back in every type.
// A latent::Error is the right answer to a bad file; a crash, sanitizer report or leak is not.
#include <cstddef>
#include <cstdint>
#include <latent/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const latent::io::SafetensorsFile file = latent::io::parse_safetensors(data, size, "fuzz");
    for (const auto& t : file.tensors) {
      try { (void)file.get<double>(t.first); } catch (const latent::Error&) {}
      try { (void)file.get<float>(t.first); } catch (const latent::Error&) {}
      try { (void)file.get<std::int64_t>(t.first); } catch (const latent::Error&) {}
      try { (void)file.get<bool>(t.first); } catch (const latent::Error&) {}
    }
  } catch (const latent::Error&) {
  }
  return 0;
}
