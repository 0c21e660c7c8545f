#include "app/config_toml.h"

#include <cstring>
#include <regex>
#include <set>

#include "personagen/error.h"
#include "util/utf8.h"

namespace personagen {

namespace {

// A reader of the TOML subset over the whole text, counting lines for its errors.
class TomlReader {
 public:
  TomlReader(const std::string& text, const std::string& file) : s_(text), file_(file) {}

  std::vector<ConfigEntry> read() {
    for (size_t i = 0; i < s_.size();) {
      size_t n = utf8_sequence_length(s_, i);
      if (n == 0) fail("not UTF-8");
      if (s_[i] == '\n') ++line_;
      i += n;
    }
    line_ = 1;
    std::vector<std::string> table;
    std::set<std::string> seen_tables;
    while (skip_blank_lines(), pos_ < s_.size()) {
      if (peek() == '[') {
        ++pos_;
        if (peek() == '[') fail("arrays of tables ([[...]]) are not supported");
        table = key_path();
        expect(']', "expected ] after the table name");
        std::string name = join(table);
        if (!seen_tables.insert(name).second) fail("table [" + name + "] is given twice");
        end_of_line();
        continue;
      }
      ConfigEntry entry;
      entry.line = line_;
      std::vector<std::string> path = key_path();
      entry.key = path.back();
      entry.table = table;
      entry.table.insert(entry.table.end(), path.begin(), path.end() - 1);
      expect('=', "expected key = value");
      skip_space();
      value(entry);
      std::string full = join(entry.table) + "." + entry.key;
      if (!seen_keys_.insert(full).second) fail("key \"" + entry.key + "\" is given twice");
      end_of_line();
      entries_.push_back(std::move(entry));
    }
    return std::move(entries_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw usage_error(file_ + ":" + std::to_string(line_) + ": " + what);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at(std::string_view text) const { return s_.compare(pos_, text.size(), text) == 0; }
  void expect(char c, const char* what) {
    skip_space();
    if (peek() != c) fail(what);
    ++pos_;
  }
  void skip_space() {
    while (peek() == ' ' || peek() == '\t') ++pos_;
  }
  void skip_comment() {
    if (peek() == '#')
      while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
  }
  void newline() {
    if (peek() == '\r') ++pos_;
    if (peek() != '\n') fail("expected the end of the line");
    ++pos_;
    ++line_;
  }
  void skip_blank_lines() {  // and comments
    for (;;) {
      skip_space();
      skip_comment();
      if (pos_ >= s_.size() || (peek() != '\n' && peek() != '\r')) return;
      newline();
    }
  }
  void end_of_line() {
    skip_space();
    skip_comment();
    if (pos_ < s_.size()) newline();
  }
  static std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ".") + p;
    return out;
  }

  // A bare, "basic" or 'literal' key, or several joined with dots.
  std::vector<std::string> key_path() {
    std::vector<std::string> path;
    for (;;) {
      skip_space();
      if (peek() == '"' || peek() == '\'') {
        path.push_back(single_line_string());
      } else {
        size_t begin = pos_;
        while (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '-')
          ++pos_;
        if (pos_ == begin) fail("expected a key: letters, digits, - and _, or a quoted key");
        path.push_back(s_.substr(begin, pos_ - begin));
      }
      skip_space();
      if (peek() != '.') return path;
      ++pos_;
    }
  }

  void value(ConfigEntry& entry) {
    if (peek() != '[') {
      entry.values.push_back(scalar(entry.is_bool));
      return;
    }
    ++pos_;
    entry.is_array = true;
    entry.is_bool = true;
    for (;;) {
      skip_blank_lines();
      if (peek() == ']') break;
      if (peek() == '[') fail("nested arrays are not supported");
      bool is_bool = false;
      entry.values.push_back(scalar(is_bool));
      entry.is_bool = entry.is_bool && is_bool;
      skip_blank_lines();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ']') fail("expected , or ] in the array");
    }
    ++pos_;
    entry.is_bool = entry.is_bool && !entry.values.empty();
  }

  std::string scalar(bool& is_bool) {
    is_bool = false;
    if (at("\"\"\"") || at("'''")) return multi_line_string();
    if (peek() == '"' || peek() == '\'') return single_line_string();
    if (peek() == '{') fail("inline tables are not supported");
    size_t begin = pos_;
    // peek() is '\0' at the end, and strchr finds a string's terminating '\0'.
    while (std::isalnum(static_cast<unsigned char>(peek())) ||
           (peek() != '\0' && std::strchr("_+-.:", peek()) != nullptr))
      ++pos_;
    std::string token = s_.substr(begin, pos_ - begin);
    if (token == "true" || token == "false") {
      is_bool = true;
      return token;
    }
    std::string number = toml_number(token);
    if (number.empty()) fail("expected a value: a \"string\", a number, true, false or an [array]");
    return number;
  }

  // TOML's decimal integer and float forms (not dates, nor hex, octal and binary integers): the
  // text without underscores and a leading '+'; "" when not a number.
  static std::string toml_number(const std::string& token) {
    static const std::regex kNumber(
        R"([+-]?((0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?|inf|nan))");
    if (!std::regex_match(token, kNumber)) return "";
    std::string out;
    for (char c : token)
      if (c != '_' && !(c == '+' && out.empty())) out += c;
    return out;
  }

  std::string single_line_string() {
    char quote = s_[pos_++];
    std::string out;
    for (;;) {
      if (pos_ >= s_.size() || peek() == '\n' || peek() == '\r') fail("the string is not closed");
      char c = s_[pos_++];
      if (c == quote) return out;
      if (c == '\\' && quote == '"') {
        escape(out);
      } else {
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
          fail("a control character in a string; write it as an escape");
        out += c;
      }
    }
  }

  std::string multi_line_string() {
    std::string delimiter = s_.substr(pos_, 3);
    pos_ += 3;
    if (peek() == '\r' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') ++pos_;
    if (peek() == '\n') ++pos_, ++line_;  // a newline right after the opening is trimmed
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("the multi-line string is not closed");
      if (at(delimiter) && !at(delimiter + delimiter[0])) {
        pos_ += 3;
        return out;
      }
      char c = s_[pos_++];
      if (c == '\n') ++line_;
      if (c == '\\' && delimiter[0] == '"') {
        size_t after = pos_;
        while (after < s_.size() && (s_[after] == ' ' || s_[after] == '\t')) ++after;
        if (after < s_.size() && (s_[after] == '\n' || s_[after] == '\r')) {
          // A line-ending backslash: the newline and the blanks after it are trimmed.
          pos_ = after;
          while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_])))
            if (s_[pos_++] == '\n') ++line_;
          continue;
        }
        escape(out);
        continue;
      }
      out += c;
    }
  }

  // After a backslash in a basic string: one of TOML's escapes, appended as its bytes.
  void escape(std::string& out) {
    char c = peek();
    ++pos_;
    static const std::string_view kFrom = "btnfr\"\\", kTo = "\b\t\n\f\r\"\\";
    if (size_t k = kFrom.find(c); k != std::string_view::npos && c != '\0') {
      out += kTo[k];
      return;
    }
    if (c != 'u' && c != 'U')
      fail("an unknown escape in a string (\\b \\t \\n \\f \\r \\\" \\\\ \\u)");
    size_t n = c == 'u' ? 4 : 8;
    std::string hex = s_.substr(pos_, n);
    char* end = nullptr;
    unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
    if (hex.size() != n || *end != '\0' || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      fail("a \\u escape that is not a Unicode scalar value");
    pos_ += n;
    // UTF-8: a lead byte marking the length, then six bits a continuation byte.
    size_t length = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    std::string bytes(length, '\0');
    for (size_t k = length - 1; k > 0; --k, cp >>= 6)
      bytes[k] = static_cast<char>(0x80 | (cp & 0x3F));
    static const unsigned char kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
    bytes[0] = static_cast<char>(kLead[length] | cp);
    out += bytes;
  }

  const std::string& s_;
  const std::string& file_;
  size_t pos_ = 0;
  size_t line_ = 1;
  std::vector<ConfigEntry> entries_;
  std::set<std::string> seen_keys_;
};

}  // namespace

std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& file) {
  return TomlReader(text, file).read();
}

}  // namespace personagen
