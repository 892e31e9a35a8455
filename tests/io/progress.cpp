// Tests of io/progress.hpp, with a fake clock and a string stream: the exact lines of the
// line mode, the throttled redraws of the terminal mode, rates, ETAs and metrics.
#include <latent/latent.hpp>
#include <latent/io/progress.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace progress_test {

namespace io = latent::io;

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace progress_test

TEST_CASE("io progress: durations read mm:ss or h:mm:ss") {
  using namespace progress_test;
  CHECK(io::detail::format_duration(0) == "00:00");
  CHECK(io::detail::format_duration(59.6) == "01:00");
  CHECK(io::detail::format_duration(3599) == "59:59");
  CHECK(io::detail::format_duration(3600) == "1:00:00");
  CHECK(io::detail::format_duration(90061) == "25:01:01");
  CHECK(io::detail::format_duration(std::nan("")) == "?");
  CHECK(io::detail::format_duration(-1) == "?");
}

TEST_CASE("io progress: line mode prints every 10% with rate, ETA and metrics") {
  using namespace progress_test;
  double t = 100;
  std::ostringstream out;
  {
    io::ProgressBar bar(50, "train", out);
    bar.clock([&] { return t; });
    CHECK_FALSE(bar.terminal());
    for (int i = 1; i <= 50; ++i) {
      t += 0.2;
      bar.set("loss", 1.0 / i);
      if (i == 1) bar.set("lr", 0.001);
      bar.update();
    }
    CHECK(bar.current() == 50);
  }  // the destructor finishes: nothing new to print
  const std::vector<std::string> printed = lines(out.str());
  REQUIRE(printed.size() == 10);
  CHECK(printed[0] == "train  10% |##------------------| 5/50 [00:01<00:09, 5 it/s] loss=0.2 lr=0.001");
  CHECK(printed[1] == "train  20% |####----------------| 10/50 [00:02<00:08, 5 it/s] loss=0.1 lr=0.001");
  CHECK(printed[9] == "train 100% |####################| 50/50 [00:10<00:00, 5 it/s] loss=0.02 lr=0.001");
}

TEST_CASE("io progress: unknown totals print by time; slow loops show seconds per step") {
  using namespace progress_test;
  double t = 0;
  std::ostringstream out;
  io::ProgressBar bar(0, "fetch", out);
  bar.clock([&] { return t; }).every(10, 5.0);
  for (int i = 0; i < 12; ++i) {
    t += 1;
    bar.update();
  }
  bar.finish();
  bar.finish();  // once only
  CHECK(lines(out.str()) == std::vector<std::string>{"fetch 5 [00:05, 1 it/s]", "fetch 10 [00:10, 1 it/s]",
                                                     "fetch 12 [00:12, 1 it/s]"});

  std::ostringstream slow;
  io::ProgressBar crawl(10, "", slow);
  crawl.clock([&] { return t; });
  t += 4;
  crawl.update();
  CHECK(crawl.status() == " 10% |##------------------| 1/10 [00:04<00:36, 4 s/it]");
  CHECK(crawl.status(t - 4) == " 10% |##------------------| 1/10 [00:00<?, ? it/s]");
}

TEST_CASE("io progress: terminal mode redraws one line in place, at most every 0.1 s") {
  using namespace progress_test;
  double t = 0;
  std::ostringstream out;
  {
    io::ProgressBar bar(1000, "gen", out, io::ProgressBar::Mode::Terminal);
    bar.clock([&] { return t; });
    CHECK(bar.terminal());
    bar.set("x", 12345.6);
    for (int i = 0; i < 500; ++i) bar.update();  // the clock stands still: one draw
    t += 0.25;
    bar.update();
    t += 0.25;
    bar.set("x", 0.5);  // a shorter line: the old one's tail must be wiped
    bar.update();
  }
  const std::string text = out.str();
  std::vector<std::string> frames;
  for (std::size_t at = text.find('\r'); at != std::string::npos; at = text.find('\r', at + 1)) {
    frames.push_back(text.substr(at + 1, text.find('\r', at + 1) - at - 1));
  }
  // The first update, then one each 0.25 s (0.5 s rounds to 00:01); finishing finds
  // nothing new to draw and only ends the line.
  REQUIRE(frames.size() == 3);
  CHECK(frames[0] == "gen   0% |--------------------| 1/1000 [00:00<?, ? it/s] x=1.235e+04");
  CHECK(frames[1] == "gen  50% |##########----------| 501/1000 [00:00<00:00, 2e+03 it/s] x=1.235e+04");
  CHECK(frames[2] == "gen  50% |##########----------| 502/1000 [00:01<00:00, 1e+03 it/s] x=0.5      \n");
}
