// TokenBucket, the --rpm and --tpm limits, alone and at work in the request pool. The adaptive
// in-flight limit is in adaptive_limit_test.cpp.

#include "net/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

#include "net/request_pool.h"
#include "rate_limiter_test_support.h"
#include "support/fake_transport.h"

namespace personagen {
namespace {

using Clock = TokenBucket::Clock;
using std::chrono::milliseconds;

// A made-up instant, so the tests never read the clock.
const Clock::time_point kT0 = Clock::time_point() + std::chrono::hours(1);

TEST(TokenBucketTest, StartsFullAndRefillsAtItsRate) {
  // Given a bucket of 5 tokens gaining 10 a second
  TokenBucket bucket(10, 5, kT0);

  // When 5 are taken at once, then the 6th is refused
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.try_take(1, kT0)) << i;
  EXPECT_FALSE(bucket.try_take(1, kT0));
  EXPECT_DOUBLE_EQ(bucket.balance(kT0), 0.0);

  // Then after 100 ms one more is there, and after 250 ms two
  EXPECT_FALSE(bucket.try_take(1, kT0 + milliseconds(99)));
  EXPECT_TRUE(bucket.try_take(1, kT0 + milliseconds(100)));
  EXPECT_FALSE(bucket.try_take(2, kT0 + milliseconds(250)));
  EXPECT_TRUE(bucket.try_take(2, kT0 + milliseconds(300)));
}

TEST(TokenBucketTest, NeverHoldsMoreThanItsCapacity) {
  // Given a bucket of 3 tokens gaining 10 a second, emptied
  TokenBucket bucket(10, 3, kT0);
  ASSERT_TRUE(bucket.try_take(3, kT0));

  // When it stays unused for an hour
  Clock::time_point later = kT0 + std::chrono::hours(1);

  // Then it holds 3 again, and not more
  EXPECT_DOUBLE_EQ(bucket.balance(later), 3.0);
  EXPECT_TRUE(bucket.try_take(3, later));
  EXPECT_FALSE(bucket.try_take(1, later));
}

TEST(TokenBucketTest, WaitForSaysWhenAnAmountIsThere) {
  // Given an emptied bucket gaining 10 tokens a second, of capacity 5
  TokenBucket bucket(10, 5, kT0);
  ASSERT_TRUE(bucket.try_take(5, kT0));

  // When asked how long to wait; then it is the missing amount over the rate
  EXPECT_EQ(bucket.wait_for(1, kT0), milliseconds(100));
  EXPECT_EQ(bucket.wait_for(3, kT0), milliseconds(300));
  EXPECT_EQ(bucket.wait_for(3, kT0 + milliseconds(250)), milliseconds(50));
  EXPECT_EQ(bucket.wait_for(3, kT0 + milliseconds(300)), Clock::duration::zero());
  EXPECT_EQ(bucket.wait_for(0, kT0), Clock::duration::zero());

  // And a tiny shortfall still asks for a wait, so a caller does not spin
  Clock::time_point almost = kT0 + milliseconds(100) - Clock::duration(1);
  EXPECT_FALSE(bucket.can_take(1, almost));
  EXPECT_GT(bucket.wait_for(1, almost), Clock::duration::zero());
}

TEST(TokenBucketTest, AnAmountAboveTheCapacityWaitsForAFullBucketAndLeavesADebt) {
  // Given a bucket of 10 tokens gaining 10 a second, with 4 taken
  TokenBucket bucket(10, 10, kT0);
  ASSERT_TRUE(bucket.try_take(4, kT0));

  // When 25 are asked for; then they wait until the bucket is full again
  EXPECT_FALSE(bucket.can_take(25, kT0));
  EXPECT_EQ(bucket.wait_for(25, kT0), milliseconds(400));
  Clock::time_point full = kT0 + milliseconds(400);
  ASSERT_TRUE(bucket.try_take(25, full));

  // Then the bucket owes 15, and the next token comes 1.6 s later
  EXPECT_DOUBLE_EQ(bucket.balance(full), -15.0);
  EXPECT_EQ(bucket.wait_for(1, full), milliseconds(1600));
}

TEST(TokenBucketTest, ChargeDelaysLaterTakesAndGiveBackIsCapped) {
  // Given a bucket of 100 tokens gaining 100 a second, with an estimate of 50 taken
  TokenBucket bucket(100, 100, kT0);
  ASSERT_TRUE(bucket.try_take(50, kT0));

  // When the request turns out to have used 200: 150 more are charged
  bucket.charge(150, kT0);

  // Then the balance is negative and even one token waits for the debt to be paid
  EXPECT_DOUBLE_EQ(bucket.balance(kT0), -100.0);
  EXPECT_FALSE(bucket.try_take(1, kT0 + milliseconds(500)));
  EXPECT_EQ(bucket.wait_for(1, kT0), milliseconds(1010));

  // When tokens are given back; then they count, but never above the capacity
  bucket.give_back(60, kT0);
  EXPECT_DOUBLE_EQ(bucket.balance(kT0), -40.0);
  bucket.give_back(1000, kT0);
  EXPECT_DOUBLE_EQ(bucket.balance(kT0), 100.0);
}

TEST(TokenBucketTest, ChargeRefillsFirstSoAFullBucketDoesNotOverflow) {
  // Given a full bucket of 10 gaining 10 a second, untouched for a long time
  TokenBucket bucket(10, 10, kT0);
  Clock::time_point later = kT0 + std::chrono::seconds(60);

  // When 10 are charged
  bucket.charge(10, later);

  // Then it is empty then, not holding what it could not hold meanwhile
  EXPECT_DOUBLE_EQ(bucket.balance(later), 0.0);
  EXPECT_FALSE(bucket.can_take(1, later));
}

TEST(TokenBucketTest, ATimeEarlierThanOneSeenAddsNothing) {
  // Given an emptied bucket seen at kT0 + 1 s
  TokenBucket bucket(10, 10, kT0);
  Clock::time_point seen = kT0 + std::chrono::seconds(1);
  ASSERT_TRUE(bucket.try_take(10, seen));

  // When asked about an earlier instant; then nothing was gained, and nothing breaks
  EXPECT_DOUBLE_EQ(bucket.balance(kT0), 0.0);
  EXPECT_FALSE(bucket.try_take(1, kT0));
  EXPECT_EQ(bucket.wait_for(1, kT0), milliseconds(100));
}

TEST(TokenBucketTest, PerMinuteGivesOneSecondOfBurstAndZeroMeansUnlimited) {
  // Given limits per minute; when buckets are made; then rate and burst are per second
  TokenBucket rpm = TokenBucket::per_minute(6000, kT0);
  EXPECT_DOUBLE_EQ(rpm.rate(), 100.0);
  EXPECT_DOUBLE_EQ(rpm.capacity(), 100.0);
  TokenBucket slow = TokenBucket::per_minute(30, kT0);
  EXPECT_DOUBLE_EQ(slow.rate(), 0.5);
  EXPECT_DOUBLE_EQ(slow.capacity(), 1.0);  // at least one request can go
  EXPECT_TRUE(slow.try_take(1, kT0));
  EXPECT_EQ(slow.wait_for(1, kT0), std::chrono::seconds(2));

  // And no limit takes anything at once
  for (TokenBucket none :
       {TokenBucket(), TokenBucket::per_minute(0, kT0), TokenBucket::per_minute(-5, kT0),
        TokenBucket(std::numeric_limits<double>::infinity(), 1, kT0)}) {
    EXPECT_TRUE(none.unlimited());
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(none.try_take(1e9, kT0));
    none.charge(1e12, kT0);
    EXPECT_EQ(none.wait_for(1e9, kT0), Clock::duration::zero());
  }
}

// The limits at work in the request pool, against a fake transport.

double seconds_since(std::chrono::steady_clock::time_point begin) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

// Whether every run of consecutive starts took no more than a bucket of `capacity` gaining `rate`
// a second could give, each start taking `per_start`. `slack` covers the moment between the
// pool's reading of the clock and the fake's.
::testing::AssertionResult within_bucket(const FakeTransport& transport, double per_start,
                                         double rate, double capacity, double slack) {
  const auto& times = transport.start_times;
  for (size_t i = 0; i < times.size(); ++i) {
    for (size_t j = i; j < times.size(); ++j) {
      double taken = static_cast<double>(j - i + 1) * per_start;
      double allowed =
          capacity + rate * std::chrono::duration<double>(times[j] - times[i]).count() + slack;
      if (taken > allowed) {
        return ::testing::AssertionFailure() << "starts " << i << ".." << j << " took " << taken
                                             << ", the bucket allowed " << allowed;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(RequestPoolRateTest, RequestsPerMinuteSpaceTheStarts) {
  // Given 140 jobs, room for all of them in flight, and 6000 requests a minute: 100 a second
  // with a burst of 100
  PoolHarness harness(140);
  FakeTransport transport;
  PoolOptions options = fast_pool_options(200);
  options.requests_per_minute = 6000;
  auto begin = std::chrono::steady_clock::now();
  RequestPool pool(transport, options);

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  double elapsed = seconds_since(begin);

  // Then the 40 starts after the burst take 0.4 s, and no stretch of starts beats the bucket
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  expect_each_finished_once(harness);
  EXPECT_GE(elapsed, 0.39);
  EXPECT_LT(elapsed, 10.0);
  EXPECT_TRUE(within_bucket(transport, 1, 100, 100, 2));
}

TEST(RequestPoolRateTest, TokensPerMinuteSpaceTheStartsByEstimate) {
  // Given 140 jobs estimated at 100 tokens, and 600000 tokens a minute: 10000 a second with a
  // burst of 10000, so 100 jobs a second
  PoolHarness harness(140);
  harness.hooks.on_next = [&, next = harness.hooks.on_next](Job& job) {
    if (!next(job)) return false;
    job.estimated_tokens = 100;
    return true;
  };
  FakeTransport transport;
  PoolOptions options = fast_pool_options(200);
  options.tokens_per_minute = 600000;
  auto begin = std::chrono::steady_clock::now();
  RequestPool pool(transport, options);

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  double elapsed = seconds_since(begin);

  // Then the 40 starts after the burst take 0.4 s, no stretch beats the bucket, and each job
  // that had to wait for tokens started once
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  expect_each_finished_once(harness);
  EXPECT_GE(elapsed, 0.39);
  EXPECT_LT(elapsed, 10.0);
  EXPECT_TRUE(within_bucket(transport, 100, 10000, 10000, 200));
  EXPECT_EQ(transport.started.size(), 140u);
  for (size_t tag = 0; tag < 140; ++tag) EXPECT_EQ(transport.attempts(PoolHarness::body(tag)), 1);
}

TEST(RequestPoolRateTest, UsageAboveTheEstimateSlowsLaterStarts) {
  // Given 50 jobs estimated at 100 tokens that really use 300, 10 in flight, and 10000 tokens a
  // second with a burst of 10000: the estimates alone (5000) would all go at once
  PoolHarness harness(50);
  harness.hooks.on_next = [&, next = harness.hooks.on_next](Job& job) {
    if (!next(job)) return false;
    job.estimated_tokens = 100;
    return true;
  };
  harness.hooks.on_judge = [](const Job&, const HttpResponse&) {
    Verdict verdict = Verdict::accept();
    verdict.tokens_used = 300;
    return verdict;
  };
  FakeTransport transport;
  PoolOptions options = fast_pool_options(10);
  options.tokens_per_minute = 600000;
  auto begin = std::chrono::steady_clock::now();
  RequestPool pool(transport, options);

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  double elapsed = seconds_since(begin);

  // Then the usage counts: by the last start at least 5000 + 40 * 200 tokens were spent, which
  // is 3000 beyond the burst, 0.3 s of refill
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  expect_each_finished_once(harness);
  EXPECT_GE(elapsed, 0.29);
}

TEST(RequestPoolRateTest, UsageBelowTheEstimateIsGivenBack) {
  // Given 60 jobs estimated at 1000 tokens that really use 10, 10 in flight, and 10000 tokens a
  // second: by estimate alone they would need 5 s
  PoolHarness harness(60);
  harness.hooks.on_next = [&, next = harness.hooks.on_next](Job& job) {
    if (!next(job)) return false;
    job.estimated_tokens = 1000;
    return true;
  };
  harness.hooks.on_judge = [](const Job&, const HttpResponse&) {
    Verdict verdict = Verdict::accept();
    verdict.tokens_used = 10;
    return verdict;
  };
  FakeTransport transport;
  PoolOptions options = fast_pool_options(10);
  options.tokens_per_minute = 600000;
  auto begin = std::chrono::steady_clock::now();
  RequestPool pool(transport, options);

  // When the pool runs
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);
  double elapsed = seconds_since(begin);

  // Then the unused tokens come back and the run takes far less
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  expect_each_finished_once(harness);
  EXPECT_LT(elapsed, 3.0);
}

TEST(RequestPoolRateTest, ARateLimitDoesNotDelayTheEndOfTheRun) {
  // Given one job and 1 request a minute: the next token is a minute away
  PoolHarness harness(1);
  FakeTransport transport;
  PoolOptions options = fast_pool_options(4);
  options.requests_per_minute = 1;
  RequestPool pool(transport, options);

  // When the pool runs
  auto begin = std::chrono::steady_clock::now();
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then it drains as soon as the job is done, without waiting for a token it does not need
  EXPECT_EQ(stop, RequestPool::Stop::drained);
  expect_each_finished_once(harness);
  EXPECT_LT(seconds_since(begin), 5.0);
}

TEST(RequestPoolRateTest, InterruptDropsTheJobHeldForTokens) {
  // Given jobs of 1 token and 60 tokens a minute: the second job waits a second for its token
  PoolHarness harness(5);
  size_t next_calls = 0;
  harness.hooks.on_next = [&, next = harness.hooks.on_next](Job& job) {
    ++next_calls;
    if (!next(job)) return false;
    job.estimated_tokens = 1;
    return true;
  };
  FakeTransport transport;
  PoolOptions options = fast_pool_options(4);
  options.tokens_per_minute = 60;
  RequestPool pool(transport, options);
  harness.hooks.on_tick = [&] {
    if (harness.finished.size() == 1) harness.interrupt = 1;
  };

  // When the pool is interrupted while the second job waits
  auto begin = std::chrono::steady_clock::now();
  RequestPool::Stop stop = pool.run(harness.hooks, harness.interrupt);

  // Then it returns at once; the held job was taken once and never started nor finished
  EXPECT_EQ(stop, RequestPool::Stop::interrupted);
  EXPECT_LT(seconds_since(begin), 0.9);
  EXPECT_EQ(next_calls, 2u);
  EXPECT_EQ(transport.started.size(), 1u);
  EXPECT_EQ(harness.finished.size(), 1u);
  EXPECT_EQ(harness.finish_count.count(1), 0u);
}

}  // namespace
}  // namespace personagen
