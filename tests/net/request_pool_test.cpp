#include "net/request_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "support/fake_transport.h"

namespace personagen {
namespace {

using Finished = PoolHarness::Finished;

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
    if (request.body == PoolHarness::body(0) && attempt == 1)
      return FakeTransport::with_retry_after(429, "0.3");
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
    if (request.body == PoolHarness::body(0)) return FakeTransport::with_retry_after(503, "10");
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

}  // namespace
}  // namespace personagen
