#include "net/retry_policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "net/openai_client.h"
#include "util/text_util.h"

namespace personagen {

std::string_view to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::http_status:
      return "http_status";
    case FailureKind::timeout:
      return "timeout";
    case FailureKind::transport:
      return "transport";
    case FailureKind::bad_json:
      return "bad_json";
    case FailureKind::empty:
      return "empty";
    case FailureKind::truncated:
      return "truncated";
    case FailureKind::invalid_output:
      return "invalid_output";
    case FailureKind::auth:
      return "auth";
    case FailureKind::too_large:
      return "too_large";
    case FailureKind::not_run:
      return "not_run";
  }
  return "unknown";
}

namespace {

// Whether an error message says that the server refused the request's response_format, in the
// words the servers use: OpenAI ("Invalid schema for response_format 'npc': ...", "Invalid
// parameter: 'response_format' of type 'json_schema' is not supported with this model"), vLLM
// ("The provided JSON schema contains features not supported by xgrammar.", "Failed to transform
// json schema into a grammar: ...", guided_json before 0.10), llama.cpp ("response_format type
// must be one of \"text\" or \"json_object\"", "JSON schema conversion failed"), SGLang (its
// grammar backends' errors) and servers that say "structured output(s)" are not supported.
bool names_response_format(std::string_view message) {
  std::string lower(message);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (std::string_view words : {"response_format", "json_schema", "json schema", "guided_json",
                                 "structured output", "grammar"})
    if (lower.find(words) != std::string::npos) return true;
  return false;
}

}  // namespace

Verdict classify_http(const HttpResponse& response, bool response_format_sent) {
  if (response.error == TransportError::timeout) {
    return Verdict::retry(FailureKind::timeout, "timeout: " + response.error_text);
  }
  if (response.error == TransportError::too_large) {
    return Verdict::fail(FailureKind::too_large, response.error_text + " (--max-reply-bytes)");
  }
  if (response.error == TransportError::not_run) {
    return Verdict::fail(FailureKind::not_run, response.error_text);
  }
  if (response.error != TransportError::none) {
    return Verdict::retry(FailureKind::transport, "transport: " + response.error_text);
  }
  long status = response.status;
  if (status >= 200 && status < 300) return Verdict::accept();
  std::string reason = "HTTP " + std::to_string(status);
  std::string message = error_message(response.body);
  if (!message.empty()) reason += ": " + message;
  if (status == 401 || status == 403) return Verdict::fatal(FailureKind::auth, std::move(reason));
  // Every request of the run carries the same response_format, so every one would be refused.
  if (response_format_sent && (status == 400 || status == 422) && names_response_format(message)) {
    return Verdict::fatal(FailureKind::http_status,
                          "the server refused response_format (" + reason +
                              "); it may not support structured outputs: rerun with "
                              "--structured off --restart (a new configuration)");
  }
  if (status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600)) {
    return Verdict::retry(FailureKind::http_status, std::move(reason));
  }
  return Verdict::fail(FailureKind::http_status, std::move(reason));
}

namespace {

// A non-negative decimal number: digits with at most one '.', and nothing else (no sign,
// exponent, "inf" or "nan", which from_chars would accept).
std::optional<double> parse_decimal(std::string_view s) {
  s = trim(s, kSpaceTabNewline);
  bool digit = false;
  int dots = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c == '.') {
      ++dots;
    } else {
      return std::nullopt;
    }
  }
  if (!digit || dots > 1) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<double> parse_retry_after(std::string_view value, std::time_t now) {
  value = trim(value, kSpaceTabNewline);
  if (auto seconds = parse_decimal(value)) return seconds;
  // IMF-fixdate, the only date format RFC 9110 lets senders use: "Wed, 21 Oct 2015 07:28:00 GMT".
  std::string text(value);
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  std::time_t when = timegm(&tm);
  if (when == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::max(0.0, std::difftime(when, now));
}

double retry_delay(int retry, const RetryPolicy& policy, const HttpResponse& response,
                   std::mt19937_64& rng, std::time_t now) {
  double cap_server = std::max(0.0, policy.max_retry_after_seconds);
  if (!response.retry_after_ms.empty()) {
    if (auto ms = parse_decimal(response.retry_after_ms)) return std::min(*ms / 1000, cap_server);
  }
  if (!response.retry_after.empty()) {
    if (auto seconds = parse_retry_after(response.retry_after, now)) {
      return std::min(*seconds, cap_server);
    }
  }
  int exponent = std::clamp(retry, 1, 1000) - 1;
  double ceiling = std::min(policy.cap_seconds, std::ldexp(policy.base_seconds, exponent));
  if (!(ceiling > 0)) return 0;
  return std::uniform_real_distribution<double>(0, ceiling)(rng);
}

}  // namespace personagen
