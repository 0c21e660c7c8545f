#include "util/number_range.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace personagen {

namespace {

std::string number_text(long double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10Lg", value);
  return text;
}

std::string expected(const NumberRange& r, bool show_max) {
  std::string what = std::string("expected ") + (r.whole ? "a whole number" : "a number");
  std::string min = number_text(r.min), max = number_text(r.max);
  if (!show_max) return what + (r.above_min ? " above " : " of at least ") + min;
  if (r.above_min) return what + " above " + min + " and at most " + max;
  return what + " from " + min + " to " + max;
}

}  // namespace

std::string check_number(std::string& text, const NumberRange& r) {
  long double value = 0;
  if (r.whole) {
    bool negative = text.starts_with('-');
    std::string_view digits = std::string_view(text).substr(negative || text.starts_with('+'));
    uint64_t magnitude = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
    // Too many digits for 64 bits is out of range, not malformed.
    bool too_large = error == std::errc::result_out_of_range &&
                     digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (too_large) return expected(r, true);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
      return expected(r, r.show_max);
    value = negative ? -static_cast<long double>(magnitude) : static_cast<long double>(magnitude);
    text = (negative && magnitude != 0 ? "-" : "") + std::to_string(magnitude);
  } else {
    // strtold alone would also take "nan", "inf", "0x1p3" and leading blanks.
    bool plain = !text.empty() && text.find_first_not_of("0123456789+-.eE") == std::string::npos;
    char* end = nullptr;
    value = plain ? std::strtold(text.c_str(), &end) : 0;
    if (!plain || end != text.c_str() + text.size() || !std::isfinite(value))
      return expected(r, r.show_max);
  }
  if (value > r.max) return expected(r, true);
  if (value < r.min || (r.above_min && value == r.min)) return expected(r, r.show_max);
  return {};
}

std::string describe(const NumberRange& r) {
  if (!r.show_max) return (r.above_min ? "> " : ">= ") + number_text(r.min);
  return (r.above_min ? "(" : "[") + number_text(r.min) + ", " + number_text(r.max) + "]";
}

}  // namespace personagen
