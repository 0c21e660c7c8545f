#pragma once

// Checks shared by the tests of the request pool's limits: rate_limiter_test.cpp (--rpm and
// --tpm) and adaptive_limit_test.cpp (the adaptive in-flight limit).

#include <gtest/gtest.h>

#include "support/fake_transport.h"

namespace personagen {

// Every job of `harness` finished, and each exactly once.
inline void expect_each_finished_once(const PoolHarness& harness) {
  ASSERT_EQ(harness.finish_count.size(), harness.total);
  for (const auto& [tag, count] : harness.finish_count) EXPECT_EQ(count, 1) << "tag " << tag;
}

}  // namespace personagen
