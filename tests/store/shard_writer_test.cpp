#include "store/shard_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "store/shard_writer_fixture.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

void append_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
}

TEST_F(ShardWriterTest, RotatesEveryNRecords) {
  // Given a writer with two records per shard
  ShardWriter writer(dir_, "math", 2, {});
  // When five records are written and the writer is closed
  for (int i = 0; i < 5; ++i) writer.write_record(record(i));
  WriterState state = writer.close();
  // Then there are three shards with the records in order, and no .tmp left
  EXPECT_EQ(lines("math-00000.jsonl"), (std::vector<std::string>{record(0), record(1)}));
  EXPECT_EQ(lines("math-00001.jsonl"), (std::vector<std::string>{record(2), record(3)}));
  EXPECT_EQ(lines("math-00002.jsonl"), (std::vector<std::string>{record(4)}));
  EXPECT_FALSE(exists("math-00003.jsonl"));
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
  }
  ASSERT_EQ(state.shards.size(), 3u);
  for (const ShardInfo& shard : state.shards) {
    EXPECT_FALSE(shard.open);
    EXPECT_EQ(shard.bytes, fs::file_size(path(shard.name))) << shard.name;
  }
  EXPECT_EQ(state.shards[0].name, "math-00000.jsonl");
  EXPECT_EQ(state.shards[2].records, 1u);
}

TEST_F(ShardWriterTest, OpenShardIsATmpFileUntilClose) {
  // Given a writer with one record written and synced
  ShardWriter writer(dir_, "npc", 10, {});
  writer.write_record(record(1));
  WriterState state = writer.sync();
  // Then the shard is a .tmp holding the record, marked open
  EXPECT_EQ(lines("npc-00000.jsonl.tmp"), (std::vector<std::string>{record(1)}));
  EXPECT_FALSE(exists("npc-00000.jsonl"));
  ASSERT_EQ(state.shards.size(), 1u);
  EXPECT_TRUE(state.shards[0].open);
  // When it is closed, it is renamed into place
  state = writer.close();
  EXPECT_TRUE(exists("npc-00000.jsonl"));
  EXPECT_FALSE(exists("npc-00000.jsonl.tmp"));
  EXPECT_FALSE(state.shards[0].open);
  // And a second close returns the same state; writing afterwards is a logic error
  EXPECT_EQ(writer.close().shards.size(), 1u);
  EXPECT_THROW(writer.write_record(record(2)), std::logic_error);
}

TEST_F(ShardWriterTest, SyncedLengthsMatchTheFiles) {
  // Given records, failures and rejects written
  ShardWriter writer(dir_, "math", 3, {});
  for (int i = 0; i < 4; ++i) writer.write_record(record(i));
  writer.write_failure("{\"error\":\"timeout\"}");
  writer.write_reject("{\"line\":3}");
  writer.write_reject("{\"line\":9}");
  // When synced
  WriterState state = writer.sync();
  // Then every length is the file's size, and the line counts are right
  ASSERT_EQ(state.shards.size(), 2u);
  EXPECT_EQ(state.shards[0].bytes, fs::file_size(path("math-00000.jsonl")));
  EXPECT_EQ(state.shards[1].bytes, fs::file_size(path("math-00001.jsonl.tmp")));
  EXPECT_EQ(state.shards[1].records, 1u);
  EXPECT_EQ(state.side(SideFile::failures).bytes, fs::file_size(path("failures.jsonl")));
  EXPECT_EQ(state.side(SideFile::failures).lines, 1u);
  EXPECT_EQ(state.side(SideFile::rejects).bytes, fs::file_size(path("rejects.jsonl")));
  EXPECT_EQ(state.side(SideFile::rejects).lines, 2u);
  EXPECT_EQ(lines("rejects.jsonl"), (std::vector<std::string>{"{\"line\":3}", "{\"line\":9}"}));
}

TEST_F(ShardWriterTest, SideFilesAreCreatedOnFirstUse) {
  // Given a writer that only writes records
  ShardWriter writer(dir_, "math", 3, {});
  writer.write_record(record(0));
  writer.close();
  // Then there is no failures.jsonl or rejects.jsonl
  EXPECT_FALSE(exists("failures.jsonl"));
  EXPECT_FALSE(exists("rejects.jsonl"));
}

TEST_F(ShardWriterTest, ResumeCutsWhatWasWrittenAfterTheCheckpoint) {
  // Given a checkpoint after three records, then two more written and a torn partial line
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 100, {});
    for (int i = 0; i < 3; ++i) writer.write_record(record(i));
    checkpoint = writer.sync();
    writer.write_record(record(3));
    writer.write_record(record(4));
    writer.sync();
  }  // crash: no close()
  append_file(path("math-00000.jsonl.tmp"), "{\"id\":5, \"tor");
  // When resuming from the checkpoint and writing on
  ShardWriter writer(dir_, "math", 100, checkpoint);
  EXPECT_EQ(fs::file_size(path("math-00000.jsonl.tmp")), checkpoint.shards[0].bytes);
  writer.write_record(record(30));
  writer.close();
  // Then the shard holds the checkpointed records followed by the new one
  EXPECT_EQ(lines("math-00000.jsonl"),
            (std::vector<std::string>{record(0), record(1), record(2), record(30)}));
}

TEST_F(ShardWriterTest, ResumeUndoesARenameAfterTheCheckpoint) {
  // Given a checkpoint with an open shard of two records, after which the shard filled up,
  // was renamed, and the next shard was started
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 3, {});
    writer.write_record(record(0));
    writer.write_record(record(1));
    checkpoint = writer.sync();
    writer.write_record(record(2));
    writer.write_record(record(3));
    writer.sync();
  }
  ASSERT_TRUE(exists("math-00000.jsonl"));
  ASSERT_TRUE(exists("math-00001.jsonl.tmp"));
  // When resuming from the checkpoint
  ShardWriter writer(dir_, "math", 3, checkpoint);
  // Then the shard is a .tmp again with its two records, and the next shard is gone
  EXPECT_FALSE(exists("math-00000.jsonl"));
  EXPECT_EQ(lines("math-00000.jsonl.tmp"), (std::vector<std::string>{record(0), record(1)}));
  EXPECT_FALSE(exists("math-00001.jsonl.tmp"));
  // And writing on fills the shard again
  writer.write_record(record(20));
  writer.write_record(record(30));
  writer.close();
  EXPECT_EQ(lines("math-00000.jsonl"),
            (std::vector<std::string>{record(0), record(1), record(20)}));
  EXPECT_EQ(lines("math-00001.jsonl"), (std::vector<std::string>{record(30)}));
}

TEST_F(ShardWriterTest, ResumeDeletesShardsCreatedAfterTheCheckpoint) {
  // Given a checkpoint right after a shard was closed, then two more shards written
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 2, {});
    writer.write_record(record(0));
    writer.write_record(record(1));
    checkpoint = writer.sync();
    for (int i = 2; i < 5; ++i) writer.write_record(record(i));
    writer.sync();
  }
  ASSERT_TRUE(exists("math-00001.jsonl"));
  ASSERT_TRUE(exists("math-00002.jsonl.tmp"));
  // When resuming
  ShardWriter writer(dir_, "math", 2, checkpoint);
  // Then only the checkpointed shard is left, and new records start the next one
  EXPECT_TRUE(exists("math-00000.jsonl"));
  EXPECT_FALSE(exists("math-00001.jsonl"));
  EXPECT_FALSE(exists("math-00002.jsonl.tmp"));
  writer.write_record(record(10));
  WriterState state = writer.close();
  EXPECT_EQ(lines("math-00001.jsonl"), (std::vector<std::string>{record(10)}));
  EXPECT_EQ(state.shards.size(), 2u);
}

TEST_F(ShardWriterTest, ResumeTruncatesFailuresAndRejects) {
  // Given a checkpoint with one failure and one reject, then more of each written
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 2, {});
    writer.write_failure("{\"f\":1}");
    writer.write_reject("{\"r\":1}");
    checkpoint = writer.sync();
    writer.write_failure("{\"f\":2}");
    writer.write_reject("{\"r\":2}");
    writer.sync();
  }
  append_file(path("rejects.jsonl"), "{\"r\":");
  // When resuming and writing one more of each
  ShardWriter writer(dir_, "math", 2, checkpoint);
  writer.write_failure("{\"f\":3}");
  writer.write_reject("{\"r\":3}");
  WriterState state = writer.close();
  // Then the ones written after the checkpoint are gone
  EXPECT_EQ(lines("failures.jsonl"), (std::vector<std::string>{"{\"f\":1}", "{\"f\":3}"}));
  EXPECT_EQ(lines("rejects.jsonl"), (std::vector<std::string>{"{\"r\":1}", "{\"r\":3}"}));
  EXPECT_EQ(state.side(SideFile::failures).lines, 2u);
  EXPECT_EQ(state.side(SideFile::rejects).bytes, fs::file_size(path("rejects.jsonl")));
}

TEST_F(ShardWriterTest, MissingClosedShardIsAnErrorNamingIt) {
  // Given a checkpoint with a closed shard that has since been deleted
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 1, {});
    writer.write_record(record(0));
    checkpoint = writer.close();
  }
  fs::remove(path("math-00000.jsonl"));
  // When resuming, then the error names the shard
  try {
    ShardWriter writer(dir_, "math", 1, checkpoint);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("math-00000.jsonl"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

TEST_F(ShardWriterTest, ClosedShardWithBytesAppendedIsAnErrorNamingIt) {
  // Given a checkpoint with a closed shard to which bytes were appended since
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 1, {});
    writer.write_record(record(0));
    checkpoint = writer.close();
  }
  append_file(path("math-00000.jsonl"), "junk\n");
  // When resuming, then the error names the shard and both lengths, and the shard is untouched
  try {
    ShardWriter writer(dir_, "math", 1, checkpoint);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("math-00000.jsonl: has 14 bytes, but the checkpoint "
                                         "recorded 9"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_file(path("math-00000.jsonl")), record(0) + "\njunk\n");
}

TEST_F(ShardWriterTest, ShortFilesAreErrorsNamingThem) {
  // Given a checkpoint with an open shard and a failures file
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 10, {});
    writer.write_record(record(0));
    writer.write_failure("{\"f\":1}");
    checkpoint = writer.sync();
  }
  // When the failures file was cut short, then resuming names it
  fs::resize_file(path("failures.jsonl"), 2);
  try {
    ShardWriter writer(dir_, "math", 10, checkpoint);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("failures.jsonl: has 2 bytes"), std::string::npos)
        << e.what();
  }
  // When the open shard was cut short instead, then resuming names it
  fs::resize_file(path("failures.jsonl"), checkpoint.side(SideFile::failures).bytes);
  fs::resize_file(path("math-00000.jsonl.tmp"), 1);
  try {
    ShardWriter writer(dir_, "math", 10, checkpoint);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("math-00000.jsonl.tmp: has 1 bytes"), std::string::npos)
        << e.what();
  }
}

TEST_F(ShardWriterTest, DestructorDoesNotCommit) {
  // Given a writer with a record written and synced
  {
    ShardWriter writer(dir_, "math", 10, {});
    writer.write_record(record(0));
    writer.sync();
  }  // When it is destroyed without close()
  // Then the shard is still a .tmp
  EXPECT_TRUE(exists("math-00000.jsonl.tmp"));
  EXPECT_FALSE(exists("math-00000.jsonl"));
}

TEST_F(ShardWriterTest, FreshWriterDoesNotAppendToStaleFiles) {
  // Given a directory with stale files of this prefix, and files that are not ours
  append_file(path("math-00000.jsonl"), "stale\n");
  append_file(path("math-00003.jsonl.tmp"), "stale\n");
  append_file(path("failures.jsonl"), "stale\n");
  append_file(path("math-v2-00000.jsonl"), "other\n");
  append_file(path("notes.txt"), "mine\n");
  // When a fresh writer writes a record and a failure
  ShardWriter writer(dir_, "math", 10, {});
  writer.write_record(record(0));
  writer.write_failure("{\"f\":1}");
  writer.close();
  // Then only the new data is in our files, and the others are untouched
  EXPECT_EQ(lines("math-00000.jsonl"), (std::vector<std::string>{record(0)}));
  EXPECT_FALSE(exists("math-00003.jsonl.tmp"));
  EXPECT_EQ(lines("failures.jsonl"), (std::vector<std::string>{"{\"f\":1}"}));
  EXPECT_EQ(read_file(path("math-v2-00000.jsonl")), "other\n");
  EXPECT_EQ(read_file(path("notes.txt")), "mine\n");
}

TEST_F(ShardWriterTest, ClearOutputDirRemovesOnlyOurFiles) {
  // Given a directory with a previous run's files and some unrelated ones
  for (const char* name :
       {"math-00000.jsonl", "math-00001.jsonl.tmp", "failures.jsonl", "rejects.jsonl",
        "manifest.json", "manifest.json.tmp", "math-v2-00000.jsonl", "notes.txt", "math-1.jsonl"}) {
    append_file(path(name), "x\n");
  }
  // When it is cleared for prefix "math"
  clear_output_dir(dir_, "math");
  // Then only the previous run's files are gone
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"math-1.jsonl", "math-v2-00000.jsonl", "notes.txt"}));
  // And a missing directory is not an error
  EXPECT_NO_THROW(clear_output_dir(dir_ + "/absent", "math"));
}

TEST_F(ShardWriterTest, CreatesTheDirectory) {
  // Given a directory that does not exist yet
  std::string nested = dir_ + "/a/b";
  // When a writer is made there, then it exists and holds the shard
  ShardWriter writer(nested, "math", 10, {});
  writer.write_record(record(0));
  writer.close();
  EXPECT_TRUE(fs::exists(nested + "/math-00000.jsonl"));
}

TEST_F(ShardWriterTest, RecordsWithANewlineAreRefused) {
  // Given a writer; when a record holds a newline, then it is a logic error
  ShardWriter writer(dir_, "math", 10, {});
  EXPECT_THROW(writer.write_record("{\"a\":1}\n{\"b\":2}"), std::logic_error);
}

// Snapshots the state at random syncs, "crashes" (destroys the writer, sometimes leaving junk
// behind), resumes from the last snapshot and carries on, many times. The shards must then hold
// exactly the records, each once, in order.
TEST_F(ShardWriterTest, CrashLoopNeitherDuplicatesNorLoses) {
  std::mt19937 random(20240611);
  const int total = 3000;
  const uint64_t shard_size = 37;
  WriterState snapshot;
  int next = 0;       // next record to write
  int committed = 0;  // records in the snapshot
  int crashes = 0;
  int renamed_after_checkpoint = 0;  // crashes after the snapshot's open shard was renamed
  while (true) {
    // Given a writer resumed from the last snapshot
    next = committed;
    ShardWriter writer(dir_, "math", shard_size, snapshot);
    const int burst = std::uniform_int_distribution<int>(1, 250)(random);
    bool finished = false;
    for (int i = 0; i < burst; ++i) {
      if (next == total) {
        finished = true;
        break;
      }
      writer.write_record(record(next));
      if (next % 7 == 0) writer.write_failure("{\"failed\":" + std::to_string(next) + "}");
      ++next;
      if (random() % 20 == 0) {
        snapshot = writer.sync();
        committed = next;
      }
    }
    if (finished) {
      writer.close();
      break;
    }
    if (random() % 2 == 0) writer.sync();  // unsnapshotted data reaches the files
    // When it crashes, maybe leaving a torn line and a stray next shard
    ++crashes;
    if (!snapshot.shards.empty() && snapshot.shards.back().open &&
        exists(snapshot.shards.back().name)) {
      ++renamed_after_checkpoint;
    }
    std::optional<std::string> open_tmp;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().extension() == ".tmp") open_tmp = entry.path().string();
    }
    if (open_tmp && random() % 2 == 0) append_file(*open_tmp, "{\"id\":99999, \"tor");
    if (random() % 3 == 0) {
      append_file(path("math-" + std::to_string(10000 + random() % 1000) + ".jsonl"), "junk\n");
    }
  }
  // Then the shards, concatenated in order, hold every record exactly once
  std::vector<std::string> all;
  for (int index = 0;; ++index) {
    char name[32];
    std::snprintf(name, sizeof name, "math-%05d.jsonl", index);
    if (!exists(name)) break;
    std::vector<std::string> shard = lines(name);
    EXPECT_LE(shard.size(), shard_size) << name;
    all.insert(all.end(), shard.begin(), shard.end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(total)) << "after " << crashes << " crashes";
  for (int i = 0; i < total; ++i) ASSERT_EQ(all[i], record(i));
  std::vector<std::string> failures = lines("failures.jsonl");
  ASSERT_EQ(failures.size(), static_cast<size_t>((total + 6) / 7));
  for (size_t i = 0; i < failures.size(); ++i) {
    ASSERT_EQ(failures[i], "{\"failed\":" + std::to_string(7 * i) + "}");
  }
  EXPECT_GT(crashes, 5);
  EXPECT_GT(renamed_after_checkpoint, 0);
}

}  // namespace
}  // namespace personagen
