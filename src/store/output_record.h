#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/openai_client.h"
#include "personagen/input_record.h"

namespace personagen {

// The shapes a record can be written in (--format).
enum class OutputFormat {
  record,      // the full record: provenance, output, parsed, usage, attempts, synthetic
  personahub,  // {"input persona", "synthesized text", "description"}, as Persona Hub ships
  chat,        // {"messages": [user prompt, assistant output]}, for chat fine-tuning
};
std::optional<OutputFormat> parse_output_format(std::string_view name);

// Where a record came from: the same for every record of a run. Records and persona records
// write it the same way: "task", "method", "model", then "template": {"id", "hash"}.
struct Provenance {
  std::string_view task;
  std::string_view method;
  std::string_view model;
  std::string_view template_id;  // "math/zero-shot"
  uint64_t template_hash = 0;
  // The reply's model when it is not `model` (the server mapped the name): written as
  // "served_model" after "model"; empty or equal to `model`: not written.
  std::string_view served_model;
};

// Where a training record's input came from: the persona of the record it read, that persona's
// id, and the record's own custom_id (its "source_id"). Empty views are left out (persona: "").
struct Source {
  std::string_view persona;
  std::string_view persona_id;
  std::string_view source_id;
};

// One synthesized record, as views into the caller's data.
struct OutputRecord {
  std::string_view custom_id;
  std::string_view persona;
  std::string_view persona_id;  // empty if the input had none
  std::string_view source_id;   // a training task's input record's custom_id; empty otherwise
  bool training = false;        // a respond record: it carries its "prompt"
  std::string_view system;      // --system, for --format chat of a training task
  std::string_view reasoning;   // a reasoning model's thinking, apart from the output
  bool keep_reasoning = false;  // --format chat: the thinking goes before the answer
  Provenance provenance;
  std::string_view description;  // the Persona Hub "description" of the task
  std::string_view prompt;       // the user message that was sent (for chat and respond)
  std::string_view output;       // the raw completion content
  std::string_view parsed;       // compact JSON for npc and tool; empty otherwise
  bool parsed_is_tool = false;   // Persona Hub's tool.jsonl JSON-encodes "synthesized text"
  std::string_view finish_reason;
  Usage usage;
  int attempts = 0;
};

// One persona created by text-to-persona or persona-to-persona. Its "persona" field is the new
// persona, so the file is a valid input for synth, render and dedup.
struct PersonaRecord {
  std::string_view persona;
  std::string_view source;    // the parent's custom_id, or the text's id; empty -> null
  std::string_view relation;  // read, write, like, dislike; "related" for persona-to-persona
  uint64_t hop = 0;           // 0 for personas from text; the parent's hop + 1 otherwise
  std::string_view custom_id;
  std::string_view input;  // the text or the parent persona it came from
  Provenance provenance;
  std::string_view finish_reason;
  Usage usage;  // of the request, shared by all personas of one reply
  int attempts = 0;
};

// A request that failed for good.
struct FailureRecord {
  std::string_view custom_id;
  uint64_t line = 0;
  uint64_t request = 0;  // the request's index within its line (a relation of text-to-persona)
  std::string_view persona;
  std::string_view persona_id;
  std::string_view task;
  std::string_view kind;  // a FailureKind name
  std::string_view reason;
  long status = 0;  // last HTTP status, 0 if none
  int attempts = 0;
};

// Each function writes one JSON document (no newline) into `out`, replacing its content.
void format_record(OutputFormat format, const OutputRecord& record, std::string& out);
void format_persona_record(const PersonaRecord& record, std::string& out);
void format_failure(const FailureRecord& failure, std::string& out);
// A reject names `input_path`, the file it is in, and its "line" and "offset" within that file.
void format_reject(const InputRecord& reject, std::string_view input_path, std::string& out);

}  // namespace personagen
