// Byte-level byte-pair encoding (BPE), as GPT-2 uses: tokens 0..255 are the bytes, and
// training adds one token per merge of the most frequent adjacent pair, until the
// vocabulary has the size asked for. Any byte string encodes (every byte is a token), and
// decode(encode(s)) == s for every s.
//
// Text is first cut into chunks (a word with at most one leading space, a run of digits,
// a run of punctuation, a run of other whitespace) and merges never cross a chunk, so
// tokens stay word-like. Encoding a chunk applies the merges in the order they were
// learnt: repeatedly merge the adjacent pair that was learnt first.
//
// Saved form (text): "latent-bpe 1\nmerges N\n" then N lines "left right" (token ids).
//
// The tokenizer is a class template, BpeTokenizer = BasicBpeTokenizer<>, only so that its
// members are compiled when a program uses them: a program that includes this header
// (through latent.hpp) and never tokenizes does not pay to instantiate the maps, hash
// tables and string streams they use.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../io/file.hpp"

namespace latent::data {

template <class = void>
class BasicBpeTokenizer {
 public:
  BasicBpeTokenizer() {
    for (int b = 0; b < 256; ++b) pieces_.push_back(std::string(1, static_cast<char>(b)));
  }

  // Learns merges on `text` until the vocabulary has `vocab_size` tokens (or no pair
  // occurs twice). Ties go to the pair with the smaller ids, so training is deterministic.
  static BasicBpeTokenizer train(const std::string& text, std::int64_t vocab_size) {
    LATENT_CHECK(vocab_size >= 256, "BpeTokenizer::train: vocab_size must be at least 256 (the bytes), got ",
                 vocab_size);
    std::map<std::string, std::int64_t> counts;
    for (const std::string& chunk : chunks(text)) ++counts[chunk];
    std::vector<std::vector<std::int64_t>> words;
    std::vector<std::int64_t> freq;
    for (const auto& e : counts) {
      words.emplace_back(e.first.begin(), e.first.end());
      for (std::int64_t& t : words.back()) t &= 0xFF;
      freq.push_back(e.second);
    }
    BasicBpeTokenizer tok;
    while (tok.vocab_size() < vocab_size) {
      std::unordered_map<std::uint64_t, std::int64_t> pairs;
      for (std::size_t w = 0; w < words.size(); ++w)
        for (std::size_t i = 0; i + 1 < words[w].size(); ++i) pairs[key(words[w][i], words[w][i + 1])] += freq[w];
      std::uint64_t best = 0;
      std::int64_t best_count = 1;
      for (const auto& p : pairs)
        if (p.second > best_count || (p.second == best_count && best_count > 1 && p.first < best)) {
          best = p.first;
          best_count = p.second;
        }
      if (best_count < 2) break;
      const std::int64_t left = static_cast<std::int64_t>(best >> 32), right = static_cast<std::int64_t>(best & 0xFFFFFFFFu);
      const std::int64_t id = tok.add_merge(left, right);
      for (auto& word : words) merge_in_place(word, left, right, id);
    }
    return tok;
  }

  std::int64_t vocab_size() const { return static_cast<std::int64_t>(pieces_.size()); }
  const std::vector<std::pair<std::int64_t, std::int64_t>>& merges() const { return merges_; }
  // The bytes a token stands for.
  const std::string& piece(std::int64_t id) const {
    LATENT_CHECK(id >= 0 && id < vocab_size(), "BpeTokenizer: token ", id, " is out of range for a vocabulary of ",
                 vocab_size());
    return pieces_[static_cast<std::size_t>(id)];
  }

  std::vector<std::int64_t> encode(const std::string& text) const {
    std::vector<std::int64_t> ids;
    std::unordered_map<std::string, std::vector<std::int64_t>> cache;
    for (const std::string& chunk : chunks(text)) {
      auto it = cache.find(chunk);
      if (it == cache.end()) it = cache.emplace(chunk, encode_chunk(chunk)).first;
      ids.insert(ids.end(), it->second.begin(), it->second.end());
    }
    return ids;
  }

  std::string decode(const std::vector<std::int64_t>& ids) const {
    std::string text;
    for (std::int64_t id : ids) text += piece(id);
    return text;
  }

  std::string to_string() const {
    std::ostringstream s;
    s << "latent-bpe 1\nmerges " << merges_.size() << "\n";
    for (const auto& m : merges_) s << m.first << ' ' << m.second << '\n';
    return s.str();
  }
  void save(const std::string& path) const { io::write_file_atomic(path, to_string()); }

  // Parses the saved form; every number is checked (a corrupt file is an error).
  static BasicBpeTokenizer parse(const std::string& text) {
    std::istringstream in(text);
    std::string magic, version, word;
    long long n = -1;
    in >> magic >> version >> word >> n;
    LATENT_CHECK(in && magic == "latent-bpe" && version == "1" && word == "merges",
                 "BpeTokenizer: not a latent BPE file (expected the header 'latent-bpe 1' then 'merges N')");
    LATENT_CHECK(n >= 0 && n <= (1 << 22), "BpeTokenizer: bad merge count ", n);
    BasicBpeTokenizer tok;
    for (long long i = 0; i < n; ++i) {
      long long left = -1, right = -1;
      in >> left >> right;
      LATENT_CHECK(static_cast<bool>(in), "BpeTokenizer: merge ", i, " of ", n, " is missing or malformed");
      LATENT_CHECK(left >= 0 && right >= 0 && left < tok.vocab_size() && right < tok.vocab_size(), "BpeTokenizer: merge ",
                   i, " refers to token ", std::max(left, right), " before it exists");
      LATENT_CHECK(!tok.rank_.count(key(left, right)), "BpeTokenizer: merge ", i, " repeats an earlier merge");
      tok.add_merge(left, right);
    }
    in >> word;
    LATENT_CHECK(!in, "BpeTokenizer: unexpected content after the ", n, " merges");
    return tok;
  }
  static BasicBpeTokenizer load(const std::string& path) {
    const std::vector<std::uint8_t> bytes = io::read_file(path);
    return parse(std::string(bytes.begin(), bytes.end()));
  }

  // The chunks merges stay within (see the comment at the top).
  static std::vector<std::string> chunks(const std::string& text) {
    std::vector<std::string> out;
    auto kind = [](unsigned char c) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 0;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return 1;
      if (c >= '0' && c <= '9') return 2;
      return 3;
    };
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t j = i;
      const bool space_prefix = text[i] == ' ' && i + 1 < text.size() && kind(static_cast<unsigned char>(text[i + 1])) != 0;
      if (space_prefix) ++j;
      const int k = kind(static_cast<unsigned char>(text[j]));
      while (j < text.size() && kind(static_cast<unsigned char>(text[j])) == k) {
        // A whitespace run leaves its last space to prefix the next word.
        if (k == 0 && text[j] == ' ' && j + 1 < text.size() && j > i && kind(static_cast<unsigned char>(text[j + 1])) != 0) break;
        ++j;
      }
      out.push_back(text.substr(i, j - i));
      i = j;
    }
    return out;
  }

 private:
  static std::uint64_t key(std::int64_t a, std::int64_t b) {
    return (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint64_t>(b);
  }

  std::int64_t add_merge(std::int64_t left, std::int64_t right) {
    const std::int64_t id = vocab_size();
    merges_.emplace_back(left, right);
    pieces_.push_back(pieces_[static_cast<std::size_t>(left)] + pieces_[static_cast<std::size_t>(right)]);
    rank_[key(left, right)] = id;
    return id;
  }

  static void merge_in_place(std::vector<std::int64_t>& word, std::int64_t left, std::int64_t right, std::int64_t id) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < word.size(); ++i) {
      if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
        word[out++] = id;
        ++i;
      } else {
        word[out++] = word[i];
      }
    }
    word.resize(out);
  }

  std::vector<std::int64_t> encode_chunk(const std::string& chunk) const {
    std::vector<std::int64_t> word;
    for (unsigned char c : chunk) word.push_back(c);
    while (word.size() > 1) {
      std::int64_t best = -1;
      std::size_t at = 0;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = rank_.find(key(word[i], word[i + 1]));
        if (it != rank_.end() && (best < 0 || it->second < best)) {
          best = it->second;
          at = i;
        }
      }
      if (best < 0) break;
      merge_in_place(word, word[at], word[at + 1], best);
    }
    return word;
  }

  std::vector<std::pair<std::int64_t, std::int64_t>> merges_;
  std::vector<std::string> pieces_;
  std::unordered_map<std::uint64_t, std::int64_t> rank_;
};

using BpeTokenizer = BasicBpeTokenizer<>;

}  // namespace latent::data
