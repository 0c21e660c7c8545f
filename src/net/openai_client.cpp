#include "net/openai_client.h"

#include <simdjson.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "personagen/error.h"
#include "util/json_text.h"
#include "util/text_util.h"
#include "util/utf8.h"

namespace personagen {

namespace {

using nlohmann::json;

// An error message goes into a log line and a failures.jsonl record: enough for a server's
// reason, while a whole HTML error page would bury the line.
constexpr size_t kMaxErrorBytes = 300;
// Deeper JSON is not parsed: message_of() dumps "detail" and extra_body_fields() dumps its
// object, and dump() recurses once per level. No real reply or --extra-body nests anywhere near
// this deep.
constexpr size_t kMaxJsonDepth = 256;

// The start of `s` on one line: leading blanks skipped, line breaks and other control characters
// made spaces, at most kMaxErrorBytes, trailing blanks trimmed. Reads only the start of a large
// body.
std::string one_line(std::string_view s) {
  const auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
  size_t first = 0;
  while (first < s.size() && blank(s[first])) ++first;
  std::string line(utf8_prefix(s.substr(first), kMaxErrorBytes));
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// A token count: an integer, clamped to INT64_MAX; 0 when absent or not an integer.
int64_t integer_field(simdjson::dom::object object, std::string_view key) {
  int64_t value = 0;
  if (!object[key].get(value)) return value;
  uint64_t large = 0;
  if (!object[key].get(large)) return INT64_MAX;  // fits uint64 but not int64
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

// The message of an error body on one line, or empty when the body is not JSON or has none.
// Only error replies come here, so nlohmann's DOM costs nothing that matters.
std::string message_in(std::string_view body) {
  if (json_nesting_depth(body) > kMaxJsonDepth) return {};
  try {
    return one_line(message_of(json::parse(body)));
  } catch (const std::exception&) {
    return {};
  }
}

// The string member `key` of `message`; empty when it is absent, null or not a string.
std::string_view string_field(simdjson::dom::object message, std::string_view key) {
  std::string_view text;
  if (message[key].get(text)) return {};
  return text;
}

// Moves a leading <think>...</think> block out of completion.content (see parse_completion in the
// header for the rules).
void split_think_block(Completion& completion) {
  constexpr std::string_view kOpen = "<think>";
  constexpr std::string_view kClose = "</think>";
  const std::string_view content = trim_front(completion.content);
  std::string_view inside;
  if (content.starts_with(kOpen)) {
    inside = content.substr(kOpen.size());
  } else {
    // DeepSeek-R1 and Qwen3 chat templates open the block in the prompt, so the reply starts
    // with the thinking and only closes it: a lone </think> with no <think> before it.
    const size_t lone = content.find(kClose);
    if (lone == std::string_view::npos ||
        content.substr(0, lone).find(kOpen) != std::string_view::npos)
      return;
    inside = content;
  }
  const size_t close = inside.find(kClose);
  const std::string_view thinking = trim(inside.substr(0, close));
  const std::string_view rest = close == std::string_view::npos
                                    ? std::string_view()
                                    : trim_front(inside.substr(close + kClose.size()));
  if (completion.reasoning.empty()) completion.reasoning = thinking;
  completion.content = std::string(rest);  // a copy first: `rest` points into content
}

}  // namespace

std::string chat_completions_url(std::string_view base_url) {
  while (base_url.ends_with('/')) base_url.remove_suffix(1);
  std::string url(base_url);
  url += "/chat/completions";
  return url;
}

// Why not nlohmann: this runs once per request, tens of thousands of times a second on a fast
// local server (bench scenario A), and the shape is fixed; writing the text directly is several
// times faster.
std::string build_chat_body(std::string_view model, std::string_view user_message,
                            const SamplingParams& sampling, const RequestExtras& extras) {
  ChatMessage user{"user", user_message};
  return build_chat_body(model, std::span<const ChatMessage>(&user, 1), sampling, extras);
}

std::string build_chat_body(std::string_view model, std::span<const ChatMessage> messages,
                            const SamplingParams& sampling, const RequestExtras& extras) {
  std::string body;
  // The strings, and 160 bytes for the fixed text around them and the sampling numbers, so that
  // a typical body without escapes is written with one allocation.
  size_t size = model.size() + extras.system.size() + extras.fields.size() +
                extras.response_format.size() + 160;
  for (const ChatMessage& message : messages) size += message.content.size() + 32;
  body.reserve(size);
  body += "{\"model\":";
  append_json_string(body, model);
  body += ",\"messages\":[";
  if (!extras.system.empty()) {
    body += "{\"role\":\"system\",\"content\":";
    append_json_string(body, extras.system);
    body += "},";
  }
  for (const ChatMessage& message : messages) {
    body += "{\"role\":";
    append_json_string(body, message.role);
    body += ",\"content\":";
    append_json_string(body, message.content);
    body += "},";
  }
  body.back() = ']';
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
  if (!extras.response_format.empty()) {
    body += ",\"response_format\":";
    body += extras.response_format;
  }
  if (!extras.fields.empty()) {
    body += ',';
    body += extras.fields;
  }
  body += '}';
  return body;
}

std::string extra_body_fields(std::string_view json_text, const SamplingParams& sampling) {
  const auto fail = [](const std::string& why) {
    return usage_error("--extra-body: " + why +
                       R"( (expected a JSON object, e.g. '{"seed":7,"stop":["\n\n"]}'))");
  };
  if (json_nesting_depth(json_text) > kMaxJsonDepth) throw fail("nests too deep");
  json object;
  try {
    object = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw fail("not JSON: " + one_line(without_nlohmann_prefix(e.what())));
  }
  if (!object.is_object()) throw fail("not an object");
  for (const char* owned : {"model", "messages", "stream"}) {
    if (object.contains(owned)) throw fail(std::string("\"") + owned + "\" is set by personagen");
  }
  const std::pair<const char*, bool> flags[] = {{"temperature", sampling.temperature.has_value()},
                                                {"top_p", sampling.top_p.has_value()},
                                                {"max_tokens", sampling.max_tokens.has_value()}};
  for (const auto& [name, set] : flags) {
    if (set && object.contains(name))
      throw fail(std::string("\"") + name + "\" is also set by its flag; give it once");
  }
  if (object.empty()) return {};
  // nlohmann's object keeps its keys sorted: the text is canonical. Invalid UTF-8 cannot reach
  // here, since parse() refuses it.
  const std::string text = object.dump();
  return text.substr(1, text.size() - 2);
}

// Why simdjson and not nlohmann: this runs once per reply, and building nlohmann's DOM was 43.5%
// of the client's instructions per request in bench scenario A. simdjson validates the whole reply
// (structure and UTF-8) as nlohmann did, without recursion however deep it nests, and reads only
// the fields below into native types. One parser per thread keeps its buffers between replies.
std::optional<Completion> parse_completion(std::string_view body, std::string& error) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element reply;
  if (const auto code = parser.parse(body.data(), body.size()).get(reply)) {
    error = std::string("reply is not JSON: ") + simdjson::error_message(code);
    if (const std::string start = one_line(body); !start.empty()) {
      error += "; it starts: ";
      error += utf8_prefix(start, 80);  // enough to tell an HTML page or a proxy's words
    }
    return std::nullopt;
  }
  simdjson::dom::array choices;
  simdjson::dom::element choice;
  if (reply["choices"].get(choices) || choices.at(0).get(choice)) {
    error = "reply has no choices";
    if (const std::string message = message_in(body); !message.empty()) error += ": " + message;
    return std::nullopt;
  }
  simdjson::dom::object message;
  if (choice["message"].get(message)) {
    error = "reply has no message";
    return std::nullopt;
  }

  Completion completion;
  // A missing content is read like null: some servers leave it out when the reply is empty.
  if (simdjson::dom::element content; !message["content"].get(content) && !content.is_null()) {
    std::string_view text;
    if (content.get(text)) {
      error = "content is not a string";
      return std::nullopt;
    }
    completion.content = text;
  }
  // Where servers put the thinking: vLLM's reasoning outputs (docs.vllm.ai, "Reasoning Outputs":
  // reasoning_content, renamed reasoning in 0.11), DeepSeek's reasoning_content, OpenRouter's
  // "reasoning" (openrouter.ai/docs, "Reasoning Tokens").
  completion.reasoning = string_field(message, "reasoning_content");
  if (completion.reasoning.empty()) completion.reasoning = string_field(message, "reasoning");
  split_think_block(completion);
  if (std::string_view reason; !choice["finish_reason"].get(reason)) {
    completion.finish_reason = reason;
  }
  if (std::string_view model; !reply["model"].get(model)) completion.model = model;
  if (simdjson::dom::object usage; !reply["usage"].get(usage)) {
    completion.usage.prompt_tokens = integer_field(usage, "prompt_tokens");
    completion.usage.completion_tokens = integer_field(usage, "completion_tokens");
    completion.usage.total_tokens = integer_field(usage, "total_tokens");
    if (simdjson::dom::object details; !usage["completion_tokens_details"].get(details)) {
      completion.usage.reasoning_tokens = integer_field(details, "reasoning_tokens");
    }
  }
  return completion;
}

std::string error_message(std::string_view body) {
  std::string message = message_in(body);
  // Not JSON (an HTML page from a proxy, a plain-text error): the body itself is the message.
  if (message.empty()) message = one_line(body);
  if (message.empty()) message = "(empty body)";
  return message;
}

}  // namespace personagen
