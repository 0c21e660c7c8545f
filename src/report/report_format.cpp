#include "report/report_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "util/utf8.h"

namespace personagen {

namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // "…"

// Fixed-point text, independent of the locale.
std::string fixed(double value, int decimals) {
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, decimals);
  if (result.ec != std::errc()) return "-";
  return std::string(buffer, result.ptr);
}

bool is_integer(double value) {
  return std::isfinite(value) && value == std::floor(value);
}

// Valid UTF-8 with every control character (a line break, a tab) as a space.
std::vector<std::string> characters(std::string_view text) {
  const std::string valid = valid_utf8(text, text.size());
  std::vector<std::string> out;
  for (size_t i = 0; i < valid.size();) {
    const size_t n = std::max<size_t>(1, utf8_sequence_length(valid, i));
    const auto c = static_cast<unsigned char>(valid[i]);
    out.emplace_back(c < 0x20 || c == 0x7F ? std::string(" ") : valid.substr(i, n));
    i += n;
  }
  return out;
}

std::string join(const std::vector<std::string>& chars, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += chars[i];
  return out;
}

}  // namespace

std::string format_number(double value, int decimals) {
  if (!std::isfinite(value)) return "-";
  if (decimals > 0) return fixed(value, decimals);
  const double rounded = std::round(std::fabs(value));
  if (rounded >= 1e19) return fixed(value, 0);
  return (value < 0 && rounded > 0 ? "-" : "") + with_commas(static_cast<uint64_t>(rounded));
}

std::string format_estimate(const Estimate& e, int decimals) {
  if (e.exact) return format_number(e.value, decimals);
  return "~" + format_number(e.value, decimals) + " \xC2\xB1" + format_number(e.error, decimals);
}

std::string format_share(double share, int decimals) {
  if (!std::isfinite(share)) return "-";
  return fixed(share * 100, decimals) + "%";
}

std::string format_cost(double dollars) {
  if (!std::isfinite(dollars)) return "-";
  dollars = std::max(dollars, 0.0);
  if (dollars > 0 && dollars < 0.01) {
    const int decimals = std::clamp(1 - static_cast<int>(std::floor(std::log10(dollars))), 3, 8);
    return "$" + fixed(dollars, decimals);
  }
  const auto cents = static_cast<uint64_t>(std::llround(dollars * 100));
  const std::string fraction = std::to_string(100 + cents % 100).substr(1);
  return "$" + with_commas(cents / 100) + "." + fraction;
}

std::string format_words(double value) {
  return is_integer(value) ? format_number(value, 0) : format_number(value, 1);
}

std::string format_number(const std::optional<double>& value, int decimals) {
  return value ? format_number(*value, decimals) : "-";
}

std::string format_estimate(const std::optional<Estimate>& e, int decimals) {
  return e ? format_estimate(*e, decimals) : "-";
}

std::string format_words(const std::optional<double>& value) {
  return value ? format_words(*value) : "-";
}

std::string bin_label(const Histogram& h, size_t i) {
  if (i + 1 >= h.edges.size()) return "";
  const double low = h.edges[i], high = h.edges[i + 1];
  if (is_integer(low) && is_integer(high)) {
    if (high - low <= 1) return format_number(low, 0);
    return format_number(low, 0) + "-" + format_number(high - 1, 0);
  }
  const int decimals = high - low >= 1 ? 1 : 2;
  return format_number(low, decimals) + "-" + format_number(high, decimals);
}

Histogram coarsen(const Histogram& h, size_t max_bins) {
  const size_t bins = h.counts.size();
  if (max_bins == 0 || bins <= max_bins || h.edges.size() != bins + 1) return h;
  const size_t group = (bins + max_bins - 1) / max_bins;
  Histogram out;
  for (size_t i = 0; i < bins; i += group) {
    out.edges.push_back(h.edges[i]);
    uint64_t sum = 0;
    for (size_t k = i; k < std::min(bins, i + group); ++k) sum += h.counts[k];
    out.counts.push_back(sum);
  }
  out.edges.push_back(h.edges.back());
  return out;
}

size_t display_width(std::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string shorten_label(std::string_view text, size_t max) {
  const std::vector<std::string> chars = characters(text);
  if (chars.size() <= max) return join(chars, 0, chars.size());
  if (max == 0) return "";
  return std::string(kEllipsis) + join(chars, chars.size() - (max - 1), chars.size());
}

std::string shorten_text(std::string_view text, size_t max) {
  const std::vector<std::string> chars = characters(text);
  if (chars.size() <= max) return join(chars, 0, chars.size());
  if (max == 0) return "";
  return join(chars, 0, max - 1) + std::string(kEllipsis);
}

}  // namespace personagen
