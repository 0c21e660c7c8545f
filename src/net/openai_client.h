#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace personagen {

// Sampling parameters; an unset one is not sent, so the server's default applies.
struct SamplingParams {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;
};

// What else every request carries, from --system, --extra-body and --structured.
struct RequestExtras {
  std::string system;  // a system message before the user message ("" = none)
  std::string fields;  // more top-level members, as compact JSON text without braces ("" = none)
  // The "response_format" member's value as compact JSON text ("" = none): structured outputs.
  std::string response_format;

  bool empty() const { return system.empty() && fields.empty() && response_format.empty(); }
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  // usage.completion_tokens_details.reasoning_tokens (OpenAI, vLLM, OpenRouter): the part of
  // completion_tokens spent thinking; 0 when the server does not say.
  int64_t reasoning_tokens = 0;

  // Adds another reply's usage: a conversation's requests, a solve line's samples.
  Usage& operator+=(const Usage& other) {
    prompt_tokens += other.prompt_tokens;
    completion_tokens += other.completion_tokens;
    total_tokens += other.total_tokens;
    reasoning_tokens += other.reasoning_tokens;
    return *this;
  }
};

// What the client needs from a chat completion, in native types.
struct Completion {
  std::string content;        // the answer, without the thinking of a reasoning model
  std::string reasoning;      // the thinking, if the server or the model gave any
  std::string finish_reason;  // "stop", "length", ...; empty if the server sent none
  // The reply's "model": what the server says it ran, which may differ from the model asked
  // for (an alias mapped to a checkpoint, a dated snapshot); empty if it sent none.
  std::string model;
  Usage usage;
};

// "<base>/chat/completions", tolerating a trailing slash on the base URL.
std::string chat_completions_url(std::string_view base_url);

// One message of a conversation, as views into the caller's text.
struct ChatMessage {
  std::string_view role;  // "user" or "assistant"
  std::string_view content;
};

// The JSON body of a /v1/chat/completions request with one user message, after the system
// message and with the response_format and extra fields of `extras`, if any.
std::string build_chat_body(std::string_view model, std::string_view user_message,
                            const SamplingParams& sampling, const RequestExtras& extras = {});

// The same with a conversation: the system message of `extras`, then `messages` (not empty).
std::string build_chat_body(std::string_view model, std::span<const ChatMessage> messages,
                            const SamplingParams& sampling, const RequestExtras& extras = {});

// Checks the JSON object of --extra-body and returns its members for RequestExtras::fields, in
// one canonical form (compact, keys sorted), so the same object always gives the same requests
// and keys. Throws a usage Error when the text is not a JSON object, or when it sets "model",
// "messages" or "stream" (the tool owns those), or a sampling parameter its flag also sets.
std::string extra_body_fields(std::string_view json_text, const SamplingParams& sampling);

// Parses a 2xx reply body. Returns nullopt and sets `error` (one line) when the body is not JSON,
// has no choices[0].message, or its content is not a string or null (null becomes "").
// A reasoning model's thinking goes to `reasoning`, from message.reasoning_content (vLLM before
// 0.11, SGLang, DeepSeek) or else message.reasoning (OpenRouter, Ollama, newer vLLM) when either
// is a non-empty string, and from a <think>...</think> block that opens the content (after
// blanks; Qwen3 and R1-style models served without a reasoning parser): the block leaves the
// content, whose leading blanks go too, and its trimmed text becomes `reasoning` unless a field
// already gave one, which then wins (it is what the server parsed). A <think> that never closes
// (the reply was cut off while thinking) makes all of the content reasoning, and content empty.
// A lone </think> with no <think> before it (templates that open the block in the prompt, as
// DeepSeek-R1's and Qwen3's do) closes a block that began with the content.
std::optional<Completion> parse_completion(std::string_view body, std::string& error);

// The error.message of an OpenAI-style error body, else the start of the body, else
// "(empty body)"; at most 300 bytes, on one line.
std::string error_message(std::string_view body);

}  // namespace personagen
