#pragma once

// The JSON the test server reads and writes: the requests it parses and the bodies of its
// replies, in the OpenAI wire format. Only this file's .cpp includes nlohmann.

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace personagen::testing::detail {

// The Content-Type of every JSON reply. httplib compresses "application/json" replies whenever
// the client accepts an encoding, with brotli at its slowest setting: milliseconds of CPU per
// reply. With a charset parameter the type is not on its list, so replies go out as they are.
inline constexpr const char* kJsonType = "application/json; charset=utf-8";

// An OpenAI error body: {"error":{"message":...,"type":...,"code":...}}.
std::string error_body(std::string_view message, std::string_view type, int code);

// The same with a string code, as OpenAI sends for some errors ("model_not_found").
std::string error_body_with_code(std::string_view message, std::string_view type,
                                 std::string_view code);

// A 401 body that quotes the key of `authorization` ("Bearer <key>"), as a careless server
// might: the client must never print or write what comes back.
std::string unauthorized_body(std::string authorization);

// The "seed" member of a request as a whole number of either sign, so every JSON integer fits
// (int64 and uint64 alike). Absent, fractional, beyond 64 bits or not a number: 0.
struct RequestSeed {
  uint64_t magnitude = 0;
  bool negative = false;

  // The seed modulo n (n > 0) in 0..n-1, as mathematics has it: -1 mod 3 is 2, so seeds
  // seed, seed + 1, ... pick entries in turn whatever their sign.
  size_t mod(size_t n) const {
    size_t rest = static_cast<size_t>(magnitude % n);
    return negative && rest != 0 ? n - rest : rest;
  }
};

struct ChatRequest {
  std::string model;   // "" when the request names none
  std::string prompt;  // the content of the last message with role "user"
  RequestSeed seed;
  size_t user_messages = 0;  // how many messages have role "user"
  // Every message with text, in order, as "<role>: <text>\n": for the markers that any message
  // may carry and for a tag that tells one conversation from another.
  std::string transcript;
  // response_format.json_schema.name when the request has one, else "": which schema a
  // constrained reply follows.
  std::string schema_name;
};

// The model, prompt and the rest of a chat completion request, or nullopt and the reason in
// `error`.
std::optional<ChatRequest> parse_chat_request(const std::string& body, std::string& error);

// The content of the reply to a prompt that nothing else scripts: one object that the text, npc
// and tool parsers all accept (a function tool, an NPC, the prompt and the request's index).
std::string echo_content(const std::string& prompt, size_t index);

// Scripted replies (scripted_replies.h). A chat request gets the echo above unless it scripts
// another reply; in the order they are tried, the first that applies gives the content:
//   judge prompt     The last user message contains "You are judging one piece of synthetic
//                    training data" (prompts/judge/zero-shot.txt): {"scores": {"validity": V,
//                    "persona_fit": P, "quality": Q}, "reason": "Judged by the test server (echo
//                    <tag>)."} with V, P, Q the three comma-separated entries of the prompt's
//                    first [[judge: V,P,Q]] marker, copied as written (so "11" or "7.5" make a
//                    reply the client must refuse), else 1 + h mod 10, 1 + (h >> 8) mod 10 and
//                    1 + (h >> 16) mod 10 for h the prompt's 64-bit FNV-1a hash.
//   persona as user  The last user message contains "You are playing the user in a
//                    conversation": one line, "Follow-up from echo persona <tag>: and what about
//                    case <n>?", where <tag> is 8 hex digits of the prompt's hash and <n> counts
//                    the prompt's lines that start with "Assistant:" (the transcript shown).
//   [[answers: A|B|C]]  in the last user message (the first such marker, up to the next "]]"):
//                    "Solution: we read the problem (echo <tag>, seed <s>) and work it out step
//                    by step.\n\nThe final answer is \boxed{X}." with X the entry at
//                    index seed mod n (from 0) of the n "|"-separated entries, trimmed of blanks
//                    and with each "\\" read as "\" (so a marker quoted inside JSON text still
//                    gives \frac{1}{2}). Seed: the request's integer "seed" (RequestSeed). An empty
//                    entry gives "Solution: we read the problem (echo <tag>, seed <s>) and work it
//                    out step by step, but the working stops short." with no box and no
//                    "answer" at all, which a client must treat as invalid.
//   solve prompt     Without a marker, a prompt holding "put your final answer within \boxed{}"
//                    gets the solution above with one entry: a number from the prompt's hash,
//                    the same for every seed, so every sample agrees.
//   conversation     More than one user message: "Assistant reply <k> (<tag>): thanks, here is
//                    the next step." with <k> the number of user messages and <tag> 8 hex digits
//                    of the hash of every message, so each conversation turn differs.
//   task prompt      A prompt of one of personagen's tasks: task_reply() (task_replies.h), a reply
//                    that looks like the task's (a math problem, an NPC, ...).
//   echo             Anything else: echo_content(), as it always was.
// Thinking, for a marker in any message, combined with the content above (several may apply):
//   [[think]]            the thinking goes in the message's "reasoning_content", and usage gets
//                        "completion_tokens_details": {"reasoning_tokens": N} (N > 0, counted
//                        in completion_tokens)
//   [[reasoning-field]]  the same in "reasoning" instead
//   [[think-inline]]     the content starts with "<think>\n<thinking>\n</think>\n\n"
// The thinking is "Let me think about this (echo <tag>).\nFirst I restate the question, then I
// check each step." with <tag> from the prompt's hash. Every scripted reply is a function of the
// request alone, so a rerun gets the same text.

// What the assistant message of a reply holds: the content, and thinking that goes in a field of
// its own beside it (thinking inline in the content is part of `content`).
struct ChatReply {
  std::string content;
  std::string reasoning;           // the thinking; only sent when a field below is chosen
  bool reasoning_content = false;  // send it as "reasoning_content" (vLLM, SGLang, DeepSeek)
  bool reasoning_field = false;    // send it as "reasoning" (OpenRouter, Ollama)
};

// A chat.completion body for the request that arrived `index`-th, with usage estimated from the
// sizes of the prompt and the content. Thinking sent in a field adds its tokens to
// completion_tokens and reports them in "completion_tokens_details": {"reasoning_tokens": N};
// without it the body is what it always was.
std::string completion_body(size_t index, const std::string& model, const std::string& prompt,
                            const ChatReply& reply, std::string_view finish_reason);

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
