// The journal: a resume keeps what the entries after the checkpoint vouch for, and no more.
#include "store/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

class JournalTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    journal_path_ = path(kJournalName);
  }

  // Writes `line` to the open shard as the ShardWriter would, and journals input line `input`.
  void write_line(Journal& journal, uint64_t input, const std::string& line) {
    std::ofstream(dir_ + "/math-00000.jsonl.tmp", std::ios::app | std::ios::binary) << line << "\n";
    if (state_.shards.empty()) state_.shards.push_back({"math-00000.jsonl", 0, 0, true});
    ++state_.shards.back().records;
    state_.shards.back().bytes += line.size() + 1;
    ++totals_.records;
    journal.add(input, state_, totals_);
    journal.flush();
  }

  std::string journal_path_;
  WriterState state_;
  Totals totals_;
};

TEST_F(JournalTest, AResumeKeepsEveryEntryWhoseBytesAreThere) {
  // Given three lines journaled after an empty checkpoint,
  {
    Journal journal(journal_path_, 0, 0);
    write_line(journal, 1, R"({"a":1})");
    write_line(journal, 2, R"({"a":2})");
    write_line(journal, 3, R"({"a":3})");
  }
  // when it is recovered, then all three lines are finished with the files' lengths and totals.
  std::optional<JournalRecovery> kept = recover_journal(journal_path_, dir_, "math", 0, {});
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->lines, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(kept->seq, 3u);
  ASSERT_EQ(kept->writer.shards.size(), 1u);
  EXPECT_EQ(kept->writer.shards[0].records, 3u);
  EXPECT_EQ(kept->writer.shards[0].bytes, 24u);
  EXPECT_EQ(kept->totals.records, 3u);
}

TEST_F(JournalTest, AnEntryWhoseBytesAreMissingOrNotALineEndsTheRecovery) {
  {
    Journal journal(journal_path_, 0, 0);
    write_line(journal, 1, R"({"a":1})");
    write_line(journal, 2, R"({"a":2})");
    write_line(journal, 3, R"({"a":3})");
  }
  // Given a shard whose last line reads as zeros (a size persisted before its data),
  fs::path shard = dir_ + "/math-00000.jsonl.tmp";
  {
    std::fstream file(shard, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16);
    file.write("\0\0\0\0\0\0\0\0", 8);
  }
  // then only the first two entries are kept.
  std::optional<JournalRecovery> kept = recover_journal(journal_path_, dir_, "math", 0, {});
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->lines, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(kept->writer.shards[0].bytes, 16u);

  // And given a shard cut short, only what it holds is kept.
  fs::resize_file(shard, 10);
  kept = recover_journal(journal_path_, dir_, "math", 0, {});
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->lines, (std::vector<uint64_t>{1}));
}

TEST_F(JournalTest, EntriesTheCheckpointHoldsAndATornLastEntryAreSkipped) {
  {
    Journal journal(journal_path_, 0, 0);
    write_line(journal, 1, R"({"a":1})");
    write_line(journal, 2, R"({"a":2})");
  }
  // Given a torn entry after the two whole ones,
  std::ofstream(journal_path_, std::ios::app) << "3 3 1 0 3";
  // and a checkpoint that already holds the first,
  Checkpoint checkpoint;
  checkpoint.journal_seq = 1;
  checkpoint.writer.shards.push_back({"math-00000.jsonl", 1, 8, true});
  std::optional<JournalRecovery> kept = recover_journal(journal_path_, dir_, "math", 0, checkpoint);
  // then only the second is applied.
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->lines, (std::vector<uint64_t>{2}));
  EXPECT_EQ(kept->seq, 2u);
}

TEST_F(JournalTest, AnEntryRecordsEverySideFileAndTheUnverifiedTotal) {
  // Given an input line that went to unverified.jsonl, journaled
  const std::string line = R"({"u":1})";
  std::ofstream(dir_ + "/unverified.jsonl", std::ios::binary) << line << "\n";
  state_.side(SideFile::unverified) = {line.size() + 1, 1};
  totals_.unverified = 1;
  {
    Journal journal(journal_path_, 0, 0);
    journal.add(1, state_, totals_);
    journal.flush();
  }
  // When it is recovered, then the file's length and the total come back
  std::optional<JournalRecovery> kept = recover_journal(journal_path_, dir_, "math", 0, {});
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->writer.side(SideFile::unverified), (SideFileState{line.size() + 1, 1}));
  EXPECT_EQ(kept->totals.unverified, 1u);
  // And given unverified.jsonl cut short, the entry does not apply
  fs::resize_file(dir_ + "/unverified.jsonl", 3);
  EXPECT_FALSE(recover_journal(journal_path_, dir_, "math", 0, {}).has_value());
}

TEST_F(JournalTest, AnEntryRecordsBelowThresholdAndEntriesWithoutItStillApply) {
  // Given a judge line that went to below-threshold.jsonl, journaled
  const std::string line = R"({"b":1})";
  std::ofstream(dir_ + "/below-threshold.jsonl", std::ios::binary) << line << "\n";
  state_.side(SideFile::below_threshold) = {line.size() + 1, 1};
  totals_.below_threshold = 1;
  {
    Journal journal(journal_path_, 0, 0);
    journal.add(1, state_, totals_);
    journal.flush();
  }
  // When it is recovered, then the file's length and the total come back
  std::optional<JournalRecovery> kept = recover_journal(journal_path_, dir_, "math", 0, {});
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->writer.side(SideFile::below_threshold), (SideFileState{line.size() + 1, 1}));
  EXPECT_EQ(kept->totals.below_threshold, 1u);

  // And given an entry of the version before (three side files, ten totals)
  write_file(journal_path_, "1 4 0 3 0 0 0 0 0 0 10 2 0 0 3 1 10 5 12 6 0\n");
  Checkpoint checkpoint;
  checkpoint.totals.below_threshold = 7;
  kept = recover_journal(journal_path_, dir_, "math", 0, checkpoint);
  // Then it applies, and below_threshold keeps the checkpoint's value
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->totals.records, 2u);
  EXPECT_EQ(kept->totals.requests, 3u);
  EXPECT_EQ(kept->totals.below_threshold, 7u);
  EXPECT_EQ(kept->writer.side(SideFile::below_threshold), (SideFileState{0, 0}));
}

TEST_F(JournalTest, EntriesOfTheVersionBeforeUnverifiedStillApply) {
  // Given a shard line and a failure line, and a journal entry as the previous version wrote
  // it: seq line n (shard records bytes){n} failures_bytes failures_lines rejects_bytes
  // rejects_lines and nine totals, with no counts and no unverified
  std::ofstream(dir_ + "/math-00000.jsonl.tmp", std::ios::binary) << "{\"a\":1}\n";
  std::ofstream(dir_ + "/failures.jsonl", std::ios::binary) << "{\"f\":1}\n";
  write_file(journal_path_, "1 4 1 0 1 8 8 1 0 0 1 1 0 3 1 10 5 12 6\n");
  Checkpoint checkpoint;
  checkpoint.totals.unverified = 0;
  // When it is recovered
  std::optional<JournalRecovery> kept = recover_journal(journal_path_, dir_, "math", 0, checkpoint);
  // Then it applies field by field, and unverified keeps the checkpoint's value
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->lines, (std::vector<uint64_t>{4}));
  ASSERT_EQ(kept->writer.shards.size(), 1u);
  EXPECT_EQ(kept->writer.shards[0].bytes, 8u);
  EXPECT_EQ(kept->writer.side(SideFile::failures), (SideFileState{8, 1}));
  EXPECT_EQ(kept->writer.side(SideFile::rejects), (SideFileState{0, 0}));
  EXPECT_EQ(kept->writer.side(SideFile::unverified), (SideFileState{0, 0}));
  EXPECT_EQ(kept->totals.records, 1u);
  EXPECT_EQ(kept->totals.failed, 1u);
  EXPECT_EQ(kept->totals.requests, 3u);
  EXPECT_EQ(kept->totals.billed_completion_tokens, 6u);
  EXPECT_EQ(kept->totals.unverified, 0u);
}

TEST_F(JournalTest, AnEntryListingMoreSideFilesThanThisVersionKnowsIsNotApplied) {
  // Given an entry with one side file more than the table has (a newer version's),
  std::string entry = "1 1 0 " + std::to_string(kSideFileCount + 1);
  for (size_t i = 0; i <= kSideFileCount; ++i) entry += " 0 0";
  entry += " 10";
  for (int i = 0; i < 10; ++i) entry += " 0";
  write_file(journal_path_, entry + "\n");
  // then it is not applied: the checkpoint holds.
  EXPECT_FALSE(recover_journal(journal_path_, dir_, "math", 0, {}).has_value());
  // And the same entry with the table's count is applied.
  entry = "1 1 0 " + std::to_string(kSideFileCount);
  for (size_t i = 0; i < kSideFileCount; ++i) entry += " 0 0";
  entry += " 10";
  for (int i = 0; i < 10; ++i) entry += " 0";
  write_file(journal_path_, entry + "\n");
  EXPECT_TRUE(recover_journal(journal_path_, dir_, "math", 0, {}).has_value());
}

}  // namespace
}  // namespace personagen
