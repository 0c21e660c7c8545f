#include "input/field_parser.h"

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "util/utf8.h"

namespace personagen {
namespace {

// nlohmann's messages read "[json.exception.parse_error.101] parse error at line 1, column 9:
// syntax error while parsing value - invalid literal; last read: '...'". Keep the reason and
// the column; the "last read" part quotes raw input, which may not be UTF-8.
std::string short_json_error(const std::string& what, size_t column) {
  std::string_view reason = what;
  if (auto dash = reason.find(" - "); dash != std::string_view::npos) {
    reason.remove_prefix(dash + 3);
  } else if (auto colon = reason.find(": "); colon != std::string_view::npos) {
    reason.remove_prefix(colon + 2);
  }
  if (auto last = reason.find("; last read"); last != std::string_view::npos) {
    reason = reason.substr(0, last);
  }
  std::string message = "not valid JSON: ";
  if (reason.find("UTF-8") != std::string_view::npos) {
    message += "invalid UTF-8";
  } else {
    message += valid_utf8(reason, kRejectExcerptBytes);
  }
  return message + " at column " + std::to_string(column);
}

}  // namespace

const char* kind_name(FieldValue::Kind kind) {
  static constexpr const char* kNames[] = {"absent",    "a string", "a number",  "a number",
                                           "a boolean", "null",     "an object", "an array"};
  return kNames[static_cast<int>(kind)];
}

// The SAX interface (nlohmann::json_sax), kept out of the header so that only this file sees
// nlohmann. Top-level values fill the selected slots; deeper ones are only validated.
struct FieldParser::Sax {
  using json = nlohmann::json;
  FieldParser& parser;

  bool null() { return parser.scalar(Kind::null, {}); }
  bool boolean(bool value) { return parser.scalar(Kind::boolean, value ? "true" : "false"); }
  bool number_integer(json::number_integer_t value) { return integer(value); }
  bool number_unsigned(json::number_unsigned_t value) { return integer(value); }
  bool number_float(json::number_float_t, const json::string_t& text) {
    return parser.scalar(Kind::number, text);
  }
  bool string(json::string_t& value) { return parser.scalar(Kind::string, value); }
  bool binary(json::binary_t&) { return true; }
  bool start_object(size_t) { return parser.open(Kind::object); }
  bool end_object() { return parser.close(); }
  bool start_array(size_t) {
    return parser.depth_ == 0 ? parser.not_object("an array") : parser.open(Kind::array);
  }
  bool end_array() { return parser.close(); }
  bool key(json::string_t& name) {
    if (parser.depth_ == 1) parser.select(name);
    return true;
  }
  bool parse_error(size_t column, const std::string&, const nlohmann::detail::exception& error) {
    parser.problem_ = short_json_error(error.what(), column);
    return false;
  }

  template <typename Integer>
  bool integer(Integer value) {
    return parser.ignored() || parser.scalar(Kind::integer, std::to_string(value));
  }
};

FieldParser::FieldParser(const ReaderOptions& options)
    : options_(options),
      values_(options.persona_fields.size() + 2 + options.extra_fields.size() +
              options.optional_fields.size()) {}

bool FieldParser::parse(std::string_view text) {
  reset();
  if (parse_simple(text)) return true;
  reset();
  Sax sax{*this};
  return nlohmann::json::sax_parse(text.begin(), text.end(), &sax) && problem_.empty();
}

void FieldParser::reset() {
  for (FieldValue& value : values_) value.kind = Kind::absent;
  current_.clear();
  depth_ = 0;
  problem_.clear();
}

void FieldParser::select(std::string_view name) {
  current_.clear();
  const size_t personas = options_.persona_fields.size();
  for (size_t i = 0; i < personas; ++i) {
    if (options_.persona_fields[i] == name) current_.push_back(i);
  }
  if (name == "id") current_.push_back(personas);
  if (name == "uuid") current_.push_back(personas + 1);
  for (size_t i = 0; i < options_.extra_fields.size(); ++i) {
    if (options_.extra_fields[i] == name) current_.push_back(personas + 2 + i);
  }
  const size_t optional = personas + 2 + options_.extra_fields.size();
  for (size_t i = 0; i < options_.optional_fields.size(); ++i) {
    if (options_.optional_fields[i] == name) current_.push_back(optional + i);
  }
}

bool FieldParser::scalar(Kind kind, std::string_view text) {
  if (depth_ == 0) return not_object(kind_name(kind));
  if (depth_ > 1) return true;
  for (size_t slot : current_) {
    values_[slot].kind = kind;
    values_[slot].text.assign(text);
  }
  return true;
}

bool FieldParser::open(Kind kind) {
  if (depth_ == 1) {
    for (size_t slot : current_) values_[slot].kind = kind;
  }
  ++depth_;
  return true;
}

bool FieldParser::close() {
  --depth_;
  return true;
}

bool FieldParser::not_object(const char* what) {
  problem_ = std::string("not a JSON object (") + what + ")";
  return false;
}

// The common shape of a line: a flat object whose values are strings (simple escapes decoded),
// small integers, booleans or null. Reads it straight into the slots and returns true; returns
// false on anything else, and nlohmann parses the line again from the start. It accepts
// only valid JSON, so every reject message comes from nlohmann.
bool FieldParser::parse_simple(std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  auto skip_space = [&] {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
  };
  auto literal = [&](std::string_view word) {
    if (static_cast<size_t>(end - p) < word.size() || std::string_view(p, word.size()) != word) {
      return false;
    }
    p += word.size();
    return true;
  };
  // A string in valid UTF-8 without control characters; p is at its quote. The simple escapes
  // (quote, backslash, slash, b, f, n, r, t) are decoded into scratch_: a record's output nearly
  // always holds a newline, and nlohmann's parser costs several times more. The \u escapes are
  // left to nlohmann.
  auto string = [&](std::string_view& out) {
    const char* start = ++p;
    const char* run = start;  // the start of the text not yet copied to scratch_
    bool escaped = false;
    while (p < end) {
      auto c = static_cast<unsigned char>(*p);
      if (c == '"') {
        if (escaped) {
          scratch_.append(run, p);
          out = scratch_;
        } else {
          out = {start, static_cast<size_t>(p - start)};
        }
        ++p;
        return true;
      }
      if (c == '\\') {
        if (end - p < 2) return false;
        char decoded;
        switch (p[1]) {
          case '"':
            decoded = '"';
            break;
          case '\\':
            decoded = '\\';
            break;
          case '/':
            decoded = '/';
            break;
          case 'b':
            decoded = '\b';
            break;
          case 'f':
            decoded = '\f';
            break;
          case 'n':
            decoded = '\n';
            break;
          case 'r':
            decoded = '\r';
            break;
          case 't':
            decoded = '\t';
            break;
          default:
            return false;
        }
        if (!escaped) scratch_.clear();
        escaped = true;
        scratch_.append(run, p);
        scratch_ += decoded;
        p += 2;
        run = p;
        continue;
      }
      if (c < 0x20) return false;
      size_t len = utf8_sequence_length(std::string_view(p, static_cast<size_t>(end - p)), 0);
      if (len == 0) return false;
      p += len;
    }
    return false;
  };

  skip_space();
  if (!literal("{")) return false;
  depth_ = 1;
  skip_space();
  if (literal("}")) {
    skip_space();
    return p == end;
  }
  for (;;) {
    std::string_view name, value;
    if (p == end || *p != '"' || !string(name)) return false;
    skip_space();
    if (!literal(":")) return false;
    skip_space();
    select(name);
    if (p == end) return false;
    if (*p == '"') {
      if (!string(value)) return false;
      scalar(Kind::string, value);
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
      // An integer of up to 18 digits without a leading zero: 18 digits always fit in an
      // int64_t. nlohmann takes the others, longer ones included.
      const char* digits = *p == '-' ? p + 1 : p;
      int64_t number = 0;
      auto [after, error] = std::from_chars(p, end, number);
      size_t count = after - digits;
      if (error != std::errc() || count == 0 || count > 18 || (*digits == '0' && count > 1)) {
        return false;
      }
      p = after;
      if (!current_.empty()) scalar(Kind::integer, std::to_string(number));
    } else if (literal("true")) {
      scalar(Kind::boolean, "true");
    } else if (literal("false")) {
      scalar(Kind::boolean, "false");
    } else if (literal("null")) {
      scalar(Kind::null, {});
    } else {
      return false;
    }
    skip_space();
    if (literal("}")) break;
    if (!literal(",")) return false;
    skip_space();
  }
  skip_space();
  return p == end;
}

}  // namespace personagen
