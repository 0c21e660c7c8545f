#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "net/retry_policy.h"
#include "personagen/http_transport.h"
#include "personagen/request_id.h"

namespace personagen {

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
  // The requests carry a response_format: a 400 or 422 that names it is fatal (classify_http).
  bool response_format = false;
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
  std::string key;                // the request's custom_id (HttpRequest::key)
  int attempts = 0;               // requests sent so far, including the one that just finished
  int truncations = 0;            // of those, replies cut off at the token limit
  int outage_attempts = 0;        // of those, connect failures during an outage (not counted)
  uint64_t estimated_tokens = 0;  // prompt + expected completion tokens, for --tpm
};

// The other side of the pool's loop: what makes the requests and owns their results. The pool
// decides when a job starts, retries or ends; the owner decides what a job is and what its reply
// means (as ninja's Builder decides and its CommandRunner runs). The pool calls the owner from
// the thread in run() only, so the owner's state needs no locks. For each job, in order: next()
// hands it over, judge() sees each 2xx reply (and may ask for a retry), finish() sees its end
// exactly once.
class JobOwner {
 public:
  // Fills `job` (id and body; attempts is 0) with the next new request. Returns false when
  // there is none right now; the pool asks again on its next turn.
  virtual bool next(Job& job) = 0;
  // Judges a reply that classify_http accepted: parse, validate. May return retry or fail. What
  // it made of an accepted reply goes in the verdict's `output`, which finish() gets back.
  virtual Verdict judge(const Job& job, const HttpResponse& response) = 0;
  // The job is done for good: `verdict` is judge()'s accept (with its output) or a failure.
  virtual void finish(const Job& job, const HttpResponse& response, Verdict verdict) = 0;
  // Once per loop turn, after the replies of the turn: progress, flushing, checkpoints.
  virtual void tick() {}

 protected:
  ~JobOwner() = default;
};

// Drives a Transport in one loop: starts jobs while fewer than `concurrency` are in flight,
// waits, judges what finished, and schedules retries. A job waiting for its retry does not hold
// an in-flight slot. Only the thread that calls run() touches the pool and the owner's state.
class RequestPool {
 public:
  enum class Stop {
    drained,      // next() returned false with nothing in flight or waiting
    interrupted,  // the interrupt level rose; unfinished jobs were dropped, never finished
    fatal,        // a verdict was fatal; see fatal_reason()
  };

  RequestPool(Transport& transport, PoolOptions options);
  ~RequestPool();

  // Runs until drained, interrupted or fatal. `interrupt` at 1 stops starting requests and lets
  // those in flight finish within the grace period; at 2 it returns at once.
  Stop run(JobOwner& owner, const std::atomic<int>& interrupt);

  // Asks run() to stop as if interrupted: 1 winds down (no new starts, in-flight requests may
  // finish within the grace period), 2 stops at once. For the owner, e.g. --max-failures.
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
  // next one. Returns true when owner.next() ran dry.
  bool start_jobs(JobOwner& owner, Clock::time_point now);
  // How long the transport may wait this turn: until something could start, or the grace period
  // ends, and never long enough to miss an interrupt.
  int wait_ms(int level, Clock::time_point now,
              const std::optional<Clock::time_point>& grace_deadline) const;
  // Judges a finished request, then finishes it or schedules its retry. False on a fatal verdict.
  bool take_reply(JobOwner& owner, HttpResponse& response);
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
