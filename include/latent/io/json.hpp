// JSON: a small, strict parser and writer, enough for safetensors headers and the
// attributes of conformance cases.
//
//   Json value = Json::parse(text, "what");   // fails with a latent::Error on bad input
//   value["shape"][0].as_int();  value.find("dtype");  value.dump();
//
// The grammar is RFC 8259's, with no extensions: no comments, no trailing commas, no NaN,
// no leading zeros or '+' signs, strings must be valid UTF-8 without raw control
// characters, and \u escapes must pair their surrogates. Objects keep the order of their
// keys and refuse duplicates. Nesting deeper than max_depth (64 unless told) is refused,
// so a hostile input cannot exhaust the stack. Every read is bounds-checked; an error
// names the input, the line, the column and the byte offset.
//
// A number written without fraction or exponent that fits in 64 bits is kept as an exact
// std::int64_t (is_integer(), as_int()); every number is also available as a double.
// Numbers are parsed and printed independently of the C locale.
//
// The parser is a template (Json::parse a member template) only so that it is compiled
// when a program parses JSON, not in every program that includes the library.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>  // also std::locale, for imbue(std::locale::classic())
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace latent::io {

class Json {
 public:
  enum class Kind { null, boolean, number, string, array, object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;
  Json(std::nullptr_t) {}                                   // NOLINT: implicit by design
  Json(bool b) : kind_(Kind::boolean), bool_(b) {}          // NOLINT
  Json(int i) : Json(static_cast<long long>(i)) {}          // NOLINT
  Json(long i) : Json(static_cast<long long>(i)) {}         // NOLINT
  Json(long long i)                                         // NOLINT
      : kind_(Kind::number),
        integral_(true),
        integer_(static_cast<std::int64_t>(i)),
        number_(static_cast<double>(i)) {}
  Json(double d) : kind_(Kind::number), number_(d) {}       // NOLINT
  Json(const char* s) : kind_(Kind::string), string_(s) {}  // NOLINT
  Json(std::string s) : kind_(Kind::string), string_(std::move(s)) {}  // NOLINT
  static Json array(Array items = {}) {
    Json j;
    j.kind_ = Kind::array;
    j.array_ = std::move(items);
    return j;
  }
  static Json object(Object members = {}) {
    Json j;
    j.kind_ = Kind::object;
    j.object_ = std::move(members);
    return j;
  }

  // Parses a whole document; `what` names the input in error messages.
  template <class = void>
  static Json parse(const char* text, std::size_t size, const std::string& what = "json",
                    int max_depth = 64);
  template <class = void>
  static Json parse(const std::string& text, const std::string& what = "json", int max_depth = 64) {
    return parse(text.data(), text.size(), what, max_depth);
  }

  // ---- what it is ----
  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_bool() const { return kind_ == Kind::boolean; }
  bool is_number() const { return kind_ == Kind::number; }
  bool is_integer() const { return kind_ == Kind::number && integral_; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_object() const { return kind_ == Kind::object; }
  static const char* kind_name(Kind k) {
    switch (k) {
      case Kind::null: return "null";
      case Kind::boolean: return "a boolean";
      case Kind::number: return "a number";
      case Kind::string: return "a string";
      case Kind::array: return "an array";
      case Kind::object: return "an object";
    }
    return "?";
  }
  const char* kind_name() const { return kind_name(kind_); }

  // ---- values; each fails when the value is of another kind ----
  bool as_bool() const {
    expect(Kind::boolean);
    return bool_;
  }
  double as_double() const {
    expect(Kind::number);
    return number_;
  }
  std::int64_t as_int() const {
    expect(Kind::number);
    LATENT_CHECK(integral_, "json: expected an integer, got ", dump());
    return integer_;
  }
  const std::string& as_string() const {
    expect(Kind::string);
    return string_;
  }
  const Array& as_array() const {
    expect(Kind::array);
    return array_;
  }
  const Object& as_object() const {
    expect(Kind::object);
    return object_;
  }

  // Elements of an array or members of an object.
  std::size_t size() const {
    if (kind_ == Kind::array) return array_.size();
    if (kind_ == Kind::object) return object_.size();
    fail("json: size() of ", kind_name(), ", expected an array or an object");
  }
  const Json& operator[](std::size_t i) const {
    expect(Kind::array);
    LATENT_CHECK(i < array_.size(), "json: index ", i, " is out of range for an array of ",
                 array_.size(), " elements");
    return array_[i];
  }
  // The member `key` of an object, or null when it has none.
  const Json* find(const std::string& key) const {
    expect(Kind::object);
    for (const auto& member : object_)
      if (member.first == key) return &member.second;
    return nullptr;
  }
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  const Json& operator[](const std::string& key) const {
    const Json* value = find(key);
    LATENT_CHECK(value != nullptr, "json: object has no member '", key, "'");
    return *value;
  }

  // ---- building ----
  void push_back(Json value) {
    expect(Kind::array);
    array_.push_back(std::move(value));
  }
  // Sets member `key`, replacing an existing one in place.
  void set(const std::string& key, Json value) {
    expect(Kind::object);
    for (auto& member : object_)
      if (member.first == key) {
        member.second = std::move(value);
        return;
      }
    object_.emplace_back(key, std::move(value));
  }

  // Compact text (no spaces); a number that is a double always shows a '.' or an exponent,
  // so that it reads back as a double. NaN and infinities have no JSON form: an error.
  std::string dump() const {
    std::string out;
    dump_to(out);
    return out;
  }
  void dump_to(std::string& out) const;

  // Appends `text` as a JSON string literal (quotes and escapes).
  static void quote(const std::string& text, std::string& out);
  // The shortest decimal form of a finite double that reads back to the same value.
  static std::string format_double(double value);

  friend bool operator==(const Json& a, const Json& b) {
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
      case Kind::null: return true;
      case Kind::boolean: return a.bool_ == b.bool_;
      case Kind::number:
        return a.integral_ && b.integral_ ? a.integer_ == b.integer_ : a.number_ == b.number_;
      case Kind::string: return a.string_ == b.string_;
      case Kind::array: return a.array_ == b.array_;
      case Kind::object: return a.object_ == b.object_;
    }
    return false;
  }
  friend bool operator!=(const Json& a, const Json& b) { return !(a == b); }

 private:
  template <class = void>
  class Parser;

  void expect(Kind k) const {
    LATENT_CHECK(kind_ == k, "json: expected ", kind_name(k), ", got ", kind_name());
  }

  Kind kind_ = Kind::null;
  bool bool_ = false;
  bool integral_ = false;     // a number written as an integer that fits std::int64_t
  std::int64_t integer_ = 0;  // its exact value
  double number_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

// ---- parsing ----

template <class Unused>
class Json::Parser {
 public:
  Parser(const char* text, std::size_t size, const std::string& what, int max_depth)
      : text_(text), size_(size), what_(what), max_depth_(max_depth) {}

  Json document() {
    skip_space();
    Json value = parse_value(0);
    skip_space();
    if (pos_ < size_) error("unexpected '", printable(text_[pos_]), "' after the JSON value");
    return value;
  }

 private:
  template <class... Parts>
  [[noreturn]] void error(Parts... parts) const {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < pos_ && i < size_; ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    fail(what_, ": invalid JSON at line ", line, ", column ", column, " (byte ", pos_, "): ",
         parts...);
  }

  static std::string printable(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    static constexpr char kDigits[] = "0123456789abcdef";
    return std::string("\\x") + kDigits[u >> 4] + kDigits[u & 15];
  }

  bool at_end() const { return pos_ >= size_; }
  char peek() const { return text_[pos_]; }

  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  void expect_char(char c, const char* context) {
    if (at_end()) error("unexpected end of input, expected '", c, "' ", context);
    if (peek() != c) error("expected '", c, "' ", context, ", got '", printable(peek()), "'");
    ++pos_;
  }

  void expect_word(const char* word) {
    const std::size_t n = std::strlen(word);
    if (size_ - pos_ < n || std::memcmp(text_ + pos_, word, n) != 0)
      error("invalid literal (expected '", word, "')");
    pos_ += n;
  }

  Json parse_value(int depth) {
    if (at_end()) error("unexpected end of input, expected a value");
    switch (peek()) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return Json(parse_string());
      case 't': expect_word("true"); return Json(true);
      case 'f': expect_word("false"); return Json(false);
      case 'n': expect_word("null"); return Json();
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number();
        error("unexpected '", printable(peek()), "', expected a value");
    }
  }

  void enter(int depth) const {
    if (depth > max_depth_) error("nesting deeper than ", max_depth_, " levels");
  }

  Json parse_object(int depth) {
    enter(depth);
    ++pos_;  // '{'
    Json result = Json::object();
    std::set<std::string> keys;
    skip_space();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return result;
    }
    while (true) {
      skip_space();
      if (at_end() || peek() != '"') {
        if (at_end()) error("unexpected end of input, expected an object key");
        error("expected a string as object key, got '", printable(peek()), "'");
      }
      const std::size_t key_pos = pos_;
      std::string key = parse_string();
      if (!keys.insert(key).second) {
        pos_ = key_pos;
        error("duplicate key \"", key, "\"");
      }
      skip_space();
      expect_char(':', "after an object key");
      skip_space();
      Json value = parse_value(depth);
      result.object_.emplace_back(std::move(key), std::move(value));
      skip_space();
      if (at_end()) error("unexpected end of input in an object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect_char('}', "or ',' in an object");
      return result;
    }
  }

  Json parse_array(int depth) {
    enter(depth);
    ++pos_;  // '['
    Json result = Json::array();
    skip_space();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return result;
    }
    while (true) {
      skip_space();
      result.array_.push_back(parse_value(depth));
      skip_space();
      if (at_end()) error("unexpected end of input in an array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect_char(']', "or ',' in an array");
      return result;
    }
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  Json parse_number() {
    const std::size_t start = pos_;
    auto digits = [&](const char* context) {
      if (at_end() || peek() < '0' || peek() > '9') error("expected a digit ", context);
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    };
    if (peek() == '-') ++pos_;
    if (!at_end() && peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') error("leading zeros are not allowed");
    } else {
      digits("in a number");
    }
    bool integral = true;
    if (!at_end() && peek() == '.') {
      ++pos_;
      integral = false;
      digits("after the decimal point");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      integral = false;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      digits("in the exponent");
    }
    const std::string literal(text_ + start, pos_ - start);
    Json result;
    result.kind_ = Kind::number;
    if (integral && exact_integer(literal, result.integer_)) {
      result.integral_ = true;
      result.number_ = static_cast<double>(result.integer_);
      return result;
    }
    std::istringstream in(literal);
    in.imbue(std::locale::classic());
    double value = 0;
    in >> value;
    // Streams report overflow as a failure; underflow to zero or a subnormal is fine.
    if (!std::isfinite(value) || (in.fail() && std::fabs(value) > 1)) {
      pos_ = start;
      error("number ", literal, " is out of the range of a double");
    }
    result.number_ = value;
    return result;
  }

  // The value of a decimal integer literal when it fits std::int64_t.
  static bool exact_integer(const std::string& literal, std::int64_t& value) {
    const bool negative = literal[0] == '-';
    std::uint64_t magnitude = 0;
    const std::uint64_t limit =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
    for (std::size_t i = negative ? 1 : 0; i < literal.size(); ++i) {
      const auto digit = static_cast<std::uint64_t>(literal[i] - '0');
      if (magnitude > (limit - digit) / 10) return false;
      magnitude = magnitude * 10 + digit;
    }
    value = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    return true;
  }

  unsigned hex4() {
    if (size_ - pos_ < 4) error("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      code <<= 4;
      if (c >= '0' && c <= '9') code |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') code |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') code |= static_cast<unsigned>(c - 'A' + 10);
      else error("invalid hex digit '", printable(c), "' in a \\u escape");
    }
    return code;
  }

  static void append_utf8(unsigned code, std::string& out) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  // Copies one UTF-8 encoded character, checking that it is well formed (no overlong
  // forms, no surrogates, nothing above U+10FFFF).
  void copy_utf8(std::string& out) {
    const auto lead = static_cast<unsigned char>(peek());
    std::size_t length = 0;
    unsigned code = 0, min = 0;
    if (lead >= 0xC2 && lead <= 0xDF) { length = 2; code = lead & 0x1F; min = 0x80; }
    else if (lead >= 0xE0 && lead <= 0xEF) { length = 3; code = lead & 0x0F; min = 0x800; }
    else if (lead >= 0xF0 && lead <= 0xF4) { length = 4; code = lead & 0x07; min = 0x10000; }
    else error("invalid UTF-8 byte ", printable(static_cast<char>(lead)), " in a string");
    if (size_ - pos_ < length) error("truncated UTF-8 sequence in a string");
    for (std::size_t i = 1; i < length; ++i) {
      const auto cont = static_cast<unsigned char>(text_[pos_ + i]);
      if ((cont & 0xC0) != 0x80) error("invalid UTF-8 sequence in a string");
      code = (code << 6) | (cont & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      error("invalid UTF-8 sequence in a string");
    out.append(text_ + pos_, length);
    pos_ += length;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (at_end()) error("unterminated string");
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) error("raw control character ", printable(c), " in a string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        copy_utf8(out);
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) error("unterminated escape in a string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code = hex4();
          if (code >= 0xDC00 && code <= 0xDFFF) error("lone low surrogate in a \\u escape");
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (size_ - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u')
              error("high surrogate without a low surrogate in a \\u escape");
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) error("high surrogate without a low surrogate in a \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(code, out);
          break;
        }
        default: --pos_; error("invalid escape '\\", printable(e), "' in a string");
      }
    }
  }

  const char* text_;
  std::size_t size_;
  std::size_t pos_ = 0;
  const std::string& what_;
  int max_depth_;
};

template <class>
Json Json::parse(const char* text, std::size_t size, const std::string& what, int max_depth) {
  LATENT_CHECK(text != nullptr || size == 0, what, ": null text");
  return Parser<>(text, size, what, max_depth).document();
}

// ---- writing ----

inline void Json::quote(const std::string& text, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kDigits[(c >> 4) & 15];
          out += kDigits[c & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

inline std::string Json::format_double(double value) {
  LATENT_CHECK(std::isfinite(value), "json: ", value, " has no JSON form (NaN and infinities are not JSON)");
  std::string text;
  for (int precision = 1; precision <= 17; ++precision) {
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out.precision(precision);
    out << value;
    text = out.str();
    std::istringstream in(text);
    in.imbue(std::locale::classic());
    double back = 0;
    in >> back;
    if (back == value) break;
  }
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

inline void Json::dump_to(std::string& out) const {
  switch (kind_) {
    case Kind::null: out += "null"; return;
    case Kind::boolean: out += bool_ ? "true" : "false"; return;
    case Kind::number: out += integral_ ? std::to_string(integer_) : format_double(number_); return;
    case Kind::string: quote(string_, out); return;
    case Kind::array:
      out += '[';
      for (std::size_t i = 0; i < array_.size(); ++i) {
        if (i > 0) out += ',';
        array_[i].dump_to(out);
      }
      out += ']';
      return;
    case Kind::object:
      out += '{';
      for (std::size_t i = 0; i < object_.size(); ++i) {
        if (i > 0) out += ',';
        quote(object_[i].first, out);
        out += ':';
        object_[i].second.dump_to(out);
      }
      out += '}';
      return;
  }
}

}  // namespace latent::io
