// The side files as a table (side_file.h): every row is written, counted, truncated on resume
// and cleared by --restart the same way, in the shard directory and on stderr with -o -.
#include "store/side_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "store/shard_writer.h"
#include "store/shard_writer_fixture.h"
#include "store/stdout_sink.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

// Line `i` of a side file, naming the file so that a line in the wrong one shows.
std::string side_line(const SideFileInfo& side, int i) {
  return "{\"" + std::string(side.manifest_key) + "\":" + std::to_string(i) + "}";
}

TEST(SideFileTableTest, NamesAreDistinctAndTheWellKnownOnesAreThere) {
  std::set<std::string_view> names, keys, labels;
  for (const SideFileInfo& side : kSideFiles) {
    names.insert(side.file_name);
    keys.insert(side.manifest_key);
    labels.insert(side.label);
  }
  EXPECT_EQ(names.size(), kSideFileCount);
  EXPECT_EQ(keys.size(), kSideFileCount);
  EXPECT_EQ(labels.size(), kSideFileCount);
  EXPECT_EQ(side_file_info(SideFile::failures).file_name, "failures.jsonl");
  EXPECT_EQ(side_file_info(SideFile::rejects).manifest_key, "rejects");
  EXPECT_EQ(side_file_info(SideFile::unverified).file_name, "unverified.jsonl");
  EXPECT_EQ(side_file_info(SideFile::unverified).manifest_key, "unverified");
  EXPECT_EQ(side_file_info(SideFile::below_threshold).file_name, "below-threshold.jsonl");
  EXPECT_EQ(side_file_info(SideFile::below_threshold).manifest_key, "below_threshold");
  EXPECT_FALSE(side_file_info(SideFile::below_threshold).always_recorded);
}

TEST_F(ShardWriterTest, AWriteToEachSideFileReachesItsFileAndItsState) {
  // Given a writer, when side file i gets i + 1 lines through write_side
  ShardWriter writer(dir_, "math", 10, {});
  for (size_t i = 0; i < kSideFileCount; ++i)
    for (size_t n = 0; n <= i; ++n)
      writer.write_side(kSideFiles[i].file, side_line(kSideFiles[i], static_cast<int>(n)));
  // and the named wrappers add one more line each
  writer.write_failure(side_line(side_file_info(SideFile::failures), 9));
  writer.write_reject(side_line(side_file_info(SideFile::rejects), 9));
  writer.write_unverified(side_line(side_file_info(SideFile::unverified), 9));
  // (below-threshold.jsonl has no wrapper: judge's one call site names it)
  writer.write_side(SideFile::below_threshold,
                    side_line(side_file_info(SideFile::below_threshold), 9));
  WriterState state = writer.sync();
  // Then each file holds exactly its own lines, and its state is its length and line count
  for (size_t i = 0; i < kSideFileCount; ++i) {
    const SideFileInfo& side = kSideFiles[i];
    SCOPED_TRACE(std::string(side.file_name));
    std::vector<std::string> want;
    for (size_t n = 0; n <= i; ++n) want.push_back(side_line(side, static_cast<int>(n)));
    want.push_back(side_line(side, 9));
    EXPECT_EQ(lines(std::string(side.file_name)), want);
    EXPECT_EQ(state.side(side.file).lines, i + 2);
    EXPECT_EQ(state.side(side.file).bytes, fs::file_size(path(std::string(side.file_name))));
  }
  // And no shard was made
  EXPECT_TRUE(state.shards.empty());
}

TEST_F(ShardWriterTest, UnverifiedIsCreatedOnFirstUseOnly) {
  // Given a writer that writes a record and a failure
  ShardWriter writer(dir_, "math", 10, {});
  writer.write_record(record(0));
  writer.write_failure("{\"f\":1}");
  writer.close();
  // Then there is no unverified.jsonl
  EXPECT_FALSE(exists("unverified.jsonl"));
}

TEST_F(ShardWriterTest, ResumeTruncatesUnverifiedToTheCheckpoint) {
  // Given a checkpoint after one unverified line, then another and a torn partial line
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 10, {});
    writer.write_unverified("{\"u\":1}");
    checkpoint = writer.sync();
    writer.write_unverified("{\"u\":2}");
    writer.sync();
  }
  std::ofstream(path("unverified.jsonl"), std::ios::app | std::ios::binary) << "{\"u\":";
  // When resuming from the checkpoint and writing one more
  ShardWriter writer(dir_, "math", 10, checkpoint);
  writer.write_unverified("{\"u\":3}");
  WriterState state = writer.close();
  // Then what was written after the checkpoint is gone, and the state counts what is left
  EXPECT_EQ(lines("unverified.jsonl"), (std::vector<std::string>{"{\"u\":1}", "{\"u\":3}"}));
  EXPECT_EQ(state.side(SideFile::unverified),
            (SideFileState{fs::file_size(path("unverified.jsonl")), 2}));
}

TEST_F(ShardWriterTest, ResumeRefusesAnUnverifiedFileShorterThanRecorded) {
  // Given a checkpoint with an unverified line, and the file since emptied
  WriterState checkpoint;
  {
    ShardWriter writer(dir_, "math", 10, {});
    writer.write_unverified("{\"u\":1}");
    checkpoint = writer.close();
  }
  fs::resize_file(path("unverified.jsonl"), 0);
  // When resuming, then it is an error naming the file
  try {
    ShardWriter writer(dir_, "math", 10, checkpoint);
    ADD_FAILURE() << "expected an Error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("unverified.jsonl: has 0 bytes"), std::string::npos)
        << e.what();
  }
}

TEST_F(ShardWriterTest, ClearOutputDirRemovesEverySideFile) {
  // Given each side file, a shard and a file of the user's
  for (const SideFileInfo& side : kSideFiles)
    std::ofstream(path(std::string(side.file_name))) << "{}\n";
  std::ofstream(path("math-00000.jsonl")) << "{}\n";
  std::ofstream(path("notes.txt")) << "mine";
  // When the directory is cleared for --restart
  clear_output_dir(dir_, "math");
  // Then personagen's files are gone and the user's is left
  for (const SideFileInfo& side : kSideFiles)
    EXPECT_FALSE(exists(std::string(side.file_name))) << side.file_name;
  EXPECT_FALSE(exists("math-00000.jsonl"));
  EXPECT_TRUE(exists("notes.txt"));
}

TEST_F(ShardWriterTest, StdoutSinkWritesUnverifiedToStderrAndCountsIt) {
  // Given the stdout sink with its diagnostics to a file
  std::string err = path("stderr.txt");
  FILE* diagnostics = std::fopen(err.c_str(), "w");
  ASSERT_NE(diagnostics, nullptr);
  WriterState state;
  {
    auto sink = make_stdout_sink(diagnostics);
    // When an unverified line and a failure are written
    sink->write_unverified("{\"line\":4}");
    sink->write_failure("{\"line\":5}");
    state = sink->close();
  }
  std::fclose(diagnostics);
  // Then each is one labelled line on stderr, counted by line (stderr has no length to keep)
  EXPECT_EQ(read_file(err),
            "personagen: unverified: {\"line\":4}\npersonagen: failure: {\"line\":5}\n");
  EXPECT_EQ(state.side(SideFile::unverified), (SideFileState{0, 1}));
  EXPECT_EQ(state.side(SideFile::failures), (SideFileState{0, 1}));
  EXPECT_EQ(state.side(SideFile::rejects), (SideFileState{0, 0}));
}

}  // namespace
}  // namespace personagen
