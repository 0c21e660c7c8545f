#pragma once

// Small text helpers that several units need, so that each is written once.

#include <cstdint>
#include <string>
#include <string_view>

namespace personagen {

// The blanks std::isspace knows in the C locale: the default set for trim().
inline constexpr std::string_view kWhitespace = " \t\n\r\f\v";
// Spaces and tabs only: blanks within a line, where a line break means something.
inline constexpr std::string_view kSpaceTab = " \t";
// Spaces, tabs and line breaks, without \f and \v: what HTTP header values and API keys allow.
inline constexpr std::string_view kSpaceTabNewline = " \t\r\n";

// `s` without the leading bytes that are in `chars`.
inline std::string_view trim_front(std::string_view s, std::string_view chars = kWhitespace) {
  const size_t first = s.find_first_not_of(chars);
  return s.substr(first == std::string_view::npos ? s.size() : first);
}

// `s` without the trailing bytes that are in `chars`.
inline std::string_view trim_back(std::string_view s, std::string_view chars = kWhitespace) {
  const size_t last = s.find_last_not_of(chars);
  return s.substr(0, last == std::string_view::npos ? 0 : last + 1);
}

// `s` without the bytes in `chars` at either end; empty when it holds nothing else. Callers
// that trim a narrower set than kWhitespace pass it, so that the difference stays visible.
inline std::string_view trim(std::string_view s, std::string_view chars = kWhitespace) {
  return trim_back(trim_front(s, chars), chars);
}

// True when `s` holds nothing but bytes in `chars`, or nothing at all.
inline bool is_blank(std::string_view s, std::string_view chars = kWhitespace) {
  return s.find_first_not_of(chars) == std::string_view::npos;
}

// 1234567 -> "1,234,567".
inline std::string with_commas(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace personagen
