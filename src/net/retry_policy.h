#pragma once

#include <any>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "personagen/http_transport.h"

namespace personagen {

// Why a request did not produce a record. A closed set: summaries and failures.jsonl use these
// names.
enum class FailureKind {
  http_status,     // a non-retryable or exhausted HTTP status
  timeout,         // no full reply within --timeout
  transport,       // connection refused, reset or dropped; TLS; truncated transfer
  bad_json,        // the reply body was not a chat completion
  empty,           // the completion's content was empty
  truncated,       // finish_reason "length"
  invalid_output,  // the task's parser rejected the content
  auth,            // 401 or 403: the run stops
  too_large,       // the reply was over --max-reply-bytes; not retried (it is billed, and
                   // the same prompt likely gets as long a reply)
  not_run,         // a batch never ran it (expired, cancelled, or no result in the files)
};
std::string_view to_string(FailureKind kind);

// What to do with one reply.
struct Verdict {
  enum class Action { accept, retry, fail, fatal };
  Action action = Action::accept;
  FailureKind kind = FailureKind::http_status;
  std::string reason;  // one line, for failures.jsonl and logs
  // Tokens the reply actually used (usage.total_tokens), when known; the --tpm bucket is
  // corrected by the difference from the job's estimate. Negative: unknown.
  int64_t tokens_used = -1;
  // What the owner's judge() made of an accepted reply (e.g. the parsed completion), handed back
  // to its finish() with the verdict. The pool never looks inside.
  std::any output{};

  static Verdict accept() { return {}; }
  static Verdict retry(FailureKind k, std::string why) {
    return {Action::retry, k, std::move(why)};
  }
  static Verdict fail(FailureKind k, std::string why) { return {Action::fail, k, std::move(why)}; }
  static Verdict fatal(FailureKind k, std::string why) {
    return {Action::fatal, k, std::move(why)};
  }
};

// Judges a reply at the HTTP level, the one place that maps transport errors and status codes
// onto actions: transport errors, 408, 409, 429 and 5xx retry; 401 and 403 are fatal, and so is
// when the request carried a response_format, a 400 or 422 whose error message says the server
// refused it (or its JSON schema, grammar or structured output), with a reason that suggests
// --structured off;
// a reply over the size limit and other non-2xx statuses fail; 2xx is accepted (its body still
// has to be judged).
Verdict classify_http(const HttpResponse& response, bool response_format_sent = false);

struct RetryPolicy {
  int max_retries = 5;  // retries after the first attempt
  // Retries of a reply cut off at the token limit (FailureKind::truncated), within max_retries:
  // the same prompt with the same limit is usually cut off again, and every reply is billed.
  int max_length_retries = 1;
  double base_seconds = 0.5;
  double cap_seconds = 30;               // cap of the exponential backoff
  double max_retry_after_seconds = 300;  // a server's Retry-After is honoured up to this
};

// Parses a Retry-After value: delta-seconds ("3", "1.5") or an HTTP date, relative to `now`.
// Returns nullopt when the value is neither. Negative results are clamped to 0.
std::optional<double> parse_retry_after(std::string_view value, std::time_t now);

// Seconds to wait before retry number `retry` (1 = first retry). The server's retry-after-ms or
// Retry-After wins when present; otherwise full jitter: uniform in [0, min(cap, base *
// 2^(retry-1))].
double retry_delay(int retry, const RetryPolicy& policy, const HttpResponse& response,
                   std::mt19937_64& rng, std::time_t now);

}  // namespace personagen
