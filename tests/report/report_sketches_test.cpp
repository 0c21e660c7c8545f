#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "report/sketches.h"
#include "util/hash.h"

namespace personagen {
namespace {

uint64_t hash_of(uint64_t i) {
  return hash64(std::to_string(i), 42);
}

TEST(HyperLogLogTest, EstimatesWithinItsBoundFromTenToTwoHundredThousand) {
  // Given sketches fed n distinct hashes, each twice, for n from tiny to 200k
  for (uint64_t n : {10u, 1000u, 20000u, 60000u, 200000u}) {
    HyperLogLog sketch;
    for (int round = 0; round < 2; ++round)
      for (uint64_t i = 0; i < n; ++i) sketch.add(hash_of(i));

    // Then each estimate is within the stated 95% bound of n
    const double estimate = sketch.estimate();
    EXPECT_LE(std::abs(estimate - static_cast<double>(n)),
              static_cast<double>(n) * HyperLogLog::relative_error())
        << "n = " << n << ", estimate " << estimate;
  }
  EXPECT_NEAR(HyperLogLog::relative_error(), 0.0159, 0.0001);
  EXPECT_EQ(HyperLogLog().estimate(), 0);
}

TEST(DistinctCounterTest, CountsExactlyWhileTheSetFits) {
  // Given a counter that counts exactly up to 1,000 hashes, fed 600 distinct ones (0 among
  // them), each three times
  DistinctCounter counter(1000);
  for (int round = 0; round < 3; ++round) {
    counter.add(0);
    for (uint64_t i = 1; i < 600; ++i) counter.add(hash_of(i));
  }

  // Then the count is exact
  Estimate e = counter.count();
  EXPECT_TRUE(counter.exact());
  EXPECT_TRUE(e.exact);
  EXPECT_EQ(e.value, 600);
  EXPECT_EQ(e.error, 0);
  EXPECT_EQ(e.method, "exact");
}

TEST(DistinctCounterTest, SwitchesToHyperLogLogAndStaysWithinItsBoundOn200kValues) {
  // Given a counter with a small exact limit, fed 200,000 distinct hashes with repeats
  DistinctCounter counter(5000);
  for (uint64_t i = 0; i < 200000; ++i) {
    counter.add(hash_of(i));
    if (i % 3 == 0) counter.add(hash_of(i / 2));
  }

  // Then it gave up counting exactly, and its estimate is within the error it states
  Estimate e = counter.count();
  EXPECT_FALSE(counter.exact());
  EXPECT_FALSE(e.exact);
  EXPECT_EQ(e.method, "hyperloglog p=14");
  EXPECT_NEAR(e.error, e.value * HyperLogLog::relative_error(), 1e-6);
  EXPECT_LE(std::abs(e.value - 200000), e.error) << e.value;
}

TEST(TopCounterTest, IsExactWhileTheKeysFit) {
  // Given 5 "a", 3 "b", 3 "c" and 1 "d" in a counter with room for 10 keys
  TopCounter top(10);
  for (const char* key : {"a", "b", "a", "c", "a", "b", "c", "a", "d", "b", "c", "a"}) top.add(key);

  // Then the top 3 are exact, largest first and ties by key, with shares of the total given
  std::vector<TopEntry> entries = top.top(3, 12);
  EXPECT_TRUE(top.exact());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, "a");
  EXPECT_EQ(entries[0].count, 5u);
  EXPECT_DOUBLE_EQ(entries[0].share, 5.0 / 12);
  EXPECT_EQ(entries[1].key, "b");
  EXPECT_EQ(entries[2].key, "c");
  EXPECT_EQ(entries[2].count, 3u);
  for (const TopEntry& e : entries) EXPECT_EQ(e.error, 0u);
  EXPECT_EQ(top.top(100, 12).size(), 4u);
}

TEST(TopCounterTest, KeepsTheHeavyHittersWithinTheirErrorWhenKeysOverflow) {
  // Given a stream of 3 frequent keys among 20,000 keys seen once, in a counter of 64
  TopCounter top(64);
  std::map<std::string, uint64_t> truth;
  for (int i = 0; i < 20000; ++i) {
    std::string once = "rare " + std::to_string(i);
    top.add(once);
    ++truth[once];
    for (const char* heavy : {"one", "two", "three"}) {
      if (i % (heavy[1] == 'n' ? 2 : heavy[1] == 'w' ? 4 : 8) == 0) {
        top.add(heavy);
        ++truth[heavy];
      }
    }
  }

  // Then the frequent ones lead, each true count within [count - error, count]
  std::vector<TopEntry> entries = top.top(3, 20000);
  EXPECT_FALSE(top.exact());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, "one");
  EXPECT_EQ(entries[1].key, "two");
  EXPECT_EQ(entries[2].key, "three");
  for (const TopEntry& e : entries) {
    EXPECT_LE(truth[e.key], e.count) << e.key;
    EXPECT_GE(truth[e.key], e.count - e.error) << e.key;
  }
}

TEST(ValueCountsTest, SummarizesExactlyWithNearestRankPercentiles) {
  // Given the values 1..100, and 1000 once
  ValueCounts counts;
  for (uint64_t v = 1; v <= 100; ++v) counts.add(v);
  counts.add(1000);

  // Then min, percentiles, max and mean are those of the 101 values
  Distribution d = counts.summary(20);
  EXPECT_EQ(d.count, 101u);
  EXPECT_EQ(d.min, 1);
  EXPECT_EQ(d.p10, 11);  // the 11th smallest: ceil(0.1 * 101)
  EXPECT_EQ(d.p50, 51);
  EXPECT_EQ(d.p90, 91);
  EXPECT_EQ(d.p99, 100);
  EXPECT_EQ(d.max, 1000);
  EXPECT_DOUBLE_EQ(d.mean.value(), (5050.0 + 1000) / 101);

  // And the histogram's bins are equal, cover [min, max], and hold every value once
  const Histogram& h = d.histogram;
  ASSERT_EQ(h.edges.size(), h.counts.size() + 1);
  EXPECT_LE(h.counts.size(), 20u);
  EXPECT_EQ(h.edges.front(), 1);
  EXPECT_GT(h.edges.back(), 1000);
  uint64_t total = 0;
  for (uint64_t c : h.counts) total += c;
  EXPECT_EQ(total, 101u);
  EXPECT_EQ(h.counts.back(), 1u);
}

TEST(ValueCountsTest, OneValueAndNoValues) {
  ValueCounts one;
  one.add(7);
  one.add(7);
  Distribution d = one.summary();
  EXPECT_EQ(d.min, 7);
  EXPECT_EQ(d.p50, 7);
  EXPECT_EQ(d.max, 7);
  ASSERT_EQ(d.histogram.counts.size(), 1u);
  EXPECT_EQ(d.histogram.counts[0], 2u);
  EXPECT_EQ(d.histogram.edges, (std::vector<double>{7, 8}));

  Distribution none = ValueCounts().summary();
  EXPECT_EQ(none.count, 0u);
  EXPECT_TRUE(none.histogram.counts.empty());
}

TEST(ReservoirTest, KeepsEveryItemUntilFullThenAUniformSampleOfTheSeed) {
  // Given reservoirs of 100 fed 0..9999, twice with one seed and once with another
  auto run = [](uint64_t seed) {
    Reservoir<int> reservoir(100, seed);
    for (int i = 0; i < 10000; ++i)
      if (size_t slot = 0; reservoir.offer(slot)) reservoir.at(slot) = i;
    return reservoir.items();
  };
  std::vector<int> a = run(1), b = run(1), c = run(2);

  // Then each holds 100 items, the same for the same seed, spread over the whole stream
  ASSERT_EQ(a.size(), 100u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int late = 0;
  for (int item : a) late += item >= 5000;
  EXPECT_GT(late, 30);
  EXPECT_LT(late, 70);

  // And a stream shorter than the reservoir is kept whole
  Reservoir<int> small(100, 1);
  for (int i = 0; i < 5; ++i)
    if (size_t slot = 0; small.offer(slot)) small.at(slot) = i;
  EXPECT_EQ(small.items(), (std::vector<int>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace personagen
