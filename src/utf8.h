#pragma once

#include <cstddef>
#include <string_view>

namespace personagen {

// At most `max` bytes of `s`, never ending inside a UTF-8 sequence, so that a message, a report
// excerpt or a prompt cut to size stays valid UTF-8 when `s` was.
inline std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace personagen
