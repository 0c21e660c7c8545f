#include "input/record_reader.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "input/byte_source.h"
#include "personagen/error.h"
#include "util/utf8.h"

namespace personagen {
namespace {

constexpr size_t kBufferSize = 1 << 20;
constexpr size_t kExcerptBytes = 200;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
  });
}

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
    message += valid_utf8(reason, kExcerptBytes);
  }
  return message + " at column " + std::to_string(column);
}

// A top-level field of a line, as far as the reader cares.
struct FieldValue {
  enum class Kind { absent, string, integer, number, boolean, null, object, array };
  Kind kind = Kind::absent;
  std::string text;  // strings as is; numbers and booleans as JSON text
};

const char* kind_name(FieldValue::Kind kind) {
  static constexpr const char* kNames[] = {"absent",    "a string", "a number",  "a number",
                                           "a boolean", "null",     "an object", "an array"};
  return kNames[static_cast<int>(kind)];
}

std::string in_quotes(const std::string& name) {
  return "\"" + name + "\"";
}

// Drops the optional fields that are also extra fields or repeated, so that each is copied once.
ReaderOptions without_repeats(ReaderOptions options) {
  std::vector<std::string> optional;
  for (std::string& name : options.optional_fields) {
    if (std::find(options.extra_fields.begin(), options.extra_fields.end(), name) ==
            options.extra_fields.end() &&
        std::find(optional.begin(), optional.end(), name) == optional.end()) {
      optional.push_back(std::move(name));
    }
  }
  options.optional_fields = std::move(optional);
  return options;
}

}  // namespace

// Validates a whole line but keeps only the top-level fields the reader asks for, so wide
// records (Nemotron, Elite) cost no DOM. Slots: the persona fields, "id", "uuid", the extra
// fields, then the optional fields. It is nlohmann's SAX handler, and also has a fast path of its
// own for the common shape of a line.
class RecordReader::Fields {
 public:
  using json = nlohmann::json;
  using Kind = FieldValue::Kind;

  explicit Fields(const ReaderOptions& options)
      : options_(options),
        values_(options.persona_fields.size() + 2 + options.extra_fields.size() +
                options.optional_fields.size()) {}

  // Parses `text` into the slots; false if it is not a JSON object (problem() says why).
  bool parse(std::string_view text) {
    reset();
    if (parse_simple(text)) return true;
    reset();
    return json::sax_parse(text.begin(), text.end(), this) && problem_.empty();
  }

  const FieldValue& persona(size_t i) const { return values_[i]; }
  const FieldValue& id() const { return values_[options_.persona_fields.size()]; }
  const FieldValue& uuid() const { return values_[options_.persona_fields.size() + 1]; }
  const FieldValue& extra(size_t i) const {
    return values_[options_.persona_fields.size() + 2 + i];
  }
  const FieldValue& optional(size_t i) const {
    return values_[options_.persona_fields.size() + 2 + options_.extra_fields.size() + i];
  }
  const std::string& problem() const { return problem_; }

  // The SAX interface (nlohmann::json_sax).
  bool null() { return scalar(Kind::null, {}); }
  bool boolean(bool value) { return scalar(Kind::boolean, value ? "true" : "false"); }
  bool number_integer(json::number_integer_t value) { return integer(value); }
  bool number_unsigned(json::number_unsigned_t value) { return integer(value); }
  bool number_float(json::number_float_t, const json::string_t& text) {
    return scalar(Kind::number, text);
  }
  bool string(json::string_t& value) { return scalar(Kind::string, value); }
  bool binary(json::binary_t&) { return true; }
  bool start_object(size_t) { return open(Kind::object); }
  bool end_object() { return close(); }
  bool start_array(size_t) { return depth_ == 0 ? not_object("an array") : open(Kind::array); }
  bool end_array() { return close(); }
  bool key(json::string_t& name) {
    if (depth_ == 1) select(name);
    return true;
  }
  bool parse_error(size_t column, const std::string&, const nlohmann::detail::exception& error) {
    problem_ = short_json_error(error.what(), column);
    return false;
  }

 private:
  void reset() {
    for (FieldValue& value : values_) value.kind = Kind::absent;
    current_.clear();
    depth_ = 0;
    problem_.clear();
  }

  // Points current_ at the slots that the value after top-level key `name` fills.
  void select(std::string_view name) {
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

  // A value inside the top-level object that nobody asked for; it is only validated.
  bool ignored() const { return depth_ > 1 || (depth_ == 1 && current_.empty()); }

  template <typename Integer>
  bool integer(Integer value) {
    return ignored() || scalar(Kind::integer, std::to_string(value));
  }
  bool scalar(Kind kind, std::string_view text) {
    if (depth_ == 0) return not_object(kind_name(kind));
    if (depth_ > 1) return true;
    for (size_t slot : current_) {
      values_[slot].kind = kind;
      values_[slot].text.assign(text);
    }
    return true;
  }
  bool open(Kind kind) {
    if (depth_ == 1) {
      for (size_t slot : current_) values_[slot].kind = kind;
    }
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  bool not_object(const char* what) {
    problem_ = std::string("not a JSON object (") + what + ")";
    return false;
  }

  // The common shape of a line: a flat object whose values are strings without escapes, small
  // integers, booleans or null. Reads it straight into the slots and returns true; returns
  // false on anything else, and nlohmann parses the line again from the start. It accepts
  // only valid JSON, so every reject message comes from nlohmann.
  bool parse_simple(std::string_view text) {
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
    // A string without escapes or control characters, in valid UTF-8; p is at its quote.
    auto string = [&](std::string_view& out) {
      const char* start = ++p;
      while (p < end) {
        auto c = static_cast<unsigned char>(*p);
        if (c == '"') {
          out = {start, static_cast<size_t>(p++ - start)};
          return true;
        }
        if (c < 0x20 || c == '\\') return false;
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
        // An integer of up to 18 digits without a leading zero; nlohmann takes others.
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

  const ReaderOptions& options_;
  std::vector<FieldValue> values_;
  std::vector<size_t> current_;
  int depth_ = 0;
  std::string problem_;
};

RecordReader::RecordReader(const std::string& path, ReaderOptions options, ReadPosition start)
    : path_(path),
      options_(without_repeats(std::move(options))),
      source_(open_byte_source(path)),
      buffer_(kBufferSize),
      position_(start),
      fields_(std::make_unique<Fields>(options_)) {
  // Keeps max_line_bytes + 2 (the line, "\r\n") from overflowing.
  options_.max_line_bytes = std::min<size_t>(options_.max_line_bytes, SIZE_MAX / 4);
  if (options_.persona_fields.empty()) {
    throw usage_error(path_ + ": no persona field to read (the list of fields is empty)");
  }
  if (start.offset == 0) return;
  // Check that the checkpoint still points just after a newline of this input.
  const std::string name = path_ == "-" ? "stdin" : path_;
  const std::string changed = name + ": input changed since the checkpoint: ";
  uint64_t skipped = source_->skip(start.offset - 1);
  char last = 0;
  if (skipped < start.offset - 1 || source_->read(&last, 1) != 1) {
    throw Error(changed + "offset " + std::to_string(start.offset) +
                " is beyond the end of the input");
  }
  if (last != '\n' && fill()) {
    throw Error(changed + "offset " + std::to_string(start.offset) + " is not the start of a line");
  }
}

RecordReader::~RecordReader() = default;

ReadPosition RecordReader::position() const {
  return position_;
}
uint64_t RecordReader::raw_bytes_read() const {
  return source_->raw_bytes_read();
}
uint64_t RecordReader::raw_size() const {
  return source_->raw_size();
}

std::optional<InputRecord> RecordReader::next() {
  for (;;) {
    const ReadPosition at = position_;
    std::string_view text;
    bool too_long = false;
    if (!read_line(text, too_long)) return std::nullopt;
    if (too_long) {
      InputRecord reject;
      reject.line = at.line;
      reject.offset = at.offset;
      reject.reject = "line is longer than " + std::to_string(options_.max_line_bytes) + " bytes";
      reject.excerpt = valid_utf8(text, kExcerptBytes);
      return reject;
    }
    if (is_blank(text)) continue;
    return parse(at.line, at.offset, text);
  }
}

bool RecordReader::read_line(std::string_view& text, bool& too_long) {
  const uint64_t line_offset = position_.offset;
  size_t scanned = 0;  // bytes after begin_ known to hold no newline
  for (;;) {
    const char* data = buffer_.data();
    if (const void* newline = std::memchr(data + begin_ + scanned, '\n', end_ - begin_ - scanned)) {
      size_t length = static_cast<const char*>(newline) - (data + begin_);
      text = {data + begin_, length};
      begin_ += length + 1;
      position_.offset += length + 1;
      break;
    }
    // Even without its CR, a partial line this long is over the limit.
    if (end_ - begin_ > options_.max_line_bytes + 1) {
      skip_long_line();
      text = long_head_;
      too_long = true;
      ++position_.line;
      return true;
    }
    scanned = end_ - begin_;
    if (!fill()) {
      if (begin_ == end_) return false;
      text = {buffer_.data() + begin_, end_ - begin_};
      position_.offset += end_ - begin_;
      begin_ = end_;
      break;
    }
  }
  ++position_.line;
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (line_offset == 0 && text.starts_with(kBom)) text.remove_prefix(kBom.size());
  if (text.size() > options_.max_line_bytes) {
    long_head_.assign(text.substr(0, kExcerptBytes));
    text = long_head_;
    too_long = true;
  }
  return true;
}

bool RecordReader::fill() {
  if (eof_) return false;
  if (end_ == buffer_.size()) {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else {
      // A line longer than the buffer but within the limit: grow up to the limit plus "\r\n".
      buffer_.resize(std::min(buffer_.size() * 2, options_.max_line_bytes + 2));
    }
  }
  size_t n = source_->read(buffer_.data() + end_, buffer_.size() - end_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

void RecordReader::skip_long_line() {
  long_head_.assign(buffer_.data() + begin_, std::min(end_ - begin_, kExcerptBytes));
  uint64_t length = end_ - begin_;
  begin_ = end_ = 0;
  for (;;) {
    size_t n = eof_ ? 0 : source_->read(buffer_.data(), buffer_.size());
    if (n == 0) {
      // The line ends the input without a newline: what the last read left in the buffer is
      // its tail, not a line of its own.
      eof_ = true;
      begin_ = end_ = 0;
      position_.offset += length;
      return;
    }
    end_ = n;
    if (const void* newline = std::memchr(buffer_.data(), '\n', n)) {
      begin_ = static_cast<const char*>(newline) - buffer_.data() + 1;
      position_.offset += length + begin_;
      return;
    }
    length += n;
  }
}

InputRecord RecordReader::parse(uint64_t line_no, uint64_t offset, std::string_view text) {
  InputRecord record;
  record.line = line_no;
  record.offset = offset;
  auto reject = [&](std::string reason) {
    record.reject = std::move(reason);
    record.excerpt = valid_utf8(text, kExcerptBytes);
    return record;
  };

  const Fields& fields = *fields_;
  if (!fields_->parse(text)) {
    return reject(fields.problem().empty() ? "not valid JSON" : fields.problem());
  }

  const FieldValue* persona = nullptr;
  const std::string* persona_name = nullptr;
  for (size_t i = 0; i < options_.persona_fields.size() && persona == nullptr; ++i) {
    if (fields.persona(i).kind != FieldValue::Kind::absent) {
      persona = &fields.persona(i);
      persona_name = &options_.persona_fields[i];
    }
  }
  if (persona == nullptr) {
    std::string tried = in_quotes(options_.persona_fields[0]);
    for (size_t i = 1; i < options_.persona_fields.size(); ++i) {
      tried += (i + 1 == options_.persona_fields.size() ? " or " : ", ") +
               in_quotes(options_.persona_fields[i]);
    }
    return reject("missing field " + tried);
  }
  if (persona->kind != FieldValue::Kind::string) {
    return reject("field " + in_quotes(*persona_name) + " is not a string but " +
                  kind_name(persona->kind));
  }
  if (persona->text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
    return reject("field " + in_quotes(*persona_name) + " is empty");
  }

  record.fields.reserve(options_.extra_fields.size() + options_.optional_fields.size());
  for (size_t i = 0; i < options_.extra_fields.size(); ++i) {
    const FieldValue& value = fields.extra(i);
    const std::string& name = options_.extra_fields[i];
    switch (value.kind) {
      case FieldValue::Kind::string:
      case FieldValue::Kind::integer:
      case FieldValue::Kind::number:
      case FieldValue::Kind::boolean:
        record.fields.emplace_back(name, value.text);
        break;
      case FieldValue::Kind::absent:
        record.fields.clear();
        return reject("missing field " + in_quotes(name));
      default:
        record.fields.clear();
        return reject("field " + in_quotes(name) + " is not a string, number or boolean but " +
                      kind_name(value.kind));
    }
  }

  for (size_t i = 0; i < options_.optional_fields.size(); ++i) {
    const FieldValue& value = fields.optional(i);
    if (value.kind == FieldValue::Kind::string || value.kind == FieldValue::Kind::integer ||
        value.kind == FieldValue::Kind::number || value.kind == FieldValue::Kind::boolean) {
      record.fields.emplace_back(options_.optional_fields[i], value.text);
    }
  }

  for (const FieldValue* id : {&fields.id(), &fields.uuid()}) {
    if (id->kind == FieldValue::Kind::string || id->kind == FieldValue::Kind::integer) {
      record.id = id->text;
      break;
    }
  }
  record.persona = persona->text;
  return record;
}

}  // namespace personagen
