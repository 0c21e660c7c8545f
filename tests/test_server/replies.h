#pragma once

// The JSON the test server reads and writes: the requests it parses and the bodies of its
// replies, in the OpenAI wire format. Only this file's .cpp includes nlohmann.

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace personagen::testing::detail {

// An OpenAI error body: {"error":{"message":...,"type":...,"code":...}}.
std::string error_body(std::string_view message, std::string_view type, int code);

// A 401 body that quotes the key of `authorization` ("Bearer <key>"), as a careless server
// might: the client must never print or write what comes back.
std::string unauthorized_body(std::string authorization);

struct ChatRequest {
  std::string model;   // "" when the request names none
  std::string prompt;  // the content of the last message with role "user"
};

// The model and prompt of a chat completion request, or nullopt and the reason in `error`.
std::optional<ChatRequest> parse_chat_request(const std::string& body, std::string& error);

// The content of a normal reply: one object that the text, npc and tool parsers all accept.
// Persona-creation prompts (recognised by the paper's wording, which our templates keep) get
// persona-shaped replies instead, unique to the prompt: one persona, or a JSON array of three.
std::string echo_content(const std::string& prompt, size_t index);

// A chat.completion body for the request that arrived `index`-th, with usage estimated from the
// sizes of the prompt and the content.
std::string completion_body(size_t index, const std::string& model, const std::string& prompt,
                            const std::string& content, std::string_view finish_reason);

struct EmbeddingsRequest {
  std::optional<std::string> model;
  std::vector<std::string> texts;  // "input": one string or an array of strings
};

// The model and texts of an embeddings request, or nullopt and the reason in `error`.
std::optional<EmbeddingsRequest> parse_embeddings_request(const std::string& body,
                                                          std::string& error);

// A list of test_embedding() of each text, with usage estimated from their total size.
std::string embeddings_body(const std::vector<std::string>& texts, const std::string& model);

// The /v1/models list, which holds `model` alone.
std::string models_body(const std::string& model);

// `when` as an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"), as Retry-After may carry it.
std::string http_date(std::time_t when);

}  // namespace personagen::testing::detail
