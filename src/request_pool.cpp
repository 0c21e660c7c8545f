#include "personagen/request_pool.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "personagen/openai_client.h"

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
  }
  return "unknown";
}

Verdict classify_http(const HttpResponse& response) {
  if (response.error == TransportError::timeout) {
    return Verdict::retry(FailureKind::timeout, "timeout: " + response.error_text);
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
  if (status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600)) {
    return Verdict::retry(FailureKind::http_status, std::move(reason));
  }
  return Verdict::fail(FailureKind::http_status, std::move(reason));
}

namespace {

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// A non-negative decimal number: digits with at most one '.', and nothing else (no sign,
// exponent, "inf" or "nan", which from_chars would accept).
std::optional<double> parse_decimal(std::string_view s) {
  s = trim(s);
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
  value = trim(value);
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

constexpr auto kMaxWait = std::chrono::milliseconds(100);  // how soon an interrupt is seen
constexpr double kMaxDelaySeconds = 1e6;                   // keeps time_point arithmetic finite

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

struct RequestPool::Impl {
  // Jobs in the transport, by the pool's own transport tag, so callers' tags need not be unique.
  std::unordered_map<uint64_t, Job> flying;
  std::vector<WaitingJob> waiting;  // a min-heap on `due`, ordered by LaterFirst
  uint64_t next_transport_tag = 1;
  uint64_t next_order = 0;
  std::mt19937_64 rng;
  std::vector<HttpResponse> finished;

  void launch(Transport& transport, Job job) {
    uint64_t transport_tag = next_transport_tag++;
    // The body is copied: the job keeps it for a retry. One copy per attempt; bodies are small.
    transport.start(HttpRequest{transport_tag, job.body});
    flying.emplace(transport_tag, std::move(job));
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
};

RequestPool::RequestPool(Transport& transport, PoolOptions options)
    : transport_(transport), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->rng.seed(options_.seed);
  options_.concurrency = std::max<size_t>(options_.concurrency, 1);
}

RequestPool::~RequestPool() = default;

size_t RequestPool::in_flight() const {
  return impl_->flying.size();
}

size_t RequestPool::waiting() const {
  return impl_->waiting.size();
}

RequestPool::Stop RequestPool::run(Hooks& hooks, const std::atomic<int>& interrupt) {
  Impl& s = *impl_;
  std::optional<Clock::time_point> grace_deadline;
  for (;;) {
    int level = interrupt.load(std::memory_order_relaxed);
    Clock::time_point now = Clock::now();
    if (level >= 1) {
      // Jobs waiting for a retry are dropped unfinished; the caller redoes them next run. Jobs
      // still in flight at the return stay with the transport and are never finished either.
      s.waiting.clear();
      if (!grace_deadline) {
        grace_deadline = now + to_duration(std::clamp(options_.grace_seconds, 0.0, 1e6));
      }
      if (level >= 2 || s.flying.empty() || now >= *grace_deadline) return Stop::interrupted;
    }

    bool next_dry = false;
    if (level == 0) {
      // Retries first: they are older work, and finishing them moves the caller's watermark.
      while (s.flying.size() < options_.concurrency && !s.waiting.empty() &&
             s.waiting.front().due <= now) {
        s.launch(transport_, s.take_first_waiting());
      }
      while (s.flying.size() < options_.concurrency) {
        Job job;
        if (!hooks.next(job)) {
          next_dry = true;
          break;
        }
        job.attempts = 0;
        s.launch(transport_, std::move(job));
      }
      if (s.flying.empty() && s.waiting.empty() && next_dry) return Stop::drained;
    }

    auto timeout = kMaxWait;
    if (level == 0 && !s.waiting.empty() && s.flying.size() < options_.concurrency) {
      auto until_due = std::chrono::ceil<std::chrono::milliseconds>(s.waiting.front().due - now);
      timeout = std::clamp(until_due, std::chrono::milliseconds(0), kMaxWait);
    } else if (grace_deadline) {
      auto until_deadline = std::chrono::ceil<std::chrono::milliseconds>(*grace_deadline - now);
      timeout = std::clamp(until_deadline, std::chrono::milliseconds(0), kMaxWait);
    }
    s.finished.clear();
    transport_.wait(static_cast<int>(timeout.count()), s.finished);

    for (HttpResponse& response : s.finished) {
      auto it = s.flying.find(response.tag);
      if (it == s.flying.end()) continue;
      Job job = std::move(it->second);
      s.flying.erase(it);
      response.tag = job.tag;
      ++job.attempts;

      Verdict verdict = classify_http(response);
      if (verdict.action == Verdict::Action::accept && hooks.judge) {
        verdict = hooks.judge(job, response);
      }
      switch (verdict.action) {
        case Verdict::Action::accept:
        case Verdict::Action::fail:
          hooks.finish(job, response, verdict);
          break;
        case Verdict::Action::retry:
          if (job.attempts > options_.retry.max_retries) {
            std::string reason =
                verdict.reason + " (after " + std::to_string(job.attempts) + " attempts)";
            hooks.finish(job, response, Verdict::fail(verdict.kind, std::move(reason)));
          } else {
            double delay =
                retry_delay(job.attempts, options_.retry, response, s.rng, std::time(nullptr));
            s.wait_for_retry(Clock::now() + to_duration(std::min(delay, kMaxDelaySeconds)),
                             std::move(job));
            ++retries_;
          }
          break;
        case Verdict::Action::fatal:
          fatal_reason_ = verdict.reason;
          return Stop::fatal;
      }
    }
    if (hooks.tick) hooks.tick();
  }
}

}  // namespace personagen
