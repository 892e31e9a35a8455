// libFuzzer target: the same bytes as a raw DEFLATE stream, a zlib stream and a gzip file,
// with the output capped at 1 MiB (beyond it is an Error, not an allocation).
#include <cstddef>
#include <cstdint>
#include <latent/io/inflate.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxOutput = std::size_t(1) << 20;
  try { (void)latent::io::inflate_raw(data, size, kMaxOutput); } catch (const latent::Error&) {}
  try { (void)latent::io::inflate_zlib(data, size, kMaxOutput); } catch (const latent::Error&) {}
  try { (void)latent::io::inflate_gzip(data, size, kMaxOutput); } catch (const latent::Error&) {}
  return 0;
}
