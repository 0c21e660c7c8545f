#include "store/output_record.h"

#include "personagen/error.h"
#include "store/record_fields.h"

namespace personagen {

using namespace record_fields;

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "record") return OutputFormat::record;
  if (name == "personahub") return OutputFormat::personahub;
  if (name == "chat") return OutputFormat::chat;
  return std::nullopt;
}

void format_record(OutputFormat format, const OutputRecord& r, std::string& out) {
  out.clear();
  out += '{';
  switch (format) {
    case OutputFormat::personahub: {
      field(out, "input persona", r.persona);
      if (r.parsed_is_tool) {
        // Persona Hub's tool.jsonl stores the tool as a JSON-encoded string.
        std::string encoded;
        append_json_string(encoded, r.parsed);
        field(out, "synthesized text", encoded);
      } else {
        field(out, "synthesized text", r.parsed.empty() ? r.output : r.parsed);
      }
      field(out, "description", r.description);
      break;
    }
    case OutputFormat::chat: {
      out += "\"messages\":[";
      if (!r.system.empty()) append_message(out, "system", r.system);
      append_message(out, "user", r.prompt);
      append_message(out, "assistant", r.output, r.keep_reasoning ? r.reasoning : "");
      out += ']';
      break;
    }
    case OutputFormat::record: {
      field(out, "custom_id", r.custom_id);
      append_source(out, {r.persona, r.persona_id, r.source_id});
      append_provenance(out, r.provenance);
      if (r.training) field(out, "prompt", r.prompt);
      field(out, "output", r.output);
      if (!r.reasoning.empty()) field(out, "reasoning", r.reasoning);
      raw_field(out, "parsed", r.parsed.empty() ? std::string_view("null") : r.parsed);
      append_reply_fields(out, r.finish_reason, r.usage, r.attempts);
      break;
    }
  }
  out += '}';
}

void format_persona_record(const PersonaRecord& r, std::string& out) {
  out.clear();
  out += '{';
  field(out, "persona", r.persona);
  if (r.source.empty()) {
    raw_field(out, "source", "null");
  } else {
    field(out, "source", r.source);
  }
  field(out, "relation", r.relation);
  number_field(out, "hop", static_cast<int64_t>(r.hop));
  field(out, "custom_id", r.custom_id);
  field(out, "input", r.input);
  append_provenance(out, r.provenance);
  append_reply_fields(out, r.finish_reason, r.usage, r.attempts);
  out += '}';
}

void format_failure(const FailureRecord& f, std::string& out) {
  out.clear();
  out += '{';
  field(out, "custom_id", f.custom_id);
  number_field(out, "line", static_cast<int64_t>(f.line));
  number_field(out, "request", static_cast<int64_t>(f.request));
  field(out, "persona", f.persona);
  if (!f.persona_id.empty()) field(out, "persona_id", f.persona_id);
  field(out, "task", f.task);
  field(out, "kind", f.kind);
  field(out, "reason", f.reason);
  if (f.status != 0) number_field(out, "status", f.status);
  number_field(out, "attempts", f.attempts);
  out += '}';
}

void format_reject(const InputRecord& reject, std::string_view input_path, std::string& out) {
  out.clear();
  out += '{';
  field(out, "file", input_path);
  number_field(out, "line",
               static_cast<int64_t>(reject.file_line ? reject.file_line : reject.line));
  number_field(out, "offset", static_cast<int64_t>(reject.offset));
  field(out, "reason", reject.reject);
  field(out, "excerpt", reject.excerpt);
  out += '}';
}

}  // namespace personagen
