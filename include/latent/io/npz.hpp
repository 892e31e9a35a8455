// NumPy's .npz: a zip archive of .npy members ("name.npy"), stored or deflated.
//
// Reading walks the zip's central directory (found through the end-of-central-directory
// record at the end of the file), checks each member's local header, inflates deflated
// members (capped at their declared size) and verifies every CRC-32. Zip64 archives
// (members over 4 GiB) are refused with a clear error. Writing produces stored or
// deflated members with no timestamps, so the same arrays give the same bytes.
//
// read_zip, read_npz and zip_bytes are templated on an unused parameter only so that they
// are compiled when a program calls them, not in every program that includes the library.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bytes.hpp"
#include "checksum.hpp"
#include "deflate.hpp"
#include "file.hpp"
#include "inflate.hpp"
#include "npy.hpp"

namespace latent::io {

// Members of a zip archive by name (their uncompressed bytes).
template <class = void>
std::map<std::string, std::vector<std::uint8_t>> read_zip(const std::uint8_t* data, std::size_t size,
                                                          const std::string& name = "archive") {
  const std::string op = "npz: " + name;
  LATENT_CHECK(size >= 22, op, ": too short to be a zip archive (", size, " bytes)");
  // The end-of-central-directory record: signature 0x06054b50, within the last 64 KiB + 22.
  std::size_t eocd = size - 22;
  const std::size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  while (true) {
    if (data[eocd] == 0x50 && data[eocd + 1] == 0x4b && data[eocd + 2] == 0x05 && data[eocd + 3] == 0x06) break;
    LATENT_CHECK(eocd > lowest, op, ": not a zip archive (no end-of-central-directory record)");
    --eocd;
  }
  ByteReader end(data, size, op);
  end.seek(eocd + 10);
  const std::uint16_t entries = end.u16_le("the entry count");
  const std::uint32_t dir_size = end.u32_le("the directory size");
  const std::uint32_t dir_offset = end.u32_le("the directory offset");
  LATENT_CHECK(entries != 0xFFFF && dir_offset != 0xFFFFFFFFu, op, ": zip64 archives are not supported");
  LATENT_CHECK(std::size_t(dir_offset) + dir_size <= eocd, op, ": the central directory lies outside the file");

  std::map<std::string, std::vector<std::uint8_t>> members;
  ByteReader dir(data, size, op);
  dir.seek(dir_offset);
  for (int i = 0; i < entries; ++i) {
    LATENT_CHECK(dir.u32_le("a directory entry") == 0x02014b50u, op, ": bad central directory entry ", i);
    dir.skip(6, "the entry versions and flags");
    const std::uint16_t method = dir.u16_le("the compression method");
    dir.skip(4, "the entry time");
    const std::uint32_t crc = dir.u32_le("the CRC");
    const std::uint32_t packed = dir.u32_le("the compressed size");
    const std::uint32_t unpacked = dir.u32_le("the size");
    const std::uint16_t name_len = dir.u16_le("the name length");
    const std::uint16_t extra_len = dir.u16_le("the extra length");
    const std::uint16_t comment_len = dir.u16_le("the comment length");
    dir.skip(8, "the entry attributes");
    const std::uint32_t local = dir.u32_le("the local header offset");
    const std::uint8_t* member_name = dir.take(name_len, "the member name");
    dir.skip(std::size_t(extra_len) + comment_len, "the entry extra fields");
    const std::string member(reinterpret_cast<const char*>(member_name), name_len);
    LATENT_CHECK(packed != 0xFFFFFFFFu && unpacked != 0xFFFFFFFFu && local != 0xFFFFFFFFu, op, ": member '", member,
                 "' needs zip64, which is not supported");

    ByteReader at(data, size, op + ": " + member);
    at.seek(local);
    LATENT_CHECK(at.u32_le("the local header") == 0x04034b50u, op, ": member '", member, "' has a bad local header");
    at.skip(22, "the local header fields");
    const std::uint16_t local_name = at.u16_le("the local name length");
    const std::uint16_t local_extra = at.u16_le("the local extra length");
    at.skip(std::size_t(local_name) + local_extra, "the local name");
    const std::uint8_t* body = at.take(packed, "the member data");
    std::vector<std::uint8_t> bytes;
    if (method == 0) {
      LATENT_CHECK(packed == unpacked, op, ": stored member '", member, "' has different sizes");
      bytes.assign(body, body + packed);
    } else if (method == 8) {
      bytes = inflate_raw(body, packed, unpacked);
      LATENT_CHECK(bytes.size() == unpacked, op, ": member '", member, "' inflates to ", bytes.size(),
                   " bytes, the directory says ", unpacked);
    } else {
      fail(op, ": member '", member, "' uses compression method ", method, " (only stored and deflate are supported)");
    }
    LATENT_CHECK(crc32(bytes.data(), bytes.size()) == crc, op, ": member '", member, "' fails its CRC-32 check");
    LATENT_CHECK(members.emplace(member, std::move(bytes)).second, op, ": member '", member, "' appears twice");
  }
  return members;
}

// The arrays of an .npz file by name (without the ".npy" suffix).
template <class = void>
std::map<std::string, NpyArray> read_npz(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  std::map<std::string, NpyArray> arrays;
  for (auto& m : read_zip(bytes.data(), bytes.size(), path)) {
    std::string key = m.first;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    arrays.emplace(key, parse_npy(m.second.data(), m.second.size(), path + ": " + m.first));
  }
  return arrays;
}

template <class T>
std::map<std::string, Tensor<T>> load_npz(const std::string& path) {
  std::map<std::string, Tensor<T>> out;
  for (const auto& a : read_npz(path)) out.emplace(a.first, a.second.template to_tensor<T>());
  return out;
}

// A zip archive of the given members (deflated when `compress`, else stored).
template <class = void>
std::vector<std::uint8_t> zip_bytes(const std::map<std::string, std::vector<std::uint8_t>>& members,
                                    bool compress = true) {
  ByteWriter out, dir;
  std::uint16_t count = 0;
  for (const auto& m : members) {
    LATENT_CHECK(m.second.size() < 0xFFFFFFFFu && m.first.size() < 0xFFFF, "npz: member '", m.first,
                 "' is too large for a zip archive without zip64");
    const std::vector<std::uint8_t> body = compress ? deflate_raw(m.second) : m.second;
    const std::uint32_t crc = crc32(m.second.data(), m.second.size());
    const std::uint32_t offset = static_cast<std::uint32_t>(out.size());
    const std::uint16_t method = compress ? 8 : 0;
    auto fields = [&](ByteWriter& w) {
      w.u16_le(20);  // version needed: 2.0
      w.u16_le(0);   // flags
      w.u16_le(method);
      w.u32_le(0);   // time and date
      w.u32_le(crc);
      w.u32_le(static_cast<std::uint32_t>(body.size()));
      w.u32_le(static_cast<std::uint32_t>(m.second.size()));
      w.u16_le(static_cast<std::uint16_t>(m.first.size()));
      w.u16_le(0);   // extra length
    };
    out.u32_le(0x04034b50u);
    fields(out);
    out.bytes(m.first);
    out.bytes(body.data(), body.size());
    dir.u32_le(0x02014b50u);
    dir.u16_le(20);  // version made by
    fields(dir);
    dir.u16_le(0);   // comment length
    dir.u32_le(0);   // disk number and internal attributes
    dir.u32_le(0);   // external attributes
    dir.u32_le(offset);
    dir.bytes(m.first);
    ++count;
  }
  const std::uint32_t dir_offset = static_cast<std::uint32_t>(out.size());
  const std::vector<std::uint8_t> directory = dir.release();
  out.bytes(directory.data(), directory.size());
  out.u32_le(0x06054b50u);
  out.u32_le(0);  // disk numbers
  out.u16_le(count);
  out.u16_le(count);
  out.u32_le(static_cast<std::uint32_t>(directory.size()));
  out.u32_le(dir_offset);
  out.u16_le(0);  // comment length
  return out.release();
}

template <class T>
void save_npz(const std::string& path, const std::map<std::string, Tensor<T>>& arrays, bool compress = true) {
  std::map<std::string, std::vector<std::uint8_t>> members;
  for (const auto& a : arrays) members.emplace(a.first + ".npy", npy_bytes(a.second));
  write_file_atomic(path, zip_bytes(members, compress));
}

}  // namespace latent::io
