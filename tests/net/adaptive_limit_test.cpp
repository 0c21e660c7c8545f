// AdaptiveLimit (net/rate_limiter.h), the in-flight limit that halves on a burst of 429s and
// climbs back, alone and at work in the request pool. The token buckets are in
// rate_limiter_test.cpp.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "net/rate_limiter.h"
#include "net/request_pool.h"
#include "rate_limiter_test_support.h"
#include "support/fake_transport.h"

namespace personagen {
namespace {

TEST(AdaptiveLimitTest, StartsAtTheMaximumAndHalvesOncePerBurstOf429s) {
  // Given a limit of 16 and 16 requests started under it
  AdaptiveLimit limit(16);
  EXPECT_EQ(limit.limit(), 16u);
  std::vector<uint64_t> first;
  for (int i = 0; i < 16; ++i) first.push_back(limit.on_start());

  // When all 16 are refused
  for (uint64_t started : first) limit.on_rate_limited(started);

  // Then the limit is cut once, to 8
  EXPECT_EQ(limit.limit(), 8u);

  // When a request started after the cut is refused too; then it is cut again
  uint64_t later = limit.on_start();
  limit.on_rate_limited(later);
  EXPECT_EQ(limit.limit(), 4u);
  limit.on_rate_limited(first[3]);  // an old refusal arriving late changes nothing
  EXPECT_EQ(limit.limit(), 4u);
}

TEST(AdaptiveLimitTest, NeverGoesBelowOne) {
  // Given a limit of 3; when every new request is refused; then it stops at 1
  AdaptiveLimit limit(3);
  for (int i = 0; i < 10; ++i) limit.on_rate_limited(limit.on_start());
  EXPECT_EQ(limit.limit(), 1u);

  // And a maximum of 0 is taken as 1
  EXPECT_EQ(AdaptiveLimit(0).limit(), 1u);
}

TEST(AdaptiveLimitTest, ClimbsByOnePerLimitSuccessesBackToTheMaximumAndNoHigher) {
  // Given a limit of 8 cut to 4
  AdaptiveLimit limit(8);
  limit.on_rate_limited(limit.on_start());
  ASSERT_EQ(limit.limit(), 4u);

  // When 3 requests succeed; then it holds; at the 4th it rises to 5
  for (int i = 0; i < 3; ++i) limit.on_success();
  EXPECT_EQ(limit.limit(), 4u);
  limit.on_success();
  EXPECT_EQ(limit.limit(), 5u);

  // When 5 + 6 + 7 more succeed; then it is back at 8
  for (int i = 0; i < 5 + 6 + 7; ++i) limit.on_success();
  EXPECT_EQ(limit.limit(), 8u);

  // And many more successes never take it above the maximum
  for (int i = 0; i < 1000; ++i) limit.on_success();
  EXPECT_EQ(limit.limit(), 8u);
}

TEST(AdaptiveLimitTest, ACutRestartsTheCountOfSuccesses) {
  // Given a limit of 8 cut to 4, with 3 successes counted
  AdaptiveLimit limit(8);
  limit.on_rate_limited(limit.on_start());
  for (int i = 0; i < 3; ++i) limit.on_success();

  // When a new request is refused, cutting to 2, and then one succeeds
  limit.on_rate_limited(limit.on_start());
  ASSERT_EQ(limit.limit(), 2u);
  limit.on_success();

  // Then the limit holds: the earlier successes do not count toward the new one
  EXPECT_EQ(limit.limit(), 2u);
  limit.on_success();
  EXPECT_EQ(limit.limit(), 3u);
}

// The limit at work in the request pool, against a fake transport.

TEST(RequestPoolAdaptiveTest, ABurstOf429sHalvesTheLimitOnceThenItClimbsBack) {
  // Given 8 slots, 200 jobs, and a server that refuses the first 8 requests with 429
  PoolHarness harness(200);
  int replies = 0;
  FakeTransport transport([&](const HttpRequest&, int) {
    return ++replies <= 8 ? FakeTransport::status(429) : FakeTransport::ok();
  });
  RequestPool pool(transport, fast_pool_options(8));
  size_t lowest_limit = 8;
  harness.hooks.on_tick = [&] { lowest_limit = std::min(lowest_limit, pool.concurrency_limit()); };

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then the 8 refusals cut the limit once, to 4: the next 4 starts had at most 4 in flight
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  expect_each_finished_once(harness);
  EXPECT_EQ(pool.retries(), 8u);
  EXPECT_EQ(lowest_limit, 4u);
  const auto& in_flight = transport.in_flight_at_start;
  ASSERT_GE(in_flight.size(), 12u);
  EXPECT_EQ(in_flight[7], 8u);
  EXPECT_EQ(*std::max_element(in_flight.begin() + 8, in_flight.begin() + 12), 4u);

  // And successes raised it back to 8, never above
  EXPECT_EQ(pool.concurrency_limit(), 8u);
  EXPECT_EQ(*std::max_element(in_flight.begin() + 12, in_flight.end()), 8u);
  EXPECT_EQ(transport.max_in_flight, 8u);
}

TEST(RequestPoolAdaptiveTest, WithoutAdaptiveThe429sLeaveTheLimitAlone) {
  // Given the same refusals with the adaptive limit turned off
  PoolHarness harness(50);
  int replies = 0;
  FakeTransport transport([&](const HttpRequest&, int) {
    return ++replies <= 8 ? FakeTransport::status(429) : FakeTransport::ok();
  });
  PoolOptions options = fast_pool_options(8);
  options.adaptive = false;
  RequestPool pool(transport, options);
  size_t lowest_limit = 8;
  harness.hooks.on_tick = [&] { lowest_limit = std::min(lowest_limit, pool.concurrency_limit()); };

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then the limit stays at 8 and the next starts fill all 8 slots again
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  expect_each_finished_once(harness);
  EXPECT_EQ(lowest_limit, 8u);
  ASSERT_GE(transport.in_flight_at_start.size(), 16u);
  EXPECT_EQ(transport.in_flight_at_start[15], 8u);
}

}  // namespace
}  // namespace personagen
