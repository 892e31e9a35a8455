// How the tests check error paths, with or without C++ exceptions.
//
// latent_test::error_message(fn) runs fn and returns the message of the latent::Error it
// raised (or `none` when it raised none). With exceptions it catches the Error. Built
// with -fno-exceptions, latent reports errors to the handler set by set_error_handler and
// never returns; so fn runs in a child process (fork) whose handler writes the message to
// a pipe and exits, and the parent reads it. Either way a test sees the same message.
//
// The CHECK_THROWS_AS / CHECK_THROWS_WITH_AS / CHECK_NOTHROW macros of doctest are
// redefined in the no-exceptions build (tests/no_exceptions.hpp) on top of this.
#pragma once

#include <latent/latent.hpp>

#include <string>

#if !LATENT_HAS_EXCEPTIONS
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#endif

namespace latent_test {

#if LATENT_HAS_EXCEPTIONS

template <class Fn>
std::string error_message(Fn&& fn, const std::string& none = "no error") {
  try {
    fn();
  } catch (const latent::Error& e) {
    return e.what();
  }
  return none;
}

#else

// The write end of the pipe the child's error handler writes to.
inline int& error_pipe() {
  static int fd = -1;
  return fd;
}

inline void write_error_and_exit(const char* message) {
  const std::size_t length = std::strlen(message);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::write(error_pipe(), message + done, length - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::_exit(3);
}

// What running fn in a child process came to: whether it raised a latent error (and its
// message). A child that crashes or exits otherwise raised nothing.
struct ChildOutcome {
  bool raised = false;
  std::string message;
};

template <class Fn>
ChildOutcome run_in_child(Fn&& fn) {
  ChildOutcome outcome;
  int fds[2];
  if (::pipe(fds) != 0) {
    outcome.message = "run_in_child: pipe failed";
    return outcome;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    error_pipe() = fds[1];
    latent::set_error_handler(&write_error_and_exit);
    fn();
    ::_exit(0);
  }
  ::close(fds[1]);
  char buffer[512];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) outcome.message.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  outcome.raised = WIFEXITED(status) && WEXITSTATUS(status) == 3;
  if (!outcome.raised && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    outcome.message = "the child process crashed (status " + std::to_string(status) + ")";
  return outcome;
}

template <class Fn>
std::string error_message(Fn&& fn, const std::string& none = "no error") {
  ChildOutcome outcome = run_in_child(fn);
  if (outcome.raised) return outcome.message;
  return outcome.message.empty() ? none : outcome.message;
}

#endif

}  // namespace latent_test
