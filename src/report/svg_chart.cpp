#include "report/svg_chart.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "report/report_format.h"
#include "util/utf8.h"

namespace personagen {

namespace {

constexpr int kSeriesClasses = 6;  // s0..s5, then the colours repeat
constexpr int kLeft = 60, kRight = 14, kTop = 14, kBottom = 34;
constexpr int kLegend = 22;  // height of the legend row above the plot
constexpr int kAxisLabel = 16;

// A coordinate with one decimal, independent of the locale.
std::string num(double value) {
  if (!std::isfinite(value)) value = 0;
  char buffer[32];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, 1);
  return std::string(buffer, result.ptr);
}

std::string series_class(size_t k) {
  return "s" + std::to_string(k % kSeriesClasses);
}

// A step of 1, 2 or 5 times a power of ten, so that `span` takes about `ticks` steps.
double nice_step(double span, int ticks) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / ticks;
  const double power = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (raw <= m * power) return m * power;
  }
  return 10 * power;
}

std::string tick_text(double value, double step, bool percent) {
  if (percent) return format_share(value, step * 100 >= 1 ? 0 : 1);
  if (step >= 1) return format_number(value, 0);
  return format_number(value, step >= 0.1 ? 1 : 2);
}

// The frame every chart shares: the opening tag, the y grid with its labels, the axis labels
// and the legend. `plot` is where the marks go.
struct Frame {
  double left, top, width, height;  // the plot area
  double y_low, y_high;

  double y(double value) const {
    const double span = y_high - y_low;
    return top + height - (span > 0 ? (value - y_low) / span * height : 0);
  }
};

Frame open_frame(std::string& svg, const std::string& title, int width, int height,
                 const std::vector<std::string>& legend, const std::string& x_label,
                 const std::string& y_label, double y_low, double y_high, bool percent) {
  const bool has_legend = legend.size() > 1;
  Frame f;
  f.left = kLeft;
  f.top = kTop + (has_legend ? kLegend : 0);
  f.width = width - kLeft - kRight;
  f.height = height - f.top - kBottom - (x_label.empty() ? 0 : kAxisLabel);
  const double step = nice_step(y_high - y_low, 4);
  f.y_low = std::floor(y_low / step) * step;
  f.y_high = std::max(f.y_low + step, std::ceil(y_high / step) * step);

  svg += "<svg class=\"chart\" viewBox=\"0 0 " + std::to_string(width) + " " +
         std::to_string(height) + "\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" role=\"img\" aria-label=\"" + html_escape(title) +
         "\"><title>" + html_escape(title) + "</title>";
  for (double t = f.y_low; t <= f.y_high + step / 2; t += step) {
    const std::string y = num(f.y(t));
    svg += "<line class=\"grid\" x1=\"" + num(f.left) + "\" x2=\"" + num(f.left + f.width) +
           "\" y1=\"" + y + "\" y2=\"" + y + "\"/>";
    svg += "<text class=\"label\" x=\"" + num(f.left - 6) + "\" y=\"" + num(f.y(t) + 4) +
           "\" text-anchor=\"end\">" + html_escape(tick_text(t, step, percent)) + "</text>";
  }
  svg += "<line class=\"axis\" x1=\"" + num(f.left) + "\" x2=\"" + num(f.left + f.width) +
         "\" y1=\"" + num(f.top + f.height) + "\" y2=\"" + num(f.top + f.height) + "\"/>";
  if (!x_label.empty()) {
    svg += "<text class=\"label\" x=\"" + num(f.left + f.width / 2) + "\" y=\"" + num(height - 6) +
           "\" text-anchor=\"middle\">" + html_escape(x_label) + "</text>";
  }
  if (!y_label.empty()) {
    svg += "<text class=\"label\" transform=\"translate(14 " + num(f.top + f.height / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(y_label) + "</text>";
  }
  if (has_legend) {
    double x = f.left;
    for (size_t k = 0; k < legend.size(); ++k) {
      const std::string name = shorten_label(legend[k], 40);
      svg += "<rect class=\"" + series_class(k) + "\" x=\"" + num(x) + "\" y=\"" + num(kTop) +
             "\" width=\"10\" height=\"10\" rx=\"2\"/><text class=\"label\" x=\"" + num(x + 14) +
             "\" y=\"" + num(kTop + 9) + "\">" + html_escape(name) + "</text>";
      x += 30 + 6.5 * static_cast<double>(display_width(name));
    }
  }
  return f;
}

std::string no_data(const std::string& title, int width) {
  return "<svg class=\"chart\" viewBox=\"0 0 " + std::to_string(width) + " 40\" width=\"" +
         std::to_string(width) + "\" height=\"40\" role=\"img\" aria-label=\"" +
         html_escape(title) + "\"><title>" + html_escape(title) +
         "</title><text class=\"label\" x=\"8\" y=\"24\">no data</text></svg>";
}

}  // namespace

std::string html_escape(std::string_view text) {
  const std::string valid = valid_utf8(text, text.size());
  std::string out;
  out.reserve(valid.size());
  for (char c : valid) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string svg_bar_chart(const BarChart& chart) {
  const size_t n = chart.categories.size();
  if (n == 0 || chart.series.empty()) return no_data(chart.title, chart.width);
  double top = 0;
  std::vector<std::string> legend;
  for (const ChartSeries& s : chart.series) {
    legend.push_back(s.name);
    for (double v : s.values) {
      if (std::isfinite(v)) top = std::max(top, v);
    }
  }
  std::string svg;
  const Frame f = open_frame(svg, chart.title, chart.width, chart.height, legend, chart.x_label,
                             chart.y_label, 0, top > 0 ? top : 1, chart.y_percent);
  const double band = f.width / static_cast<double>(n);
  const double inner = band * (n > 40 ? 0.9 : 0.8);
  const double bar = inner / static_cast<double>(chart.series.size());
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const ChartSeries& s = chart.series[k];
    for (size_t i = 0; i < n && i < s.values.size(); ++i) {
      const double v = std::isfinite(s.values[i]) ? std::max(s.values[i], 0.0) : 0;
      const double x = f.left + band * i + (band - inner) / 2 + bar * k;
      const double y = f.y(v);
      std::string tip =
          i < s.tips.size()
              ? s.tips[i]
              : chart.categories[i] + ": " +
                    (chart.y_percent ? format_share(v) : format_number(v, v < 10 ? 2 : 0));
      if (!s.name.empty() && chart.series.size() > 1) tip = s.name + ", " + tip;
      svg += "<rect class=\"" + series_class(k) + "\" x=\"" + num(x) + "\" y=\"" + num(y) +
             "\" width=\"" + num(std::max(bar - 0.5, 0.5)) + "\" height=\"" +
             num(f.top + f.height - y) + "\"><title>" + html_escape(tip) + "</title></rect>";
    }
  }
  // Category labels, thinned so that they do not overlap.
  size_t widest = 1;
  for (const std::string& c : chart.categories) widest = std::max(widest, display_width(c));
  const double label_room = 7.0 * static_cast<double>(widest) + 8;
  const auto every = static_cast<size_t>(std::max(1.0, std::ceil(label_room / band)));
  for (size_t i = 0; i < n; i += every) {
    svg += "<text class=\"label\" x=\"" + num(f.left + band * (i + 0.5)) + "\" y=\"" +
           num(f.top + f.height + 16) + "\" text-anchor=\"middle\">" +
           html_escape(chart.categories[i]) + "</text>";
  }
  return svg + "</svg>";
}

ChartSeries histogram_series(const Histogram& h, std::string name, bool as_share) {
  ChartSeries s{std::move(name), {}, {}};
  uint64_t total = 0;
  for (uint64_t n : h.counts) total += n;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    const double share = total == 0 ? 0 : static_cast<double>(h.counts[i]) / total;
    s.values.push_back(as_share ? share : static_cast<double>(h.counts[i]));
    s.tips.push_back(bin_label(h, i) + ": " + with_commas(h.counts[i]) + " (" +
                     format_share(share) + ")");
  }
  return s;
}

std::vector<std::string> histogram_categories(const Histogram& h) {
  std::vector<std::string> out;
  for (size_t i = 0; i < h.counts.size(); ++i) out.push_back(bin_label(h, i));
  return out;
}

std::string svg_line_chart(const LineChart& chart) {
  double low = 0, high = 0;
  bool any = false;
  std::vector<std::string> legend;
  for (const LineSeries& s : chart.series) {
    legend.push_back(s.name);
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(y)) continue;
      low = std::min(low, y);
      high = std::max(high, y);
      any = true;
    }
  }
  if (!any) return no_data(chart.title, chart.width);
  std::string svg;
  const Frame f = open_frame(svg, chart.title, chart.width, chart.height, legend, chart.x_label,
                             chart.y_label, low, high > low ? high : low + 1, false);
  const double x_span = chart.x_max > chart.x_min ? chart.x_max - chart.x_min : 1;
  const auto x_of = [&](double x) { return f.left + (x - chart.x_min) / x_span * f.width; };
  const double step = nice_step(x_span, 5);
  for (double t = std::ceil(chart.x_min / step) * step; t <= chart.x_max + step / 2; t += step) {
    svg += "<text class=\"label\" x=\"" + num(x_of(t)) + "\" y=\"" + num(f.top + f.height + 16) +
           "\" text-anchor=\"middle\">" + tick_text(t, step, false) + "</text>";
  }
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const LineSeries& s = chart.series[k];
    std::string points;
    for (const auto& [x, y] : s.points) {
      if (std::isfinite(y))
        points += (points.empty() ? "" : " ") + num(x_of(x)) + "," + num(f.y(y));
    }
    svg += "<polyline class=\"line " + series_class(k) + "\" points=\"" + points + "\"/>";
    for (size_t i = 0; i < s.points.size(); ++i) {
      const auto [x, y] = s.points[i];
      if (!std::isfinite(y)) continue;
      std::string tip =
          i < s.tips.size() ? s.tips[i] : format_number(x, 2) + ": " + format_number(y, 3);
      if (!s.name.empty() && chart.series.size() > 1) tip = s.name + ", " + tip;
      svg += "<circle class=\"" + series_class(k) + "\" cx=\"" + num(x_of(x)) + "\" cy=\"" +
             num(f.y(y)) + "\" r=\"3.5\"><title>" + html_escape(tip) + "</title></circle>";
    }
  }
  return svg + "</svg>";
}

std::string svg_share_bar(double share, int width) {
  const double filled = std::clamp(std::isfinite(share) ? share : 0.0, 0.0, 1.0) * width;
  const std::string w = std::to_string(width);
  return "<svg class=\"share\" viewBox=\"0 0 " + w + " 10\" width=\"" + w +
         "\" height=\"10\" aria-hidden=\"true\"><rect class=\"track\" width=\"" + w +
         "\" height=\"10\" rx=\"2\"/><rect class=\"s0\" width=\"" + num(filled) +
         "\" height=\"10\" rx=\"2\"/></svg>";
}

}  // namespace personagen
