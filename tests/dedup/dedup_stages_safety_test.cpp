// The staged dedup refuses stale work, runs one job per stage at a time and cleans up after a
// killed run (issue 15 review).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dedup/dedup_fixture.h"
#include "dedup/dedup_stages.h"
#include "dedup/dedup_work.h"
#include "dedup/record_file.h"
#include "dedup/spill_sort.h"
#include "personagen/error.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;
using testing_support::DedupTest;

class DedupStagesSafetyTest : public DedupTest {
 protected:
  StageOptions stage_options() {
    StageOptions s;
    s.dedup.inputs = {write("a.jsonl", R"({"persona": "a teacher of maths in a small town"})"
                                       "\n"
                                       R"({"persona": "a teacher of maths in a small town"})"
                                       "\n"),
                      write("b.jsonl", R"({"persona": "a baker who sings at night"})"
                                       "\n")};
    s.work = path("work");
    s.memory_bytes = size_t{1} << 20;
    s.part = {0, 2};
    return s;
  }

  void run_all(StageOptions s) {
    for (size_t p = 0; p < 2; ++p) {
      s.part = {p, 2};
      dedup_signatures(s);
    }
    dedup_buckets(s);
    dedup_clusters(s);
  }

  static std::string message(const std::function<void()>& stage) {
    try {
      stage();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(DedupStagesSafetyTest, AnInputChangedAfterSignaturesIsRefusedByFilterAndSignatures) {
  // Given the first three stages done
  StageOptions s = stage_options();
  run_all(s);
  s.dedup.output = path("out.jsonl");

  // When part 0's file gets another line
  std::ofstream(s.dedup.inputs[0], std::ios::app) << R"({"persona": "a new one"})"
                                                  << "\n";

  // Then filter and a rerun of signatures name the file and refuse to go on
  const std::string expected = s.dedup.inputs[0] + " changed since its signatures were made (" +
                               path("work") +
                               "/signatures/part-0-of-2/done.json): use a fresh work directory";
  EXPECT_EQ(message([&] { dedup_filter(s); }), "dedup filter: " + expected);
  EXPECT_EQ(message([&] { dedup_signatures(s); }), "dedup signatures: " + expected);
  EXPECT_FALSE(fs::exists(s.dedup.output));
  // and part 1, whose file is as it was, is still done
  s.part = {1, 2};
  EXPECT_TRUE(dedup_signatures(s).already_done);
}

TEST_F(DedupStagesSafetyTest, BucketsAndClustersOverOtherMarkersFailInsteadOfRedoing) {
  // Given all stages done, then part 1's signatures redone from a changed file
  StageOptions s = stage_options();
  run_all(s);
  std::ofstream(s.dedup.inputs[1], std::ios::app) << R"({"persona": "a new one"})"
                                                  << "\n";
  fs::remove_all(path("work/signatures/part-1-of-2"));
  s.part = {1, 2};
  EXPECT_FALSE(dedup_signatures(s).already_done);

  // Then buckets and clusters, done from the old markers, say so
  EXPECT_NE(message([&] { dedup_buckets(s); })
                .find("dedup buckets: " + path("work") +
                      "/buckets/bands-0-12/done.json was made from other done markers"),
            std::string::npos);
  EXPECT_NE(message([&] { dedup_clusters(s); }).find("use a fresh work directory"),
            std::string::npos);
}

TEST_F(DedupStagesSafetyTest, AStageWhoseLockIsHeldFails) {
  StageOptions s = stage_options();
  fs::create_directories(path("work/signatures"));
  const std::string lock = path("work/signatures/part-0-of-2.lock");
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(message([&] { dedup_signatures(s); }),
            "another dedup signatures is running on " + path("work") + " (" + lock + ")");
  EXPECT_FALSE(fs::exists(path("work/signatures/part-0-of-2/done.json")));
  ::close(fd);
  EXPECT_FALSE(dedup_signatures(s).already_done);
}

TEST_F(DedupStagesSafetyTest, AKilledRunsSpillDirectoryIsRemovedByTheNextRun) {
  // Given a leftover of a killed run of part 0, and a directory of part 1's
  StageOptions s = stage_options();
  fs::create_directories(path("work/tmp/signatures-part-0-of-2.abc123"));
  write("work/tmp/signatures-part-0-of-2.abc123/exact.run-0", "x");
  fs::create_directories(path("work/tmp/signatures-part-1-of-2.abc123"));

  // When part 0 runs, then its leftover is gone and part 1's is not
  dedup_signatures(s);
  EXPECT_FALSE(fs::exists(path("work/tmp/signatures-part-0-of-2.abc123")));
  EXPECT_TRUE(fs::exists(path("work/tmp/signatures-part-1-of-2.abc123")));
}

TEST_F(DedupStagesSafetyTest, AKilledOutOfCoreRunsWorkIsRemovedByTheNextButALiveOnesIsNot) {
  // Given in the temporary directory a killed run's work (its lock free), a live run's (locked),
  // and one made a moment ago (no lock file yet)
  const std::string tmp = path("tmp");
  for (const char* name : {"killed", "livexx", "youngx"}) {
    fs::create_directories(tmp + "/personagen-dedup." + name);
  }
  write("tmp/personagen-dedup.killed/run.lock", "");
  write("tmp/personagen-dedup.killed/signatures/part-0-of-1/exact", "x");
  const std::string live_lock = tmp + "/personagen-dedup.livexx/run.lock";
  const int fd = ::open(live_lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);

  // When an out-of-core run goes through
  const std::string in = write("in.jsonl", "{\"persona\": \"a nurse\"}\n");
  run_dedup_out_of_core(options(in), size_t{1} << 20, tmp);
  ::close(fd);

  // Then only the killed run's work is gone, and the run left nothing of its own
  EXPECT_FALSE(fs::exists(tmp + "/personagen-dedup.killed"));
  EXPECT_TRUE(fs::exists(live_lock));
  EXPECT_TRUE(fs::exists(tmp + "/personagen-dedup.youngx"));
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(tmp)) entries += !entry.path().empty();
  EXPECT_EQ(entries, 2u);
}

TEST_F(DedupStagesSafetyTest, GoingOnOutOfCoreWarnsOfARejectedLineOnce) {
  // Given a bad line, and an index that outgrows its memory at once
  DedupOptions o = options(write("in.jsonl", R"({"persona": "a nurse"})"
                                             "\n{not json\n"
                                             R"({"persona": "a pilot"})"
                                             "\n"));
  o.memory_bytes = 1;
  o.tmp = path("tmp");
  std::ostringstream log;
  const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  logger->set_pattern("%v");
  spdlog::set_default_logger(logger);
  DedupStats stats;
  try {
    stats = run_dedup(o);
  } catch (...) {
    spdlog::set_default_logger(previous);
    throw;
  }
  spdlog::set_default_logger(previous);

  // Then it is counted once and warned of once
  EXPECT_EQ(stats.rejected, 1u);
  EXPECT_EQ(stats.kept, 2u);
  const std::string text = log.str();
  EXPECT_NE(text.find("going on out of core"), std::string::npos) << text;
  size_t warnings = 0;
  for (size_t at = text.find("in.jsonl:2"); at != std::string::npos;
       at = text.find("in.jsonl:2", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << text;
}

TEST_F(DedupStagesSafetyTest, SpillSorterReservesItsShareOnce) {
  const RunDirectory runs(path("runs"), "test");
  SpillSorter<uint64_t> sorter(runs, "n", 100 * sizeof(uint64_t));
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < 250; ++i) {
    sorter.add(250 - i);
    ASSERT_LE(sorter.buffer_bytes(), 100 * sizeof(uint64_t)) << "after " << i + 1;
  }
  EXPECT_EQ(sorter.spilled_runs(), 2u);
  sorter.finish(false, [&](uint64_t v) { out.push_back(v); });
  ASSERT_EQ(out.size(), 250u);
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
}

TEST_F(DedupStagesSafetyTest, AMappedRecordFileReadsWhatPreadReads) {
  // Given a record file of 1,000 numbers
  RecordFileWriter writer(path("n"), sizeof(uint64_t), true);
  for (uint64_t i = 0; i < 1000; ++i) writer.write(i * 7);
  writer.commit();

  // When one reader maps it and another does not
  RecordFileReader plain(path("n"), sizeof(uint64_t));
  RecordFileReader mapped(path("n"), sizeof(uint64_t));
  mapped.map();

  // Then both read the same records anywhere, and both refuse one past the end
  for (uint64_t index : {0u, 1u, 500u, 998u}) {
    uint64_t a[2] = {}, b[2] = {};
    plain.read_at(index, 2, a);
    mapped.read_at(index, 2, b);
    EXPECT_EQ(a[0], index * 7);
    EXPECT_EQ(b[0], a[0]);
    EXPECT_EQ(b[1], a[1]);
  }
  uint64_t past = 0;
  EXPECT_THROW(mapped.read_at(1000, 1, &past), Error);
  RecordFileReader moved(std::move(mapped));
  moved.read_at(999, 1, &past);
  EXPECT_EQ(past, 999u * 7);
}

}  // namespace
}  // namespace personagen
