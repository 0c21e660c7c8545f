#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/request_pool.h"
#include "personagen/http_transport.h"

namespace personagen {

// A Transport for tests: records every request it is sent and answers from a script, without a
// network. Requests finish in wait(), in the order and numbers the test chooses.
class FakeTransport : public Transport {
 public:
  // Answers a request; `attempt` counts the starts of this body so far, 1 for the first.
  // The response's tag is set by the fake.
  using Responder = std::function<HttpResponse(const HttpRequest& request, int attempt)>;

  static HttpResponse ok(std::string body = "{}") {
    HttpResponse response;
    response.status = 200;
    response.body = std::move(body);
    return response;
  }

  static HttpResponse status(long code, std::string body = "") {
    HttpResponse response;
    response.status = code;
    response.body = std::move(body);
    return response;
  }

  static HttpResponse with_retry_after(long code, std::string retry_after) {
    HttpResponse response = status(code);
    response.retry_after = std::move(retry_after);
    return response;
  }

  explicit FakeTransport(Responder responder = [](const HttpRequest&, int) { return ok(); })
      : responder_(std::move(responder)) {}

  void start(HttpRequest request) override {
    int attempt = ++attempts_[request.body];
    started.push_back(request);
    start_times.push_back(std::chrono::steady_clock::now());
    pending_.push_back({std::move(request), attempt});
    in_flight_at_start.push_back(pending_.size());
    max_in_flight = std::max(max_in_flight, pending_.size());
  }

  // Finishes up to `completions_per_wait` requests, oldest first (newest first with
  // `newest_first`). When `hold` is set or nothing is pending it blocks for the timeout, as a
  // real transport would, so a caller waiting for a retry does not spin.
  void wait(int timeout_ms, std::vector<HttpResponse>& finished) override {
    ++waits;
    if (on_wait) on_wait();
    if (hold || pending_.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::max(timeout_ms, 0)));
      return;
    }
    for (size_t n = 0; n < completions_per_wait && !pending_.empty(); ++n) {
      Pending next;
      if (newest_first) {
        next = std::move(pending_.back());
        pending_.pop_back();
      } else {
        next = std::move(pending_.front());
        pending_.pop_front();
      }
      HttpResponse response = responder_(next.request, next.attempt);
      response.tag = next.request.tag;
      finished.push_back(std::move(response));
    }
  }

  size_t in_flight() const override { return pending_.size(); }

  // How many times this body has been started.
  int attempts(const std::string& body) const {
    auto it = attempts_.find(body);
    return it == attempts_.end() ? 0 : it->second;
  }

  // Knobs the test may set at any time.
  size_t completions_per_wait = std::numeric_limits<size_t>::max();
  bool newest_first = false;
  bool hold = false;              // finish nothing until cleared
  std::function<void()> on_wait;  // called at the start of every wait()

  // What happened, for assertions.
  std::vector<HttpRequest> started;
  std::vector<std::chrono::steady_clock::time_point> start_times;  // one per start
  std::vector<size_t> in_flight_at_start;  // requests in flight just after each start
  size_t max_in_flight = 0;
  size_t waits = 0;

 private:
  struct Pending {
    HttpRequest request;
    int attempt = 0;
  };
  Responder responder_;
  std::deque<Pending> pending_;
  std::map<std::string, int> attempts_;
};

// A JobOwner whose steps are std::functions, so a test can replace one of them.
struct HookedJobOwner final : JobOwner {
  std::function<bool(Job& job)> on_next;
  std::function<Verdict(const Job& job, const HttpResponse& response)> on_judge;
  std::function<void(const Job& job, const HttpResponse& response, const Verdict& verdict)>
      on_finish;
  std::function<void()> on_tick;

  bool next(Job& job) override { return on_next(job); }
  Verdict judge(const Job& job, const HttpResponse& response) override {
    return on_judge(job, response);
  }
  void finish(const Job& job, const HttpResponse& response, Verdict verdict) override {
    on_finish(job, response, verdict);
  }
  void tick() override {
    if (on_tick) on_tick();
  }
};

// Feeds a RequestPool `count` jobs with ids (0..count-1, 0) and bodies "job-<line>", and records
// every finish (`tag` is the id's line). Tests replace or wrap its hooks as they need; the pool
// runs `hooks`.
struct PoolHarness {
  struct Finished {
    uint64_t tag = 0;
    int attempts = 0;
    Verdict verdict;
  };

  explicit PoolHarness(size_t count) : total(count) {
    hooks.on_next = [this](Job& job) {
      if (issued == total) return false;
      job.id.line = issued;
      job.body = body(issued);
      ++issued;
      return true;
    };
    hooks.on_judge = [](const Job&, const HttpResponse&) { return Verdict::accept(); };
    hooks.on_finish = [this](const Job& job, const HttpResponse&, const Verdict& verdict) {
      finished.push_back({job.id.line, job.attempts, verdict});
      ++finish_count[job.id.line];
    };
    hooks.on_tick = [] {};
  }

  static std::string body(uint64_t tag) { return "job-" + std::to_string(tag); }

  size_t total;
  size_t issued = 0;
  std::vector<Finished> finished;
  std::map<uint64_t, int> finish_count;
  HookedJobOwner hooks;
  std::atomic<int> interrupt{0};
};

// Pool options with millisecond backoff, so retries do not slow tests down.
inline PoolOptions fast_pool_options(size_t concurrency) {
  PoolOptions options;
  options.concurrency = concurrency;
  options.retry.base_seconds = 0.001;
  options.retry.cap_seconds = 0.005;
  options.grace_seconds = 5;
  // Most tests are about one behaviour with a full window from the start; slow start and outage
  // probing have tests of their own.
  options.slow_start = false;
  options.outage_wait_seconds = 0;
  return options;
}

}  // namespace personagen
