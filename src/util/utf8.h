#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace personagen {

// The byte-order mark some tools put at the start of a UTF-8 file; readers skip it.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// The length of the valid UTF-8 sequence that starts at s[i]: 1 for an ASCII byte, 2 to 4 for a
// valid multi-byte sequence, and 0 when it is not valid: overlong forms, surrogates, code points
// above U+10FFFF and a sequence cut off by the end of `s` are all invalid. The one UTF-8
// validator: the reader, the JSON writer and valid_utf8() all use it.
inline size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

// Copies at most `limit` bytes of `text` as valid UTF-8: each byte that does not start a valid
// sequence becomes U+FFFD, and a character that the limit would cut is left out.
inline std::string valid_utf8(std::string_view text, size_t limit) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < limit;) {
    const size_t len = utf8_sequence_length(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      if (i + len > limit) break;
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

// At most `max` bytes of `s`, never ending inside a UTF-8 sequence, so that a message, a report
// excerpt or a prompt cut to size stays valid UTF-8 when `s` was.
inline std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace personagen
