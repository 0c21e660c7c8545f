#include "dedup/text_normalize.h"

#include <utf8proc.h>

#include <cstdlib>

#include "util/text_util.h"

namespace personagen {
namespace {

bool is_ascii_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The ASCII punctuation characters, what std::ispunct knows in the C locale: stripped from the
// ends of each word.
constexpr std::string_view kAsciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

bool is_space(utf8proc_int32_t cp) {
  if (cp < 0x80) return is_ascii_space(static_cast<unsigned char>(cp));
  if (cp == 0x85) return true;
  utf8proc_category_t category = utf8proc_category(cp);
  return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
         category == UTF8PROC_CATEGORY_ZP;
}

// Appends `text` with white-space runs collapsed and ASCII letters lowered; the whole of the
// work for ASCII text, whose NFC form is itself and whose case folding is tolower.
void collapse_ascii(std::string_view text, std::string& out) {
  bool pending_space = false;
  for (unsigned char c : text) {
    if (is_ascii_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
}

// The same over valid UTF-8 that is already NFC and case-folded.
void collapse_unicode(std::string_view text, std::string& out) {
  const auto* s = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const auto n = static_cast<utf8proc_ssize_t>(text.size());
  bool pending_space = false;
  for (utf8proc_ssize_t i = 0; i < n;) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t len = utf8proc_iterate(s + i, n - i, &cp);
    if (len <= 0) {  // cannot happen on utf8proc's own output; keep the byte
      len = 1;
      cp = -1;
    }
    if (cp >= 0 && is_space(cp)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out.append(text.substr(i, len));
    }
    i += len;
  }
}

}  // namespace

void normalize_text(std::string_view text, std::string& out) {
  out.clear();
  bool ascii = true;
  for (unsigned char c : text) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return collapse_ascii(text, out);

  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t length = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
      static_cast<utf8proc_ssize_t>(text.size()), &mapped,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
  if (length < 0) {  // not valid UTF-8: compare the bytes, folded as far as ASCII goes
    std::free(mapped);
    return collapse_ascii(text, out);
  }
  collapse_unicode({reinterpret_cast<const char*>(mapped), static_cast<size_t>(length)}, out);
  std::free(mapped);
}

std::string normalize_text(std::string_view text) {
  std::string out;
  normalize_text(text, out);
  return out;
}

void split_words(std::string_view normalized, std::vector<std::string_view>& words) {
  words.clear();
  size_t i = 0;
  while (i < normalized.size()) {
    size_t end = normalized.find(' ', i);
    if (end == std::string_view::npos) end = normalized.size();
    const std::string_view word = trim(normalized.substr(i, end - i), kAsciiPunctuation);
    if (!word.empty()) words.push_back(word);
    i = end + 1;
  }
}

}  // namespace personagen
