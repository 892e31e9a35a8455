// libFuzzer target: train::Checkpoint<double>::parse; whatever parses must write itself
// back and read again to the same bytes.
#include <cstddef>
#include <cstdint>
#include <latent/train/checkpoint.hpp>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using Checkpoint = latent::train::Checkpoint<double>;
  try {
    const Checkpoint ck = Checkpoint::parse(data, size, "fuzz");
    const std::vector<std::uint8_t> once = ck.to_bytes();
    if (Checkpoint::parse(once.data(), once.size()).to_bytes() != once) __builtin_trap();
  } catch (const latent::Error&) {
  }
  return 0;
}
