#include "synth/schemas.h"

#include <nlohmann/json.hpp>

#include "personagen/error.h"
#include "synth/judge_reply.h"
#include "util/file_io.h"
#include "util/json_text.h"

namespace personagen {

namespace {

// ordered_json keeps the schema's property order, which is the order a constrained decoder
// writes them in: the npc's name before its backstory, the tool's name before its parameters.
using Json = nlohmann::ordered_json;

// A schema nested deeper is refused: dump() recurses once per level, and no reply's schema
// nests anywhere near this deep.
constexpr size_t kMaxSchemaDepth = 64;

// The bounds follow prompts/<task>/zero-shot.txt, with room above the longest shipped
// demonstration (examples.jsonl), at about four characters a token.
//
// npc: one or two words of name, a few words of role, two to four sentences of backstory (the
// longest demonstration has 396 characters), one or two of personality (139) and 1 to 5 lines of
// dialogue (121). At most about 1,900 characters, under 600 tokens with the JSON around them.
constexpr std::string_view kNpcSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 60},
    "role": {"type": "string", "maxLength": 100},
    "backstory": {"type": "string", "maxLength": 600},
    "personality": {"type": "string", "maxLength": 300},
    "dialogue": {
      "type": "array",
      "items": {"type": "string", "maxLength": 160},
      "minItems": 1,
      "maxItems": 5
    }
  },
  "required": ["name", "role", "backstory", "personality", "dialogue"],
  "additionalProperties": false
})";

// tool: an OpenAI function tool. The name follows the function-calling rule the template states;
// the description is a few sentences (the longest demonstration has 271 characters). The
// parameters are the model's own JSON Schema, so they cannot be bounded: only their "type" and
// an object of property schemas are fixed, which is what the tool parser checks, and anything
// else ("required", ...) may follow. So this schema is never strict.
constexpr std::string_view kToolSchema = R"({
  "type": "object",
  "properties": {
    "type": {"type": "string", "enum": ["function"]},
    "function": {
      "type": "object",
      "properties": {
        "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$", "minLength": 1,
                 "maxLength": 64},
        "description": {"type": "string", "minLength": 1, "maxLength": 400},
        "parameters": {
          "type": "object",
          "properties": {
            "type": {"type": "string", "enum": ["object"]},
            "properties": {"type": "object", "additionalProperties": {"type": "object"}}
          },
          "required": ["type", "properties"],
          "additionalProperties": true
        }
      },
      "required": ["name", "description", "parameters"],
      "additionalProperties": false
    }
  },
  "required": ["type", "function"],
  "additionalProperties": false
})";

// persona-to-persona: 3 to 5 personas of one sentence, at most 60 words each (the longest
// demonstration has 210 characters). The template asks for a bare array, but OpenAI wants an
// object at the root of a schema, so the array is the object's one member; the persona-list
// parser takes either shape. At most about 2,000 characters, about 500 tokens.
constexpr std::string_view kPersonaListSchema = R"({
  "type": "object",
  "properties": {
    "personas": {
      "type": "array",
      "items": {"type": "string", "minLength": 1, "maxLength": 400},
      "minItems": 3,
      "maxItems": 5
    }
  },
  "required": ["personas"],
  "additionalProperties": false
})";

// What OpenAI's strict mode accepts, from "Structured Outputs", section "Supported schemas"
// (platform.openai.com/docs/guides/structured-outputs#supported-schemas; Azure OpenAI's "How to
// use structured outputs" says the same):
// - the root is an object, and not an anyOf;
// - every object sets "additionalProperties": false and lists each of its properties in
//   "required" (an optional field is a required one whose type admits null);
// - only these keywords: type, properties, required, additionalProperties, items, enum, const,
//   anyOf, $ref and $defs, description and title; for strings pattern and format; for numbers
//   minimum, maximum, exclusiveMinimum, exclusiveMaximum and multipleOf; for arrays minItems and
//   maxItems. Any other keyword is refused with a 400 under strict: true; minLength and
//   maxLength are among them.
// So a schema with maxLength goes with "strict": false: vLLM, llama.cpp and SGLang enforce it
// all the same, and OpenAI reads it as a hint.
bool strict_keyword(std::string_view key) {
  for (std::string_view allowed : {"type",
                                   "properties",
                                   "required",
                                   "additionalProperties",
                                   "items",
                                   "enum",
                                   "const",
                                   "anyOf",
                                   "$ref",
                                   "$defs",
                                   "description",
                                   "title",
                                   "pattern",
                                   "format",
                                   "minimum",
                                   "maximum",
                                   "exclusiveMinimum",
                                   "exclusiveMaximum",
                                   "multipleOf",
                                   "minItems",
                                   "maxItems"})
    if (key == allowed) return true;
  return false;
}

bool has_type(const Json& node, std::string_view type) {
  const auto it = node.find("type");
  if (it == node.end()) return false;
  if (it->is_string()) return it->get_ref<const std::string&>() == type;
  if (!it->is_array()) return false;
  for (const Json& one : *it)
    if (one.is_string() && one.get_ref<const std::string&>() == type) return true;
  return false;
}

bool strict_node(const Json& node, size_t depth) {
  if (!node.is_object() || depth > kMaxSchemaDepth) return false;
  for (const auto& [key, value] : node.items())
    if (!strict_keyword(key)) return false;
  if (has_type(node, "object") || node.contains("properties")) {
    const auto closed = node.find("additionalProperties");
    if (closed == node.end() || !closed->is_boolean() || closed->get<bool>()) return false;
    const Json properties = node.value("properties", Json::object());
    const Json required = node.value("required", Json::array());
    if (!properties.is_object() || !required.is_array()) return false;
    for (const auto& [name, property] : properties.items()) {
      bool listed = false;
      for (const Json& r : required) listed = listed || r == name;
      if (!listed || !strict_node(property, depth + 1)) return false;
    }
  }
  if (const auto items = node.find("items"); items != node.end() && !strict_node(*items, depth + 1))
    return false;
  for (const char* group : {"anyOf", "$defs"}) {
    const auto members = node.find(group);
    if (members == node.end()) continue;
    if (!members->is_array() && !members->is_object()) return false;
    for (const Json& member : *members)
      if (!strict_node(member, depth + 1)) return false;
  }
  return true;
}

// The function-name rule of response_format's json_schema.name: ^[a-zA-Z0-9_-]{1,64}$.
std::string schema_name(std::string_view task) {
  std::string name;
  for (char c : task.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    name += ok ? c : '_';
  }
  return name.empty() ? "reply" : name;
}

// One line, for an error message.
std::string one_line(std::string_view text) {
  std::string line(text);
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return line;
}

}  // namespace

std::optional<Structured> parse_structured(std::string_view text) {
  if (text == "auto") return Structured::automatic;
  if (text == "json_schema") return Structured::json_schema;
  if (text == "json_object") return Structured::json_object;
  if (text == "off") return Structured::off;
  return std::nullopt;
}

std::optional<std::string_view> task_schema(OutputKind kind) {
  switch (kind) {
    case OutputKind::npc:
      return kNpcSchema;
    case OutputKind::tool:
      return kToolSchema;
    case OutputKind::persona_list:
      return kPersonaListSchema;
    case OutputKind::judge:
      return judge_schema();
    case OutputKind::text:
    case OutputKind::persona:
    case OutputKind::solution:
      return std::nullopt;
  }
  return std::nullopt;
}

bool strict_eligible(std::string_view schema) {
  if (json_nesting_depth(schema) > kMaxSchemaDepth) return false;
  const Json root = Json::parse(schema, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return false;
  if (!has_type(root, "object") || root.contains("anyOf")) return false;
  return strict_node(root, 0);
}

std::string load_schema_file(const std::string& path) {
  const auto fail = [&path](const std::string& why) {
    return usage_error("--schema " + path + ": " + why);
  };
  std::optional<std::string> read = read_text_file(path);
  if (!read) throw fail("cannot read the file");
  const std::string& text = *read;
  if (json_nesting_depth(text) > kMaxSchemaDepth)
    throw fail("nests more than " + std::to_string(kMaxSchemaDepth) + " levels deep");
  Json schema;
  try {
    schema = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw fail("not JSON: " + one_line(without_nlohmann_prefix(e.what())));
  }
  if (!schema.is_object())
    throw fail(std::string("expected a JSON schema object, got ") + schema.type_name());
  if (schema.contains("schema") && !schema.contains("type") && !schema.contains("properties"))
    throw fail(
        "this looks like a response_format's json_schema member; give the schema itself "
        "(its \"schema\")");
  if (const auto type = schema.find("type"); type != schema.end()) {
    bool ok = type->is_string() || (type->is_array() && !type->empty());
    if (type->is_array())
      for (const Json& one : *type) ok = ok && one.is_string();
    if (!ok) throw fail("\"type\" must be a string or an array of strings");
  }
  return schema.dump();
}

std::string response_format_json(Structured mode, std::string_view task,
                                 std::optional<std::string_view> schema) {
  const std::string name(task);
  switch (mode) {
    case Structured::off:
      return {};
    case Structured::automatic:
      if (!schema) return {};
      break;
    case Structured::json_schema:
      if (!schema)
        throw usage_error("--structured json_schema: " + name +
                          " replies in text and has no JSON schema (a custom --template takes "
                          "one with --schema FILE)");
      break;
    case Structured::json_object:
      if (!schema)
        throw usage_error(
            "--structured json_object applies to the JSON tasks (npc, tool, "
            "persona-to-persona, judge, a --template with --schema); " +
            name + " replies in text");
      return R"({"type":"json_object"})";
  }
  const Json format = {{"type", "json_schema"},
                       {"json_schema",
                        {{"name", schema_name(task)},
                         {"schema", Json::parse(*schema)},
                         {"strict", strict_eligible(*schema)}}}};
  return format.dump();
}

}  // namespace personagen
