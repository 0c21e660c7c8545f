#include "synth/answer.h"

#include <utility>
#include <vector>

#include "synth/answer_number.h"
#include "util/text_util.h"

namespace personagen {

namespace {

constexpr size_t npos = std::string_view::npos;

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_space(char c) {
  return c != '\0' && kWhitespace.find(c) != npos;
}

// For each '{' of `text`, the position of its matching '}', or npos when it never closes. One
// pass with a stack, so that looking up every box afterwards stays linear. \{ \} and \\ are
// characters, not groups.
std::vector<size_t> match_braces(std::string_view text) {
  std::vector<size_t> match(text.size(), npos);
  std::vector<size_t> open;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '{') {
      open.push_back(i);
    } else if (text[i] == '}' && !open.empty()) {
      match[open.back()] = i;
      open.pop_back();
    }
  }
  return match;
}

// The last usable box of a solution: `found` with its trimmed content (empty for \boxed{}).
struct Box {
  bool found = false;
  std::string_view content;
};

// "\boxed 5" and "\boxed5": TeX boxes one token; a model that writes "\boxed 42" means 42, so the
// token runs to a blank, `$`, `}` or the next command, and a trailing period or comma is dropped.
// A token that starts with a command is that command ("\boxed \pi").
std::string_view box_token(std::string_view text, size_t p) {
  size_t q = p;
  if (text[p] == '\\') {
    ++q;
    while (q < text.size() && is_letter(text[q])) ++q;
  } else {
    while (q < text.size() && !is_space(text[q]) && text[q] != '$' && text[q] != '}' &&
           text[q] != '\\') {
      ++q;
    }
  }
  return trim_back(text.substr(p, q - p), ".,;");
}

// Where the group opened by the '{' at text[p] closes, from p on alone; npos if it never does.
// The same as match_braces(text)[p]: a group's match depends only on what follows it.
size_t closing_brace(std::string_view text, size_t p) {
  size_t depth = 0;
  for (size_t i = p; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '{') {
      ++depth;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return npos;
}

// Whether the command at text[at] (a backslash) is \boxed or \fbox; `end` is set past its name.
bool box_command(std::string_view text, size_t at, size_t& end) {
  end = at + 1;
  while (end < text.size() && is_letter(text[end])) ++end;
  const std::string_view name = text.substr(at + 1, end - at - 1);
  return name == "boxed" || name == "fbox";
}

// The box of the command at text[at], if it is a usable one. Its closing brace comes from
// `match` when given, else from a scan of its own.
Box box_at(std::string_view text, size_t at, const std::vector<size_t>* match) {
  size_t p;
  if (!box_command(text, at, p)) return {};
  while (p < text.size() && is_space(text[p])) ++p;
  if (p == text.size()) return {};
  if (text[p] == '{') {
    const size_t close = match ? (*match)[p] : closing_brace(text, p);
    if (close == npos) return {};  // never closes: ignored
    return {true, trim(text.substr(p + 1, close - p - 1))};
  }
  if (const std::string_view token = box_token(text, p); !token.empty()) return {true, token};
  return {};
}

Box last_box(std::string_view text) {
  // The usual case: the last box command is usable, and it is all there is to read. Scanning
  // from it alone costs a fraction of matching every brace of the reply.
  size_t last_command = npos;
  for (size_t at = text.rfind('\\'); at != npos; at = at == 0 ? npos : text.rfind('\\', at - 1)) {
    size_t end;
    if (box_command(text, at, end)) {
      last_command = at;
      break;
    }
  }
  if (last_command == npos) return {};
  if (const Box box = box_at(text, last_command, nullptr); box.found) return box;
  // It is not usable: match every brace once, so that finding an earlier box stays linear.
  const std::vector<size_t> match = match_braces(text);
  Box last;
  for (size_t at = text.find('\\'); at < last_command; at = text.find('\\', at + 1)) {
    if (const Box box = box_at(text, at, &match); box.found) last = box;
  }
  return last;
}

// The answer after the last "final answer:", "the final answer is" or "the answer is" (any
// case), up to the end of its line or sentence; nullopt when there is no such phrase or nothing
// after it. Markdown emphasis and a colon around the answer are dropped ("**Final Answer:** 5").
std::optional<std::string_view> answer_after_phrase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  size_t start = npos;
  for (std::string_view phrase : {"final answer:", "the final answer is", "the answer is"}) {
    const size_t at = lower.rfind(phrase);
    if (at != npos && (start == npos || at + phrase.size() > start)) start = at + phrase.size();
  }
  if (start == npos) return std::nullopt;
  // Blanks within a line (\f and \v too: the fuzzer sent them) and Markdown emphasis.
  constexpr std::string_view kBlankOrStar = " \t\f\v*";
  std::string_view rest = trim_front(text.substr(start), " \t\f\v*:");
  rest = rest.substr(0, rest.find_first_of("\r\n"));
  // A sentence ends at a period followed by a blank; "3.5" goes on.
  for (size_t dot = rest.find('.'); dot != npos; dot = rest.find('.', dot + 1)) {
    if (dot + 1 < rest.size() && is_space(rest[dot + 1])) {
      rest = rest.substr(0, dot);
      break;
    }
  }
  rest = trim(trim_back(trim(rest, kBlankOrStar), "."), kBlankOrStar);
  if (rest.empty()) return std::nullopt;
  return rest;
}

// Commands whose argument is kept while the command and its braces go.
bool is_wrapper(std::string_view name) {
  for (std::string_view wrapper :
       {"text", "textbf", "textrm", "textit", "mathrm", "mathbf", "mbox"}) {
    if (name == wrapper) return true;
  }
  return false;
}

// The markup pass of normalize_answer: blanks, `$`, `%`, U+00B0, spacing commands, \left,
// \right, \degree, \% and \$ go; wrappers go with their braces; \dfrac and \tfrac become \frac;
// U+2212 (minus sign) becomes '-'. Everything else is copied byte by byte, so UTF-8 stays valid.
std::string strip_markup(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::vector<bool> brace_goes;  // for each open brace: is it a wrapper's, to be dropped?
  for (size_t i = 0; i < in.size();) {
    const char c = in[i];
    if (is_space(c) || c == '$' || c == '%') {
      ++i;
    } else if (in.substr(i, 2) == "\xC2\xB0") {  // the degree sign
      i += 2;
    } else if (in.substr(i, 3) == "\xE2\x88\x92") {  // the minus sign
      out += '-';
      i += 3;
    } else if (c == '{') {
      brace_goes.push_back(false);
      out += c;
      ++i;
    } else if (c == '}') {
      const bool goes = !brace_goes.empty() && brace_goes.back();
      if (!brace_goes.empty()) brace_goes.pop_back();
      if (!goes) out += c;
      ++i;
    } else if (c != '\\' || i + 1 == in.size()) {
      out += c;
      ++i;
    } else if (!is_letter(in[i + 1])) {  // a control symbol: \, \! \; \: "\ " \% \$ \\ \{ ...
      const char symbol = in[i + 1];
      if (std::string_view(",!;:%$").find(symbol) == npos && !is_space(symbol)) {
        out += c;
        out += symbol;
      }
      i += 2;
    } else {
      size_t end = i + 1;
      while (end < in.size() && is_letter(in[end])) ++end;
      const std::string_view name = in.substr(i + 1, end - i - 1);
      i = end;
      if (name == "left" || name == "right" || name == "degree") continue;
      if (name == "dfrac" || name == "tfrac") {
        out += "\\frac";
      } else if (is_wrapper(name)) {
        while (i < in.size() && is_space(in[i])) ++i;
        if (i < in.size() && in[i] == '{') {
          brace_goes.push_back(true);
          ++i;
        }
      } else {
        out += '\\';
        out += name;
      }
    }
  }
  return out;
}

// `s` without any occurrence of `what` (non-empty), in one pass.
std::string erase_all(std::string_view s, std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (size_t at = s.find(what); at != npos; at = s.find(what)) {
    out.append(s.substr(0, at));
    s.remove_prefix(at + what.size());
  }
  out.append(s);
  return out;
}

// `s` without a trailing period and without braces that enclose all of it ("{5}.", "{{5}}").
std::string_view strip_enclosing(std::string_view s) {
  if (s.ends_with('.')) s.remove_suffix(1);
  const std::vector<size_t> match = match_braces(s);
  size_t first = 0, last = s.size();
  while (last - first >= 2 && s[first] == '{' && match[first] == last - 1) {
    ++first;
    --last;
  }
  s = s.substr(first, last - first);
  if (s.ends_with('.')) s.remove_suffix(1);
  return s;
}

// The length of a thousands separator at s[i] ("," or "{,}"), or 0.
size_t separator_at(std::string_view s, size_t i) {
  if (i < s.size() && s[i] == ',') return 1;
  if (s.substr(i, 3) == "{,}") return 3;
  return 0;
}

// "1,000,000" and "1{,}000" without their separators. A run of digits qualifies only when its
// first group has 1 to 3 digits and every later group exactly 3, and it is not itself a later
// item of a list, so "(1,2)", "1,2,3" and "1,0000" stay as they are.
std::string drop_thousands_separators(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (!is_digit(s[i])) {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    const bool after_separator =
        (i >= 1 && s[i - 1] == ',') || (i >= 3 && s.substr(i - 3, 3) == "{,}");
    std::string digits(s.substr(i, j - i));
    size_t end = j;
    bool grouped = false;
    if (!after_separator && j - i <= 3) {
      while (true) {
        const size_t sep = separator_at(s, end);
        if (sep == 0) break;
        size_t k = end + sep;
        while (k < s.size() && is_digit(s[k])) ++k;
        if (k - (end + sep) != 3) break;
        digits.append(s.substr(end + sep, 3));
        end = k;
        grouped = true;
      }
      // Another separator followed by a digit: a list, not one number.
      const size_t sep = separator_at(s, end);
      if (sep != 0 && end + sep < s.size() && is_digit(s[end + sep])) grouped = false;
    }
    if (grouped) {
      out += digits;
      i = end;
    } else {
      out.append(s.substr(i, j - i));
      i = j;
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> extract_answer(std::string_view solution) {
  if (const Box box = last_box(solution); box.found) {
    if (box.content.empty()) return std::nullopt;
    return std::string(box.content);
  }
  if (const auto answer = answer_after_phrase(solution)) return std::string(*answer);
  return std::nullopt;
}

std::string normalize_answer(std::string_view answer) {
  std::string text = strip_markup(answer);
  text = erase_all(erase_all(text, "^{\\circ}"), "^\\circ");
  text = drop_thousands_separators(strip_enclosing(text));
  if (std::optional<std::string> number = canonical_number(text)) return std::move(*number);
  return text;
}

}  // namespace personagen
