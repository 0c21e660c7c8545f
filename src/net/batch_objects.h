#pragma once

// The Files and Batches endpoints' JSON objects read into RemoteFile and RemoteBatch: what
// BatchApi parses, apart from how it calls. Each throws Error naming what is missing or wrong.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "net/batch_api.h"

namespace personagen::batch_json {

using nlohmann::json;

// A member, or nullptr when absent or null.
const json* member(const json& object, const char* name);
// A string member: "" when absent or null; throws when present as another type, or when absent
// and `required`.
std::string string_member(const json& object, const char* name, std::string_view what,
                          bool required = false);
// `text` as a JSON object; throws Error("<what>: not a JSON object").
json parse_object(std::string_view text, std::string_view what);
RemoteBatch batch_of(const json& object);
RemoteFile file_of(const json& object);
// The "data" array of a list reply.
const json& list_data(const json& reply);

}  // namespace personagen::batch_json
