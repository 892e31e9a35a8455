// Text: the fortunes corpus and a character tokenizer.
//
// Debian's `fortunes` package keeps its sayings in /usr/share/games/fortunes/<category>,
// plain text with a line holding only "%" between fortunes. load_fortunes() reads them in
// a fixed order (categories sorted by name); split_fortunes() sends every tenth fortune to
// validation, so the split is deterministic and spread over all categories.
//
// The fortune readers are templated on an unused parameter only so that they are compiled
// when a program reads fortunes, not in every program that includes the library.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/file.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <dirent.h>
#endif

namespace latent::data {

constexpr const char* kFortunesFolder = "/usr/share/games/fortunes";

struct Fortune {
  std::string category;
  std::string text;
};

namespace detail {
// Category files in the folder: plain names (no ".dat" / ".u8" companions), sorted.
template <class = void>
std::vector<std::string> fortune_categories(const std::string& folder) {
  std::vector<std::string> names;
#if defined(__unix__) || defined(__APPLE__)
  DIR* dir = opendir(folder.c_str());
  LATENT_CHECK(dir != nullptr, "load_fortunes: cannot open ", folder,
               "; install Debian's package with `sudo apt-get install fortunes`, or pass the folder");
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.empty() || name[0] == '.' || name.find('.') != std::string::npos) continue;
    names.push_back(name);
  }
  closedir(dir);
#else
  fail("load_fortunes: listing a folder is only supported on POSIX systems; pass the categories");
#endif
  std::sort(names.begin(), names.end());
  return names;
}

// Splits a fortune file's text at lines that hold only "%".
template <class = void>
std::vector<std::string> split_fortune_file(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line, current;
  while (std::getline(in, line)) {
    if (line == "%") {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += line;
      current += '\n';
    }
  }
  if (!current.empty()) out.push_back(current);
  return out;
}
}  // namespace detail

// Every fortune of the given categories (all of them when the list is empty).
template <class = void>
std::vector<Fortune> load_fortunes(const std::vector<std::string>& categories = {},
                                   const std::string& folder = kFortunesFolder) {
  const std::vector<std::string> names = categories.empty() ? detail::fortune_categories(folder) : categories;
  std::vector<Fortune> out;
  for (const std::string& name : names) {
    const std::vector<std::uint8_t> bytes = io::read_file(folder + "/" + name);
    for (std::string& text : detail::split_fortune_file(std::string(bytes.begin(), bytes.end())))
      out.push_back({name, std::move(text)});
  }
  LATENT_CHECK(!out.empty(), "load_fortunes: no fortunes found in ", folder);
  return out;
}

struct TextSplit {
  std::string train, validation;
};

// Joins the fortunes into a training text and a validation text (every tenth fortune),
// each fortune followed by a blank line.
inline TextSplit split_fortunes(const std::vector<Fortune>& fortunes, int every = 10) {
  LATENT_CHECK(every >= 2, "split_fortunes: `every` must be at least 2, got ", every);
  TextSplit s;
  for (std::size_t i = 0; i < fortunes.size(); ++i)
    ((i % static_cast<std::size_t>(every)) == static_cast<std::size_t>(every - 1) ? s.validation : s.train) +=
        fortunes[i].text + "\n";
  return s;
}

// One token per distinct byte of the text it was built from, numbered in byte order.
class CharTokenizer {
 public:
  CharTokenizer() = default;
  explicit CharTokenizer(const std::string& text) {
    bool seen[256] = {};
    for (unsigned char c : text) seen[c] = true;
    for (int c = 0; c < 256; ++c)
      if (seen[c]) add(static_cast<unsigned char>(c));
  }
  // From an explicit alphabet (for loading a saved model).
  static CharTokenizer from_alphabet(const std::string& alphabet) {
    CharTokenizer t;
    for (unsigned char c : alphabet) {
      LATENT_CHECK(t.id_[c] < 0, "CharTokenizer: byte ", int(c), " appears twice in the alphabet");
      t.add(c);
    }
    return t;
  }

  std::int64_t vocab_size() const { return static_cast<std::int64_t>(chars_.size()); }
  const std::string& alphabet() const { return chars_; }

  std::vector<std::int64_t> encode(const std::string& text) const {
    std::vector<std::int64_t> ids;
    ids.reserve(text.size());
    for (unsigned char c : text) {
      LATENT_CHECK(id_[c] >= 0, "CharTokenizer: byte ", int(c), " ('", std::string(1, char(c)),
                   "') is not in the vocabulary");
      ids.push_back(id_[c]);
    }
    return ids;
  }
  std::string decode(const std::vector<std::int64_t>& ids) const {
    std::string text;
    for (std::int64_t id : ids) {
      LATENT_CHECK(id >= 0 && id < vocab_size(), "CharTokenizer: token ", id, " is out of range for a vocabulary of ",
                   vocab_size());
      text += chars_[static_cast<std::size_t>(id)];
    }
    return text;
  }

 private:
  void add(unsigned char c) {
    id_[c] = static_cast<int>(chars_.size());
    chars_ += static_cast<char>(c);
  }
  std::string chars_;
  std::array<int, 256> id_ = filled_minus_one();
  static std::array<int, 256> filled_minus_one() {
    std::array<int, 256> a{};
    a.fill(-1);
    return a;
  }
};

}  // namespace latent::data
