// A progress bar for long loops, with running metrics.
//
//   io::ProgressBar bar(steps, "train");
//   for (std::size_t i = 0; i < steps; ++i) {
//     ...
//     bar.set("loss", loss);
//     bar.update();
//   }
//   bar.finish();                              // the destructor does it too
//
//   train  42% |########------------| 420/1000 [00:12<00:16, 35.1 it/s] loss=0.1234
//
// In a terminal (the output is a tty) that line is redrawn in place with '\r', at most
// every 0.1 s. Elsewhere (CI logs, files) a plain line is printed each time another 10% is
// done and at least every 30 s, so a log stays short; every(percent, seconds) changes both.
// The rate is steps done / time elapsed, and the time left (ETA) is steps left / rate.
// A total of 0 means unknown: the line then shows the count and the rate only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace latent::io {

namespace detail {
// "mm:ss", or "h:mm:ss" from an hour on; "?" when unknown.
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long total = std::llround(seconds);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%02lld:%02lld", total / 60, total % 60);
  }
  return text;
}

inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace detail

class ProgressBar {
 public:
  // Auto: redraw in place when the output is a terminal, print lines otherwise.
  enum class Mode { Auto, Terminal, Lines };
  using Clock = std::function<double()>;  // seconds from any fixed origin

  explicit ProgressBar(std::size_t total, std::string label = "", std::FILE* out = stdout,
                       Mode mode = Mode::Auto)
      : total_(total), label_(std::move(label)), file_(out) {
    LATENT_CHECK(out != nullptr, "ProgressBar: the output FILE* is null");
    terminal_ = mode == Mode::Terminal || (mode == Mode::Auto && is_terminal(out));
    start_ = last_draw_ = clock_();
  }
  // To a stream, which is never taken for a terminal unless the mode says so.
  ProgressBar(std::size_t total, std::string label, std::ostream& out, Mode mode = Mode::Lines)
      : total_(total), label_(std::move(label)), stream_(&out) {
    terminal_ = mode == Mode::Terminal;
    start_ = last_draw_ = clock_();
  }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { finish(); }

  // Replaces the clock (tests use a fake one) and restarts the timing.
  ProgressBar& clock(Clock clock) {
    clock_ = std::move(clock);
    start_ = last_draw_ = clock_();
    return *this;
  }
  // In line mode, print when another `percent` % is done or `seconds` have passed.
  ProgressBar& every(int percent, double seconds) {
    LATENT_CHECK(percent >= 1 && seconds > 0, "ProgressBar::every: need percent >= 1 and ",
                 "seconds > 0, got ", percent, " and ", seconds);
    line_percent_ = percent;
    next_percent_ = percent;
    line_seconds_ = seconds;
    return *this;
  }

  // Sets a metric shown after the bar; metrics keep the order they were first set in.
  void set(const std::string& name, double value) {
    for (auto& metric : metrics_) {
      if (metric.first == name) {
        metric.second = value;
        return;
      }
    }
    metrics_.push_back({name, value});
  }

  void update(std::size_t steps = 1) { set_progress(current_ + steps); }

  void set_progress(std::size_t current) {
    current_ = current;
    dirty_ = true;
    const double now = clock_();
    if (terminal_) {
      if (!drawn_ || now - last_draw_ >= kRedrawSeconds) draw(now, false);
      return;
    }
    bool due = now - last_draw_ >= line_seconds_;
    if (total_ > 0) {
      const double percent = 100.0 * static_cast<double>(current_) / static_cast<double>(total_);
      if (percent >= next_percent_) {
        due = true;
        next_percent_ = (static_cast<int>(percent) / line_percent_ + 1) * line_percent_;
      }
    }
    if (due) draw(now, false);
  }

  // Draws the final state (unless a line already shows it) and ends the line. Later
  // calls do nothing.
  void finish() {
    if (finished_) return;
    finished_ = true;
    if (dirty_ || !drawn_) draw(clock_(), true);
    else if (terminal_) write("\n");
  }

  std::size_t current() const { return current_; }
  bool terminal() const { return terminal_; }

  // The status line as it reads at time `now` (seconds on the bar's clock).
  std::string status(double now) const {
    const double elapsed = std::max(0.0, now - start_);
    const double rate = elapsed > 0 ? static_cast<double>(current_) / elapsed : NAN;
    char text[96];
    std::string line = label_.empty() ? "" : label_ + " ";
    if (total_ > 0) {
      const double fraction = std::min(1.0, static_cast<double>(current_) / static_cast<double>(total_));
      const int filled = static_cast<int>(fraction * kBarWidth);
      std::snprintf(text, sizeof text, "%3d%% |", static_cast<int>(fraction * 100));
      line += text + std::string(static_cast<std::size_t>(filled), '#') +
              std::string(static_cast<std::size_t>(kBarWidth - filled), '-') + "| ";
      const double left = current_ >= total_ ? 0.0
                          : static_cast<double>(total_ - current_) / rate;
      line += std::to_string(current_) + "/" + std::to_string(total_) + " [" +
              detail::format_duration(elapsed) + "<" + detail::format_duration(left) + ", ";
    } else {
      line += std::to_string(current_) + " [" + detail::format_duration(elapsed) + ", ";
    }
    if (!(rate > 0)) {
      line += "? it/s]";
    } else if (rate >= 1) {
      std::snprintf(text, sizeof text, "%.3g it/s]", rate);
      line += text;
    } else {
      std::snprintf(text, sizeof text, "%.3g s/it]", 1 / rate);
      line += text;
    }
    for (const auto& [name, value] : metrics_) {
      std::snprintf(text, sizeof text, "%.4g", value);
      line += " " + name + "=" + text;
    }
    return line;
  }
  std::string status() const { return status(clock_()); }

 private:
  static constexpr int kBarWidth = 20;
  static constexpr double kRedrawSeconds = 0.1;

  static bool is_terminal(std::FILE* file) {
#if defined(__unix__) || defined(__APPLE__)
    return ::isatty(::fileno(file)) == 1;
#else
    (void)file;
    return false;
#endif
  }

  void draw(double now, bool final) {
    std::string line = status(now);
    if (terminal_) {
      // Pad with spaces to wipe out the rest of a longer previous line.
      const std::size_t length = line.size();
      if (length < drawn_length_) line += std::string(drawn_length_ - length, ' ');
      drawn_length_ = length;
      write("\r" + line + (final ? "\n" : ""));
    } else {
      write(line + "\n");
    }
    drawn_ = true;
    dirty_ = false;
    last_draw_ = now;
  }

  void write(const std::string& text) {
    if (stream_ != nullptr) {
      *stream_ << text;
      stream_->flush();
    } else {
      std::fputs(text.c_str(), file_);
      std::fflush(file_);
    }
  }

  std::size_t total_;
  std::size_t current_ = 0;
  std::string label_;
  std::FILE* file_ = nullptr;
  std::ostream* stream_ = nullptr;
  bool terminal_ = false;
  Clock clock_ = &detail::steady_seconds;
  double start_ = 0, last_draw_ = 0;
  bool drawn_ = false, dirty_ = false, finished_ = false;
  std::size_t drawn_length_ = 0;
  int line_percent_ = 10, next_percent_ = 10;
  double line_seconds_ = 30;
  std::vector<std::pair<std::string, double>> metrics_;
};

}  // namespace latent::io
