// SVG line plots, for training curves: named series on shared axes, with ticks, a grid,
// axis labels, a title, a legend and, if asked, a logarithmic y axis.
//
//   io::LinePlot plot("Training loss");
//   plot.x_label("step").y_label("loss").log_y(true);
//   plot.add("train", train_losses);                  // x = 0, 1, 2, ...
//   plot.add("valid", valid_steps, valid_losses);
//   plot.save("loss.svg");                            // or std::string svg = plot.to_svg();
//
// Points that are not finite (and, on a log axis, not positive) are left out and the line
// breaks there, so a diverged run still draws.
//
// The plot is a class template (LinePlot is BasicLinePlot<>), and the axis helpers
// function templates, only so that they are compiled when a program draws a plot, not in
// every program that includes the library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "file.hpp"

namespace latent::io {

namespace detail {

inline std::string svg_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string svg_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

// A tick label: as many decimals as the step needs, or %g for very large or small values.
inline std::string tick_label(double value, double step) {
  if (std::fabs(value) < step * 1e-6) value = 0;
  char text[32];
  if (std::max(std::fabs(value), step) >= 1e5 || step < 1e-4) {
    std::snprintf(text, sizeof text, "%g", value);
  } else {
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
  }
  return text;
}

// An axis: the range drawn and where its ticks go (in axis units: log10 of the value on a
// log axis).
struct Axis {
  double lo = 0, hi = 1;
  std::vector<std::pair<double, std::string>> ticks;  // (position, label)
};

// Linear ticks: the step is 1, 2 or 5 times a power of ten, the smallest that cuts
// [lo, hi] into at most about `target` intervals; the range widens to whole steps.
template <class = void>
Axis linear_axis(double lo, double hi, int target = 6) {
  const double raw = (hi - lo) / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * power;
  for (double multiple : {1.0, 2.0, 5.0}) {
    if (multiple * power >= raw * (1 - 1e-9)) {  // tolerate rounding in raw
      step = multiple * power;
      break;
    }
  }
  Axis axis;
  axis.lo = std::floor(lo / step + 1e-9) * step;
  axis.hi = std::ceil(hi / step - 1e-9) * step;
  for (double k = std::round(axis.lo / step); k * step <= axis.hi + step * 1e-6; k += 1) {
    axis.ticks.push_back({k * step, tick_label(k * step, step)});
  }
  return axis;
}

// Log ticks (lo, hi are log10 of the values): whole decades, labelled 10^k; over few
// decades also 2 and 5 times each; over many, every n-th decade.
template <class = void>
Axis log_axis(double lo, double hi) {
  Axis axis;
  axis.lo = std::floor(lo + 1e-9);
  axis.hi = std::max(std::ceil(hi - 1e-9), axis.lo + 1);
  const int decades = static_cast<int>(axis.hi - axis.lo);
  const int every = std::max(1, (decades + 7) / 8);
  for (int k = static_cast<int>(axis.lo); k <= static_cast<int>(axis.hi); ++k) {
    for (double multiple : {1.0, 2.0, 5.0}) {
      if (multiple != 1.0 && (decades > 2 || k == static_cast<int>(axis.hi))) continue;
      if (multiple == 1.0 && (k - static_cast<int>(axis.lo)) % every != 0) continue;
      char text[32];
      std::snprintf(text, sizeof text, "%g", multiple * std::pow(10.0, k));
      axis.ticks.push_back({k + std::log10(multiple), text});
    }
  }
  return axis;
}

}  // namespace detail

template <class = void>
class BasicLinePlot {
 public:
  explicit BasicLinePlot(std::string title = "") : title_(std::move(title)) {}

  BasicLinePlot& title(std::string text) { title_ = std::move(text); return *this; }
  BasicLinePlot& x_label(std::string text) { x_label_ = std::move(text); return *this; }
  BasicLinePlot& y_label(std::string text) { y_label_ = std::move(text); return *this; }
  BasicLinePlot& log_y(bool on = true) { log_y_ = on; return *this; }
  BasicLinePlot& size(int width, int height) {
    LATENT_CHECK(width >= 200 && height >= 150, "LinePlot: size ", width, " x ", height,
                 " is too small (at least 200 x 150)");
    width_ = width;
    height_ = height;
    return *this;
  }

  // A series drawn against x = 0, 1, 2, ...
  BasicLinePlot& add(std::string name, const std::vector<double>& y) {
    std::vector<double> x(y.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
    return add(std::move(name), std::move(x), y);
  }
  BasicLinePlot& add(std::string name, std::vector<double> x, std::vector<double> y) {
    LATENT_CHECK(x.size() == y.size(), "LinePlot::add: series '", name, "' has ", x.size(),
                 " x values and ", y.size(), " y values");
    series_.push_back({std::move(name), std::move(x), std::move(y)});
    return *this;
  }

  std::string to_svg() const;

  void save(const std::string& path) const { write_file_atomic(path, to_svg()); }

 private:
  struct Series {
    std::string name;
    std::vector<double> x, y;
  };

  // A point is drawn when both coordinates are finite (and y > 0 on a log axis); y is
  // returned in axis units.
  bool drawable(double x, double y, double& y_axis) const {
    if (!std::isfinite(x) || !std::isfinite(y) || (log_y_ && y <= 0)) return false;
    y_axis = log_y_ ? std::log10(y) : y;
    return true;
  }

  std::string title_, x_label_, y_label_;
  bool log_y_ = false;
  int width_ = 640, height_ = 400;
  std::vector<Series> series_;
};

using LinePlot = BasicLinePlot<>;

template <class Unused>
std::string BasicLinePlot<Unused>::to_svg() const {
  using detail::svg_escape;
  using detail::svg_number;
  static constexpr const char* kColours[10] = {"#2563eb", "#dc2626", "#16a34a", "#9333ea",
                                               "#ea580c", "#0891b2", "#db2777", "#65a30d",
                                               "#4b5563", "#ca8a04"};
  // Data range over the drawable points; an empty or flat range is widened.
  const double infinity = std::numeric_limits<double>::infinity();
  double x_lo = infinity, x_hi = -infinity, y_lo = infinity, y_hi = -infinity;
  for (const Series& s : series_) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      double y = 0;
      if (!drawable(s.x[i], s.y[i], y)) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  }
  if (x_lo > x_hi) {  // nothing to draw: show an empty unit square
    x_lo = y_lo = 0;
    x_hi = y_hi = 1;
  }
  auto widen = [](double& lo, double& hi, double pad) {
    if (hi - lo > 1e-12 * std::max(1.0, std::fabs(lo))) return;
    lo -= pad;
    hi += pad;
  };
  widen(x_lo, x_hi, std::max(1.0, std::fabs(x_lo) * 0.1));
  widen(y_lo, y_hi, log_y_ ? 0.5 : std::max(1e-3, std::fabs(y_lo) * 0.1));
  const detail::Axis x_axis = detail::linear_axis(x_lo, x_hi);
  const detail::Axis y_axis = log_y_ ? detail::log_axis(y_lo, y_hi) : detail::linear_axis(y_lo, y_hi);

  // The plot area, and the maps from axis units to pixels.
  const double left = 80, right = width_ - 20.0, top = title_.empty() ? 20.0 : 40.0;
  const double bottom = height_ - (x_label_.empty() ? 32.0 : 50.0);
  auto px = [&](double x) { return left + (x - x_axis.lo) / (x_axis.hi - x_axis.lo) * (right - left); };
  auto py = [&](double y) { return bottom - (y - y_axis.lo) / (y_axis.hi - y_axis.lo) * (bottom - top); };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(width_) + "\" height=\"" + std::to_string(height_) +
                    "\" viewBox=\"0 0 " + std::to_string(width_) + " " +
                    std::to_string(height_) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!title_.empty()) {
    svg += "<text x=\"" + svg_number(width_ / 2.0) + "\" y=\"24\" text-anchor=\"middle\" "
           "font-size=\"16\">" + svg_escape(title_) + "</text>\n";
  }
  for (const auto& [x, label] : x_axis.ticks) {
    const std::string at = svg_number(px(x));
    svg += "<line x1=\"" + at + "\" y1=\"" + svg_number(top) + "\" x2=\"" + at + "\" y2=\"" +
           svg_number(bottom) + "\" stroke=\"#e5e7eb\"/>\n";
    svg += "<text x=\"" + at + "\" y=\"" + svg_number(bottom + 16) +
           "\" text-anchor=\"middle\">" + svg_escape(label) + "</text>\n";
  }
  for (const auto& [y, label] : y_axis.ticks) {
    const std::string at = svg_number(py(y));
    svg += "<line x1=\"" + svg_number(left) + "\" y1=\"" + at + "\" x2=\"" + svg_number(right) +
           "\" y2=\"" + at + "\" stroke=\"#e5e7eb\"/>\n";
    svg += "<text x=\"" + svg_number(left - 6) + "\" y=\"" + svg_number(py(y) + 4) +
           "\" text-anchor=\"end\">" + svg_escape(label) + "</text>\n";
  }
  svg += "<rect x=\"" + svg_number(left) + "\" y=\"" + svg_number(top) + "\" width=\"" +
         svg_number(right - left) + "\" height=\"" + svg_number(bottom - top) +
         "\" fill=\"none\" stroke=\"black\"/>\n";

  // Each series: one polyline per unbroken run of points, a dot for a lone point.
  for (std::size_t k = 0; k < series_.size(); ++k) {
    const Series& s = series_[k];
    const std::string colour = kColours[k % 10];
    std::vector<std::pair<double, double>> run;
    auto flush = [&] {
      if (run.size() == 1) {
        svg += "<circle cx=\"" + svg_number(run[0].first) + "\" cy=\"" +
               svg_number(run[0].second) + "\" r=\"2\" fill=\"" + colour + "\"/>\n";
      } else if (run.size() > 1) {
        svg += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.5\" points=\"";
        for (std::size_t i = 0; i < run.size(); ++i) {
          svg += (i ? " " : "") + svg_number(run[i].first) + "," + svg_number(run[i].second);
        }
        svg += "\"/>\n";
      }
      run.clear();
    };
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      double y = 0;
      if (drawable(s.x[i], s.y[i], y)) {
        run.push_back({px(s.x[i]), py(y)});
      } else {
        flush();
      }
    }
    flush();
  }

  // Legend, top right inside the plot area.
  if (!series_.empty()) {
    std::size_t longest = 0;
    for (const Series& s : series_) longest = std::max(longest, s.name.size());
    const double box_width = 36 + 7.0 * static_cast<double>(longest);
    const double box_x = right - 8 - box_width, box_y = top + 8;
    svg += "<rect x=\"" + svg_number(box_x) + "\" y=\"" + svg_number(box_y) + "\" width=\"" +
           svg_number(box_width) + "\" height=\"" +
           svg_number(8 + 18.0 * static_cast<double>(series_.size())) +
           "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#9ca3af\"/>\n";
    for (std::size_t k = 0; k < series_.size(); ++k) {
      const double y = box_y + 16 + 18.0 * static_cast<double>(k);
      svg += "<line x1=\"" + svg_number(box_x + 6) + "\" y1=\"" + svg_number(y - 4) +
             "\" x2=\"" + svg_number(box_x + 26) + "\" y2=\"" + svg_number(y - 4) +
             "\" stroke=\"" + kColours[k % 10] + "\" stroke-width=\"2\"/>\n";
      svg += "<text x=\"" + svg_number(box_x + 30) + "\" y=\"" + svg_number(y) + "\">" +
             svg_escape(series_[k].name) + "</text>\n";
    }
  }
  if (!x_label_.empty()) {
    svg += "<text x=\"" + svg_number((left + right) / 2) + "\" y=\"" + svg_number(height_ - 10.0) +
           "\" text-anchor=\"middle\">" + svg_escape(x_label_) + "</text>\n";
  }
  if (!y_label_.empty()) {
    const std::string cy = svg_number((top + bottom) / 2);
    svg += "<text x=\"16\" y=\"" + cy + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
           cy + ")\">" + svg_escape(y_label_) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace latent::io
