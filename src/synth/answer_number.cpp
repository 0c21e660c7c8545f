#include "synth/answer_number.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "util/text_util.h"

namespace personagen {

namespace {

// A fraction with a larger denominator is written as a decimal: 1/3 stays "1/3", while
// 0.1234567 (1234567/10^7) reads better, and compares the same, as "0.1234567".
constexpr uint64_t kMaxFractionDenominator = 1000000;
// Decimals with more significant digits than this are not held exactly (10^18 < 2^63).
constexpr size_t kMaxExactDigits = 18;

// A number's value: exact as num/den when its digits fit, else `approx` (the magnitude).
struct Number {
  bool negative = false;
  bool exact = true;
  uint64_t num = 0;
  uint64_t den = 1;
  double approx = 0;
};

// An unsigned decimal: digits, optionally a point and more digits, at least one digit in all.
std::optional<Number> parse_decimal(std::string_view s) {
  const size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() && fraction.empty()) return std::nullopt;
  for (std::string_view part : {whole, fraction}) {
    if (part.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  }
  whole = trim_front(whole, "0");
  fraction = trim_back(fraction, "0");
  Number n;
  double scale = 1;
  for (char c : whole) n.approx = n.approx * 10 + (c - '0');
  for (char c : fraction) n.approx += (c - '0') * (scale /= 10);
  if (whole.size() + fraction.size() > kMaxExactDigits) {
    n.exact = false;
    return n;
  }
  for (std::string_view part : {whole, fraction}) {
    for (char c : part) n.num = n.num * 10 + static_cast<uint64_t>(c - '0');
  }
  for (size_t k = 0; k < fraction.size(); ++k) n.den *= 10;
  return n;
}

std::optional<Number> parse_signed(std::string_view s) {
  bool negative = false;
  if (s.starts_with('-') || s.starts_with('+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  std::optional<Number> n = parse_decimal(s);
  if (n) n->negative = negative;
  return n;
}

// a / b; nullopt when b is zero.
std::optional<Number> divide(std::optional<Number> a, std::optional<Number> b) {
  if (!a || !b || b->approx == 0) return std::nullopt;
  Number q;
  q.negative = a->negative != b->negative;
  q.approx = a->approx / b->approx;
  q.exact = a->exact && b->exact;
  if (q.exact) {
    const uint64_t g1 = std::gcd(a->num, b->num);
    const uint64_t g2 = std::gcd(a->den, b->den);
    q.exact = !__builtin_mul_overflow(a->num / g1, b->den / g2, &q.num) &&
              !__builtin_mul_overflow(a->den / g2, b->num / g1, &q.den);
  }
  return q;
}

// One argument of \frac: a group without nested braces, or a single character ("\frac12").
std::optional<std::string_view> take_argument(std::string_view& s) {
  if (s.empty()) return std::nullopt;
  if (s[0] != '{') {
    const std::string_view arg = s.substr(0, 1);
    s.remove_prefix(1);
    return arg;
  }
  const size_t close = s.find('}');
  if (close == std::string_view::npos) return std::nullopt;
  const std::string_view arg = s.substr(1, close - 1);
  s.remove_prefix(close + 1);
  return arg;
}

// A plain number: [sign] decimal, decimal/decimal, or \frac with two decimal arguments.
std::optional<Number> parse_number(std::string_view s) {
  bool negative = false;
  if (s.starts_with('-') || s.starts_with('+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  std::optional<Number> value;
  if (s.starts_with("\\frac")) {
    s.remove_prefix(5);
    const std::optional<std::string_view> top = take_argument(s);
    const std::optional<std::string_view> bottom = take_argument(s);
    if (!top || !bottom || !s.empty()) return std::nullopt;
    value = divide(parse_signed(*top), parse_signed(*bottom));
  } else if (const size_t slash = s.find('/'); slash != std::string_view::npos) {
    value = divide(parse_decimal(s.substr(0, slash)), parse_signed(s.substr(slash + 1)));
  } else {
    value = parse_decimal(s);
  }
  if (!value || !std::isfinite(value->approx)) return std::nullopt;
  value->negative = value->negative != negative;
  return value;
}

std::string format_number(Number n) {
  if (n.exact) {
    const uint64_t g = std::gcd(n.num, n.den);
    n.num /= g;
    n.den /= g;
    if (n.num == 0) return "0";
    const std::string sign = n.negative ? "-" : "";
    if (n.den == 1) return sign + std::to_string(n.num);
    if (n.den <= kMaxFractionDenominator) {
      return sign + std::to_string(n.num) + "/" + std::to_string(n.den);
    }
    n.approx = static_cast<double>(n.num) / static_cast<double>(n.den);
  }
  if (n.approx == 0) return "0";
  char text[64];
  const auto result =
      std::to_chars(text, text + sizeof text, n.approx, std::chars_format::general, 12);
  return (n.negative ? "-" : "") + std::string(text, result.ptr);
}

}  // namespace

std::optional<std::string> canonical_number(std::string_view text) {
  if (const std::optional<Number> number = parse_number(text)) return format_number(*number);
  return std::nullopt;
}

}  // namespace personagen
