#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "personagen/http_transport.h"
#include "personagen/request_id.h"

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
// onto actions: transport errors, 408, 409, 429 and 5xx retry; 401 and 403 are fatal; a reply
// over the size limit and other non-2xx statuses fail; 2xx is accepted (its body still has to be
// judged).
Verdict classify_http(const HttpResponse& response);

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

struct PoolOptions {
  size_t concurrency = 64;  // requests in flight, at most
  RetryPolicy retry;
  double grace_seconds = 30;       // after an interrupt, how long requests in flight may finish
  uint64_t seed = 0;               // jitter
  double requests_per_minute = 0;  // --rpm token bucket; 0 = unlimited
  double tokens_per_minute = 0;    // --tpm token bucket; 0 = unlimited
  // Multiplicative decrease of the in-flight limit on a burst of 429s, additive increase on
  // success, never above `concurrency`.
  bool adaptive = true;
  // One request out at a time (in flight or waiting for its retry) until the first reply is
  // accepted, so that a broken configuration (a wrong key, model or URL) costs one request, not
  // a window of `concurrency`. Before that first success a 404, or three 400/422s in a row, is
  // fatal too: the configuration is wrong.
  bool slow_start = true;
  // An earlier run of this configuration had replies accepted: a refusal before the first
  // success of this one is about its request, not the configuration, and is not fatal.
  bool configuration_proven = false;
  // When the last few replies all failed to connect (or one whose retries are used up did), the
  // endpoint is down: no new
  // job starts, one waiting job probes with a doubling delay, and connect failures do not use up
  // retries, for at most this long. Then the jobs retry and fail as usual (and if no request has
  // ever succeeded, the run stops: the URL is wrong). 0 turns this off.
  double outage_wait_seconds = 300;
};

// A request the pool manages. `id` refers to the caller's own state for the request.
struct Job {
  RequestId id;
  std::string body;
  int attempts = 0;               // requests sent so far, including the one that just finished
  int truncations = 0;            // of those, replies cut off at the token limit
  int outage_attempts = 0;        // of those, connect failures during an outage (not counted)
  uint64_t estimated_tokens = 0;  // prompt + expected completion tokens, for --tpm
};

// Drives a Transport in one loop: starts jobs while fewer than `concurrency` are in flight,
// waits, judges what finished, and schedules retries. A job waiting for its retry does not hold
// an in-flight slot. Only the thread that calls run() touches the pool and the hooks' state.
class RequestPool {
 public:
  struct Hooks {
    // Fills `job` (id and body; attempts is 0) with the next new request. Returns false when
    // there is none right now; the pool asks again on its next turn.
    std::function<bool(Job& job)> next;
    // Judges a reply that classify_http accepted: parse, validate. May return retry or fail.
    std::function<Verdict(const Job& job, const HttpResponse& response)> judge;
    // Called exactly once per job that is done for good, with an accept or fail verdict.
    std::function<void(const Job& job, const HttpResponse& response, const Verdict& verdict)>
        finish;
    // Called once per loop turn, for progress and checkpoints.
    std::function<void()> tick;
  };

  enum class Stop {
    drained,      // next() returned false with nothing in flight or waiting
    interrupted,  // the interrupt level rose; unfinished jobs were dropped, never finished
    fatal,        // a verdict was fatal; see fatal_reason()
  };

  RequestPool(Transport& transport, PoolOptions options);
  ~RequestPool();

  // Runs until drained, interrupted or fatal. `interrupt` at 1 stops starting requests and lets
  // those in flight finish within the grace period; at 2 it returns at once.
  Stop run(Hooks& hooks, const std::atomic<int>& interrupt);

  // Asks run() to stop as if interrupted: 1 winds down (no new starts, in-flight requests may
  // finish within the grace period), 2 stops at once. For hooks, e.g. --max-failures.
  void request_stop(int level);

  const std::string& fatal_reason() const { return fatal_reason_; }
  // The in-flight limit now: `concurrency`, or less while the adaptive limit backs off.
  size_t concurrency_limit() const;
  size_t in_flight() const;
  size_t waiting() const;  // jobs waiting for a retry
  uint64_t retries() const { return retries_; }
  // True while the endpoints are unreachable and the pool only probes (see outage_wait_seconds).
  bool in_outage() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Impl;

  // Starts due retries first, then new jobs, while can_start_more() and the rate limits allow the
  // next one. Returns true when hooks.next() ran dry.
  bool start_jobs(Hooks& hooks, Clock::time_point now);
  // How long the transport may wait this turn: until something could start, or the grace period
  // ends, and never long enough to miss an interrupt.
  int wait_ms(int level, Clock::time_point now,
              const std::optional<Clock::time_point>& grace_deadline) const;
  // Judges a finished request, then finishes it or schedules its retry. False on a fatal verdict.
  bool take_reply(Hooks& hooks, HttpResponse& response);
  // Outage bookkeeping for one reply: go on as usual, let the job wait as an uncounted probe,
  // or stop because no request ever reached the endpoint within the outage wait.
  enum class Connectivity { ok, probe, unreachable };
  Connectivity note_connectivity(const HttpResponse& response, bool exhausted,
                                 Clock::time_point now);

  Transport& transport_;
  PoolOptions options_;
  std::string fatal_reason_;
  uint64_t retries_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace personagen
