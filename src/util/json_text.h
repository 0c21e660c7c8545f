#pragma once

// Writing JSON text directly into a string, for the hot paths (request bodies, output records)
// where building a nlohmann DOM per record would cost more than the rest of the work; and
// measuring the nesting of JSON text before it is parsed.

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "util/utf8.h"

namespace personagen {

namespace json_text_detail {

// kPlain[c]: byte c goes into a JSON string as it is (printable ASCII other than '"' and '\\').
inline constexpr auto kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// The length of the run of kPlain bytes at the start of `s`. Why eight bytes at a time: this
// runs over every byte of every prompt and record, and was 7-10% of the client's instructions per
// request in bench scenario A when it tested one byte at a time. A word has a byte that is not
// plain when one is below 0x20, is '"' or '\\' (zero after the XOR), or has its top bit set.
inline size_t plain_prefix(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
  const auto has_byte_below = [](uint64_t v, uint64_t n) { return (v - kOnes * n) & ~v & kHigh; };
  size_t run = 0;
  for (; run + 8 <= s.size(); run += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + run, 8);
    if ((word & kHigh) | has_byte_below(word, 0x20) | has_byte_below(word ^ (kOnes * '"'), 1) |
        has_byte_below(word ^ (kOnes * '\\'), 1)) {
      break;
    }
  }
  while (run < s.size() && kPlain[static_cast<unsigned char>(s[run])]) ++run;
  return run;
}

}  // namespace json_text_detail

// Appends `s` as a quoted JSON string. Escapes '"', '\\' and control characters; passes valid
// UTF-8 through unchanged and replaces each byte of an invalid sequence with U+FFFD, so the
// result is always valid JSON whatever the input.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run of bytes that need no attention in one go.
    const size_t run = i + json_text_detail::plain_prefix(s.substr(i));
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;

    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

// Appends a finite double in the shortest form that reads back as the same value ("0.7", not
// "0.69999999999999996"). JSON has no NaN or infinity; those are written as null.
inline void append_json_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// The position of the first '[', ']', '{' or '}' at or after `from` that is outside JSON
// strings, or npos; `from` must itself be outside a string. A string runs from '"' to the next
// '"' that no backslash escapes, or to the end. Not a validator: it is the one bracket scan that
// json_nesting_depth and the output parser's object search share, so both agree on what is
// inside a string.
inline size_t next_json_bracket(std::string_view text, size_t from) {
  bool in_string = false;
  for (size_t i = from; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == ']' || c == '{' || c == '}') {
      return i;
    }
  }
  return std::string_view::npos;
}

// The deepest nesting of arrays and objects in `text`, read as JSON but not validated: brackets
// inside strings do not count. For valid JSON it is exact. Why: nlohmann parses and destroys
// iteratively, but dump() and copies recurse once per level, so text from outside (a reply, a
// model's output) is checked against a limit before it is parsed into something that is dumped.
inline size_t json_nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  for (size_t i = next_json_bracket(text, 0); i != std::string_view::npos;
       i = next_json_bracket(text, i + 1)) {
    if (text[i] == '[' || text[i] == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// nlohmann's exception text without its "[json.exception.<kind>.<id>] " prefix, which tells a
// user nothing.
inline std::string_view without_nlohmann_prefix(std::string_view what) {
  if (what.starts_with("[json.exception.")) {
    const size_t end = what.find("] ");
    if (end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  return what;
}

// Appends an integer in decimal.
inline void append_json_int(std::string& out, int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

}  // namespace personagen
