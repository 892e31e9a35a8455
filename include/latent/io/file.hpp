// Whole files in and out.
//
//   std::vector<std::uint8_t> read_file(path)        the bytes of a file
//   void write_file_atomic(path, data, size)         replaces a file all at once
//
// Errors name the path and the system's reason ("read_file: cannot open 'x.idx': No such
// file or directory"). write_file_atomic writes to a temporary file in the same folder,
// flushes it to the disk (fsync), and renames it over the target: after a crash the target
// holds either its old content or the new one, never part of a file. (On systems without
// POSIX, the rename is done as remove + rename, which is not atomic.)
#pragma once

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace latent::io {

inline std::vector<std::uint8_t> read_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  LATENT_CHECK(file != nullptr, "read_file: cannot open '", path, "': ", std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  if (std::fseek(file, 0, SEEK_END) == 0) {  // the size, when the file has one, saves regrowing
    const long end = std::ftell(file);
    if (end > 0) bytes.reserve(static_cast<std::size_t>(end));
    std::rewind(file);
  }
  std::vector<std::uint8_t> chunk(std::size_t(1) << 16);
  std::size_t got = 0;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), file)) > 0) {
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
  }
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  LATENT_CHECK(!failed, "read_file: error reading '", path, "': ", std::strerror(error));
  return bytes;
}

namespace detail {
// A name for the temporary file that another process or thread is unlikely to pick too.
inline std::string temporary_name(const std::string& path) {
  const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  std::string name = path + ".tmp";
#if defined(__unix__) || defined(__APPLE__)
  name += "." + std::to_string(static_cast<long>(::getpid()));
#endif
  return name + "." + std::to_string(static_cast<long long>(ticks));
}

// The folder holding `path`, for fsync after a rename ("." for a bare file name).
inline std::string parent_folder(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace detail

inline void write_file_atomic(const std::string& path, const std::uint8_t* data, std::size_t size) {
  const std::string temporary = detail::temporary_name(path);
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  LATENT_CHECK(file != nullptr, "write_file_atomic: cannot create '", temporary, "' (for '",
               path, "'): ", std::strerror(errno));
  bool ok = size == 0 || std::fwrite(data, 1, size, file) == size;
  ok = ok && std::fflush(file) == 0;
#if defined(__unix__) || defined(__APPLE__)
  ok = ok && ::fsync(::fileno(file)) == 0;
#endif
  int error = errno;
  if (std::fclose(file) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    std::remove(temporary.c_str());
    fail("write_file_atomic: cannot write '", temporary, "' (for '", path, "'): ",
         std::strerror(error));
  }
#if !(defined(__unix__) || defined(__APPLE__))
  std::remove(path.c_str());  // rename does not replace an existing file here
#endif
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = errno;
    std::remove(temporary.c_str());
    fail("write_file_atomic: cannot rename '", temporary, "' to '", path, "': ",
         std::strerror(error));
  }
#if defined(__unix__) || defined(__APPLE__)
  // Make the rename itself durable; best effort, as not every file system allows it.
  const int folder = ::open(detail::parent_folder(path).c_str(), O_RDONLY);
  if (folder >= 0) {
    (void)::fsync(folder);
    ::close(folder);
  }
#endif
}

inline void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

}  // namespace latent::io
