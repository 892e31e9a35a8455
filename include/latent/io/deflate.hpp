// Deflate: a DEFLATE compressor (RFC 1951) good enough for PNG and .npz, and its zlib
// (RFC 1950) and gzip (RFC 1952) containers.
//
//   std::vector<std::uint8_t> deflate_raw (data, size, level)    bare DEFLATE
//   std::vector<std::uint8_t> deflate_zlib(data, size, level)    zlib, with Adler-32
//   std::vector<std::uint8_t> deflate_gzip(data, size, level)    gzip, with CRC-32
//
// `level` is 0 (store only) to 9 (slowest, smallest), 6 by default, as in zlib. Two steps:
// LZ77 turns the input into tokens (literal bytes, and matches "copy `length` bytes from
// `distance` back"), then each block of tokens is written with the Huffman code that its
// own symbol frequencies call for, or with the fixed code, or stored as it is: whichever
// is the fewest bits. inflate.hpp reads all three.
//
// The compressor's heavier functions are templated on an unused parameter only so that
// they are compiled when a program compresses something, not in every program that
// includes the library.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "checksum.hpp"
#include "inflate.hpp"

namespace latent::io {

// Writes bits as DEFLATE packs them: from the least significant bit of each byte up.
class BitWriter {
 public:
  void put(std::uint32_t value, int n) {
    buffer_ |= (std::uint64_t(value) & ((std::uint64_t(1) << n) - 1)) << count_;
    count_ += n;
    while (count_ >= 8) {
      bytes_.push_back(static_cast<std::uint8_t>(buffer_));
      buffer_ >>= 8;
      count_ -= 8;
    }
  }
  // A Huffman code goes most significant bit first: put it bit-reversed.
  void put_code(std::uint32_t code, int length) { put(detail::reverse_bits(code, length), length); }
  void align_to_byte() {
    if (count_ > 0) put(0, 8 - count_);
  }
  std::size_t bit_count() const { return bytes_.size() * 8 + static_cast<std::size_t>(count_); }
  // Pads to a byte boundary with zero bits and hands over the bytes.
  std::vector<std::uint8_t> finish() {
    align_to_byte();
    return std::move(bytes_);
  }

 private:
  std::vector<std::uint8_t> bytes_;
  std::uint64_t buffer_ = 0;
  int count_ = 0;
};

namespace detail {

// ---- Huffman codes from symbol frequencies ----
//
// Huffman's algorithm gives the prefix code of least total length sum(freq * length):
// repeatedly merge the two least frequent nodes into one; a symbol's code length is its
// depth in the final tree. DEFLATE caps code lengths (15 bits, 7 for the code-length
// code); when the tree is deeper, the frequencies are flattened (halved, staying >= 1) and
// the tree is built again, which shortens the rare deep codes at a small cost. A complete
// code needs two symbols, so a lone symbol gets a partner that is never used.
template <class = void>
std::vector<std::uint8_t> huffman_lengths(std::vector<std::uint32_t> freq,
                                          int max_length) {
  const int n = static_cast<int>(freq.size());
  int used = 0;
  for (std::uint32_t f : freq) used += f > 0;
  for (int s = 0; s < n && used < 2; ++s) {
    if (freq[s] == 0) {
      freq[s] = 1;
      ++used;
    }
  }
  std::vector<std::uint8_t> lengths(freq.size(), 0);
  for (;;) {
    // Nodes 0..n-1 are the symbols, later ones the merged pairs; ties go to the lower id,
    // so the result is deterministic.
    using Node = std::pair<std::uint64_t, int>;  // (weight, id)
    std::vector<Node> queue;  // a binary heap with the least node at the front
    auto push = [&queue](Node node) {
      queue.push_back(node);
      std::push_heap(queue.begin(), queue.end(), std::greater<Node>());
    };
    auto pop = [&queue] {
      std::pop_heap(queue.begin(), queue.end(), std::greater<Node>());
      const Node least = queue.back();
      queue.pop_back();
      return least;
    };
    std::vector<int> parent(static_cast<std::size_t>(2 * n), -1);
    for (int s = 0; s < n; ++s) {
      if (freq[s] > 0) push({freq[s], s});
    }
    int next_id = n;
    while (queue.size() > 1) {
      const Node a = pop();
      const Node b = pop();
      parent[a.second] = parent[b.second] = next_id;
      push({a.first + b.first, next_id++});
    }
    // A parent always has a higher id than its children: walk ids downwards from the root.
    std::vector<int> depth(static_cast<std::size_t>(next_id), 0);
    int deepest = 0;
    for (int id = next_id - 2; id >= 0; --id) {
      if (parent[id] < 0) continue;
      depth[id] = depth[parent[id]] + 1;
      if (id < n) deepest = std::max(deepest, depth[id]);
    }
    if (deepest <= max_length) {
      for (int s = 0; s < n; ++s) lengths[s] = static_cast<std::uint8_t>(freq[s] ? depth[s] : 0);
      return lengths;
    }
    for (auto& f : freq) f = f == 0 ? 0 : (f + 1) / 2;
  }
}

// A code ready to write: each symbol's length, and its canonical code (see inflate.hpp:
// codes of one length are consecutive in symbol order) stored bit-reversed, as it is sent.
struct CodeTable {
  std::vector<std::uint8_t> lengths;
  std::vector<std::uint32_t> codes;
};

inline CodeTable canonical_code(std::vector<std::uint8_t> lengths) {
  std::array<std::uint32_t, 17> count{}, next{};
  for (std::uint8_t length : lengths) ++count[length];
  count[0] = 0;
  for (int length = 1; length <= 16; ++length) {
    next[length] = (next[length - 1] + count[length - 1]) << 1;
  }
  CodeTable table;
  table.codes.resize(lengths.size(), 0);
  for (std::size_t s = 0; s < lengths.size(); ++s) {
    if (lengths[s] != 0) table.codes[s] = reverse_bits(next[lengths[s]]++, lengths[s]);
  }
  table.lengths = std::move(lengths);
  return table;
}

inline const CodeTable& fixed_litlen_code() {
  static const CodeTable table = [] {
    std::vector<std::uint8_t> lengths(288);
    for (int s = 0; s < 288; ++s) lengths[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    return canonical_code(lengths);
  }();
  return table;
}
inline const CodeTable& fixed_distance_code() {
  static const CodeTable table = canonical_code(std::vector<std::uint8_t>(30, 5));
  return table;
}

// ---- LZ77 tokens ----

// A literal byte (length 0, value = the byte) or a match (length 3..258, value = distance).
struct Token {
  std::uint16_t length;
  std::uint16_t value;
};

// Index of the length or distance code: the last base not above the value.
inline int length_index(int length) {
  return static_cast<int>(std::upper_bound(kLengthBase, kLengthBase + 29, length) - kLengthBase) - 1;
}
inline int distance_index(int distance) {
  return static_cast<int>(std::upper_bound(kDistanceBase, kDistanceBase + 30, distance) -
                          kDistanceBase) - 1;
}

inline constexpr std::size_t kWindowSize = 32768;  // the farthest a match may reach back
inline constexpr std::size_t kMinMatch = 3;
inline constexpr std::size_t kMaxMatch = 258;

struct Match {
  std::size_t length = 0;
  std::size_t distance = 0;
};

// Finds earlier occurrences of the next 3 bytes through hash chains: head[h] is the latest
// position whose 3 bytes hash to h, prev[p % window] the one before p with the same hash.
// Following a chain visits candidates from nearest to farthest; we stop after `max_chain`
// of them, at the edge of the window, or at a match of `nice_length` bytes.
class MatchFinder {
 public:
  MatchFinder(const std::uint8_t* data, std::size_t size, int max_chain, std::size_t nice_length)
      : data_(data), size_(size), max_chain_(max_chain), nice_length_(nice_length),
        head_(std::size_t(1) << kHashBits, kNone), prev_(kWindowSize, kNone) {}

  // The longest match for the bytes at pos (length 0 if none), then records pos.
  Match find_and_insert(std::size_t pos) {
    if (pos + kMinMatch > size_) return {};
    const std::size_t max_length = std::min(kMaxMatch, size_ - pos);
    const std::uint8_t* here = data_ + pos;
    Match best;
    std::size_t candidate = head_[hash(pos)];
    for (int chain = max_chain_; chain > 0 && candidate != kNone && pos - candidate <= kWindowSize;
         --chain) {
      const std::uint8_t* there = data_ + candidate;
      if (there[best.length] == here[best.length]) {  // could beat the best: compare fully
        std::size_t length = 0;
        while (length < max_length && there[length] == here[length]) ++length;
        if (length > best.length) {
          best = {length, pos - candidate};
          if (length >= nice_length_ || length == max_length) break;
        }
      }
      candidate = prev_[candidate % kWindowSize];
    }
    insert(pos);
    // Three bytes far back cost more bits than three literals.
    if (best.length < kMinMatch || (best.length == kMinMatch && best.distance > 4096)) return {};
    return best;
  }

  void insert(std::size_t pos) {
    if (pos + kMinMatch > size_) return;
    const std::size_t h = hash(pos);
    prev_[pos % kWindowSize] = head_[h];
    head_[h] = pos;
  }

 private:
  static constexpr int kHashBits = 15;
  static constexpr std::size_t kNone = ~std::size_t(0);

  std::size_t hash(std::size_t pos) const {
    const std::uint32_t bytes = std::uint32_t(data_[pos]) << 16 |
                                std::uint32_t(data_[pos + 1]) << 8 | data_[pos + 2];
    return (bytes * 2654435761u) >> (32 - kHashBits);
  }

  const std::uint8_t* data_;
  std::size_t size_;
  int max_chain_;
  std::size_t nice_length_;
  std::vector<std::size_t> head_, prev_;
};

// ---- Blocks ----

// Code lengths of one dynamic block's header, run-length coded with the code-length
// alphabet: 0..15 a length, 16 = repeat the previous one 3..6 times (2 extra bits), 17 =
// 3..10 zeros (3 extra bits), 18 = 11..138 zeros (7 extra bits).
struct CodeLengthSymbol {
  std::uint8_t symbol;
  std::uint8_t extra;
};

template <class = void>
std::vector<CodeLengthSymbol> run_length_code(const std::vector<std::uint8_t>& lengths) {
  std::vector<CodeLengthSymbol> out;
  std::size_t i = 0;
  while (i < lengths.size()) {
    const std::uint8_t value = lengths[i];
    std::size_t run = 1;
    while (i + run < lengths.size() && lengths[i + run] == value) ++run;
    i += run;
    if (value == 0) {
      for (; run >= 11; run -= std::min<std::size_t>(run, 138)) {
        out.push_back({18, static_cast<std::uint8_t>(std::min<std::size_t>(run, 138) - 11)});
      }
      if (run >= 3) {
        out.push_back({17, static_cast<std::uint8_t>(run - 3)});
        run = 0;
      }
    } else {
      out.push_back({value, 0});
      --run;
      for (; run >= 3; run -= std::min<std::size_t>(run, 6)) {
        out.push_back({16, static_cast<std::uint8_t>(std::min<std::size_t>(run, 6) - 3)});
      }
    }
    for (; run > 0; --run) out.push_back({value, 0});
  }
  return out;
}

inline constexpr int kCodeLengthExtraBits[19] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0, 0, 2, 3, 7};

inline void write_tokens(BitWriter& out, const std::vector<Token>& tokens, const CodeTable& litlen,
                         const CodeTable& distances) {
  for (const Token& token : tokens) {
    if (token.length == 0) {
      out.put(litlen.codes[token.value], litlen.lengths[token.value]);
      continue;
    }
    const int l = length_index(token.length);
    out.put(litlen.codes[257 + l], litlen.lengths[257 + l]);
    out.put(token.length - kLengthBase[l], kLengthExtra[l]);
    const int d = distance_index(token.value);
    out.put(distances.codes[d], distances.lengths[d]);
    out.put(token.value - kDistanceBase[d], kDistanceExtra[d]);
  }
  out.put(litlen.codes[256], litlen.lengths[256]);
}

inline std::size_t coded_bits(const std::vector<std::uint32_t>& freq,
                              const std::vector<std::uint8_t>& lengths) {
  std::size_t bits = 0;
  for (std::size_t s = 0; s < freq.size(); ++s) bits += std::size_t(freq[s]) * lengths[s];
  return bits;
}

inline void write_stored(BitWriter& out, const std::uint8_t* raw, std::size_t size, bool last) {
  std::size_t done = 0;
  do {
    const std::size_t chunk = std::min<std::size_t>(size - done, 65535);
    out.put(last && done + chunk == size ? 1 : 0, 1);
    out.put(0, 2);
    out.align_to_byte();
    out.put(static_cast<std::uint32_t>(chunk), 16);
    out.put(static_cast<std::uint32_t>(~chunk & 0xFFFFu), 16);
    for (std::size_t i = 0; i < chunk; ++i) out.put(raw[done + i], 8);
    done += chunk;
  } while (done < size);
}

// Writes the tokens of raw[0, raw_size) as one block in the cheapest of the three forms.
template <class = void>
void write_block(BitWriter& out, const std::vector<Token>& tokens, const std::uint8_t* raw,
                 std::size_t raw_size, bool last) {
  std::vector<std::uint32_t> litlen_freq(286, 0), distance_freq(30, 0);
  std::size_t extra_bits = 0;
  for (const Token& token : tokens) {
    if (token.length == 0) {
      ++litlen_freq[token.value];
      continue;
    }
    const int l = length_index(token.length), d = distance_index(token.value);
    ++litlen_freq[257 + l];
    ++distance_freq[d];
    extra_bits += std::size_t(kLengthExtra[l]) + kDistanceExtra[d];
  }
  litlen_freq[256] = 1;

  // Dynamic: both codes' lengths, trimmed of trailing zeros, then run-length coded.
  const CodeTable litlen = canonical_code(huffman_lengths(litlen_freq, 15));
  const CodeTable distances = canonical_code(huffman_lengths(distance_freq, 15));
  std::size_t nlit = 286, ndist = 30;
  while (nlit > 257 && litlen.lengths[nlit - 1] == 0) --nlit;
  while (ndist > 1 && distances.lengths[ndist - 1] == 0) --ndist;
  std::vector<std::uint8_t> all_lengths(litlen.lengths.begin(), litlen.lengths.begin() + nlit);
  all_lengths.insert(all_lengths.end(), distances.lengths.begin(),
                     distances.lengths.begin() + ndist);
  const std::vector<CodeLengthSymbol> header = run_length_code(all_lengths);
  std::vector<std::uint32_t> header_freq(19, 0);
  for (const auto& item : header) ++header_freq[item.symbol];
  const CodeTable header_code = canonical_code(huffman_lengths(header_freq, 7));
  std::size_t nclen = 19;
  while (nclen > 4 && header_code.lengths[kCodeLengthOrder[nclen - 1]] == 0) --nclen;

  std::size_t header_bits = 3 + 5 + 5 + 4 + 3 * nclen;
  for (const auto& item : header) {
    header_bits += header_code.lengths[item.symbol] + kCodeLengthExtraBits[item.symbol];
  }
  const std::size_t dynamic_bits = header_bits + coded_bits(litlen_freq, litlen.lengths) +
                                   coded_bits(distance_freq, distances.lengths) + extra_bits;
  const std::size_t fixed_bits =
      3 + coded_bits(litlen_freq, fixed_litlen_code().lengths) +
      coded_bits(distance_freq, fixed_distance_code().lengths) + extra_bits;
  const std::size_t stored_bits = (raw_size / 65535 + 1) * (3 + 7 + 32) + 8 * raw_size;

  if (stored_bits <= fixed_bits && stored_bits <= dynamic_bits) {
    write_stored(out, raw, raw_size, last);
  } else if (fixed_bits <= dynamic_bits) {
    out.put(last ? 1 : 0, 1);
    out.put(1, 2);
    write_tokens(out, tokens, fixed_litlen_code(), fixed_distance_code());
  } else {
    out.put(last ? 1 : 0, 1);
    out.put(2, 2);
    out.put(static_cast<std::uint32_t>(nlit - 257), 5);
    out.put(static_cast<std::uint32_t>(ndist - 1), 5);
    out.put(static_cast<std::uint32_t>(nclen - 4), 4);
    for (std::size_t i = 0; i < nclen; ++i) out.put(header_code.lengths[kCodeLengthOrder[i]], 3);
    for (const auto& item : header) {
      out.put(header_code.codes[item.symbol], header_code.lengths[item.symbol]);
      out.put(item.extra, kCodeLengthExtraBits[item.symbol]);
    }
    write_tokens(out, tokens, litlen, distances);
  }
}

// How hard each level searches: candidates per chain, the match length that ends the
// search, and lazy matching (before taking a match at p, see whether p + 1 has a longer
// one; if so emit the byte at p as a literal and take that one instead).
struct DeflateEffort {
  int max_chain;
  std::size_t nice_length;
  bool lazy;
};

inline DeflateEffort deflate_effort(int level) {
  static constexpr DeflateEffort kEfforts[10] = {
      {0, 0, false},     {4, 8, false},     {8, 16, false},   {16, 32, false},
      {16, 32, true},    {32, 64, true},    {128, 128, true}, {256, 192, true},
      {1024, 258, true}, {4096, 258, true}};
  return kEfforts[level];
}

inline constexpr std::size_t kTokensPerBlock = 16384;

template <class = void>
std::vector<std::uint8_t> deflate_stream(const std::uint8_t* data, std::size_t size,
                                         int level) {
  LATENT_CHECK(level >= 0 && level <= 9, "deflate: level must be 0..9, got ", level);
  BitWriter out;
  if (level == 0) {
    write_stored(out, data, size, true);
    return out.finish();
  }
  const DeflateEffort effort = deflate_effort(level);
  MatchFinder finder(data, size, effort.max_chain, effort.nice_length);
  std::vector<Token> tokens;
  tokens.reserve(kTokensPerBlock);
  auto literal = [&](std::size_t pos) { tokens.push_back({0, data[pos]}); };
  auto match = [&](const Match& m) {
    tokens.push_back({static_cast<std::uint16_t>(m.length), static_cast<std::uint16_t>(m.distance)});
  };

  std::size_t block_start = 0;
  std::size_t i = 0;
  Match current = finder.find_and_insert(0);
  while (i < size) {
    if (tokens.size() >= kTokensPerBlock) {  // the tokens so far cover [block_start, i)
      write_block(out, tokens, data + block_start, i - block_start, false);
      tokens.clear();
      block_start = i;
    }
    if (current.length == 0) {
      literal(i);
      ++i;
    } else if (effort.lazy && current.length < effort.nice_length) {
      const Match next = finder.find_and_insert(i + 1);
      if (next.length > current.length) {
        literal(i);
        ++i;
        current = next;
        continue;
      }
      match(current);
      for (std::size_t p = i + 2; p < i + current.length; ++p) finder.insert(p);
      i += current.length;
    } else {
      match(current);
      for (std::size_t p = i + 1; p < i + current.length; ++p) finder.insert(p);
      i += current.length;
    }
    if (i < size) current = finder.find_and_insert(i);
  }
  write_block(out, tokens, data + block_start, size - block_start, true);
  return out.finish();
}

}  // namespace detail

template <class = void>
std::vector<std::uint8_t> deflate_raw(const std::uint8_t* data, std::size_t size,
                                      int level = 6) {
  return detail::deflate_stream(data, size, level);
}

// zlib: header 0x78 (DEFLATE, 32 KiB window) and a flag byte (the level class, with check
// bits making the pair a multiple of 31), the stream, and the Adler-32 big-endian.
template <class = void>
std::vector<std::uint8_t> deflate_zlib(const std::uint8_t* data, std::size_t size,
                                       int level = 6) {
  const std::vector<std::uint8_t> body = detail::deflate_stream(data, size, level);
  const unsigned level_class = level <= 1 ? 0 : level <= 5 ? 1 : level == 6 ? 2 : 3;
  const unsigned cmf = 0x78;
  unsigned flg = level_class << 6;
  flg += (31 - (cmf * 256 + flg) % 31) % 31;
  ByteWriter out;
  out.u8(static_cast<std::uint8_t>(cmf));
  out.u8(static_cast<std::uint8_t>(flg));
  out.bytes(body.data(), body.size());
  out.u32_be(adler32(data, size));
  return out.release();
}

// gzip: a 10-byte header (magic, method 8, no flags, no time, extra flags 2 = slowest
// or 4 = fastest, OS 255 = unknown), the stream, CRC-32 and size modulo 2^32.
template <class = void>
std::vector<std::uint8_t> deflate_gzip(const std::uint8_t* data, std::size_t size,
                                       int level = 6) {
  const std::vector<std::uint8_t> body = detail::deflate_stream(data, size, level);
  ByteWriter out;
  for (std::uint8_t byte : {0x1f, 0x8b, 8, 0, 0, 0, 0, 0}) out.u8(byte);
  out.u8(level == 9 ? 2 : level == 1 ? 4 : 0);
  out.u8(255);
  out.bytes(body.data(), body.size());
  out.u32_le(crc32(data, size));
  out.u32_le(static_cast<std::uint32_t>(size));
  return out.release();
}

template <class = void>
std::vector<std::uint8_t> deflate_raw(const std::vector<std::uint8_t>& data, int level = 6) {
  return deflate_raw(data.data(), data.size(), level);
}
template <class = void>
std::vector<std::uint8_t> deflate_zlib(const std::vector<std::uint8_t>& data, int level = 6) {
  return deflate_zlib(data.data(), data.size(), level);
}
template <class = void>
std::vector<std::uint8_t> deflate_gzip(const std::vector<std::uint8_t>& data, int level = 6) {
  return deflate_gzip(data.data(), data.size(), level);
}

}  // namespace latent::io
