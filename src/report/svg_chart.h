#pragma once

// Small SVG charts for the HTML report, written as text to be inlined in the page: a bar chart
// (a histogram is one: a bar per bin), with several series side by side per category for
// --compare; a line chart of (x, y) points; a thin share bar for a table cell. The charts carry
// no colours of their own: every mark has a class ("s0", "s1", ... per series; "axis", "grid",
// "label") that the page's CSS styles, so one chart reads in light and dark mode alike. All text
// is escaped here; the caller passes plain text.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "report/figures.h"

namespace personagen {

// `text` safe inside HTML or SVG text and attribute values: &, <, >, " and ' as entities, and
// invalid UTF-8 replaced by U+FFFD.
std::string html_escape(std::string_view text);

struct ChartSeries {
  std::string name;               // in the legend; the legend shows with two series or more
  std::vector<double> values;     // one per category
  std::vector<std::string> tips;  // optional, one per category: the bar's tooltip
};

struct BarChart {
  std::string title;                    // the chart's accessible name
  std::vector<std::string> categories;  // under the bars; thinned when they would overlap
  std::vector<ChartSeries> series;
  std::string x_label, y_label;
  bool y_percent = false;  // values are shares in 0..1, shown as percentages
  int width = 560, height = 240;
};

// A bar chart as one <svg> element; an empty chart (no categories) gets a "no data" note.
std::string svg_bar_chart(const BarChart& chart);

// `h` as one series (counts, or shares of its total when `as_share`), with bin labels.
ChartSeries histogram_series(const Histogram& h, std::string name, bool as_share);
std::vector<std::string> histogram_categories(const Histogram& h);

struct LineSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), in order of x
  std::vector<std::string> tips;                  // optional, one per point
};

struct LineChart {
  std::string title;
  std::vector<LineSeries> series;
  std::string x_label, y_label;
  double x_min = 0, x_max = 1;  // the x axis
  int width = 560, height = 260;
};

// A line chart with a dot per point, as one <svg>; the y axis spans the points (and 0).
std::string svg_line_chart(const LineChart& chart);

// A bar `width` pixels long filled to `share` (0..1), for a table cell.
std::string svg_share_bar(double share, int width = 120);

}  // namespace personagen
