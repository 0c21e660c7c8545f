#include "input/record_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "input/byte_source.h"
#include "input/field_parser.h"
#include "personagen/error.h"
#include "util/file_io.h"
#include "util/text_util.h"
#include "util/utf8.h"

namespace personagen {
namespace {

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

RecordReader::RecordReader(std::vector<std::string> paths, ReaderOptions options,
                           ReadPosition start)
    : paths_(std::move(paths)),
      options_(without_repeats(std::move(options))),
      buffer_(kReadChunk),  // grows only for a longer line, up to max_line_bytes
      position_(start),
      parser_(std::make_unique<FieldParser>(options_)) {
  // Keeps max_line_bytes + 2 (the line, "\r\n") from overflowing.
  options_.max_line_bytes = std::min<size_t>(options_.max_line_bytes, SIZE_MAX / 4);
  if (paths_.empty()) throw usage_error("no input to read (the list of files is empty)");
  if (options_.persona_fields.empty()) {
    throw usage_error(paths_[0] + ": no persona field to read (the list of fields is empty)");
  }
  if (start.file >= paths_.size()) {
    throw Error(paths_.back() + ": input changed since the checkpoint: it was at file " +
                std::to_string(start.file + 1) + " of the inputs, but there are " +
                std::to_string(paths_.size()));
  }
  if (position_.file_line == 0) position_.file_line = start.file == 0 ? start.line : 1;
  source_ = open_byte_source(paths_[start.file]);
  total_raw_size_ = 0;
  for (size_t i = 0; i < paths_.size(); ++i) {
    // Unknown for a pipe (stdin, the only input, has its source's size when it is a file) and
    // for a file not there (it is named when it is opened).
    std::optional<uint64_t> size = file_size_or_unknown(i);
    if (!size) {
      total_raw_size_.reset();
    } else if (total_raw_size_) {
      *total_raw_size_ += *size;
    }
    if (i < start.file) done_raw_bytes_ += size.value_or(0);
  }
  if (start.offset > 0) seek(start.offset);
}

std::optional<uint64_t> RecordReader::file_size_or_unknown(size_t index) const {
  if (paths_[index] != "-") return file_size(paths_[index]);
  if (uint64_t size = source_->raw_size(); size > 0) return size;
  return std::nullopt;
}

void RecordReader::seek(uint64_t offset) {
  // Check that the checkpoint still points just after a newline of this input.
  const std::string name = path() == "-" ? "stdin" : path();
  const std::string changed = name + ": input changed since the checkpoint: ";
  uint64_t skipped = source_->skip(offset - 1);
  char last = 0;
  if (skipped < offset - 1 || source_->read(&last, 1) != 1) {
    throw Error(changed + "offset " + std::to_string(offset) + " is beyond the end of the input");
  }
  if (last != '\n' && fill()) {
    throw Error(changed + "offset " + std::to_string(offset) + " is not the start of a line");
  }
}

void RecordReader::open_file(uint64_t index) {
  done_raw_bytes_ += source_->raw_bytes_read();
  source_ = open_byte_source(paths_[index]);
  begin_ = end_ = 0;
  eof_ = false;
  position_.file = index;
  position_.offset = 0;
  position_.file_line = 1;
}

RecordReader::~RecordReader() = default;

ReadPosition RecordReader::position() const {
  return position_;
}
uint64_t RecordReader::raw_bytes_read() const {
  return done_raw_bytes_ + source_->raw_bytes_read();
}
uint64_t RecordReader::raw_size() const {
  return total_raw_size_.value_or(0);
}
uint64_t RecordReader::consumed_bytes() const {
  return done_raw_bytes_ + std::min(position_.offset, source_->raw_bytes_read());
}
uint64_t RecordReader::file_raw_bytes_read() const {
  return source_->raw_bytes_read();
}

std::optional<InputRecord> RecordReader::next() {
  for (;;) {
    const ReadPosition at = position_;
    std::string_view text;
    bool too_long = false;
    if (!read_line(text, too_long)) {
      if (position_.file + 1 >= paths_.size()) return std::nullopt;
      open_file(position_.file + 1);
      continue;
    }
    if (too_long) {
      InputRecord reject;
      reject.line = at.line;
      reject.offset = at.offset;
      reject.file = static_cast<uint32_t>(at.file);
      reject.file_line = at.file_line;
      reject.reject = "line is longer than " + std::to_string(options_.max_line_bytes) + " bytes";
      reject.excerpt = valid_utf8(text, kRejectExcerptBytes);
      return reject;
    }
    if (is_blank(text)) continue;
    return parse(at, text);
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
      ++position_.file_line;
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
  ++position_.file_line;
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (line_offset == 0 && text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  if (text.size() > options_.max_line_bytes) {
    long_head_.assign(text.substr(0, kRejectExcerptBytes));
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
  long_head_.assign(buffer_.data() + begin_, std::min(end_ - begin_, kRejectExcerptBytes));
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

InputRecord RecordReader::parse(const ReadPosition& at, std::string_view text) {
  InputRecord record;
  record.line = at.line;
  record.offset = at.offset;
  record.file = static_cast<uint32_t>(at.file);
  record.file_line = at.file_line;
  auto reject = [&](std::string reason) {
    record.reject = std::move(reason);
    record.excerpt = valid_utf8(text, kRejectExcerptBytes);
    return record;
  };

  const FieldParser& fields = *parser_;
  if (!parser_->parse(text)) {
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
  if (is_blank(persona->text)) {
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
