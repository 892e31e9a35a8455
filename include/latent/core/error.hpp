// Error reporting. Every bad shape, bad argument or corrupt file ends in latent::fail(),
// which throws latent::Error carrying a message that names the op and the offending
// shapes or values, e.g. "matmul: [2, 3] @ [4, 5]: inner sizes 3 and 4 differ".
// Built without exceptions, the same message goes to a handler the user may set
// (set_error_handler); the default prints it and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "config.hpp"

namespace latent {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Called with the message when exceptions are off. It should not return (longjmp or
// abort); if it does, the library aborts.
using ErrorHandler = void (*)(const char* message);

namespace detail {
inline void default_error_handler(const char* message) {
  std::fprintf(stderr, "latent error: %s\n", message);
  std::fflush(stderr);
}
inline ErrorHandler& error_handler_slot() {
  static ErrorHandler handler = &default_error_handler;
  return handler;
}
}  // namespace detail

// Sets the handler used when exceptions are off; returns the previous one.
inline ErrorHandler set_error_handler(ErrorHandler handler) {
  ErrorHandler previous = detail::error_handler_slot();
  detail::error_handler_slot() = handler ? handler : &detail::default_error_handler;
  return previous;
}

[[noreturn]] inline void fail_message(const std::string& message) {
#if LATENT_HAS_EXCEPTIONS
  throw Error(message);
#else
  detail::error_handler_slot()(message.c_str());
  std::abort();
#endif
}

namespace detail {
// Appends one part of an error message: strings as they are, anything else as operator<<
// prints it. Each type of part gets one instantiation, shared by every message.
inline void append_part(std::string& message, const char* text) { message += text; }
inline void append_part(std::string& message, const std::string& text) { message += text; }
template <class Part>
void append_part(std::string& message, const Part& part) {
  std::ostringstream out;
  out << part;
  message += out.str();
}
}  // namespace detail

// Concatenates its arguments, as operator<< prints them, into one message and reports it.
// The parts are taken by value so that string literals of any length decay to const
// char*: with one instantiation per type of part (above) instead of one operator<< chain
// per list of parts, the checks all over the library stay quick to compile.
template <class... Parts>
[[noreturn]] inline void fail(Parts... parts) {
  std::string message;
  (detail::append_part(message, parts), ...);
  fail_message(message);
}

}  // namespace latent

// LATENT_CHECK(condition, parts...): when the condition is false, fail(parts...).
// The parts are only formatted on failure, so a check costs one branch.
#define LATENT_CHECK(cond, ...)                       \
  do {                                                \
    if (LATENT_UNLIKELY(!(cond))) ::latent::fail(__VA_ARGS__); \
  } while (0)
