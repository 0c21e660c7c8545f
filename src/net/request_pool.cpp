#include "net/request_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/openai_client.h"
#include "net/rate_limiter.h"
#include "util/text_util.h"

namespace personagen {

namespace {

using Clock = std::chrono::steady_clock;

struct WaitingJob {
  Clock::time_point due;
  uint64_t order = 0;  // FIFO among jobs due at the same instant
  Job job;
};

struct LaterFirst {
  bool operator()(const WaitingJob& a, const WaitingJob& b) const {
    return a.due != b.due ? a.due > b.due : a.order > b.order;
  }
};

// A job in the transport, with its start's number for the adaptive limit.
struct Flight {
  Job job;
  uint64_t start = 0;
};

constexpr auto kMaxWait = std::chrono::milliseconds(100);  // how soon an interrupt is seen
constexpr double kMaxDelaySeconds = 1e6;                   // keeps time_point arithmetic finite
// Connect failures in a row that mean the endpoint is down rather than one connection lost.
constexpr int kOutageFailures = 3;
// Requests refused in a row (400, 422) before any success that stop the run as misconfigured.
constexpr int kRefusalsBeforeFatal = 3;

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

struct RequestPool::Impl {
  // Jobs in the transport, by the pool's own transport tag, so callers' tags need not be unique.
  std::unordered_map<uint64_t, Flight> flying;
  std::vector<WaitingJob> waiting;  // a min-heap on `due`, ordered by LaterFirst
  // A new job taken from owner.next() that the rate limits do not allow yet (its size is known
  // only once taken). It starts before any other new job; next() is not asked while it waits.
  std::optional<Job> held;
  TokenBucket requests;  // --rpm
  TokenBucket tokens;    // --tpm
  AdaptiveLimit limit;
  int stop_level = 0;             // from request_stop()
  bool slow_start_option = true;  // PoolOptions::slow_start
  bool ever_accepted = false;
  int refusals = 0;                               // before the first success
  int connect_failures = 0;                       // in a row
  std::optional<Clock::time_point> outage_since;  // the endpoint is down: probe only
  bool outage_given_up = false;  // waited --outage-wait; until a reply connects, fail as usual
  int probes = 0;                // failed probes of this outage
  uint64_t next_transport_tag = 1;
  uint64_t next_order = 0;
  std::mt19937_64 rng;
  std::vector<HttpResponse> finished;

  explicit Impl(const PoolOptions& options)
      : requests(TokenBucket::per_minute(options.requests_per_minute, Clock::now())),
        tokens(TokenBucket::per_minute(options.tokens_per_minute, Clock::now())),
        limit(options.concurrency),
        slow_start_option(options.slow_start),
        rng(options.seed) {}

  // No reply accepted yet: one request at a time, so a broken configuration costs one.
  bool slow_start() const { return slow_start_option && !ever_accepted; }
  // During slow start and an outage one request at a time; else the adaptive limit.
  size_t allowed() const { return slow_start() || outage_since ? 1 : limit.limit(); }
  bool can_start_more() const { return flying.size() < allowed(); }

  bool retry_due(Clock::time_point now) const {
    return !waiting.empty() && waiting.front().due <= now;
  }

  // The job that starts next, if one is ready: a due retry, else the held job.
  const Job* head(Clock::time_point now) const {
    if (retry_due(now)) return &waiting.front().job;
    return held ? &*held : nullptr;
  }

  // How long until both rate limits allow `job` to start; zero when they do now.
  Clock::duration rate_wait(const Job& job, Clock::time_point now) const {
    return std::max(requests.wait_for(1, now),
                    tokens.wait_for(static_cast<double>(job.estimated_tokens), now));
  }

  void launch(Transport& transport, Job job, Clock::time_point now) {
    requests.charge(1, now);
    tokens.charge(static_cast<double>(job.estimated_tokens), now);
    uint64_t transport_tag = next_transport_tag++;
    // The body is copied: the job keeps it for a retry. One copy per attempt; bodies are small.
    transport.start(HttpRequest{transport_tag, job.body, job.key});
    flying.emplace(transport_tag, Flight{std::move(job), limit.on_start()});
  }

  void wait_for_retry(Clock::time_point due, Job job) {
    waiting.push_back(WaitingJob{due, next_order++, std::move(job)});
    std::push_heap(waiting.begin(), waiting.end(), LaterFirst());
  }

  Job take_first_waiting() {
    std::pop_heap(waiting.begin(), waiting.end(), LaterFirst());
    Job job = std::move(waiting.back().job);
    waiting.pop_back();
    return job;
  }

  Job take_held() {
    Job job = std::move(*held);
    held.reset();
    return job;
  }

  // The server's count of the tokens a reply used replaces the estimate taken at the start.
  void correct_tokens(const Job& job, const Verdict& verdict, Clock::time_point now) {
    if (verdict.tokens_used < 0) return;
    double used = static_cast<double>(verdict.tokens_used);
    double estimated = static_cast<double>(job.estimated_tokens);
    if (used > estimated) tokens.charge(used - estimated, now);
    if (used < estimated) tokens.give_back(estimated - used, now);
  }
};

RequestPool::RequestPool(Transport& transport, PoolOptions options)
    : transport_(transport), options_(std::move(options)) {
  options_.concurrency = std::max<size_t>(options_.concurrency, 1);
  impl_ = std::make_unique<Impl>(options_);
}

RequestPool::~RequestPool() = default;

void RequestPool::request_stop(int level) {
  impl_->stop_level = std::max(impl_->stop_level, level);
}

size_t RequestPool::concurrency_limit() const {
  return impl_->allowed();
}

bool RequestPool::in_outage() const {
  return impl_->outage_since.has_value();
}

size_t RequestPool::in_flight() const {
  return impl_->flying.size();
}

size_t RequestPool::waiting() const {
  return impl_->waiting.size();
}

RequestPool::Stop RequestPool::run(JobOwner& owner, const std::atomic<int>& interrupt) {
  Impl& s = *impl_;
  std::optional<Clock::time_point> grace_deadline;
  for (;;) {
    int level = std::max(interrupt.load(std::memory_order_relaxed), s.stop_level);
    Clock::time_point now = Clock::now();
    if (level >= 1) {
      // Jobs not in flight are dropped unfinished; the caller redoes them next run. Jobs still in
      // flight at the return stay with the transport and are never finished either.
      s.waiting.clear();
      s.held.reset();
      if (!grace_deadline) {
        grace_deadline = now + to_duration(std::clamp(options_.grace_seconds, 0.0, 1e6));
      }
      if (level >= 2 || s.flying.empty() || now >= *grace_deadline) return Stop::interrupted;
    } else {
      bool next_dry = start_jobs(owner, now);
      if (next_dry && s.flying.empty() && s.waiting.empty()) return Stop::drained;
    }

    s.finished.clear();
    transport_.wait(wait_ms(level, now, grace_deadline), s.finished);
    for (HttpResponse& response : s.finished) {
      if (!take_reply(owner, response)) return Stop::fatal;
    }
    owner.tick();
  }
}

bool RequestPool::start_jobs(JobOwner& owner, Clock::time_point now) {
  Impl& s = *impl_;
  while (s.can_start_more()) {
    // Retries first: they are older work, and finishing them moves the caller's watermark.
    bool retry = s.retry_due(now);
    if (!retry && !s.held) {
      // New work waits while the endpoint is down, and in slow start while the one request
      // out waits for its retry.
      if (s.outage_since || (s.slow_start() && !s.waiting.empty())) return false;
      Job job;
      if (!owner.next(job)) return true;
      job.attempts = 0;
      s.held = std::move(job);
    }
    // Rate limits only delay: the job that is next stays next until the buckets allow it.
    if (s.rate_wait(*s.head(now), now) > Clock::duration::zero()) return false;
    s.launch(transport_, retry ? s.take_first_waiting() : s.take_held(), now);
  }
  return false;
}

int RequestPool::wait_ms(int level, Clock::time_point now,
                         const std::optional<Clock::time_point>& grace_deadline) const {
  const Impl& s = *impl_;
  Clock::duration wait = kMaxWait;  // a reply ends the wait sooner
  if (level >= 1) {
    if (grace_deadline) wait = std::min(wait, *grace_deadline - now);
  } else if (s.can_start_more()) {
    // A ready job that did not start is held back by a rate limit.
    if (const Job* job = s.head(now)) wait = std::min(wait, s.rate_wait(*job, now));
    if (!s.waiting.empty() && !s.retry_due(now)) {
      wait = std::min(wait, s.waiting.front().due - now);
    }
  }
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait);
  return static_cast<int>(std::clamp(ms, std::chrono::milliseconds(0), kMaxWait).count());
}

// Connect failures in a row mean the endpoint is down: rather than burn through the input,
// whose every request would fail the same way, the pool stops starting new work and probes.
// `exhausted`: the job has no retries left, so without an outage it would fail now.
RequestPool::Connectivity RequestPool::note_connectivity(const HttpResponse& response,
                                                         bool exhausted, Clock::time_point now) {
  Impl& s = *impl_;
  if (response.error != TransportError::connect) {
    if (s.outage_since)
      spdlog::warn("the endpoint answers again after {:.0f}s; going on",
                   std::chrono::duration<double>(now - *s.outage_since).count());
    s.connect_failures = 0;
    s.outage_since.reset();
    s.outage_given_up = false;
    s.probes = 0;
    return Connectivity::ok;
  }
  ++s.connect_failures;
  if (options_.outage_wait_seconds <= 0 || s.outage_given_up ||
      (s.connect_failures < kOutageFailures && !exhausted))
    return Connectivity::ok;
  if (!s.outage_since) {
    s.outage_since = now;
    spdlog::warn(
        "no endpoint can be reached ({} connect failures in a row); starting nothing new and "
        "probing for up to {:g}s (--outage-wait)",
        s.connect_failures, options_.outage_wait_seconds);
  }
  if (now - *s.outage_since < to_duration(std::min(options_.outage_wait_seconds, 1e6)))
    return Connectivity::probe;
  s.outage_since.reset();
  s.outage_given_up = true;
  return s.ever_accepted || options_.configuration_proven ? Connectivity::ok
                                                          : Connectivity::unreachable;
}

bool RequestPool::take_reply(JobOwner& owner, HttpResponse& response) {
  Impl& s = *impl_;
  auto it = s.flying.find(response.tag);
  if (it == s.flying.end()) return true;
  Flight flight = std::move(it->second);
  s.flying.erase(it);
  Job& job = flight.job;
  ++job.attempts;
  Clock::time_point now = Clock::now();

  Verdict verdict = classify_http(response, options_.response_format);
  bool exhausted = job.attempts - job.outage_attempts > options_.retry.max_retries;
  Connectivity connectivity = note_connectivity(response, exhausted, now);
  if (connectivity == Connectivity::unreachable) {
    fatal_reason_ = verdict.reason + " (no request has succeeded after waiting " +
                    std::to_string(static_cast<long>(options_.outage_wait_seconds)) +
                    "s; check --base-url)";
    return false;
  }
  if (options_.adaptive) {
    if (verdict.action == Verdict::Action::accept) s.limit.on_success();
    if (response.status == 429) s.limit.on_rate_limited(flight.start);
  }
  if (verdict.action == Verdict::Action::accept) verdict = owner.judge(job, response);
  s.correct_tokens(job, verdict, now);
  if (verdict.action == Verdict::Action::accept) {
    if (s.slow_start() && options_.concurrency > 1)
      spdlog::info("the first request succeeded; up to {} in flight from now on",
                   options_.concurrency);
    s.ever_accepted = true;
  } else if (verdict.action == Verdict::Action::fail && verdict.kind == FailureKind::http_status &&
             !s.ever_accepted && options_.slow_start && !options_.configuration_proven) {
    // Nothing has worked yet and the server refuses the request itself. A 404 is a wrong model
    // name or path; a 400 or 422 may be one request's fault (a prompt too long), so only a few
    // in a row say that a parameter the server does not take is in every request.
    if (response.status == 404 || ++s.refusals >= kRefusalsBeforeFatal) {
      fatal_reason_ = verdict.reason +
                      " (no request has succeeded, so the configuration looks wrong: check "
                      "--model, --base-url and the request's parameters)";
      return false;
    }
  }

  switch (verdict.action) {
    case Verdict::Action::accept:
    case Verdict::Action::fail:
      owner.finish(job, response, std::move(verdict));
      return true;
    case Verdict::Action::retry: {
      if (connectivity == Connectivity::probe) {
        // Waiting out an outage uses up none of the job's retries. The probes back off like
        // retries, without jitter: 0.5 s, 1 s, 2 s, ... up to one every 30 s by default.
        ++job.outage_attempts;
        double delay = std::min(options_.retry.cap_seconds,
                                std::ldexp(options_.retry.base_seconds, std::min(s.probes++, 30)));
        s.wait_for_retry(now + to_duration(std::max(delay, 0.0)), std::move(job));
        ++retries_;
        return true;
      }
      if (verdict.kind == FailureKind::truncated) ++job.truncations;
      int counted = job.attempts - job.outage_attempts;
      if (counted > options_.retry.max_retries ||
          job.truncations > options_.retry.max_length_retries) {
        std::string reason =
            verdict.reason + " (after " + std::to_string(job.attempts) + " attempts)";
        owner.finish(job, response, Verdict::fail(verdict.kind, std::move(reason)));
      } else {
        double delay = retry_delay(counted, options_.retry, response, s.rng, std::time(nullptr));
        s.wait_for_retry(now + to_duration(std::min(delay, kMaxDelaySeconds)), std::move(job));
        ++retries_;
      }
      return true;
    }
    case Verdict::Action::fatal:
      fatal_reason_ = verdict.reason;
      return false;
  }
  return true;
}

}  // namespace personagen
