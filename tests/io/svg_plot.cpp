// Tests of io/svg_plot.hpp: tick placement and labels, the data-to-pixel map, broken
// lines at non-finite points, log axes, escaping, and saving.
#include <latent/latent.hpp>
#include <latent/io/svg_plot.hpp>

#include <doctest/doctest.h>

#include "../error_check.hpp"

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace svg_plot_test {

namespace io = latent::io;

inline int count(const std::string& text, const std::string& part) {
  int n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

inline std::vector<std::string> labels(const io::detail::Axis& axis) {
  std::vector<std::string> out;
  for (const auto& tick : axis.ticks) out.push_back(tick.second);
  return out;
}

}  // namespace svg_plot_test

TEST_CASE("io svg_plot: ticks fall on 1, 2 or 5 times a power of ten") {
  using namespace svg_plot_test;
  const io::detail::Axis unit = io::detail::linear_axis(0, 1);
  CHECK(labels(unit) == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  const io::detail::Axis mixed = io::detail::linear_axis(-3.7, 12.2);
  CHECK(mixed.lo == -5);
  CHECK(mixed.hi == 15);
  CHECK(labels(mixed) == std::vector<std::string>{"-5", "0", "5", "10", "15"});
  CHECK(labels(io::detail::linear_axis(0, 250000)) ==
        std::vector<std::string>{"0", "50000", "100000", "150000", "200000", "250000"});
  CHECK(labels(io::detail::linear_axis(0, 3e-5)).at(1) == "5e-06");
  CHECK(labels(io::detail::linear_axis(0.1, 0.7)) ==
        std::vector<std::string>{"0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"});

  // Two decades get 1, 2 and 5 of each; many decades only some powers of ten.
  const io::detail::Axis two = io::detail::log_axis(std::log10(0.013), std::log10(0.9));
  CHECK(two.lo == -2);
  CHECK(two.hi == 0);
  CHECK(labels(two) == std::vector<std::string>{"0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"});
  CHECK(labels(io::detail::log_axis(-6, 12)) ==
        std::vector<std::string>{"1e-06", "0.001", "1", "1000", "1e+06", "1e+09", "1e+12"});
}

TEST_CASE("io svg_plot: points land where the axes say") {
  using namespace svg_plot_test;
  io::LinePlot plot("Loss");
  plot.x_label("step").y_label("loss").add("train", {0, 10}, {0, 10});
  const std::string svg = plot.to_svg();
  // 640 x 400: the plot area spans x 80..620 and y 40..350 (title above, x label below).
  CHECK(count(svg, "points=\"80.00,350.00 620.00,40.00\"") == 1);
  CHECK(count(svg, ">Loss</text>") == 1);
  CHECK(count(svg, ">step</text>") == 1);
  CHECK(count(svg, "rotate(-90") == 1);
  CHECK(count(svg, ">train</text>") == 1);  // the legend
  for (const char* tick : {">0</text>", ">2</text>", ">4</text>", ">6</text>", ">8</text>", ">10</text>"}) {
    CHECK(count(svg, tick) == 2);  // on both axes
  }
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\"", 0) == 0);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
}

TEST_CASE("io svg_plot: lines break at non-finite points; log axes skip non-positive ones") {
  using namespace svg_plot_test;
  const double nan = std::nan("");
  io::LinePlot broken;
  broken.add("a", {1, 2, nan, 4, 5, INFINITY, 7, nan});
  const std::string svg = broken.to_svg();
  CHECK(count(svg, "<polyline") == 2);  // 1-2 and 4-5
  CHECK(count(svg, "<circle") == 1);    // 7 alone

  io::LinePlot logged;
  logged.log_y().add("loss", {1, 0.1, 0.01, 0, -1, 0.001});
  const std::string log_svg = logged.to_svg();
  CHECK(count(log_svg, "<polyline") == 1);
  CHECK(count(log_svg, "<circle") == 1);
  CHECK(count(log_svg, ">0.001</text>") == 1);
  CHECK(count(log_svg, ">0.01</text>") == 1);

  // Several series get distinct colours and legend entries; names are escaped.
  io::LinePlot several("a < b & \"c\"");
  several.add("one", {1, 2}).add("two", {2, 1}).add("x<y", {0, 0});
  const std::string many = several.to_svg();
  CHECK(count(many, ">a &lt; b &amp; &quot;c&quot;</text>") == 1);
  CHECK(count(many, ">x&lt;y</text>") == 1);
  CHECK(count(many, "stroke=\"#2563eb\"") == 2);  // line and legend swatch
  CHECK(count(many, "stroke=\"#dc2626\"") == 2);
  CHECK(count(many, "stroke=\"#16a34a\"") == 2);
}

TEST_CASE("io svg_plot: empty and flat plots still draw; bad input is an error; save writes it") {
  using namespace svg_plot_test;
  const std::string empty = io::LinePlot("nothing").to_svg();
  CHECK(count(empty, "<polyline") == 0);
  CHECK(count(empty, "</svg>") == 1);
  const std::string flat = io::LinePlot().add("flat", {3, 3, 3}).to_svg();
  CHECK(count(flat, "<polyline") == 1);

  io::LinePlot plot;
  CHECK(latent_test::error_message([&] { plot.add("bad", {1, 2, 3}, {1, 2}); }) ==
        "LinePlot::add: series 'bad' has 3 x values and 2 y values");
  CHECK(latent_test::error_message([&] { plot.size(10, 10); }).find("too small") != std::string::npos);

  namespace fs = std::filesystem;
  const fs::path folder = fs::temp_directory_path() / ("latent_svg_test_" + std::to_string(std::random_device()()));
  fs::create_directories(folder);
  const std::string path = (folder / "curve.svg").string();
  plot.size(800, 500).add("curve", {4, 2, 1});
  plot.save(path);
  const std::vector<std::uint8_t> saved = io::read_file(path);
  CHECK(std::string(saved.begin(), saved.end()) == plot.to_svg());
  CHECK(count(plot.to_svg(), "width=\"800\" height=\"500\"") == 1);
  fs::remove_all(folder);
}
