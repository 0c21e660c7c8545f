#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "input/record_reader.h"

namespace personagen {

// A top-level field of a line, as far as the reader cares.
struct FieldValue {
  enum class Kind { absent, string, integer, number, boolean, null, object, array };
  Kind kind = Kind::absent;
  std::string text;  // strings as is; numbers and booleans as JSON text
};

// The kind as a reject message names it: "a string", "a number", "an object", ...
const char* kind_name(FieldValue::Kind kind);

// Validates a whole line as JSON but keeps only the top-level fields the reader asks for, so wide
// records (Nemotron, Elite) cost no DOM. Slots: the persona fields, "id", "uuid", the extra
// fields, then the optional fields. A fast path of its own reads the common shape of a line;
// anything else goes through nlohmann's SAX parser, which also writes every reject message.
// One parser is reused for every line, so that parsing allocates little.
class FieldParser {
 public:
  // Keeps a reference to `options`, which must outlive the parser.
  explicit FieldParser(const ReaderOptions& options);

  // Parses `text` into the slots; false if it is not a JSON object (problem() says why).
  bool parse(std::string_view text);

  // The slots of the last line parsed; kind absent for a field the line does not have.
  const FieldValue& persona(size_t i) const { return values_[i]; }
  const FieldValue& id() const { return values_[options_.persona_fields.size()]; }
  const FieldValue& uuid() const { return values_[options_.persona_fields.size() + 1]; }
  const FieldValue& extra(size_t i) const {
    return values_[options_.persona_fields.size() + 2 + i];
  }
  const FieldValue& optional(size_t i) const {
    return values_[options_.persona_fields.size() + 2 + options_.extra_fields.size() + i];
  }
  // Why the last line is not a JSON object; empty after a line that is one.
  const std::string& problem() const { return problem_; }

 private:
  struct Sax;  // nlohmann's SAX interface over these slots (field_parser.cpp)
  using Kind = FieldValue::Kind;

  void reset();
  // Points current_ at the slots that the value after top-level key `name` fills.
  void select(std::string_view name);
  // A value inside the top-level object that nobody asked for; it is only validated.
  bool ignored() const { return depth_ > 1 || (depth_ == 1 && current_.empty()); }
  bool scalar(Kind kind, std::string_view text);
  bool open(Kind kind);
  bool close();
  bool not_object(const char* what);
  bool parse_simple(std::string_view text);

  const ReaderOptions& options_;
  std::vector<FieldValue> values_;
  std::vector<size_t> current_;
  int depth_ = 0;
  std::string problem_;
  std::string scratch_;  // parse_simple: a string whose escapes were decoded
};

}  // namespace personagen
