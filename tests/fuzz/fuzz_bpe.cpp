// libFuzzer target: BpeTokenizer::parse on the bytes as text; a parsed tokenizer must
// survive to_string -> parse -> to_string unchanged.
#include <cstddef>
#include <cstdint>
#include <latent/data/bpe.hpp>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const latent::data::BpeTokenizer tok = latent::data::BpeTokenizer::parse(text);
    const std::string once = tok.to_string();
    if (latent::data::BpeTokenizer::parse(once).to_string() != once) __builtin_trap();
  } catch (const latent::Error&) {
  }
  return 0;
}
