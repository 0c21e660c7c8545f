#pragma once

// The pieces every record format writes: "key": value pairs appended to an object being built
// in a string, and the provenance and reply fields that records share. For output_record.cpp
// and training_records.cpp.

#include <cstdint>
#include <string>
#include <string_view>

#include "net/openai_client.h"
#include "store/output_record.h"
#include "util/hash.h"
#include "util/json_text.h"

namespace personagen::record_fields {

// Appends `"key":` and a JSON string value, with a leading comma unless it opens the object or
// array.
inline void field(std::string& out, std::string_view key, std::string_view value) {
  if (out.back() != '{' && out.back() != '[') out += ',';
  append_json_string(out, key);
  out += ':';
  append_json_string(out, value);
}

inline void raw_field(std::string& out, std::string_view key, std::string_view raw_json) {
  if (out.back() != '{' && out.back() != '[') out += ',';
  append_json_string(out, key);
  out += ':';
  out += raw_json;
}

inline void number_field(std::string& out, std::string_view key, int64_t value) {
  raw_field(out, key, std::to_string(value));
}

inline void append_provenance(std::string& out, const Provenance& p) {
  field(out, "task", p.task);
  field(out, "method", p.method);
  field(out, "model", p.model);
  if (!p.served_model.empty() && p.served_model != p.model)
    field(out, "served_model", p.served_model);
  out += ",\"template\":{";
  field(out, "id", p.template_id);
  field(out, "hash", hex64(p.template_hash));
  out += '}';
}

inline void append_usage(std::string& out, const Usage& usage) {
  out += ",\"usage\":{";
  number_field(out, "prompt_tokens", usage.prompt_tokens);
  number_field(out, "completion_tokens", usage.completion_tokens);
  number_field(out, "total_tokens", usage.total_tokens);
  if (usage.reasoning_tokens > 0) number_field(out, "reasoning_tokens", usage.reasoning_tokens);
  out += '}';
}

// The fields that close every record made from a reply, labelled synthetic.
inline void append_reply_fields(std::string& out, std::string_view finish_reason,
                                const Usage& usage, int attempts) {
  field(out, "finish_reason", finish_reason);
  append_usage(out, usage);
  number_field(out, "attempts", attempts);
  raw_field(out, "synthetic", "true");
}

// The provenance a training record carries from the record it read, when the input had it.
inline void append_source(std::string& out, const Source& source) {
  field(out, "persona", source.persona);
  if (!source.persona_id.empty()) field(out, "persona_id", source.persona_id);
  if (!source.source_id.empty()) field(out, "source_id", source.source_id);
}

// One chat message {"role", "content"}; with `reasoning` (and --keep-reasoning) the content is
// "<think>\n" + reasoning + "\n</think>\n\n" + content, as reasoning SFT datasets lay it out.
inline void append_message(std::string& out, std::string_view role, std::string_view content,
                           std::string_view reasoning = {}) {
  if (out.back() != '[') out += ',';
  out += "{\"role\":";
  append_json_string(out, role);
  out += ",\"content\":";
  if (reasoning.empty()) {
    append_json_string(out, content);
  } else {
    std::string joined;
    joined.reserve(reasoning.size() + content.size() + 22);
    joined.append("<think>\n").append(reasoning).append("\n</think>\n\n").append(content);
    append_json_string(out, joined);
  }
  out += '}';
}

}  // namespace personagen::record_fields
