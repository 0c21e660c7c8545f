#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace personagen {

// The form two texts are compared in by `dedup`: Unicode NFC, case-folded, every run of white
// space (ASCII, and Unicode separators Zs, Zl, Zp and U+0085) collapsed to one ' ', no leading
// or trailing space. So "Café  Owner" and "cafe\u0301 owner" normalize to the same bytes.
// Text that is not valid UTF-8 is folded byte by byte (ASCII letters lowered), never rejected.
// `out` is overwritten; reusing it across calls saves allocations.
void normalize_text(std::string_view text, std::string& out);
std::string normalize_text(std::string_view text);

// The words of a normalized text: split on ' ', with ASCII punctuation stripped from both ends
// of each word ("chess," and "chess" are one word); words that were only punctuation are left
// out. The views point into `normalized`.
void split_words(std::string_view normalized, std::vector<std::string_view>& words);

}  // namespace personagen
