#pragma once

// How the report shows its figures as text, shared by the terminal summary and the HTML page so
// that both print a figure the same way: counts with thousands separators, estimates with their
// bound ("~0.812 ±0.006"), shares, dollars, and histograms cut down to a few bins.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "report/figures.h"
#include "util/text_util.h"  // with_commas

namespace personagen {

// `value` with `decimals` digits after the point ("0.812"); counts (decimals 0) get thousands
// separators. Not finite -> "-".
std::string format_number(double value, int decimals);

// An exact figure as format_number; an estimate as "~0.812 ±0.006", its 95% bound after the ±.
std::string format_estimate(const Estimate& e, int decimals);

// A share in 0..1 as a percentage: 0.1234 -> "12.3%".
std::string format_share(double share, int decimals = 1);

// Dollars: cents from $0.01 on ("$12,345.60"), two significant digits below ("$0.0042").
std::string format_cost(double dollars);

// A word count or percentile: an integer as one ("123"), otherwise with one decimal ("12.5").
std::string format_words(double value);

// An undefined figure (nullopt: a mean of nothing, a share of nothing) as "-"; a defined one as
// the overloads above.
std::string format_number(const std::optional<double>& value, int decimals);
std::string format_estimate(const std::optional<Estimate>& e, int decimals);
std::string format_words(const std::optional<double>& value);

// The bin [edges[i], edges[i+1]) as a label: "12" for a one-wide integer bin, "10-19" for a
// wider integer bin (its last integer), otherwise "0.2-0.4".
std::string bin_label(const Histogram& h, size_t i);

// `h` with neighbouring bins merged so that it has at most `max_bins` (the same total).
Histogram coarsen(const Histogram& h, size_t max_bins);

// The characters (UTF-8 code points) in `text`: its width in a terminal for most text.
size_t display_width(std::string_view text);

// `text` cut to at most `max` characters; a cut keeps the end (a path's last parts) and starts
// with "...". Control characters become spaces, so a label or opening stays on one line.
std::string shorten_label(std::string_view text, size_t max);

// Like shorten_label but keeps the beginning (an opening's first words) and ends with "…".
std::string shorten_text(std::string_view text, size_t max);

}  // namespace personagen
