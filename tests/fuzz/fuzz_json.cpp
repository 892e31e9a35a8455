// libFuzzer target: Json::parse; whatever parses must survive dump -> parse -> dump unchanged.
#include <cstddef>
#include <cstdint>
#include <latent/io/json.hpp>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const latent::io::Json value = latent::io::Json::parse(reinterpret_cast<const char*>(data), size, "fuzz");
    const std::string once = value.dump();
    const std::string twice = latent::io::Json::parse(once, "fuzz (dumped)").dump();
    if (once != twice) __builtin_trap();
  } catch (const latent::Error&) {
  }
  return 0;
}
