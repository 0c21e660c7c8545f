#pragma once

// Structured outputs: the JSON schemas of the JSON tasks' replies, and the `response_format`
// member that asks a server to constrain its decoding to one (--structured, --schema).

#include <optional>
#include <string>
#include <string_view>

#include "synth/tasks.h"

namespace personagen {

// --structured: what a request asks of the server's decoding.
enum class Structured {
  automatic,    // auto: json_schema for a task with a schema, nothing for a text task
  json_schema,  // {"type":"json_schema",...}; a usage error for a task without a schema
  json_object,  // {"type":"json_object"}: any JSON object (llama.cpp ignores it by default)
  off,          // nothing: the prompt alone asks for the format
};

// auto, json_schema, json_object or off; nullopt for anything else.
std::optional<Structured> parse_structured(std::string_view text);

// The built-in JSON schema of a kind of reply, as readable JSON text: npc, tool, persona_list and
// judge (judge.h) have one, the text kinds none (nullopt). Each bounds its strings (maxLength) and
// arrays (minItems, maxItems) to what the task's zero-shot template asks for, so that a reply
// decoded under the schema ends within a sensible --max-tokens, and each accepts nothing its parser
// (parse_output) would refuse.
std::optional<std::string_view> task_schema(OutputKind kind);

// Whether OpenAI's strict mode accepts `schema` (JSON text): every object has
// "additionalProperties": false and lists every property in "required", and no keyword is one
// strict mode refuses (schemas.cpp cites the rules). False for text that is not a JSON object.
bool strict_eligible(std::string_view schema);

// The JSON schema in the file at `path` (--schema), checked and as compact JSON text. Throws a
// usage Error naming the file and what is wrong: unreadable, not JSON (with nlohmann's line and
// column), not an object, or a "type" that is neither a string nor an array of strings.
std::string load_schema_file(const std::string& path);

// The compact JSON text of the request's "response_format" member for a task named `task` whose
// replies follow `schema` (nullopt for a text task), or "" when nothing is sent: off, or auto
// for a text task. json_schema sends {"type":"json_schema","json_schema":{"name","schema",
// "strict"}} with the name made of `task` (characters outside [a-zA-Z0-9_-] become '_', at most
// 64) and strict as strict_eligible() says; json_object sends {"type":"json_object"}. Throws a
// usage Error for json_schema or json_object with a text task.
std::string response_format_json(Structured mode, std::string_view task,
                                 std::optional<std::string_view> schema);

}  // namespace personagen
