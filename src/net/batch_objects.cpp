#include "net/batch_objects.h"

#include <algorithm>
#include <string>

#include "personagen/error.h"

namespace personagen {

namespace batch_json {

namespace {

uint64_t count_member(const json& object, const char* name, std::string_view what) {
  const json* value = member(object, name);
  if (value == nullptr) return 0;
  if (!value->is_number_unsigned() && !(value->is_number_integer() && *value >= 0)) {
    throw Error(std::string(what) + ": \"" + name + "\" is not a count");
  }
  return value->get<uint64_t>();
}

// The "errors" of a batch ({"data":[{code, message, line}]}) as one line.
std::string errors_line(const json& errors) {
  const json* data = member(errors, "data");
  if (data == nullptr || !data->is_array()) return "";
  std::string line;
  for (const json& entry : *data) {
    if (!entry.is_object()) continue;
    std::string item;
    if (const json* at = member(entry, "line"); at != nullptr && at->is_number()) {
      item = "line " + at->dump() + ": ";
    }
    if (const json* code = member(entry, "code"); code != nullptr && code->is_string()) {
      item += code->get<std::string>() + ": ";
    }
    const json* message = member(entry, "message");
    item +=
        message != nullptr && message->is_string() ? message->get<std::string>() : "(no message)";
    if (!line.empty()) line += "; ";
    line += item;
  }
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  return line;
}

}  // namespace

// A string member: "" when absent or null; throws when present as another type, or when absent
// and `required`.
std::string string_member(const json& object, const char* name, std::string_view what,
                          bool required) {
  const json* value = member(object, name);
  if (value == nullptr) {
    if (required) throw Error(std::string(what) + ": \"" + name + "\" is missing");
    return "";
  }
  if (!value->is_string()) throw Error(std::string(what) + ": \"" + name + "\" is not a string");
  return value->get<std::string>();
}

const json* member(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

json parse_object(std::string_view text, std::string_view what) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object())
    throw Error(std::string(what) + ": not a JSON object");
  return value;
}

RemoteBatch batch_of(const json& object) {
  constexpr std::string_view kWhat = "batch object";
  if (!object.is_object()) throw Error("batch object: not a JSON object");
  RemoteBatch batch;
  batch.id = string_member(object, "id", kWhat, true);
  batch.status = string_member(object, "status", kWhat, true);
  batch.input_file_id = string_member(object, "input_file_id", kWhat);
  batch.output_file_id = string_member(object, "output_file_id", kWhat);
  batch.error_file_id = string_member(object, "error_file_id", kWhat);
  if (const json* counts = member(object, "request_counts")) {
    if (!counts->is_object()) throw Error("batch object: \"request_counts\" is not an object");
    batch.total = count_member(*counts, "total", kWhat);
    batch.completed = count_member(*counts, "completed", kWhat);
    batch.failed = count_member(*counts, "failed", kWhat);
  }
  if (const json* errors = member(object, "errors")) {
    if (!errors->is_object()) throw Error("batch object: \"errors\" is not an object");
    batch.errors = errors_line(*errors);
  }
  if (const json* metadata = member(object, "metadata")) {
    if (!metadata->is_object()) throw Error("batch object: \"metadata\" is not an object");
    for (const auto& [key, value] : metadata->items()) {
      batch.metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  return batch;
}

RemoteFile file_of(const json& object) {
  constexpr std::string_view kWhat = "file object";
  if (!object.is_object()) throw Error("file object: not a JSON object");
  RemoteFile file;
  file.id = string_member(object, "id", kWhat, true);
  file.filename = string_member(object, "filename", kWhat);
  file.purpose = string_member(object, "purpose", kWhat);
  file.bytes = count_member(object, "bytes", kWhat);
  return file;
}

// The "data" array of a list reply.
const json& list_data(const json& reply) {
  const json* data = member(reply, "data");
  if (data == nullptr || !data->is_array()) throw Error("list: \"data\" is missing or not a list");
  return *data;
}

}  // namespace batch_json

bool batch_status_terminal(std::string_view status) {
  return status == "completed" || status == "failed" || status == "expired" ||
         status == "cancelled";
}

RemoteBatch parse_batch(std::string_view json_text) {
  return batch_json::batch_of(batch_json::parse_object(json_text, "batch object"));
}

}  // namespace personagen
