#include "net/endpoint_balancer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "personagen/error.h"

namespace personagen {
namespace {

using Clock = EndpointBalancer::Clock;
using Change = EndpointBalancer::Change;
using std::chrono::seconds;

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

// Fails `endpoint` `count` times in a row at `now`; returns the last change.
Change fail(EndpointBalancer& balancer, size_t endpoint, int count, Clock::time_point now) {
  Change last = Change::none;
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(balancer.pick(now), endpoint) << "failure " << i;
    last = balancer.finish(endpoint, false, now);
  }
  return last;
}

TEST(EndpointBalancerTest, EqualEndpointsAreTakenInTurn) {
  // Given three idle endpoints
  EndpointBalancer balancer(3);

  // When nine requests are picked and each finishes at once
  std::vector<size_t> order;
  for (int i = 0; i < 9; ++i) {
    size_t e = balancer.pick(t0);
    order.push_back(e);
    EXPECT_EQ(balancer.finish(e, true, t0), Change::none);
  }

  // Then they went round-robin, three each
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
}

TEST(EndpointBalancerTest, PicksTheEndpointWithFewestOutstanding) {
  // Given three endpoints holding 2, 0 and 1 requests
  EndpointBalancer balancer(3);
  for (int i = 0; i < 3; ++i) balancer.pick(t0);  // one each: 0, 1, 2
  balancer.pick(t0);                              // 0 again: 2, 1, 1
  balancer.finish(1, true, t0);                   // 2, 0, 1
  ASSERT_EQ(balancer.outstanding(0), 2u);
  ASSERT_EQ(balancer.outstanding(1), 0u);
  ASSERT_EQ(balancer.outstanding(2), 1u);

  // When two more are picked; then the idle one gets the first, and the tie 1-1 goes on in turn
  EXPECT_EQ(balancer.pick(t0), 1u);
  EXPECT_EQ(balancer.pick(t0), 2u);
  EXPECT_EQ(balancer.outstanding(1), 1u);
  EXPECT_EQ(balancer.outstanding(2), 2u);
}

TEST(EndpointBalancerTest, SlowEndpointGetsFewerRequests) {
  // Given two endpoints where 1 never finishes and 0 answers every request at once
  EndpointBalancer balancer(2);
  std::vector<int> count(2);

  // When 100 requests are picked
  for (int i = 0; i < 100; ++i) {
    size_t e = balancer.pick(t0);
    ++count[e];
    if (e == 0) balancer.finish(0, true, t0);
  }

  // Then the stuck endpoint holds only the one request it got while both were idle
  EXPECT_EQ(count[1], 1);
  EXPECT_EQ(count[0], 99);
}

TEST(EndpointBalancerTest, ConsecutiveFailuresEjectAnEndpoint) {
  // Given two endpoints, and a policy of 5 failures in a row
  EndpointBalancer balancer(2);

  // When endpoint 0 fails 4 times in a row, it stays in; the 5th ejects it for 5 s
  for (int i = 0; i < 4; ++i) {
    balancer.pick(t0);  // alternate: the even picks land on 0
    EXPECT_EQ(balancer.finish(0, false, t0), Change::none);
    EXPECT_EQ(balancer.pick(t0), 1u);
    balancer.finish(1, true, t0);
  }
  EXPECT_TRUE(balancer.in_rotation(0, t0));
  EXPECT_EQ(balancer.consecutive_failures(0), 4u);
  EXPECT_EQ(balancer.pick(t0), 0u);
  EXPECT_EQ(balancer.finish(0, false, t0), Change::ejected);

  // Then every request goes to endpoint 1 during the cool-down, even when 1 is busier
  EXPECT_FALSE(balancer.in_rotation(0, t0 + seconds(4)));
  EXPECT_EQ(balancer.cooldown(0), seconds(5));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(balancer.pick(t0 + seconds(4)), 1u);
}

TEST(EndpointBalancerTest, ASuccessResetsTheFailureCount) {
  // Given endpoint 1 holding a request, so that endpoint 0 gets the next ones, and 0 failed 4 times
  EndpointBalancer balancer(2);
  ASSERT_EQ(balancer.pick(t0), 0u);
  ASSERT_EQ(balancer.pick(t0), 1u);
  ASSERT_EQ(balancer.finish(0, false, t0), Change::none);
  EXPECT_EQ(fail(balancer, 0, 3, t0), Change::none);
  ASSERT_EQ(balancer.consecutive_failures(0), 4u);

  // When one of its requests succeeds
  ASSERT_EQ(balancer.pick(t0), 0u);
  EXPECT_EQ(balancer.finish(0, true, t0), Change::none);

  // Then its count restarts, and 4 more failures do not eject it
  EXPECT_EQ(balancer.consecutive_failures(0), 0u);
  EXPECT_EQ(fail(balancer, 0, 4, t0), Change::none);
  EXPECT_TRUE(balancer.in_rotation(0, t0));
}

TEST(EndpointBalancerTest, AfterTheCoolDownOneProbeGoesAndASuccessBringsItBack) {
  // Given endpoint 0 of two ejected at t0 after one failure, for 5 s
  EndpointBalancer balancer(2, {.failures_to_eject = 1});
  ASSERT_EQ(fail(balancer, 0, 1, t0), Change::ejected);

  // When the cool-down has ended, the next request is its probe, and only one goes at a time
  Clock::time_point later = t0 + seconds(5);
  EXPECT_TRUE(balancer.in_rotation(0, later));
  EXPECT_EQ(balancer.pick(later), 0u);
  EXPECT_EQ(balancer.pick(later), 1u);
  EXPECT_EQ(balancer.pick(later), 1u);

  // Then the probe's success puts it back in rotation, where it takes the next requests
  EXPECT_EQ(balancer.finish(0, true, later), Change::recovered);
  EXPECT_EQ(balancer.pick(later), 0u);
  EXPECT_EQ(balancer.pick(later), 0u);
  EXPECT_EQ(balancer.cooldown(0), Clock::duration::zero());
}

TEST(EndpointBalancerTest, AFailedProbeDoublesTheCoolDownUpToTheMaximum) {
  // Given endpoint 1 holding a request, and endpoint 0 ejected after 2 failures (5 s at first)
  EndpointBalancer balancer(2, {.failures_to_eject = 2});
  ASSERT_EQ(balancer.pick(t0), 0u);
  ASSERT_EQ(balancer.pick(t0), 1u);
  ASSERT_EQ(balancer.finish(0, true, t0), Change::none);
  ASSERT_EQ(fail(balancer, 0, 2, t0), Change::ejected);

  // When each probe fails as soon as its cool-down ends
  std::vector<Clock::duration> cooldowns{balancer.cooldown(0)};
  Clock::time_point now = t0;
  for (int i = 0; i < 6; ++i) {
    now += balancer.cooldown(0);
    ASSERT_EQ(balancer.pick(now), 0u);
    EXPECT_EQ(balancer.finish(0, false, now), Change::reejected);
    EXPECT_FALSE(balancer.in_rotation(0, now));
    cooldowns.push_back(balancer.cooldown(0));
  }

  // Then the cool-down went 5, 10, 20, 40, 60, 60, 60 s
  EXPECT_EQ(cooldowns,
            (std::vector<Clock::duration>{seconds(5), seconds(10), seconds(20), seconds(40),
                                          seconds(60), seconds(60), seconds(60)}));

  // And a success then resets it: the next ejection is 5 s again
  now += balancer.cooldown(0);
  ASSERT_EQ(balancer.pick(now), 0u);
  EXPECT_EQ(balancer.finish(0, true, now), Change::recovered);
  EXPECT_EQ(fail(balancer, 0, 2, now), Change::ejected);
  EXPECT_EQ(balancer.cooldown(0), seconds(5));
}

TEST(EndpointBalancerTest, WhenAllAreEjectedTheOneBackSoonestIsPicked) {
  // Given two endpoints ejected, 1 at t0 and 0 a second later
  EndpointBalancer balancer(2, {.failures_to_eject = 1});
  balancer.pick(t0);  // 0
  ASSERT_EQ(balancer.pick(t0), 1u);
  ASSERT_EQ(balancer.finish(1, false, t0), Change::ejected);
  ASSERT_EQ(balancer.finish(0, false, t0 + seconds(1)), Change::ejected);

  // When requests are picked while both cool down; then each goes to 1, which is back first
  for (int i = 0; i < 3; ++i) EXPECT_EQ(balancer.pick(t0 + seconds(2)), 1u);
  EXPECT_FALSE(balancer.in_rotation(1, t0 + seconds(2)));

  // And a failure while ejected changes nothing, while a success brings the endpoint back
  EXPECT_EQ(balancer.finish(1, false, t0 + seconds(2)), Change::none);
  EXPECT_EQ(balancer.cooldown(1), seconds(5));
  EXPECT_EQ(balancer.finish(1, true, t0 + seconds(2)), Change::recovered);
  EXPECT_TRUE(balancer.in_rotation(1, t0 + seconds(2)));
  EXPECT_EQ(balancer.pick(t0 + seconds(2)), 1u);
}

TEST(EndpointBalancerTest, OneEndpointIsAlwaysPicked) {
  // Given a single endpoint that keeps failing
  EndpointBalancer balancer(1, {.failures_to_eject = 1});

  // When it is ejected, then it is still the one picked, and it counts what it holds
  EXPECT_EQ(fail(balancer, 0, 1, t0), Change::ejected);
  EXPECT_EQ(balancer.pick(t0), 0u);
  EXPECT_EQ(balancer.pick(t0), 0u);
  EXPECT_EQ(balancer.outstanding(0), 2u);
}

TEST(CheckBaseUrls, ARepeatedUrlIsNamedWithoutItsPassword) {
  try {
    check_base_urls({"https://user:secret@gpu01/v1", "https://user:secret@gpu01/v1/"}, "synth: ");
    FAIL() << "a URL named twice was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("https://***@gpu01/v1 twice"), std::string::npos) << message;
    EXPECT_EQ(message.find("secret"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace personagen
