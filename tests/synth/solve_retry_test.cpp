// retry_wants: what a --retry-failed pass (and a batch's next round) sends again, for solve with
// and without the samples that succeeded kept in the line's failure.
#include <gtest/gtest.h>

#include "store/run_dir.h"
#include "synth/request_walk.h"
#include "synth/tasks.h"

namespace personagen {
namespace {

// Line 5's sample 1 failed (3 samples); line 9's samples 0 and 2 failed.
FailedRequests failed_samples() {
  FailedRequests failed;
  failed.path = "failures.retry.jsonl";
  failed.requests = {{5, 1}, {9, 0}, {9, 2}};
  return failed;
}

TEST(RetryWants, ASolveLineWhoseFailureKeepsItsSamplesSendsOnlyTheFailedOnes) {
  // Given line 5's failure keeps its samples that succeeded
  FailedRequests failed = failed_samples();
  failed.kept = {{5, 0}};
  // Then only its failed sample is sent again
  EXPECT_FALSE(retry_wants(failed, OutputKind::solution, 5, 0));
  EXPECT_TRUE(retry_wants(failed, OutputKind::solution, 5, 1));
  EXPECT_FALSE(retry_wants(failed, OutputKind::solution, 5, 2));
  // And line 9, which keeps none, is sent whole; a line that did not fail not at all
  for (size_t unit = 0; unit < 3; ++unit) {
    EXPECT_TRUE(retry_wants(failed, OutputKind::solution, 9, unit)) << unit;
    EXPECT_FALSE(retry_wants(failed, OutputKind::solution, 6, unit)) << unit;
  }
}

TEST(RetryWants, AnOlderFailuresFileWithoutKeptSamplesSendsEverySampleOfASolveLine) {
  // Given failures written before samples were kept (no "kept_samples" anywhere)
  FailedRequests failed = failed_samples();
  // Then every sample of a failed solve line is sent again, as its vote needs them all
  for (size_t unit = 0; unit < 3; ++unit)
    EXPECT_TRUE(retry_wants(failed, OutputKind::solution, 5, unit)) << unit;
  // And other tasks send only what failed
  EXPECT_FALSE(retry_wants(failed, OutputKind::text, 5, 0));
  EXPECT_TRUE(retry_wants(failed, OutputKind::text, 5, 1));
}

}  // namespace
}  // namespace personagen
