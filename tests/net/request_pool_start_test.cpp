// RequestPool: what keeps a broken configuration or an outage from burning requests: slow
// start, the limit on length retries, and outage probing.
#include <gtest/gtest.h>

#include <atomic>

#include "net/request_pool.h"
#include "support/fake_transport.h"

namespace personagen {
namespace {

HttpResponse connect_error() {
  HttpResponse response;
  response.error = TransportError::connect;
  response.error_text = "Couldn't connect to server";
  return response;
}

// Options with fast retries, and the start-up behaviours on as in a real run.
PoolOptions start_options(size_t concurrency) {
  PoolOptions options = fast_pool_options(concurrency);
  options.slow_start = true;
  return options;
}

TEST(RequestPoolStart, OneRequestGoesOutUntilTheFirstSucceeds) {
  // Given 20 jobs, -j 8, and a server that fails the first job's first attempt with a 503,
  PoolHarness harness(20);
  FakeTransport transport([](const HttpRequest& request, int attempt) {
    return request.body == PoolHarness::body(0) && attempt == 1 ? FakeTransport::status(503)
                                                                : FakeTransport::ok();
  });
  RequestPool pool(transport, start_options(8));
  // When the pool runs,
  ASSERT_EQ(pool.run(harness.hooks, harness.interrupt), RequestPool::Stop::drained);
  // then the first two starts are that job alone (the retry did not let a second one out),
  ASSERT_GE(transport.started.size(), 3u);
  EXPECT_EQ(transport.started[0].body, PoolHarness::body(0));
  EXPECT_EQ(transport.started[1].body, PoolHarness::body(0));
  EXPECT_EQ(transport.in_flight_at_start[0], 1u);
  EXPECT_EQ(transport.in_flight_at_start[1], 1u);
  // and after it succeeded the full window opened.
  EXPECT_EQ(transport.max_in_flight, 8u);
  EXPECT_EQ(harness.finished.size(), 20u);
}

TEST(RequestPoolStart, A404BeforeAnySuccessStopsTheRunAfterOneRequest) {
  PoolHarness harness(50);
  FakeTransport transport([](const HttpRequest&, int) { return FakeTransport::status(404); });
  RequestPool pool(transport, start_options(16));
  EXPECT_EQ(pool.run(harness.hooks, harness.interrupt), RequestPool::Stop::fatal);
  EXPECT_EQ(transport.started.size(), 1u);
  EXPECT_NE(pool.fatal_reason().find("configuration looks wrong"), std::string::npos)
      << pool.fatal_reason();
  EXPECT_TRUE(harness.finished.empty());
}

TEST(RequestPoolStart, ThreeRefusalsInARowBeforeAnySuccessStopTheRun) {
  // Given a server that refuses every request with a 400 (one may be the request's own fault),
  PoolHarness harness(50);
  FakeTransport transport([](const HttpRequest&, int) { return FakeTransport::status(400); });
  RequestPool pool(transport, start_options(16));
  EXPECT_EQ(pool.run(harness.hooks, harness.interrupt), RequestPool::Stop::fatal);
  // then two are failed like any refusal and the third stops the run.
  EXPECT_EQ(transport.started.size(), 3u);
  EXPECT_EQ(harness.finished.size(), 2u);
}

TEST(RequestPoolStart, RefusalsAfterASuccessOrOfAProvenConfigurationOnlyFail) {
  for (bool proven : {false, true}) {
    // Given a first job that succeeds (or an earlier run that did), then refusals,
    PoolHarness harness(10);
    FakeTransport transport([proven](const HttpRequest& request, int) {
      bool first = request.body == PoolHarness::body(0);
      return first && !proven ? FakeTransport::ok() : FakeTransport::status(404);
    });
    PoolOptions options = start_options(4);
    options.configuration_proven = proven;
    RequestPool pool(transport, options);
    // then every job finishes: the refused ones as failures.
    EXPECT_EQ(pool.run(harness.hooks, harness.interrupt), RequestPool::Stop::drained);
    EXPECT_EQ(harness.finished.size(), 10u);
  }
}

TEST(RequestPoolStart, ACutOffReplyIsRetriedAtMostMaxLengthRetriesTimes) {
  // Given replies that are always cut off, --max-retries 5 and one length retry,
  PoolHarness harness(3);
  harness.hooks.on_judge = [](const Job&, const HttpResponse&) {
    return Verdict::retry(FailureKind::truncated, "cut off");
  };
  FakeTransport transport;
  PoolOptions options = fast_pool_options(3);
  options.retry.max_length_retries = 1;
  RequestPool pool(transport, options);
  ASSERT_EQ(pool.run(harness.hooks, harness.interrupt), RequestPool::Stop::drained);
  // then each job is sent twice and fails as truncated.
  EXPECT_EQ(transport.started.size(), 6u);
  for (const auto& finished : harness.finished) {
    EXPECT_EQ(finished.attempts, 2);
    EXPECT_EQ(finished.verdict.kind, FailureKind::truncated);
    EXPECT_EQ(finished.verdict.action, Verdict::Action::fail);
  }
}

TEST(RequestPoolStart, AnOutageStopsNewWorkAndProbesWithoutUsingUpRetries) {
  // Given an endpoint that refuses connections for its first 8 requests, then answers,
  PoolHarness harness(40);
  int requests = 0;
  FakeTransport transport([&](const HttpRequest&, int) {
    return ++requests <= 8 ? connect_error() : FakeTransport::ok();
  });
  transport.completions_per_wait = 1;
  RequestPool* watched = nullptr;
  bool outage_seen = false;
  size_t started_before = 0, most_starts_per_turn = 0;
  transport.on_wait = [&] {
    size_t started = transport.started.size();
    if (watched && watched->in_outage()) {
      outage_seen = true;
      most_starts_per_turn = std::max(most_starts_per_turn, started - started_before);
    }
    started_before = started;
  };
  PoolOptions options = fast_pool_options(4);
  options.retry.max_retries = 1;
  options.outage_wait_seconds = 60;
  RequestPool pool(transport, options);
  watched = &pool;
  // when the pool runs with one retry per job,
  ASSERT_EQ(pool.run(harness.hooks, harness.interrupt), RequestPool::Stop::drained);
  // then it noticed the outage, started at most one probe a turn during it, and failed nothing.
  EXPECT_TRUE(outage_seen);
  EXPECT_LE(most_starts_per_turn, 1u);
  ASSERT_EQ(harness.finished.size(), 40u);
  for (const auto& finished : harness.finished)
    EXPECT_EQ(finished.verdict.action, Verdict::Action::accept) << "job " << finished.tag;
}

TEST(RequestPoolStart, AnEndpointNeverReachedIsFatalAfterTheOutageWait) {
  PoolHarness harness(10);
  FakeTransport transport([](const HttpRequest&, int) { return connect_error(); });
  PoolOptions options = start_options(4);
  options.retry.max_retries = 0;
  options.outage_wait_seconds = 0.05;
  RequestPool pool(transport, options);
  EXPECT_EQ(pool.run(harness.hooks, harness.interrupt), RequestPool::Stop::fatal);
  EXPECT_NE(pool.fatal_reason().find("check --base-url"), std::string::npos) << pool.fatal_reason();
  EXPECT_TRUE(harness.finished.empty()) << "nothing is failed for an outage";
}

}  // namespace
}  // namespace personagen
