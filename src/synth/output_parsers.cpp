#include "synth/output_parsers.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "util/json_text.h"
#include "util/text_util.h"
#include "util/utf8.h"

namespace personagen {

namespace {

// ordered_json keeps the model's key order, so `parsed` reads like the raw output.
using Json = nlohmann::ordered_json;

// How many '{' the object search tries before giving up; bounds the work on hostile input.
constexpr int kMaxObjectCandidates = 16;
// A reason is one line of a failure record and of the log: long enough for nlohmann's own
// description of what is wrong, short enough that a hostile reply cannot make it long.
constexpr size_t kMaxReasonBytes = 160;
// An object nested deeper is not parsed: `parsed` is made with dump(), which recurses once per
// level, so a hostile reply could overflow the stack. No real NPC or tool nests this deep.
constexpr size_t kMaxJsonDepth = 128;

// The body of the first ``` fence (after its info string such as "json"), up to the closing
// fence or the end of the content; nullopt when there is no fence.
std::optional<std::string_view> fenced_body(std::string_view content) {
  const size_t open = content.find("```");
  if (open == std::string_view::npos) return std::nullopt;
  const size_t line_end = content.find('\n', open + 3);
  if (line_end == std::string_view::npos) return std::string_view{};
  std::string_view body = content.substr(line_end + 1);
  const size_t close = body.find("```");
  if (close != std::string_view::npos) body = body.substr(0, close);
  return body;
}

// The end (one past the '}') of the object that starts at text[start] == '{', or npos when it is
// not closed. Braces inside JSON strings, escaped quotes included, do not count.
size_t matching_brace(std::string_view text, size_t start) {
  int64_t depth = 0;
  for (size_t i = next_json_bracket(text, start); i != std::string_view::npos;
       i = next_json_bracket(text, i + 1)) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

// Why this order: a well-behaved reply is exactly one JSON value, so parse the whole region
// first (and reject an array outright); only a reply with prose around the object
// needs the brace search.
std::optional<Json> find_object(std::string_view region, std::string& reason) {
  region = trim(region);
  if (region.empty()) {
    reason = "no JSON object in output";
    return std::nullopt;
  }
  if ((region.front() == '{' || region.front() == '[') &&
      json_nesting_depth(region) <= kMaxJsonDepth) {
    Json whole = Json::parse(region, nullptr, false);
    if (!whole.is_discarded()) {
      if (whole.is_object()) return whole;
      reason = std::string("not a JSON object (got ") + whole.type_name() + ")";
      return std::nullopt;
    }
  }
  size_t start = region.find('{');
  if (start == std::string_view::npos) {
    reason = "no JSON object in output";
    return std::nullopt;
  }
  std::string first_error;
  for (int tries = 0; tries < kMaxObjectCandidates && start != std::string_view::npos; ++tries) {
    // An unclosed '{' may be a stray brace in prose (or a quote may have thrown the scan off),
    // so a later one still gets its chance.
    if (const size_t end = matching_brace(region, start); end != std::string_view::npos) {
      const std::string_view candidate = region.substr(start, end - start);
      if (json_nesting_depth(candidate) > kMaxJsonDepth) {
        if (first_error.empty()) {
          first_error = "JSON nests more than " + std::to_string(kMaxJsonDepth) + " levels deep";
        }
      } else {
        try {
          return Json::parse(candidate);
        } catch (const std::exception& e) {
          if (first_error.empty()) first_error = "invalid JSON: " + short_reason(e);
        }
      }
    }
    start = region.find('{', start + 1);
  }
  reason = first_error.empty() ? "no JSON object in output" : first_error;
  return std::nullopt;
}

bool is_string(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string();
}

std::string check_npc(const Json& npc) {
  for (const char* key : {"name", "role", "backstory", "personality", "dialogue"}) {
    if (!npc.contains(key)) return std::string("npc: missing \"") + key + "\"";
  }
  if (!is_string(npc, "name") || npc["name"].get_ref<const std::string&>().empty()) {
    return "npc: \"name\" must be a non-empty string";
  }
  for (const char* key : {"role", "backstory", "personality"}) {
    if (!is_string(npc, key)) return std::string("npc: \"") + key + "\" must be a string";
  }
  const Json& dialogue = npc["dialogue"];
  bool dialogue_ok = dialogue.is_array() && !dialogue.empty();
  for (const Json& line : dialogue) dialogue_ok = dialogue_ok && line.is_string();
  if (!dialogue_ok) return "npc: \"dialogue\" must be a non-empty array of strings";
  return {};
}

bool is_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string check_parameters(const Json& parameters) {
  if (!parameters.is_object()) return "tool: function.parameters must be an object";
  const auto type = parameters.find("type");
  if (type == parameters.end() || *type != "object") {
    return "tool: function.parameters.type must be \"object\"";
  }
  const auto properties = parameters.find("properties");
  if (properties != parameters.end()) {
    if (!properties->is_object()) return "tool: function.parameters.properties must be an object";
    for (const auto& [name, schema] : properties->items()) {
      if (!schema.is_object()) return "tool: property " + Json(name).dump() + " must be an object";
    }
  }
  const auto required = parameters.find("required");
  if (required != parameters.end()) {
    if (!required->is_array()) return "tool: function.parameters.required must be an array";
    for (const Json& name : *required) {
      if (!name.is_string()) return "tool: function.parameters.required must hold strings";
      const auto& key = name.get_ref<const std::string&>();
      if (properties == parameters.end() || !properties->contains(key)) {
        return "tool: required names unknown property " + Json(key).dump();
      }
    }
  }
  return {};
}

std::string check_function(const Json& function) {
  if (!function.is_object()) return "tool: \"function\" must be an object";
  if (!function.contains("name")) return "tool: missing function.name";
  if (!is_string(function, "name") ||
      !is_tool_name(function["name"].get_ref<const std::string&>())) {
    return "tool: function.name must match ^[a-zA-Z0-9_-]{1,64}$";
  }
  if (!is_string(function, "description") ||
      function["description"].get_ref<const std::string&>().empty()) {
    return "tool: function.description must be a non-empty string";
  }
  if (!function.contains("parameters")) return "tool: missing function.parameters";
  return check_parameters(function["parameters"]);
}

// Brings a tool into the full {"type":"function","function":{...}} form. Models often leave
// out the wrapper, or use the flat {"type":"function","name":..} form of the Responses API.
Json normalize_tool(Json tool) {
  if (tool.contains("function") || !tool.contains("name")) return tool;
  if (const auto type = tool.find("type"); type != tool.end() && *type == "function") {
    tool.erase(type);
  }
  Json wrapped = Json::object();
  wrapped["type"] = "function";
  wrapped["function"] = std::move(tool);
  return wrapped;
}

std::string check_tool(const Json& tool) {
  if (!tool.contains("function")) return "tool: missing \"function\"";
  if (!is_string(tool, "type") || tool["type"] != "function") {
    return "tool: \"type\" must be \"function\"";
  }
  return check_function(tool["function"]);
}

// The first JSON object in `content`, rewritten by `prepare` if given, when `check` finds
// nothing wrong with it: as compact JSON, with invalid UTF-8 replaced so the record stays valid.
ParsedOutput parse_object(std::string_view content, Json (*prepare)(Json),
                          std::string (*check)(const Json&)) {
  std::string reason;
  std::optional<Json> object = first_json_object(content, reason);
  if (!object) return ParsedOutput::failure(std::move(reason));
  if (prepare) *object = prepare(std::move(*object));
  reason = check(*object);
  if (!reason.empty()) return ParsedOutput::failure(std::move(reason));
  return {true, object->dump(-1, ' ', false, Json::error_handler_t::replace), {}, {}};
}

}  // namespace

std::string short_reason(const std::exception& e) {
  std::string line(utf8_prefix(without_nlohmann_prefix(e.what()), kMaxReasonBytes));
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return line;
}

std::optional<Json> first_json_object(std::string_view content, std::string& reason) {
  const auto fenced = fenced_body(content);
  std::optional<Json> object = find_object(fenced ? *fenced : content, reason);
  // A fence around something else (an empty block, a line of prose) may precede the object; a
  // fence holding a broken object or an array is the answer itself, so it is not looked past.
  if (!object && fenced && fenced->find_first_of("{[") == std::string_view::npos) {
    std::string whole_reason;
    object = find_object(content, whole_reason);
  }
  return object;
}

ParsedOutput parse_npc(std::string_view content) {
  return parse_object(content, nullptr, check_npc);
}

ParsedOutput parse_tool(std::string_view content) {
  return parse_object(content, normalize_tool, check_tool);
}

}  // namespace personagen
