#include "app/check_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/api_key.h"
#include "app/cli_flags.h"
#include "app/terminal.h"
#include "net/batch_api.h"
#include "net/endpoint_balancer.h"
#include "net/openai_client.h"
#include "net/url.h"
#include "personagen/http_transport.h"
#include "synth/output_parsers.h"
#include "synth/schemas.h"

namespace personagen {

namespace {

using Clock = std::chrono::steady_clock;

// The tiny chat request: enough tokens for a one-word answer, so it costs next to nothing.
constexpr int64_t kChatMaxTokens = 16;
// The structured request: room for {"ready": true} and a little.
constexpr int64_t kStructuredMaxTokens = 32;
// A reply to either is small; anything bigger is a broken server.
constexpr uint64_t kMaxReplyBytes = 1 << 20;
// How many of the server's model ids a line names.
constexpr size_t kModelsShown = 8;

constexpr const char* kChatPrompt = "Reply with one word: ready.";
constexpr const char* kStructuredPrompt = "Reply with the JSON object {\"ready\": true}.";
// Strict-eligible, so OpenAI checks it as it would a strict task schema.
constexpr const char* kCheckSchema =
    R"({"type":"object","properties":{"ready":{"type":"boolean"}},"required":["ready"],)"
    R"("additionalProperties":false})";

enum class Level { ok, warn, fail };

// `text` with every word that starts "sk-" masked as "sk-***", up to the first character that
// no key, whole or starred, holds (a blank, a quote, a parenthesis, ...): a server's error message
// may quote part of the key ("Incorrect API key provided: sk-proj-****abcd"), which
// without_api_key(), matching the whole key, leaves alone.
std::string without_key_fragments(std::string_view text) {
  auto word_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  };
  std::string out;
  size_t at = 0;
  for (size_t found; (found = text.find("sk-", at)) != std::string_view::npos;) {
    if (found > 0 && word_char(text[found - 1])) {
      out.append(text.substr(at, found + 3 - at));
      at = found + 3;
      continue;
    }
    size_t end = found + 3;
    while (end < text.size() && (word_char(text[end]) || text[end] == '*')) ++end;
    out.append(text.substr(at, found - at)).append("sk-***");
    at = end;
  }
  return out.append(text.substr(at));
}

// Prints an endpoint's findings as they come, masked, and counts them.
class Findings {
 public:
  explicit Findings(const Options& options) : options_(options) {}

  void line(Level level, const std::string& what) {
    const char* label = level == Level::ok ? "ok  " : level == Level::warn ? "warn" : "FAIL";
    raw(std::string("  ") + label + "  " + what + "\n");
    if (level == Level::warn) ++warnings_;
    if (level == Level::fail) ++failures_;
  }
  void raw(const std::string& text) {
    write_stdout(without_key_fragments(without_api_key(text, options_)));
  }
  size_t failures() const { return failures_; }
  size_t warnings() const { return warnings_; }

 private:
  const Options& options_;
  size_t failures_ = 0;
  size_t warnings_ = 0;
};

// What one POST got, and how long it took.
struct Reply {
  HttpResponse response;
  double ms = 0;
  bool ok() const { return response.error == TransportError::none && response.status / 100 == 2; }
};

// One POST through the transport synth uses, not retried.
Reply post_once(Transport& transport, const std::string& body) {
  Clock::time_point start = Clock::now();
  transport.start(HttpRequest{1, body, ""});
  std::vector<HttpResponse> finished;
  while (finished.empty()) transport.wait(1000, finished);
  Reply reply{std::move(finished.front()), 0};
  reply.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return reply;
}

std::string ms_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f ms", ms);
  return text;
}

// A failed request in a few words: the transport's error, or the status and the server's
// error.message.
std::string failure_text(const HttpResponse& response, double timeout_seconds) {
  if (response.error == TransportError::timeout) {
    char text[64];
    std::snprintf(text, sizeof text, "no reply within %g s (--timeout)", timeout_seconds);
    return text;
  }
  if (response.error != TransportError::none) return "not reached: " + response.error_text;
  return std::to_string(response.status) + ": " + error_message(response.body);
}

bool refused_key(long status) {
  return status == 401 || status == 403;
}

std::string key_advice(const std::string& api_key) {
  return api_key.empty() ? "no API key was sent: set $OPENAI_API_KEY or --api-key-file"
                         : "the API key was refused: check $OPENAI_API_KEY or --api-key-file";
}

// The first `kModelsShown` ids, comma-separated, and how many more there are.
std::string some_models(const std::vector<std::string>& ids) {
  std::string text;
  for (size_t i = 0; i < ids.size() && i < kModelsShown; ++i) text += (i ? ", " : "") + ids[i];
  if (ids.size() > kModelsShown) text += ", ... (" + std::to_string(ids.size()) + " in all)";
  return text;
}

// The HTTP status that a BatchApi error names ("GET /v1/models: 401: ..."), or 0 when it names
// none (the server was not reached).
long status_in(const std::string& message) {
  size_t colon = message.find(": ");
  if (colon == std::string::npos || colon + 6 > message.size()) return 0;
  std::string code = message.substr(colon + 2, 3);
  if (message.compare(colon + 5, 1, ":") != 0 ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return 0;
  return std::stol(code);
}

// Whether a BatchApi error for `call` ("GET /v1/models") is about a reply the server did send, a
// 2xx that could not be read (an HTML page from a proxy, a list without "data", one over the size
// limit), rather than a transport error. BatchApi words these as "<call>: the reply...",
// "<call>: list: ..." and "<call>: a model: ..." (batch_api.cpp, batch_objects.cpp).
bool unreadable_reply(const std::string& message) {
  size_t colon = message.find(": ");
  if (colon == std::string::npos) return false;
  std::string_view rest = std::string_view(message).substr(colon + 2);
  return rest.starts_with("the reply") || rest.starts_with("list: ") ||
         rest.starts_with("a model: ");
}

// GET /models. Returns false when the endpoint's check should stop: the key was refused or the
// server could not be reached (every other request would fail the same way).
bool check_models(const std::string& base, const std::string& api_key, const Options& options,
                  std::optional<std::vector<std::string>>& ids, Findings& out) {
  try {
    BatchApi api({base, api_key, options.timeout_seconds, /*max_retries=*/0});
    ids = api.list_models();
    return true;
  } catch (const Error& e) {
    const std::string message = e.what();
    const long status = status_in(message);
    if (refused_key(status)) {
      out.line(Level::fail, "models: " + key_advice(api_key) + " (" + message + ")");
      return false;
    }
    if (status == 0 && unreadable_reply(message)) {
      out.line(Level::warn, "models: the reply could not be read (" + message +
                                "): a proxy's page instead of the API? the chat request decides");
      return true;
    }
    if (status == 0) {
      out.line(Level::fail, "models: the server was not reached (" + message + ")");
      return false;
    }
    out.line(Level::warn, "models: no list of models (" + message + "); the chat request decides");
    return true;
  }
}

// The "error"."code" of an OpenAI error body, or "" when it has none.
std::string error_code(const std::string& body) {
  nlohmann::json reply = nlohmann::json::parse(body, nullptr, false);
  if (!reply.is_object()) return "";
  auto error = reply.find("error");
  if (error == reply.end() || !error->is_object()) return "";
  auto code = error->find("code");
  return code != error->end() && code->is_string() ? code->get<std::string>() : "";
}

// Whether a failed chat reply says the model does not exist: a 404, the code "model_not_found",
// or a message naming the model as not there. Other 400s that mention "model" (as "'max_tokens'
// is not supported with this model" does) are about something else.
bool refused_model(const HttpResponse& response, const std::string& model) {
  if (response.error != TransportError::none) return false;
  if (response.status == 404 || error_code(response.body) == "model_not_found") return true;
  const std::string message = error_message(response.body);
  return !model.empty() && message.find(model) != std::string::npos &&
         (message.find("not exist") != std::string::npos ||
          message.find("not found") != std::string::npos);
}

// Whether a failed chat reply is a 400 naming max_tokens, as OpenAI's reasoning models (o1, o3,
// gpt-5) answer it: "Unsupported parameter: 'max_tokens' ... use 'max_completion_tokens'".
bool refused_max_tokens(const HttpResponse& response) {
  return response.error == TransportError::none && response.status == 400 &&
         error_message(response.body).find("max_tokens") != std::string::npos;
}

// The tiny chat request. Returns whether a synth run's chat requests would work; sets
// `no_max_tokens` when the server refuses max_tokens, so the next request leaves it out.
bool check_chat(Transport& transport, const std::string& api_key, const Options& options,
                bool& no_max_tokens, Findings& out) {
  SamplingParams sampling;
  sampling.max_tokens = kChatMaxTokens;
  Reply reply = post_once(transport, build_chat_body(options.model, kChatPrompt, sampling));
  if (refused_max_tokens(reply.response)) {
    // synth sends max_tokens only with --max-tokens (SamplingParams::max_tokens is unset
    // otherwise, and build_chat_body() then leaves it out), so a run without it works here.
    no_max_tokens = true;
    out.line(Level::warn,
             "chat: the server refuses max_tokens (a reasoning model?); synth works without "
             "--max-tokens (" +
                 failure_text(reply.response, options.timeout_seconds) + ")");
    return true;
  }
  if (!reply.ok()) {
    std::string what = failure_text(reply.response, options.timeout_seconds);
    if (refused_key(reply.response.status))
      what = key_advice(api_key) + " (" + what + ")";
    else if (refused_model(reply.response, options.model))
      what = "model \"" + options.model + "\" was refused (" + what + ")";
    out.line(Level::fail, "chat: " + what);
    return false;
  }
  std::string error;
  std::optional<Completion> completion = parse_completion(reply.response.body, error);
  if (!completion) {
    out.line(Level::fail, "chat: " + std::to_string(reply.response.status) +
                              " but not a chat completion: " + error);
    return false;
  }
  const Usage& usage = completion->usage;
  std::string what = "chat: " + std::to_string(reply.response.status) + " in " + ms_text(reply.ms) +
                     ", finish_reason " +
                     (completion->finish_reason.empty() ? "(none)" : completion->finish_reason);
  if (completion->finish_reason == "length")
    what += " (cut at max_tokens " + std::to_string(kChatMaxTokens) + ", as asked)";
  what += ", usage " + std::to_string(usage.prompt_tokens) + " prompt + " +
          std::to_string(usage.completion_tokens) + " completion tokens";
  if (usage.reasoning_tokens > 0)
    what += " (" + std::to_string(usage.reasoning_tokens) + " reasoning)";
  if (!completion->model.empty() && completion->model != options.model)
    what += ", served by \"" + completion->model + "\"";
  out.line(Level::ok, what);
  if (usage.total_tokens == 0 && usage.prompt_tokens == 0)
    out.line(Level::warn, "chat: the reply has no usage: token counts and costs will read 0");
  return true;
}

// The response_format request: a refusal fails the check when --structured asks for it outright,
// and warns under auto, where only the JSON tasks need it.
void check_structured(Transport& transport, const Options& options, Structured mode,
                      bool no_max_tokens, Findings& out) {
  RequestExtras extras;
  const bool object = mode == Structured::json_object;
  extras.response_format = object ? std::string(R"({"type":"json_object"})")
                                  : response_format_json(Structured::json_schema, "check",
                                                         std::string_view(kCheckSchema));
  const std::string kind = object ? "json_object" : "json_schema";
  SamplingParams sampling;
  if (!no_max_tokens) sampling.max_tokens = kStructuredMaxTokens;
  Reply reply =
      post_once(transport, build_chat_body(options.model, kStructuredPrompt, sampling, extras));
  if (!reply.ok()) {
    std::string what = "structured: response_format " + kind + " was refused (" +
                       failure_text(reply.response, options.timeout_seconds) + ")";
    if (mode == Structured::automatic) {
      out.line(Level::warn, what +
                                ": text tasks work; npc, tool and persona-to-persona need "
                                "--structured off here");
    } else {
      out.line(Level::fail, what + ": use --structured off (or auto for text tasks)");
    }
    return;
  }
  std::string error;
  std::optional<Completion> completion = parse_completion(reply.response.body, error);
  std::string reason;
  if (completion && first_json_object(completion->content, reason)) {
    out.line(Level::ok, "structured: response_format " + kind + " accepted in " +
                            ms_text(reply.ms) + "; the reply is a JSON object");
    return;
  }
  out.line(Level::warn, "structured: response_format " + kind +
                            " accepted, but the reply is not a JSON object (" +
                            (completion ? reason : error) +
                            "): the server may ignore it, and the parsers then decide alone");
}

// Every check of one endpoint; returns whether a run would work there.
bool check_endpoint(const std::string& base, const std::string& api_key, const Options& options,
                    Structured mode, Findings& out) {
  const size_t failures_before = out.failures();
  out.raw("check " + display_url(base) +
          (options.model.empty() ? "" : " (model " + options.model + ")") + "\n");
  std::optional<std::vector<std::string>> ids;
  if (!check_models(base, api_key, options, ids, out)) return false;
  const bool listed = ids && std::find(ids->begin(), ids->end(), options.model) != ids->end();
  if (options.model.empty()) {
    out.line(Level::fail, "model: none given (--model or $OPENAI_MODEL)" +
                              (ids && !ids->empty() ? "; the server offers " + some_models(*ids)
                                                    : std::string()));
    return false;
  }
  if (ids && listed) {
    out.line(Level::ok, "models: " + std::to_string(ids->size()) + " offered; \"" + options.model +
                            "\" is among them");
  }
  TransportOptions transport_options;
  transport_options.urls = {chat_completions_url(base)};
  transport_options.api_key = api_key;
  transport_options.timeout_seconds = options.timeout_seconds;
  transport_options.max_connections = 1;
  transport_options.max_reply_bytes = kMaxReplyBytes;
  std::unique_ptr<Transport> transport = make_curl_transport(transport_options);
  bool no_max_tokens = false;
  const bool chat = check_chat(*transport, api_key, options, no_max_tokens, out);
  if (ids && !listed) {
    std::string what = "models: \"" + options.model + "\" is not among the " +
                       std::to_string(ids->size()) + " the server offers (" + some_models(*ids) +
                       ")";
    if (chat) {
      out.line(Level::warn, what + ", though the chat request with it worked");
    } else {
      out.line(Level::fail, what);
    }
  }
  if (chat && mode != Structured::off)
    check_structured(*transport, options, mode, no_max_tokens, out);
  return out.failures() == failures_before;
}

}  // namespace

CLI::App* add_check_command(CLI::App& app, Options& o) {
  CLI::App* check = app.add_subcommand(
      "check",
      "Check that an endpoint is set up for synth (key, model, response_format), with "
      "at most three small requests");
  add_endpoint_flags(*check, o);
  check->add_option("--model", o.model, "Model name sent as \"model\" (default: $OPENAI_MODEL)");
  check
      ->add_option("--structured", o.structured,
                   "auto | json_schema | json_object | off: which response_format to try (off: "
                   "none; auto: a refusal only warns, as text tasks need none)")
      ->capture_default_str();
  check->add_option("--timeout", o.timeout_seconds, "Per-request timeout, seconds")
      ->capture_default_str()
      ->transform(in_range({.above_min = true}));
  return check;
}

ExitCode run_check_command(const Options& options) {
  check_base_urls(options.base_urls, "check: ");
  std::optional<Structured> mode = parse_structured(options.structured);
  if (!mode)
    throw usage_error("check: unknown --structured \"" + options.structured +
                      "\" (expected auto, json_schema, json_object or off)");
  const std::string api_key = read_api_key(options);
  Findings out(options);
  size_t failed = 0;
  for (const std::string& base : options.base_urls)
    if (!check_endpoint(base, api_key, options, *mode, out)) ++failed;

  const size_t endpoints = options.base_urls.size();
  const std::string where =
      endpoints == 1 ? "this endpoint" : "all " + std::to_string(endpoints) + " endpoints";
  if (failed > 0) {
    out.raw("verdict: FAIL: a run would not work on " + std::to_string(failed) + " of " +
            std::to_string(endpoints) + (endpoints == 1 ? " endpoint" : " endpoints") +
            " (see the FAIL lines above)\n");
    return ExitCode::error;
  }
  std::string warnings = out.warnings() == 0
                             ? ""
                             : " (" + std::to_string(out.warnings()) +
                                   (out.warnings() == 1 ? " warning" : " warnings") + " above)";
  out.raw("verdict: ok: synth --model " + options.model + " would work on " + where + warnings +
          "\n");
  return ExitCode::ok;
}

}  // namespace personagen
