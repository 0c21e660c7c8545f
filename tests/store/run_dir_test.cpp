#include "store/run_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "store/manifest.h"
#include "store/shard_writer.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class RunDirPrepareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "run_dir_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    out_ = root_ / "out";
    options_.input = (root_ / "in.jsonl").string();
    std::ofstream(options_.input) << "{\"persona\":\"a\"}\n{\"persona\":\"b\"}\n";
  }
  void TearDown() override { fs::remove_all(root_); }

  RunStart prepare() {
    RunDir dir(out_.string());
    return dir.prepare(options_, config_, "math");
  }

  // The Error that prepare() throws, or a test failure if it returns.
  Error refusal() {
    try {
      prepare();
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "prepare() did not refuse";
    return Error("");
  }

  // A finished run in out_: three closed shards of 2, 2 and 1 records, one failure, no rejects.
  void finish_a_run() {
    RunStart start = prepare();
    ASSERT_EQ(start.kind, RunStart::Kind::fresh);
    Manifest manifest = *start.manifest;
    ShardWriter writer(out_.string(), "math", 2, {});
    for (int i = 0; i < 5; ++i) writer.write_record("{\"id\":" + std::to_string(i) + "}");
    writer.write_failure("{\"line\":6}");
    manifest.checkpoint.writer = writer.close();
    manifest.complete = true;
    write_manifest((out_ / "manifest.json").string(), manifest);
  }

  fs::path root_;
  fs::path out_;
  Options options_;
  RunConfig config_{{"task", "math"}, {"model", "m"}};
};

TEST_F(RunDirPrepareTest, AFreshRunWritesItsManifestBeforeAnythingElse) {
  // Given a new output directory, when a run is prepared in it
  RunStart start = prepare();
  // Then it is a fresh run whose manifest, with no progress, is already on disk
  EXPECT_EQ(start.kind, RunStart::Kind::fresh);
  std::optional<Manifest> manifest = read_manifest((out_ / "manifest.json").string());
  ASSERT_TRUE(manifest.has_value());
  EXPECT_FALSE(manifest->complete);
  EXPECT_EQ(manifest->config, config_);
  EXPECT_TRUE(manifest->checkpoint.writer.shards.empty());
  // And a second prepare resumes it rather than refusing the directory
  EXPECT_EQ(prepare().kind, RunStart::Kind::resume);
}

TEST_F(RunDirPrepareTest, ANonEmptyDirectoryWithoutAManifestIsRefused) {
  // Given a directory that holds the user's files, one named like a shard
  fs::create_directories(out_);
  std::ofstream(out_ / "notes.txt") << "mine";
  std::ofstream(out_ / "math-00000.jsonl") << "{\"mine\":1}\n";
  // When a run is prepared in it, then it is a usage error naming the directory and --restart
  Error e = refusal();
  EXPECT_EQ(e.code(), ExitCode::usage);
  EXPECT_NE(std::string(e.what()).find(out_.string() + ": is not empty"), std::string::npos)
      << e.what();
  EXPECT_NE(std::string(e.what()).find("--restart"), std::string::npos) << e.what();
  // And nothing in it was touched or added
  EXPECT_EQ(read_text(out_ / "math-00000.jsonl"), "{\"mine\":1}\n");
  EXPECT_FALSE(fs::exists(out_ / "manifest.json"));
  // When --restart is given, then it starts fresh, clearing only personagen's own files
  options_.restart = true;
  EXPECT_EQ(prepare().kind, RunStart::Kind::fresh);
  EXPECT_FALSE(fs::exists(out_ / "math-00000.jsonl"));
  EXPECT_EQ(read_text(out_ / "notes.txt"), "mine");
  EXPECT_TRUE(fs::exists(out_ / "manifest.json"));
}

TEST_F(RunDirPrepareTest, TheLockAndACutOffFirstManifestDoNotMakeADirectoryNonEmpty) {
  // Given a directory with only the lock and a manifest.json.tmp (a kill during the first write)
  fs::create_directories(out_);
  std::ofstream(out_ / ".lock");
  std::ofstream(out_ / "manifest.json.tmp") << "{\"trunc";
  // When a run is prepared in it, then it is a fresh run
  EXPECT_EQ(prepare().kind, RunStart::Kind::fresh);
}

TEST_F(RunDirPrepareTest, AFinishedRunWithItsFilesIntactIsComplete) {
  // Given a finished run whose files are as it left them (no rejects.jsonl was ever written)
  finish_a_run();
  ASSERT_FALSE(fs::exists(out_ / "rejects.jsonl"));
  // When it is prepared again, then there is nothing to do
  EXPECT_EQ(prepare().kind, RunStart::Kind::complete);
}

TEST_F(RunDirPrepareTest, AFinishedRunRefusesAFileThatChanged) {
  struct Change {
    std::string name;
    std::string message;  // what the error must say
    std::function<void(const fs::path&)> apply;
  };
  const std::vector<Change> changes{
      {"shard deleted", "math-00001.jsonl: is missing, but the finished run recorded 18 bytes",
       [](const fs::path& out) { fs::remove(out / "math-00001.jsonl"); }},
      {"shard cut mid-line", "math-00000.jsonl: has 10 bytes, but the finished run recorded 18",
       [](const fs::path& out) { fs::resize_file(out / "math-00000.jsonl", 10); }},
      {"garbage appended", "math-00002.jsonl: has 12 bytes, but the finished run recorded 9",
       [](const fs::path& out) {
         std::ofstream(out / "math-00002.jsonl", std::ios::app) << "xyz";
       }},
      {"failures deleted", "failures.jsonl: is missing, but the finished run recorded 11 bytes",
       [](const fs::path& out) { fs::remove(out / "failures.jsonl"); }},
      {"rejects appeared", "rejects.jsonl: has 2 bytes, but the finished run recorded 0",
       [](const fs::path& out) { std::ofstream(out / "rejects.jsonl") << "{\n"; }},
  };
  for (const Change& change : changes) {
    SCOPED_TRACE(change.name);
    // Given a finished run with one of its files changed
    fs::remove_all(out_);
    finish_a_run();
    change.apply(out_);
    // When it is prepared again, then it refuses with exit code 1, naming the file, both
    // lengths and --restart
    Error e = refusal();
    EXPECT_EQ(e.code(), ExitCode::error);
    EXPECT_NE(std::string(e.what()).find((out_ / change.message).string()), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--restart"), std::string::npos) << e.what();
  }
}

TEST_F(RunDirPrepareTest, RetryFailedOnAFinishedRunStillChecksItsShards) {
  // Given a finished run with a failure and a shard cut short
  finish_a_run();
  fs::resize_file(out_ / "math-00000.jsonl", 3);
  options_.retry_failed = true;
  // When a --retry-failed pass is prepared, then it refuses naming the shard
  Error e = refusal();
  EXPECT_NE(std::string(e.what()).find("math-00000.jsonl: has 3 bytes"), std::string::npos)
      << e.what();
  // And failures.jsonl was not moved aside
  EXPECT_TRUE(fs::exists(out_ / "failures.jsonl"));
}

}  // namespace
}  // namespace personagen
