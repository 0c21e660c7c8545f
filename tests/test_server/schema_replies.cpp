#include "schema_replies.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

#include "stable_hash.h"
#include "test_server.h"

namespace personagen::testing::detail {
namespace {

// ordered_json: an instance lists its properties in the schema's order, as a constrained
// decoder writes them.
using Json = nlohmann::ordered_json;

// Deeper than this, a schema (a recursive $ref) gives null.
constexpr int kMaxDepth = 32;
// The range of a number without bounds.
constexpr int64_t kDefaultMax = 1000;

bool is_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Builds instances for one prompt; `root` resolves $ref.
class Generator {
 public:
  Generator(const Json& root, std::string_view prompt)
      : root_(root), prompt_(prompt), prompt_hash_(fnv1a(prompt)) {
    tag_ = echo_tool_name(prompt).substr(std::string_view("echo_tool_").size());
  }

  // An instance of `schema`, the value of a property named `key` (or the item `key` of an
  // array), at `path` (its place, which picks a number).
  Json instance(const Json& schema, const std::string& key, const std::string& path, int depth) {
    if (depth > kMaxDepth || !schema.is_object()) return nullptr;
    if (const auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string())
      return instance(resolve(ref->get<std::string>()), key, path, depth + 1);
    if (const auto value = schema.find("const"); value != schema.end()) return *value;
    if (const auto values = schema.find("enum"); values != schema.end())
      return values->is_array() && !values->empty() ? (*values)[0] : Json(nullptr);
    for (const char* group : {"anyOf", "oneOf"}) {
      const auto choices = schema.find(group);
      if (choices != schema.end() && choices->is_array() && !choices->empty())
        return instance((*choices)[0], key, path, depth + 1);
    }
    const std::string type = type_of(schema);
    if (type == "object") return object(schema, path, depth);
    if (type == "array") return array(schema, key, path, depth);
    if (type == "string") return string(schema, key);
    if (type == "integer" || type == "number") return number(schema, path);
    if (type == "boolean") return true;
    return nullptr;
  }

 private:
  // The schema's type: its "type", the first other than "null" of a list, or "object" when it
  // only has properties.
  static std::string type_of(const Json& schema) {
    const auto type = schema.find("type");
    if (type != schema.end() && type->is_string()) return type->get<std::string>();
    if (type != schema.end() && type->is_array()) {
      for (const Json& one : *type)
        if (one.is_string() && one != "null") return one.get<std::string>();
      return "null";
    }
    return schema.contains("properties") ? "object" : "";
  }

  const Json& resolve(const std::string& ref) const {
    static const Json kNone = Json::object();
    for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
      const std::string_view p(prefix);
      if (!ref.starts_with(p)) continue;
      const auto defs = root_.find(std::string(p.substr(2, p.size() - 3)));
      if (defs == root_.end() || !defs->is_object()) return kNone;
      const auto def = defs->find(ref.substr(p.size()));
      return def == defs->end() ? kNone : *def;
    }
    return ref == "#" ? root_ : kNone;
  }

  Json object(const Json& schema, const std::string& path, int depth) {
    Json out = Json::object();
    const auto properties = schema.find("properties");
    if (properties == schema.end() || !properties->is_object()) return out;
    for (const auto& [name, property] : properties->items())
      out[name] = instance(property, name, path + "/" + name, depth + 1);
    return out;
  }

  Json array(const Json& schema, const std::string& key, const std::string& path, int depth) {
    int64_t count = std::max<int64_t>(schema.value("minItems", int64_t{0}), 1);
    if (const auto most = schema.find("maxItems"); most != schema.end() && most->is_number())
      count = std::min(count, most->get<int64_t>());
    Json out = Json::array();
    const Json items = schema.value("items", Json::object());
    for (int64_t i = 0; i < count; ++i) {
      const std::string number = std::to_string(i + 1);
      out.push_back(instance(items, key + " " + number, path + "/" + number, depth + 1));
    }
    return out;
  }

  Json string(const Json& schema, const std::string& key) const {
    std::string text = key == "name" ? echo_tool_name(prompt_)
                                     : "A " + (key.empty() ? "value" : key) + " from echo " + tag_;
    if (const auto most = schema.find("maxLength"); most != schema.end() && most->is_number())
      text.resize(
          std::min<size_t>(text.size(), static_cast<size_t>(std::max(0.0, most->get<double>()))));
    if (const auto least = schema.find("minLength"); least != schema.end() && least->is_number())
      text.resize(
          std::max<size_t>(text.size(), static_cast<size_t>(std::max(0.0, least->get<double>()))),
          '.');
    return text;
  }

  Json number(const Json& schema, const std::string& path) const {
    auto bound = [&schema](const char* inclusive, const char* exclusive, double step,
                           double fallback) {
      if (const auto b = schema.find(inclusive); b != schema.end() && b->is_number())
        return b->get<double>();
      if (const auto b = schema.find(exclusive); b != schema.end() && b->is_number())
        return b->get<double>() + step;
      return fallback;
    };
    const double low = std::ceil(bound("minimum", "exclusiveMinimum", 1, 0));
    const double high = std::floor(bound("maximum", "exclusiveMaximum", -1, low + kDefaultMax));
    if (!(high >= low)) return static_cast<int64_t>(low);
    const auto span = static_cast<uint64_t>(high - low) + 1;
    const uint64_t pick = splitmix64(prompt_hash_ ^ fnv1a(path)) % span;
    return static_cast<int64_t>(low) + static_cast<int64_t>(pick);
  }

  const Json& root_;
  std::string_view prompt_;
  uint64_t prompt_hash_;
  std::string tag_;
};

Json parsed_request(const std::string& body) {
  Json request = Json::parse(body, nullptr, false);
  return request.is_object() ? request : Json::object();
}

}  // namespace

std::optional<ResponseFormat> read_response_format(const std::string& body, std::string& error) {
  const Json request = parsed_request(body);
  const auto format = request.find("response_format");
  if (format == request.end()) return ResponseFormat{};
  auto refuse = [&error](std::string why) -> std::optional<ResponseFormat> {
    error = "Invalid 'response_format': " + std::move(why);
    return std::nullopt;
  };
  if (!format->is_object()) return refuse("expected an object");
  ResponseFormat result;
  result.present = true;
  const auto type = format->find("type");
  if (type == format->end() || !type->is_string())
    return refuse("missing 'type' (expected 'text', 'json_object' or 'json_schema')");
  if (*type == "text") return result;
  result.kind = ResponseFormat::Kind::json_object;
  if (*type == "json_object") return result;
  if (*type != "json_schema")
    return refuse("unknown type '" + type->get<std::string>() +
                  "' (expected 'text', 'json_object' or 'json_schema')");
  const auto json_schema = format->find("json_schema");
  if (json_schema == format->end() || !json_schema->is_object())
    return refuse("type 'json_schema' needs a 'json_schema' object");
  const auto name = json_schema->find("name");
  if (name == json_schema->end() || !name->is_string() || !is_name(name->get<std::string>()))
    return refuse("'json_schema.name' must match ^[a-zA-Z0-9_-]{1,64}$");
  const auto schema = json_schema->find("schema");
  if (schema == json_schema->end() || !schema->is_object())
    return refuse("'json_schema.schema' must be a JSON schema object");
  if (const auto strict = json_schema->find("strict");
      strict != json_schema->end() && !strict->is_boolean())
    return refuse("'json_schema.strict' must be a boolean");
  result.kind = ResponseFormat::Kind::json_schema;
  result.schema = schema->dump();
  return result;
}

std::string schema_instance(std::string_view schema, std::string_view prompt) {
  const Json root = Json::parse(schema, nullptr, false);
  if (root.is_discarded()) return "null";
  try {
    return Generator(root, prompt).instance(root, "", "", 0).dump();
  } catch (const Json::exception&) {
    return "null";  // a keyword of an unexpected type, e.g. "minItems": "3"
  }
}

void shape_reply(const ResponseFormat& format, const ChatRequest& request, size_t index,
                 ChatReply& reply) {
  if (format.kind == ResponseFormat::Kind::json_schema &&
      reply.content == echo_content(request.prompt, index))
    reply.content = schema_instance(format.schema, request.prompt);
}

}  // namespace personagen::testing::detail
