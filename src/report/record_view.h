#pragma once

// One line of records, as the report reads it: the text it measures and the fields its figures
// count, from any record personagen writes (synth, respond, npc, tool, persona records, solve,
// judge, converse, in the record, personahub or chat format) or any JSONL with a text field.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace simdjson::dom {
class parser;
}

namespace personagen {

// Views into the parser's last document (or its own buffer): valid until the next parse().
struct RecordView {
  bool has_text = false;
  std::string_view text;  // the text measured (see RecordParser::parse)
  bool has_persona = false;
  std::string_view persona;
  std::string_view task;           // "task"; empty when absent
  std::string_view finish_reason;  // "finish_reason"; empty when absent
  std::optional<int64_t> attempts;
  bool has_usage = false;
  uint64_t prompt_tokens = 0, completion_tokens = 0;
  // An object or array output (npc, tool, persona-to-persona): its top-level keys and its
  // "name" values (of the object, or of the array's objects).
  bool structured = false;
  std::vector<std::string_view> keys, names;
  // A solve record: it has "agreement" ("3/4"), and "verified" says whether M answers agreed.
  bool solve = false;
  bool verified = false;
  std::string_view agreement;
  // A judge record: its "scores" (criterion -> 1..10) and "overall".
  bool judge = false;
  std::vector<std::pair<std::string_view, double>> scores;
  std::optional<double> overall;
};

class RecordParser {
 public:
  // `field` is the text measured, `persona_field` the persona (see ReportInput).
  RecordParser(std::string field, std::string persona_field);
  ~RecordParser();
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;

  // Reads `line` (it may grow the string's capacity, for the parser's padding); false when it is
  // not a JSON object. The text measured is `field`: a string as it is, an object or an array as
  // its string values (depth first, one per line). With the default field "output", a record
  // that has none is measured by its kind: npc and tool records by "parsed", Persona Hub's by
  // "synthesized text", chat and converse records by their assistant turns, solve records by
  // their "solution" (else the first sample's output), judge records by the "text" judged, and
  // persona records by their "persona". has_text is false when no text is found.
  bool parse(std::string& line, RecordView& view);

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  std::string field_;
  std::string persona_field_;
  std::string text_;  // a text made of several strings
};

}  // namespace personagen
