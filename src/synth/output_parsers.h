#pragma once

#include <exception>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "synth/tasks.h"

namespace personagen {

// The parsers of the JSON tasks' replies. Each takes the first complete JSON object in the reply:
// the whole reply if it is one, else the body of its first ``` fence, else the first object in
// the surrounding prose. A reply nested more than 128 levels deep is refused, not parsed.
// They throw only what nlohmann might throw on a check they did not foresee, or bad_alloc;
// parse_output turns that into a failure.

// Checks an npc reply: an object with a non-empty string "name", strings "role", "backstory"
// and "personality", and a non-empty array of strings "dialogue". `parsed` is the object as
// compact JSON, in the model's key order.
ParsedOutput parse_npc(std::string_view content);

// Checks a tool reply: an OpenAI function tool,
// {"type":"function","function":{"name","description","parameters"}}, with a name matching
// ^[a-zA-Z0-9_-]{1,64}$, a non-empty description, an object schema as parameters and "required"
// naming only its properties. A bare function, or the flat {"type":"function","name":...} form
// of the Responses API, is first wrapped into the full form, which `parsed` holds as compact
// JSON.
ParsedOutput parse_tool(std::string_view content);

// The first complete JSON object in `content`, found as above (the whole reply, else the body of
// its first ``` fence, else the first object in the prose), in the model's key order; or nullopt
// with `reason` saying why there is none ("no JSON object in output", "invalid JSON: ...").
// The parsers of every JSON reply share it, so they all accept the same wrappings.
std::optional<nlohmann::ordered_json> first_json_object(std::string_view content,
                                                        std::string& reason);

// `e`'s message as a failure reason: without nlohmann's "[json.exception...] " prefix, on one
// line, cut to 160 bytes on a character boundary.
std::string short_reason(const std::exception& e);

}  // namespace personagen
