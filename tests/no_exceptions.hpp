// Included first in every test file of the no-exceptions build (-fno-exceptions; CMake's
// LATENT_TEST_NO_EXCEPTIONS). doctest's exception asserts cannot work there, so they are
// redefined on latent_test::error_message, which catches a latent error in a child
// process through the user-settable error handler (tests/error_check.hpp). The test files
// stay the same in both builds.
#pragma once

#define DOCTEST_CONFIG_NO_EXCEPTIONS_BUT_WITH_ALL_ASSERTS
#include <doctest/doctest.h>

#include "error_check.hpp"

namespace latent_test {
inline bool message_matches(const std::string& message, const char* expected) { return message == expected; }
inline bool message_matches(const std::string& message, const std::string& expected) { return message == expected; }
inline bool message_matches(const std::string& message, const doctest::Contains& expected) {
  return expected.checkWith(doctest::String(message.c_str()));
}
}  // namespace latent_test

#undef CHECK_THROWS_AS
#undef REQUIRE_THROWS_AS
#undef CHECK_THROWS_WITH_AS
#undef CHECK_NOTHROW
#undef REQUIRE_NOTHROW

// The exception type argument is always latent::Error: the only one latent raises.
#define CHECK_THROWS_AS(expr, ...) \
  CHECK_MESSAGE(latent_test::run_in_child([&] { (void)(expr); }).raised, "expected a latent::Error from " #expr)
#define REQUIRE_THROWS_AS(expr, ...) \
  REQUIRE_MESSAGE(latent_test::run_in_child([&] { (void)(expr); }).raised, "expected a latent::Error from " #expr)
#define CHECK_THROWS_WITH_AS(expr, expected, ...)                                                     \
  do {                                                                                                \
    const std::string latent_test_message = latent_test::error_message([&] { (void)(expr); }, "(no error)"); \
    CHECK_MESSAGE(latent_test::message_matches(latent_test_message, expected),                      \
                  #expr " raised: " << latent_test_message);                                         \
  } while (0)
#define CHECK_NOTHROW(expr) (void)(expr)
#define REQUIRE_NOTHROW(expr) (void)(expr)
