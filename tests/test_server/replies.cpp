#include "replies.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <utility>

#include "stable_hash.h"
#include "test_server.h"

namespace personagen::testing {
namespace {

using Json = nlohmann::ordered_json;
using detail::fnv1a;
using detail::splitmix64;

// About four bytes per token, the usual rule of thumb for English text; the client only reads
// the counts back, so an estimate is enough.
size_t tokens_for(size_t bytes) {
  return (bytes + 3) / 4;
}

std::string error_json(std::string_view message, std::string_view type, const Json& code) {
  Json body = {{"error", {{"message", message}, {"type", type}, {"code", code}}}};
  return body.dump();
}

// The texts of an embeddings request: "input" as one string or an array of strings.
std::optional<std::vector<std::string>> parse_embedding_inputs(const Json& request,
                                                               std::string& error) {
  auto input = request.find("input");
  if (input == request.end() || !(input->is_string() || input->is_array())) {
    error = "request has no \"input\" string or array of strings";
    return std::nullopt;
  }
  if (input->is_string()) return std::vector<std::string>{input->get<std::string>()};
  std::vector<std::string> texts;
  for (const Json& text : *input) {
    if (!text.is_string()) {
      error = "\"input\" holds something other than strings";
      return std::nullopt;
    }
    texts.push_back(text.get<std::string>());
  }
  if (texts.empty()) {
    error = "\"input\" is empty";
    return std::nullopt;
  }
  return texts;
}

// The text of a message's content: a string, or the "text" of its parts joined; nullopt for
// anything else.
std::optional<std::string> text_of(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return std::nullopt;
  std::string text;
  for (const Json& part : content) {
    if (part.is_object() && part.contains("text") && part["text"].is_string()) {
      text += part["text"].get<std::string>();
    }
  }
  return text;
}

// A whole number of either sign; a float counts when it is whole and within 64 bits, so 2.0 is
// 2 and 1e30 or 0.5 is 0, like a string or a bool.
detail::RequestSeed seed_of(const Json& seed) {
  detail::RequestSeed result;
  if (seed.is_number_unsigned()) {
    result.magnitude = seed.get<uint64_t>();
  } else if (seed.is_number_integer()) {
    auto value = seed.get<int64_t>();
    result.negative = value < 0;
    // Unsigned arithmetic, so INT64_MIN's magnitude (2^63) is exact.
    auto bits = static_cast<uint64_t>(value);
    result.magnitude = result.negative ? 0 - bits : bits;
  } else if (seed.is_number_float()) {
    double value = seed.get<double>();
    double size = std::fabs(value);
    if (std::isfinite(value) && std::trunc(value) == value && size < 0x1.0p64) {
      result.negative = value < 0;
      result.magnitude = static_cast<uint64_t>(size);
    }
  }
  return result;
}

}  // namespace

std::vector<float> test_embedding(std::string_view text) {
  std::vector<double> sum(kTestEmbeddingDimension, 0.0);
  auto is_word_byte = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
  };
  std::string word;
  for (size_t i = 0; i <= text.size(); ++i) {
    auto c = i < text.size() ? static_cast<unsigned char>(text[i]) : '\0';
    if (i < text.size() && is_word_byte(c)) {
      word += static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      continue;
    }
    if (word.empty()) continue;
    uint64_t seed = fnv1a(word);
    for (size_t d = 0; d < kTestEmbeddingDimension; ++d) {
      // The top 53 bits as a uniform draw in [-1, 1), so every word's vector centres on zero.
      sum[d] += static_cast<double>(splitmix64(seed + d) >> 11) * 0x1.0p-52 - 1.0;
    }
    word.clear();
  }
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  std::vector<float> vector(kTestEmbeddingDimension, 0.0f);
  if (norm == 0) return vector;
  for (size_t d = 0; d < kTestEmbeddingDimension; ++d) {
    vector[d] = static_cast<float>(sum[d] / norm);
  }
  return vector;
}

std::string echo_tool_name(std::string_view prompt) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(fnv1a(prompt) & 0xffffffffU));
  return "echo_tool_" + std::string(hex);
}

namespace detail {

std::string error_body(std::string_view message, std::string_view type, int code) {
  return error_json(message, type, code);
}

std::string error_body_with_code(std::string_view message, std::string_view type,
                                 std::string_view code) {
  return error_json(message, type, code);
}

std::string unauthorized_body(std::string authorization) {
  if (authorization.starts_with("Bearer ")) authorization.erase(0, 7);
  return error_json("invalid api key: " + authorization, "invalid_request_error",
                    "invalid_api_key");
}

std::optional<ChatRequest> parse_chat_request(const std::string& body, std::string& error) {
  Json request = Json::parse(body, nullptr, false);
  if (request.is_discarded() || !request.is_object()) {
    error = "request body is not a JSON object";
    return std::nullopt;
  }
  auto messages = request.find("messages");
  if (messages == request.end() || !messages->is_array() || messages->empty()) {
    error = "request has no messages";
    return std::nullopt;
  }
  ChatRequest chat;
  const Json* last_user = nullptr;
  for (const Json& message : *messages) {
    if (!message.is_object()) continue;
    auto role = message.find("role");
    auto content = message.find("content");
    if (role != message.end() && role->is_string() && content != message.end()) {
      std::optional<std::string> text = text_of(*content);
      if (text) chat.transcript += role->get<std::string>() + ": " + *text + "\n";
    }
    if (role != message.end() && *role == "user") {
      last_user = &message;
      ++chat.user_messages;
    }
  }
  if (last_user == nullptr) {
    error = "request has no message with role \"user\"";
    return std::nullopt;
  }
  std::optional<std::string> prompt =
      text_of(last_user->contains("content") ? (*last_user)["content"] : Json());
  if (!prompt) {
    error = "the last user message has no text content";
    return std::nullopt;
  }
  chat.prompt = std::move(*prompt);
  if (request.contains("model") && request["model"].is_string()) {
    chat.model = request["model"].get<std::string>();
  }
  if (auto seed = request.find("seed"); seed != request.end()) chat.seed = seed_of(*seed);
  if (auto format = request.find("response_format");
      format != request.end() && format->is_object() &&
      format->value("type", "") == "json_schema" && format->contains("json_schema")) {
    const Json& schema = (*format)["json_schema"];
    if (schema.is_object() && schema.contains("name") && schema["name"].is_string())
      chat.schema_name = schema["name"].get<std::string>();
  }
  return chat;
}

std::string echo_content(const std::string& prompt, size_t index) {
  Json content = {{"type", "function"},
                  {"function",
                   {{"name", echo_tool_name(prompt)},
                    {"description", "Echo tool"},
                    {"parameters",
                     {{"type", "object"},
                      {"properties", {{"text", {{"type", "string"}}}}},
                      {"required", {"text"}}}}}},
                  {"name", "Echo NPC"},
                  {"role", "echo"},
                  {"backstory", "Born in a test server, it repeats whatever it is told."},
                  {"personality", "Literal and patient."},
                  {"dialogue", {"You said it, I echo it."}},
                  {"prompt", prompt},
                  {"request_index", index}};
  return content.dump();
}

std::string completion_body(size_t index, const std::string& model, const std::string& prompt,
                            const ChatReply& reply, std::string_view finish_reason) {
  Json message = {{"role", "assistant"}, {"content", reply.content}};
  bool thinks = !reply.reasoning.empty() && (reply.reasoning_content || reply.reasoning_field);
  if (thinks && reply.reasoning_content) message["reasoning_content"] = reply.reasoning;
  if (thinks && reply.reasoning_field) message["reasoning"] = reply.reasoning;
  size_t prompt_tokens = tokens_for(prompt.size());
  size_t reasoning_tokens = thinks ? tokens_for(reply.reasoning.size()) : 0;
  size_t completion_tokens = tokens_for(reply.content.size()) + reasoning_tokens;
  Json usage = {{"prompt_tokens", prompt_tokens},
                {"completion_tokens", completion_tokens},
                {"total_tokens", prompt_tokens + completion_tokens}};
  if (thinks) usage["completion_tokens_details"] = {{"reasoning_tokens", reasoning_tokens}};
  Json body = {
      {"id", "chatcmpl-" + std::to_string(index)},
      {"object", "chat.completion"},
      {"created", static_cast<int64_t>(std::time(nullptr))},
      {"model", model},
      {"choices",
       {{{"index", 0}, {"message", std::move(message)}, {"finish_reason", finish_reason}}}},
      {"usage", std::move(usage)}};
  return body.dump();
}

std::optional<EmbeddingsRequest> parse_embeddings_request(const std::string& body,
                                                          std::string& error) {
  Json request = Json::parse(body, nullptr, false);
  if (request.is_discarded() || !request.is_object()) {
    error = "request body is not a JSON object";
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> texts = parse_embedding_inputs(request, error);
  if (!texts) return std::nullopt;
  EmbeddingsRequest embeddings{std::nullopt, std::move(*texts)};
  if (request.contains("model") && request["model"].is_string()) {
    embeddings.model = request["model"].get<std::string>();
  }
  return embeddings;
}

std::string embeddings_body(const std::vector<std::string>& texts, const std::string& model) {
  Json data = Json::array();
  size_t bytes = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    data.push_back(
        {{"object", "embedding"}, {"index", i}, {"embedding", test_embedding(texts[i])}});
    bytes += texts[i].size();
  }
  size_t tokens = tokens_for(bytes);
  Json body = {{"object", "list"},
               {"data", std::move(data)},
               {"model", model},
               {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
  return body.dump();
}

std::string models_body(const std::string& model) {
  Json body = {{"object", "list"},
               {"data", {{{"id", model}, {"object", "model"}, {"owned_by", "personagen-test"}}}}};
  return body.dump();
}

std::string http_date(std::time_t when) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

}  // namespace detail
}  // namespace personagen::testing
