#pragma once

// Structured outputs in the test server: reading a chat request's "response_format", and the
// JSON instance of a schema that a constrained reply holds. Free of JSON types: only the .cpp
// includes nlohmann.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "replies.h"

namespace personagen::testing::detail {

// What a request's "response_format" asks for.
struct ResponseFormat {
  enum class Kind {
    none,         // no response_format, or {"type":"text"}
    json_object,  // {"type":"json_object"}
    json_schema,  // {"type":"json_schema","json_schema":{"name","schema",...}}
  };
  Kind kind = Kind::none;
  std::string schema;    // json_schema: the schema as compact JSON text
  bool present = false;  // the request has a "response_format" member ({"type":"text"} too)
};

// The response_format of a chat request (Kind::none when it has none, or when its body is not a
// JSON object), or nullopt and, in `error`, an OpenAI-style message
// naming response_format when it is malformed: not an object, a "type" other than text,
// json_object or json_schema, or json_schema without a "json_schema" object, or with a "name"
// that is not ^[a-zA-Z0-9_-]{1,64}$, a "schema" that is not an object, or a "strict" that is not
// a boolean.
std::optional<ResponseFormat> read_response_format(const std::string& body, std::string& error);

// A JSON instance of `schema` (JSON text), as a server decoding under it might write, built from
// `prompt` so that different requests get different instances:
//   object   every property of "properties", in order (a free-form object is {});
//   string   "A <label> from echo <tag>", <tag> 8 hex digits of the prompt's hash and <label>
//            the property's name (array items add their number), cut to maxLength and padded
//            with '.' to minLength; a property named "name" is echo_tool_name(prompt) instead,
//            a valid snake_case function name;
//   integer, number   a whole number in [minimum, maximum] (exclusive bounds moved in by one;
//            0 .. 1000 when unbounded) picked by the prompt's hash and the value's place;
//   boolean  true; null null; enum its first entry; const its value;
//   array    max(minItems, 1) items, at most maxItems;
//   anyOf / oneOf   the first choice; "$ref" "#/$defs/<n>" or "#/definitions/<n>" is resolved;
//   a type list      its first type other than "null".
// Schemas deeper than 32 levels (a recursive $ref) end in null, and so does a part without a
// type it knows. Never throws: a keyword of the wrong type ("minItems": "3") makes it "null".
std::string schema_instance(std::string_view schema, std::string_view prompt);

// Puts schema_instance() of a json_schema `format` in `reply`, the reply to `request`, the
// `index`-th: a schema shapes what would have been the echo (echo_content()), while a reply that
// a marker or a conversation scripts is left as it is. Anything else leaves `reply` alone.
void shape_reply(const ResponseFormat& format, const ChatRequest& request, size_t index,
                 ChatReply& reply);

}  // namespace personagen::testing::detail
