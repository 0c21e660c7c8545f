#include "personagen/openai_client.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "json_text.h"

namespace personagen {

namespace {

using nlohmann::json;

constexpr size_t kMaxErrorBytes = 300;
// Deeper bodies are not parsed: message_of() dumps "detail", and dump() recurses once per level.
// No real reply nests anywhere near this deep.
constexpr size_t kMaxJsonDepth = 256;

// At most `max` bytes of `s`, never ending inside a UTF-8 sequence.
std::string_view cut_at_utf8_boundary(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

// The start of `s` on one line: leading blanks skipped, line breaks and other control characters
// made spaces, at most kMaxErrorBytes, trailing blanks trimmed. Reads only the start of a large
// body.
std::string one_line(std::string_view s) {
  const auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
  size_t first = 0;
  while (first < s.size() && blank(s[first])) ++first;
  std::string line(cut_at_utf8_boundary(s.substr(first), kMaxErrorBytes));
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// nlohmann's what() without its "[json.exception.parse_error.101] " prefix.
std::string short_what(const std::exception& e) {
  std::string_view what = e.what();
  if (what.starts_with("[json.exception.")) {
    const size_t end = what.find("] ");
    if (end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  return one_line(what);
}

int64_t integer_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number_unsigned()) {
    const auto value = it->get<uint64_t>();
    return value > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(value);
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  return 0;
}

// The message of an error body already parsed, or empty when it has none we recognize.
// OpenAI sends {"error":{"message":..}}; vLLM {"object":"error","message":..};
// FastAPI {"detail":..} where detail may be a list of validation errors.
std::string message_of(const json& body) {
  if (!body.is_object()) return {};
  if (const auto error = body.find("error"); error != body.end()) {
    if (error->is_string()) return error->get<std::string>();
    if (error->is_object()) {
      const auto message = error->find("message");
      if (message != error->end() && message->is_string()) return message->get<std::string>();
    }
  }
  if (const auto message = body.find("message"); message != body.end() && message->is_string()) {
    return message->get<std::string>();
  }
  if (const auto detail = body.find("detail"); detail != body.end() && !detail->is_null()) {
    if (detail->is_string()) return detail->get<std::string>();
    return detail->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return {};
}

}  // namespace

std::string chat_completions_url(std::string_view base_url) {
  while (base_url.ends_with('/')) base_url.remove_suffix(1);
  std::string url(base_url);
  url += "/chat/completions";
  return url;
}

// Why not nlohmann: this runs once per request, hundreds of thousands of times a second on a
// fast local server, and the shape is fixed; writing the text directly is several times faster.
std::string build_chat_body(std::string_view model, std::string_view user_message,
                            const SamplingParams& sampling) {
  std::string body;
  body.reserve(user_message.size() + model.size() + 128);
  body += "{\"model\":";
  append_json_string(body, model);
  body += ",\"messages\":[{\"role\":\"user\",\"content\":";
  append_json_string(body, user_message);
  body += "}]";
  // A non-finite value cannot be sent as JSON; it is treated as unset (options reject it first).
  if (sampling.temperature && std::isfinite(*sampling.temperature)) {
    body += ",\"temperature\":";
    append_json_double(body, *sampling.temperature);
  }
  if (sampling.top_p && std::isfinite(*sampling.top_p)) {
    body += ",\"top_p\":";
    append_json_double(body, *sampling.top_p);
  }
  if (sampling.max_tokens) {
    body += ",\"max_tokens\":";
    append_json_int(body, *sampling.max_tokens);
  }
  body += '}';
  return body;
}

std::optional<Completion> parse_completion(std::string_view body, std::string& error) {
  if (json_nesting_depth(body) > kMaxJsonDepth) {
    error = "reply nests more than " + std::to_string(kMaxJsonDepth) + " levels deep";
    return std::nullopt;
  }
  try {
    const json reply = json::parse(body);
    const json* choices =
        reply.is_object() && reply.contains("choices") ? &reply["choices"] : nullptr;
    if (choices == nullptr || !choices->is_array() || choices->empty()) {
      error = "reply has no choices";
      if (const std::string message = one_line(message_of(reply)); !message.empty()) {
        error += ": " + message;
      }
      return std::nullopt;
    }
    const json& choice = (*choices)[0];
    if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object()) {
      error = "reply has no message";
      return std::nullopt;
    }
    const json& message = choice["message"];

    Completion completion;
    // A missing content is read like null: some servers leave it out when the reply is empty.
    if (const auto content = message.find("content"); content != message.end()) {
      if (content->is_string()) {
        completion.content = content->get<std::string>();
      } else if (!content->is_null()) {
        error = "content is not a string";
        return std::nullopt;
      }
    }
    if (const auto reason = choice.find("finish_reason");
        reason != choice.end() && reason->is_string()) {
      completion.finish_reason = reason->get<std::string>();
    }
    if (const auto usage = reply.find("usage"); usage != reply.end() && usage->is_object()) {
      completion.usage.prompt_tokens = integer_field(*usage, "prompt_tokens");
      completion.usage.completion_tokens = integer_field(*usage, "completion_tokens");
      completion.usage.total_tokens = integer_field(*usage, "total_tokens");
    }
    return completion;
  } catch (const json::parse_error& e) {
    error = "reply is not JSON: " + short_what(e);
  } catch (const std::exception& e) {
    error = "reply could not be read: " + short_what(e);
  }
  return std::nullopt;
}

std::string error_message(std::string_view body) {
  std::string message;
  try {
    if (json_nesting_depth(body) <= kMaxJsonDepth) {
      message = one_line(message_of(json::parse(body)));
    }
  } catch (const std::exception&) {
    // Not JSON (an HTML page from a proxy, a plain-text error): the body itself is the message.
  }
  if (message.empty()) message = one_line(body);
  if (message.empty()) message = "(empty body)";
  return message;
}

}  // namespace personagen
