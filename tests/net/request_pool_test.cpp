#include "net/request_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "support/fake_transport.h"

namespace personagen {
namespace {

using Finished = PoolHarness::Finished;

HttpResponse with_retry_after(long code, std::string retry_after) {
  HttpResponse response = FakeTransport::status(code);
  response.retry_after = std::move(retry_after);
  return response;
}

TEST(RequestPoolTest, EveryJobFinishesExactlyOnceWithinTheConcurrencyBound) {
  // Given 100 jobs, a pool of 8 and a transport that answers newest first, two at a time
  PoolHarness harness(100);
  FakeTransport transport;
  transport.newest_first = true;
  transport.completions_per_wait = 2;
  RequestPool pool(transport, fast_pool_options(8));
  size_t max_pool_in_flight = 0;
  harness.hooks.on_tick = [&] {
    max_pool_in_flight = std::max(max_pool_in_flight, pool.in_flight());
  };

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then it drains, every job finished once with an accept, and 8 were in flight at most
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  ASSERT_EQ(harness.finish_count.size(), 100u);
  for (const auto& [tag, count] : harness.finish_count) EXPECT_EQ(count, 1) << "tag " << tag;
  for (const Finished& f : harness.finished) {
    EXPECT_EQ(f.verdict.action, Verdict::Action::accept);
    EXPECT_EQ(f.attempts, 1);
  }
  EXPECT_EQ(transport.max_in_flight, 8u);
  EXPECT_LE(max_pool_in_flight, 8u);
  EXPECT_EQ(transport.started.size(), 100u);
  EXPECT_EQ(pool.in_flight(), 0u);
  EXPECT_EQ(pool.retries(), 0u);
}

TEST(RequestPoolTest, CallerTagsNeedNotBeUnique) {
  // Given jobs that all carry the caller's tag 7 but different bodies
  PoolHarness harness(5);
  harness.hooks.on_next = [&](Job& job) {
    if (harness.issued == harness.total) return false;
    job.id = RequestId{7, 0};
    job.body = PoolHarness::body(harness.issued++);
    return true;
  };
  FakeTransport transport;
  RequestPool pool(transport, fast_pool_options(5));

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then each job finishes, and finish sees the caller's tag
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  EXPECT_EQ(harness.finished.size(), 5u);
  EXPECT_EQ(harness.finish_count[7], 5);
}

TEST(RequestPoolTest, ServiceUnavailableIsRetriedThenAccepted) {
  // Given a server that answers 503 to the first attempt and 200 to the second
  PoolHarness harness(3);
  FakeTransport transport([](const HttpRequest&, int attempt) {
    return attempt == 1 ? FakeTransport::status(503) : FakeTransport::ok();
  });
  RequestPool pool(transport, fast_pool_options(4));

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then each job is accepted on its second attempt
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  ASSERT_EQ(harness.finished.size(), 3u);
  for (const Finished& f : harness.finished) {
    EXPECT_EQ(f.verdict.action, Verdict::Action::accept);
    EXPECT_EQ(f.attempts, 2);
  }
  EXPECT_EQ(transport.started.size(), 6u);
  EXPECT_EQ(pool.retries(), 3u);
}

TEST(RequestPoolTest, ExhaustedRetriesFailWithTheLastKindAndAttemptCount) {
  // Given a server that always answers 503 and a policy of 2 retries
  PoolHarness harness(1);
  FakeTransport transport([](const HttpRequest&, int) { return FakeTransport::status(503); });
  PoolOptions options = fast_pool_options(1);
  options.retry.max_retries = 2;
  RequestPool pool(transport, options);

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then the job fails after 3 attempts with an http_status failure
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  ASSERT_EQ(harness.finished.size(), 1u);
  const Finished& f = harness.finished[0];
  EXPECT_EQ(f.verdict.action, Verdict::Action::fail);
  EXPECT_EQ(f.verdict.kind, FailureKind::http_status);
  EXPECT_EQ(f.verdict.reason.rfind("HTTP 503", 0), 0u) << f.verdict.reason;
  EXPECT_NE(f.verdict.reason.find("(after 3 attempts)"), std::string::npos) << f.verdict.reason;
  EXPECT_EQ(f.attempts, 3);
  EXPECT_EQ(transport.attempts(PoolHarness::body(0)), 3);
  EXPECT_EQ(pool.retries(), 2u);
}

TEST(RequestPoolTest, TimeoutsRetryAsTimeoutKind) {
  // Given a transport whose requests always time out and no retries allowed
  PoolHarness harness(1);
  FakeTransport transport([](const HttpRequest&, int) {
    HttpResponse response;
    response.error = TransportError::timeout;
    response.error_text = "Timeout was reached";
    return response;
  });
  PoolOptions options = fast_pool_options(1);
  options.retry.max_retries = 0;
  RequestPool pool(transport, options);

  // When the pool runs
  pool.run(harness.hooks, harness.interrupt);

  // Then the job fails as a timeout after one attempt
  ASSERT_EQ(harness.finished.size(), 1u);
  EXPECT_EQ(harness.finished[0].verdict.action, Verdict::Action::fail);
  EXPECT_EQ(harness.finished[0].verdict.kind, FailureKind::timeout);
  EXPECT_NE(harness.finished[0].verdict.reason.find("(after 1 attempts)"), std::string::npos);
}

TEST(RequestPoolTest, NotFoundFailsWithoutRetry) {
  // Given a server that answers 404
  PoolHarness harness(1);
  FakeTransport transport([](const HttpRequest&, int) { return FakeTransport::status(404); });
  RequestPool pool(transport, fast_pool_options(1));

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then the job fails at once
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  ASSERT_EQ(harness.finished.size(), 1u);
  EXPECT_EQ(harness.finished[0].verdict.action, Verdict::Action::fail);
  EXPECT_EQ(harness.finished[0].verdict.kind, FailureKind::http_status);
  EXPECT_EQ(harness.finished[0].verdict.reason.rfind("HTTP 404", 0), 0u);
  EXPECT_EQ(transport.started.size(), 1u);
  EXPECT_EQ(pool.retries(), 0u);
}

TEST(RequestPoolTest, UnauthorizedStopsTheRun) {
  // Given a server that refuses the key
  PoolHarness harness(10);
  FakeTransport transport([](const HttpRequest&, int) {
    return FakeTransport::status(401, R"({"error":{"message":"bad key"}})");
  });
  RequestPool pool(transport, fast_pool_options(2));

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then it stops as fatal with the server's reason, and finishes nothing
  EXPECT_EQ(stop, RequestPool::Stop::fatal);
  EXPECT_EQ(pool.fatal_reason().rfind("HTTP 401", 0), 0u) << pool.fatal_reason();
  EXPECT_NE(pool.fatal_reason().find("bad key"), std::string::npos) << pool.fatal_reason();
  EXPECT_TRUE(harness.finished.empty());
  EXPECT_LT(harness.issued, 10u);
}

TEST(RequestPoolTest, JudgeCanAskForARetry) {
  // Given a judge that rejects a truncated completion and a server that truncates once
  PoolHarness harness(1);
  FakeTransport transport([](const HttpRequest&, int attempt) {
    return FakeTransport::ok(attempt == 1 ? "length" : "stop");
  });
  harness.hooks.on_judge = [](const Job&, const HttpResponse& response) {
    if (response.body == "length") return Verdict::retry(FailureKind::truncated, "cut off");
    return Verdict::accept();
  };
  RequestPool pool(transport, fast_pool_options(1));

  // When the pool runs
  pool.run(harness.hooks, harness.interrupt);

  // Then the job is accepted on its second attempt
  ASSERT_EQ(harness.finished.size(), 1u);
  EXPECT_EQ(harness.finished[0].verdict.action, Verdict::Action::accept);
  EXPECT_EQ(harness.finished[0].attempts, 2);
  EXPECT_EQ(pool.retries(), 1u);
}

TEST(RequestPoolTest, JobWaitingForRetryFreesItsSlot) {
  // Given one slot, and job 0 told to retry after 0.3 s while job 1 succeeds
  PoolHarness harness(2);
  FakeTransport transport([](const HttpRequest& request, int attempt) {
    if (request.body == PoolHarness::body(0) && attempt == 1) return with_retry_after(429, "0.3");
    return FakeTransport::ok();
  });
  RequestPool pool(transport, fast_pool_options(1));
  size_t max_waiting = 0;
  harness.hooks.on_tick = [&] { max_waiting = std::max(max_waiting, pool.waiting()); };
  auto begin = std::chrono::steady_clock::now();

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  // Then job 1 runs while job 0 waits, and job 0 is retried no sooner than the server asked
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  ASSERT_EQ(transport.started.size(), 3u);
  EXPECT_EQ(transport.started[0].body, PoolHarness::body(0));
  EXPECT_EQ(transport.started[1].body, PoolHarness::body(1));
  EXPECT_EQ(transport.started[2].body, PoolHarness::body(0));
  ASSERT_EQ(harness.finished.size(), 2u);
  EXPECT_EQ(harness.finished[0].tag, 1u);
  EXPECT_EQ(harness.finished[1].tag, 0u);
  EXPECT_EQ(max_waiting, 1u);
  EXPECT_EQ(transport.max_in_flight, 1u);
  EXPECT_GE(elapsed, 0.29);
}

TEST(RequestPoolTest, InterruptOneLetsRequestsInFlightFinish) {
  // Given 10 jobs, 4 slots, and a transport holding its replies until the interrupt
  PoolHarness harness(10);
  FakeTransport transport;
  transport.hold = true;
  transport.on_wait = [&] {
    if (transport.in_flight() == 4 && harness.interrupt == 0) {
      harness.interrupt = 1;
      transport.hold = false;
    }
  };
  RequestPool pool(transport, fast_pool_options(4));

  // When the pool runs and is interrupted once 4 requests are in flight
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then those 4 finish and no new job is started
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_EQ(harness.finished.size(), 4u);
  EXPECT_EQ(harness.issued, 4u);
  EXPECT_EQ(transport.started.size(), 4u);
}

TEST(RequestPoolTest, InterruptOneDropsJobsWaitingForRetry) {
  // Given job 0 told to retry in 10 s, and an interrupt once it waits
  PoolHarness harness(2);
  FakeTransport transport([](const HttpRequest& request, int) {
    if (request.body == PoolHarness::body(0)) return with_retry_after(503, "10");
    return FakeTransport::ok();
  });
  RequestPool pool(transport, fast_pool_options(2));
  harness.hooks.on_tick = [&] {
    if (pool.waiting() == 1) harness.interrupt = 1;
  };

  // When the pool runs
  auto begin = std::chrono::steady_clock::now();
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  // Then it returns without waiting, and job 0 is never finished
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_EQ(harness.finish_count.count(0), 0u);
  EXPECT_EQ(harness.finish_count[1], 1);
  EXPECT_EQ(pool.waiting(), 0u);
  EXPECT_LT(elapsed, 5.0);
}

TEST(RequestPoolTest, InterruptOneGivesUpAfterTheGracePeriod) {
  // Given a transport that never answers and a 50 ms grace period
  PoolHarness harness(10);
  FakeTransport transport;
  transport.hold = true;
  PoolOptions options = fast_pool_options(3);
  options.grace_seconds = 0.05;
  RequestPool pool(transport, options);
  harness.hooks.on_tick = [&] { harness.interrupt = 1; };

  // When the pool is interrupted
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then it returns with requests still in flight, none finished
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_TRUE(harness.finished.empty());
  EXPECT_EQ(transport.in_flight(), 3u);
}

TEST(RequestPoolTest, InterruptTwoReturnsAtOnce) {
  // Given a transport that holds its replies, and a long grace period
  PoolHarness harness(10);
  FakeTransport transport;
  transport.hold = true;
  RequestPool pool(transport, fast_pool_options(4));
  harness.hooks.on_tick = [&] { harness.interrupt = 2; };

  // When the interrupt level is 2
  auto begin = std::chrono::steady_clock::now();
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  // Then the pool returns without waiting for the 4 requests in flight
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_TRUE(harness.finished.empty());
  EXPECT_EQ(transport.waits, 1u);
  EXPECT_LT(elapsed, 1.0);
}

TEST(RequestPoolTest, NextReturningFalseWithNothingLeftDrains) {
  // Given no jobs at all
  PoolHarness harness(0);
  FakeTransport transport;
  RequestPool pool(transport, fast_pool_options(4));

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then it drains without touching the transport
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  EXPECT_EQ(transport.waits, 0u);
}

TEST(RequestPoolTest, RequestStopOneFromAHookWindsDown) {
  // Given 10 jobs, 4 slots, a transport finishing one request per wait, and a finish hook that
  // asks the pool to stop at the first finish
  PoolHarness harness(10);
  FakeTransport transport;
  transport.completions_per_wait = 1;
  RequestPool pool(transport, fast_pool_options(4));
  auto finish = harness.hooks.on_finish;
  harness.hooks.on_finish = [&](const Job& job, const HttpResponse& response, const Verdict& v) {
    finish(job, response, v);
    pool.request_stop(1);
  };

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then no new job starts, the 4 in flight finish, and the run reports an interrupt
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_EQ(transport.started.size(), 4u);
  EXPECT_EQ(harness.issued, 4u);
  EXPECT_EQ(harness.finished.size(), 4u);
  EXPECT_EQ(pool.in_flight(), 0u);
}

TEST(RequestPoolTest, RequestStopTwoFromAHookReturnsAtOnce) {
  // Given 10 jobs, 4 slots, a transport finishing one request per wait, and a finish hook that
  // asks the pool to stop now
  PoolHarness harness(10);
  FakeTransport transport;
  transport.completions_per_wait = 1;
  RequestPool pool(transport, fast_pool_options(4));
  auto finish = harness.hooks.on_finish;
  harness.hooks.on_finish = [&](const Job& job, const HttpResponse& response, const Verdict& v) {
    finish(job, response, v);
    pool.request_stop(2);
  };

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then it returns after that one finish, leaving the other 3 in flight unfinished
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_EQ(harness.finished.size(), 1u);
  EXPECT_EQ(transport.waits, 1u);
  EXPECT_EQ(pool.in_flight(), 3u);
}

TEST(RequestPoolTest, RequestStopNeverLowersTheLevel) {
  // Given a hook that asks to stop now, then to wind down
  PoolHarness harness(10);
  FakeTransport transport;
  transport.completions_per_wait = 1;
  RequestPool pool(transport, fast_pool_options(4));
  harness.hooks.on_tick = [&] {
    pool.request_stop(2);
    pool.request_stop(1);
  };

  // When the pool runs; then the stronger request wins and it returns at once
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_EQ(transport.waits, 1u);
  EXPECT_EQ(pool.in_flight(), 3u);
}

HttpResponse transport_error(TransportError error) {
  HttpResponse response;
  response.error = error;
  response.error_text = "detail";
  return response;
}

TEST(ClassifyHttpTest, MapsStatusesAndErrorsOntoActions) {
  using A = Verdict::Action;
  struct Case {
    HttpResponse response;
    A action;
    FailureKind kind;
  };
  const Case cases[] = {
      {FakeTransport::status(200), A::accept, FailureKind::http_status},
      {FakeTransport::status(204), A::accept, FailureKind::http_status},
      {FakeTransport::status(400), A::fail, FailureKind::http_status},
      {FakeTransport::status(401), A::fatal, FailureKind::auth},
      {FakeTransport::status(403), A::fatal, FailureKind::auth},
      {FakeTransport::status(404), A::fail, FailureKind::http_status},
      {FakeTransport::status(408), A::retry, FailureKind::http_status},
      {FakeTransport::status(409), A::retry, FailureKind::http_status},
      {FakeTransport::status(422), A::fail, FailureKind::http_status},
      {FakeTransport::status(429), A::retry, FailureKind::http_status},
      {FakeTransport::status(500), A::retry, FailureKind::http_status},
      {FakeTransport::status(503), A::retry, FailureKind::http_status},
      {FakeTransport::status(599), A::retry, FailureKind::http_status},
      {FakeTransport::status(301), A::fail, FailureKind::http_status},
      {transport_error(TransportError::timeout), A::retry, FailureKind::timeout},
      {transport_error(TransportError::connect), A::retry, FailureKind::transport},
      {transport_error(TransportError::send_recv), A::retry, FailureKind::transport},
      {transport_error(TransportError::bad_response), A::retry, FailureKind::transport},
      {transport_error(TransportError::other), A::retry, FailureKind::transport},
  };
  for (const Case& c : cases) {
    // Given a reply; when it is classified; then the action and kind match the table
    Verdict verdict = classify_http(c.response);
    SCOPED_TRACE("status " + std::to_string(c.response.status) + " error " +
                 std::to_string(static_cast<int>(c.response.error)));
    EXPECT_EQ(verdict.action, c.action);
    if (c.action != A::accept) {
      EXPECT_EQ(verdict.kind, c.kind);
    }
  }
}

TEST(ClassifyHttpTest, ReasonsNameTheStatusOrTheError) {
  // Given a 503 with a body and a timeout; when classified; then the reasons say what happened
  Verdict http = classify_http(FakeTransport::status(503, "overloaded"));
  EXPECT_EQ(http.reason.rfind("HTTP 503: ", 0), 0u) << http.reason;
  EXPECT_NE(http.reason.find("overloaded"), std::string::npos) << http.reason;
  EXPECT_EQ(classify_http(FakeTransport::status(502)).reason, "HTTP 502: (empty body)");
  Verdict timeout = classify_http(transport_error(TransportError::timeout));
  EXPECT_EQ(timeout.reason, "timeout: detail");
  Verdict refused = classify_http(transport_error(TransportError::connect));
  EXPECT_EQ(refused.reason, "transport: detail");
}

TEST(FailureKindTest, NamesAreStable) {
  // Given the kinds; when named; then the names are those of failures.jsonl
  EXPECT_EQ(to_string(FailureKind::http_status), "http_status");
  EXPECT_EQ(to_string(FailureKind::timeout), "timeout");
  EXPECT_EQ(to_string(FailureKind::transport), "transport");
  EXPECT_EQ(to_string(FailureKind::bad_json), "bad_json");
  EXPECT_EQ(to_string(FailureKind::empty), "empty");
  EXPECT_EQ(to_string(FailureKind::truncated), "truncated");
  EXPECT_EQ(to_string(FailureKind::invalid_output), "invalid_output");
  EXPECT_EQ(to_string(FailureKind::auth), "auth");
}

TEST(ParseRetryAfterTest, AcceptsSecondsDecimalsAndHttpDates) {
  // "Wed, 21 Oct 2015 07:28:00 GMT" is 1445412480 seconds after the epoch.
  const std::time_t now = 1445412480 - 90;
  EXPECT_EQ(parse_retry_after("3", now), 3.0);
  EXPECT_EQ(parse_retry_after(" 120 ", now), 120.0);
  EXPECT_EQ(parse_retry_after("1.5", now), 1.5);
  EXPECT_EQ(parse_retry_after("0", now), 0.0);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 90.0);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 1000), 0.0);  // past
}

TEST(ParseRetryAfterTest, RejectsGarbage) {
  const std::time_t now = 1445412480;
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("1e3", now));
  EXPECT_FALSE(parse_retry_after("1.2.3", now));
  EXPECT_FALSE(parse_retry_after("inf", now));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015", now));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT trailing", now));
}

TEST(RetryDelayTest, FullJitterStaysWithinTheExponentialCeiling) {
  // Given a policy of base 0.5 s and cap 4 s, and no server hint
  RetryPolicy policy;
  policy.base_seconds = 0.5;
  policy.cap_seconds = 4;
  std::mt19937_64 rng(42);
  HttpResponse response = FakeTransport::status(503);
  const double ceilings[] = {0.5, 1, 2, 4, 4, 4};
  for (int retry = 1; retry <= 6; ++retry) {
    // When many delays are drawn for this retry
    double lowest = 1e9, highest = -1;
    for (int i = 0; i < 2000; ++i) {
      double delay = retry_delay(retry, policy, response, rng, 0);
      lowest = std::min(lowest, delay);
      highest = std::max(highest, delay);
    }
    // Then they stay in [0, ceiling] and spread over most of it
    double ceiling = ceilings[retry - 1];
    EXPECT_GE(lowest, 0.0) << "retry " << retry;
    EXPECT_LE(highest, ceiling) << "retry " << retry;
    EXPECT_LT(lowest, ceiling * 0.05) << "retry " << retry;
    EXPECT_GT(highest, ceiling * 0.95) << "retry " << retry;
  }
  EXPECT_LE(retry_delay(1000, policy, response, rng, 0), 4.0);
}

TEST(RetryDelayTest, ServerHintsWinAndAreCapped) {
  RetryPolicy policy;
  policy.max_retry_after_seconds = 60;
  std::mt19937_64 rng(1);
  const std::time_t now = 1445412480 - 30;

  // Given retry-after-ms and Retry-After, retry-after-ms wins
  HttpResponse both = with_retry_after(429, "7");
  both.retry_after_ms = "250";
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, both, rng, now), 0.25);

  // Given only Retry-After, in seconds or as a date, it is used
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, with_retry_after(429, "7"), rng, now), 7.0);
  EXPECT_DOUBLE_EQ(
      retry_delay(1, policy, with_retry_after(429, "Wed, 21 Oct 2015 07:28:00 GMT"), rng, now),
      30.0);

  // Given a hint beyond the cap, the cap is used
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, with_retry_after(429, "3600"), rng, now), 60.0);
  HttpResponse long_ms = FakeTransport::status(429);
  long_ms.retry_after_ms = "3600000";
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, long_ms, rng, now), 60.0);

  // Given an unreadable hint, backoff applies
  double delay = retry_delay(1, policy, with_retry_after(429, "later"), rng, now);
  EXPECT_GE(delay, 0.0);
  EXPECT_LE(delay, policy.base_seconds);
}

}  // namespace
}  // namespace personagen
