// Tests of io/json.hpp: values of every kind, exact 64-bit integers, escapes and UTF-8,
// the errors (with their positions), the depth limit, and writing back.
#include <latent/latent.hpp>
#include <latent/io/json.hpp>

#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <cstdint>
#include <limits>
#include <string>

namespace json_test {

using latent::io::Json;

// The message of the error that parsing `text` raises ("" when it parses).
inline std::string parse_error(const std::string& text) {
  return latent_test::error_message([&] { (void)Json::parse(text, "doc"); }, "");
}

}  // namespace json_test

TEST_CASE("json: values of every kind") {
  using json_test::Json;
  const Json j = Json::parse(R"( {"a": [1, -2.5, true, false, null, "s"], "b": {"c": {}} , "d": []} )");
  REQUIRE(j.is_object());
  CHECK(j.size() == 3);
  const Json& a = j["a"];
  REQUIRE(a.size() == 6);
  CHECK(a[0].is_integer());
  CHECK(a[0].as_int() == 1);
  CHECK(a[0].as_double() == 1.0);
  CHECK_FALSE(a[1].is_integer());
  CHECK(a[1].as_double() == -2.5);
  CHECK(a[2].as_bool());
  CHECK_FALSE(a[3].as_bool());
  CHECK(a[4].is_null());
  CHECK(a[5].as_string() == "s");
  CHECK(j["b"]["c"].is_object());
  CHECK(j["b"]["c"].size() == 0);
  CHECK(j["d"].size() == 0);
  CHECK(j.find("missing") == nullptr);
  // Keys keep their order.
  CHECK(j.as_object()[0].first == "a");
  CHECK(j.as_object()[2].first == "d");
}

TEST_CASE("json: integers are exact in 64 bits, other numbers are doubles") {
  using json_test::Json;
  CHECK(Json::parse("9007199254740993").as_int() == 9007199254740993LL);  // not a double
  CHECK(Json::parse("9223372036854775807").as_int() == std::numeric_limits<std::int64_t>::max());
  CHECK(Json::parse("-9223372036854775808").as_int() == std::numeric_limits<std::int64_t>::min());
  const Json big = Json::parse("9223372036854775808");  // one past: a double
  CHECK_FALSE(big.is_integer());
  CHECK(big.as_double() == 9223372036854775808.0);
  CHECK_FALSE(Json::parse("1e2").is_integer());
  CHECK(Json::parse("1e2").as_double() == 100.0);
  CHECK(Json::parse("1.5E-3").as_double() == 0.0015);
  CHECK(Json::parse("-0.0").as_double() == 0.0);
  CHECK(Json::parse("1e-400").as_double() == 0.0);  // underflow is fine
  CHECK_THROWS_AS(Json::parse("2.5").as_int(), latent::Error);
  CHECK_THROWS_AS(Json::parse("\"x\"").as_double(), latent::Error);
}

TEST_CASE("json: strings, escapes and UTF-8") {
  using json_test::Json;
  CHECK(Json::parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
  CHECK(Json::parse(R"("\u00e9\u4e2d")").as_string() == "\xc3\xa9\xe4\xb8\xad");
  CHECK(Json::parse(R"("\ud83d\ude00")").as_string() == "\xf0\x9f\x98\x80");  // surrogate pair
  CHECK(Json::parse("\"\xc3\xa9\xf0\x9f\x98\x80\"").as_string() == "\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(Json::parse(R"("\u0000")").as_string() == std::string(1, '\0'));
}

TEST_CASE("json: malformed documents are errors that say where") {
  using json_test::parse_error;
  CHECK(parse_error("{\"a\": 1,\n \"b\" 2}") ==
        "doc: invalid JSON at line 2, column 6 (byte 14): expected ':' after an object key, got '2'");
  CHECK(parse_error("[1, 2,]") == "doc: invalid JSON at line 1, column 7 (byte 6): unexpected ']', expected a value");
  CHECK(parse_error("{\"k\": 1, \"k\": 2}") == "doc: invalid JSON at line 1, column 10 (byte 9): duplicate key \"k\"");
  CHECK(parse_error("1 2") == "doc: invalid JSON at line 1, column 3 (byte 2): unexpected '2' after the JSON value");
  CHECK(parse_error("") == "doc: invalid JSON at line 1, column 1 (byte 0): unexpected end of input, expected a value");
  const char* bad[] = {
      "01", "+1", "1.", ".5", "1e", "-", "NaN", "Infinity", "1e400", "-1e400", "tru", "nul",
      "[", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "[1", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
      "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "\"\xc3\"", "\"\xc0\xaf\"",
      "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "\xef\xbb\xbf{}", "{'a': 1}", "{a: 1}", "[1 2]",
      "{\"a\":1,}", "/* c */ 1",
  };
  for (const char* text : bad) {
    CAPTURE(text);
    CHECK(parse_error(text).rfind("doc: invalid JSON at line", 0) == 0);
  }
}

TEST_CASE("json: nesting deeper than the limit is refused") {
  using json_test::Json;
  const std::string deep64 = std::string(64, '[') + std::string(64, ']');
  const std::string deep65 = std::string(65, '[') + std::string(65, ']');
  CHECK_NOTHROW(Json::parse(deep64));
  CHECK(json_test::parse_error(deep65).find("nesting deeper than 64 levels") != std::string::npos);
  CHECK_THROWS_AS(Json::parse(deep64, "doc", 10), latent::Error);
  // A very deep document fails cleanly rather than overflowing the stack.
  CHECK_THROWS_AS(Json::parse(std::string(100000, '[')), latent::Error);
}

TEST_CASE("json: writing") {
  using json_test::Json;
  Json j = Json::object();
  j.set("name", Json("q\"\\\n\x01\xc3\xa9"));
  j.set("n", Json(3));
  j.set("x", Json(0.1));
  j.set("y", Json(2.0));
  j.set("list", Json::array({Json(nullptr), Json(true), Json(-1e-7), Json(1e300)}));
  j.set("n", Json(-4));  // replaces in place
  const std::string text = j.dump();
  CHECK(text ==
        "{\"name\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\",\"n\":-4,\"x\":0.1,\"y\":2.0,"
        "\"list\":[null,true,-1e-07,1e+300]}");
  CHECK(Json::parse(text) == j);
  CHECK(Json::format_double(1.0 / 3.0) == "0.3333333333333333");
  CHECK(Json::parse(Json::format_double(1.0 / 3.0)).as_double() == 1.0 / 3.0);
  CHECK(Json::format_double(5e-324) == "5e-324");
  CHECK(Json::parse("5e-324").as_double() == 5e-324);
  CHECK_THROWS_AS(Json(std::numeric_limits<double>::quiet_NaN()).dump(), latent::Error);
  CHECK_THROWS_AS(Json(std::numeric_limits<double>::infinity()).dump(), latent::Error);
}

TEST_CASE("json: using a value as the wrong kind is an error") {
  using json_test::Json;
  const Json j = Json::parse("{\"a\": [1]}");
  CHECK_THROWS_WITH_AS(j["b"], "json: object has no member 'b'", latent::Error);
  CHECK_THROWS_WITH_AS(j["a"][1], "json: index 1 is out of range for an array of 1 elements", latent::Error);
  CHECK_THROWS_WITH_AS(j["a"].as_string(), "json: expected a string, got an array", latent::Error);
  CHECK_THROWS_AS(j[0], latent::Error);
  CHECK_THROWS_AS(Json(1).size(), latent::Error);
}
