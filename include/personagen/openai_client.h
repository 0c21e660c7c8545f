#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace personagen {

// Sampling parameters; an unset one is not sent, so the server's default applies.
struct SamplingParams {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

// What the client needs from a chat completion, in native types.
struct Completion {
  std::string content;
  std::string finish_reason;  // "stop", "length", ...; empty if the server sent none
  Usage usage;
};

// "<base>/chat/completions", tolerating a trailing slash on the base URL.
std::string chat_completions_url(std::string_view base_url);

// The JSON body of a /v1/chat/completions request with one user message.
std::string build_chat_body(std::string_view model, std::string_view user_message,
                            const SamplingParams& sampling);

// Parses a 2xx reply body. Returns nullopt and sets `error` (one line) when the body is not JSON,
// has no choices[0].message, or its content is not a string or null (null becomes "").
std::optional<Completion> parse_completion(std::string_view body, std::string& error);

// The error.message of an OpenAI-style error body, else the start of the body; at most 300 bytes,
// on one line.
std::string error_message(std::string_view body);

}  // namespace personagen
