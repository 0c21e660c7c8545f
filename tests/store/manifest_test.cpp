#include "store/manifest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "personagen/error.h"
#include "store/atomic_file.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

Manifest sample_manifest() {
  Manifest manifest;
  manifest.tool_version = "0.1.0";
  // Not in alphabetical order, so a reordering would show.
  manifest.config = {{"task", "math"},
                     {"model", "gpt-4o"},
                     {"seed", "1"},
                     {"template", "zero-shot 3f2a"},
                     {"base", "with \"quotes\" and ünïcode"}};
  manifest.complete = false;
  manifest.server_models = {"gpt-4o", "gpt-4o-2024-08-06"};
  manifest.input = {InputFingerprint{"in/a-00000.jsonl", 123456789012ull, 0xfedcba9876543210ull, 1},
                    InputFingerprint{"in/a-00001.jsonl.gz", 7, 2, 3}};
  Checkpoint& checkpoint = manifest.checkpoint;
  checkpoint.next = {1000001, 123456789012ull, 1, 999};
  checkpoint.selected_below = 999990;
  checkpoint.done_above = {1000003, 1000007};
  checkpoint.writer.shards = {{"math-00000.jsonl", 1000, 523400, false},
                              {"math-00001.jsonl", 17, 9000, true}};
  checkpoint.writer.side(SideFile::failures).bytes = 300;
  checkpoint.writer.side(SideFile::failures).lines = 3;
  checkpoint.writer.side(SideFile::rejects).bytes = 45;
  checkpoint.writer.side(SideFile::rejects).lines = 1;
  checkpoint.writer.side(SideFile::unverified).bytes = 61;
  checkpoint.writer.side(SideFile::unverified).lines = 2;
  Totals& totals = checkpoint.totals;
  totals.records = 1017;
  totals.failed = 3;
  totals.rejected = 1;
  totals.unverified = 2;
  totals.requests = 1100;
  totals.retries = 79;
  totals.prompt_tokens = 18446744073709551615ull;  // the largest value survives
  totals.completion_tokens = 77;
  totals.seconds = 12.345678901234567;
  return manifest;
}

class ManifestTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    path_ = path("manifest.json");
  }

  // Expects read_manifest to throw an Error whose message holds `part` and names the file.
  void expect_error(const std::string& part) {
    try {
      read_manifest(path_);
      ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(path_), std::string::npos) << what;
      EXPECT_NE(what.find(part), std::string::npos) << what;
    }
  }

  std::string path_;
};

TEST_F(ManifestTest, RoundTripsEveryField) {
  // Given a manifest with every field set
  Manifest written = sample_manifest();
  // When it is written and read back
  write_manifest(path_, written);
  std::optional<Manifest> read = read_manifest(path_);
  // Then every field is the same, the config in the same order
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->tool_version, written.tool_version);
  EXPECT_EQ(read->config, written.config);
  EXPECT_EQ(read->complete, written.complete);
  EXPECT_EQ(read->input, written.input);
  EXPECT_EQ(read->server_models, written.server_models);
  const Checkpoint& a = written.checkpoint;
  const Checkpoint& b = read->checkpoint;
  EXPECT_EQ(b.next.line, a.next.line);
  EXPECT_EQ(b.next.offset, a.next.offset);
  EXPECT_EQ(b.next.file, a.next.file);
  EXPECT_EQ(b.next.file_line, a.next.file_line);
  EXPECT_EQ(b.selected_below, a.selected_below);
  EXPECT_EQ(b.done_above, a.done_above);
  ASSERT_EQ(b.writer.shards.size(), a.writer.shards.size());
  for (size_t i = 0; i < a.writer.shards.size(); ++i) {
    EXPECT_EQ(b.writer.shards[i].name, a.writer.shards[i].name);
    EXPECT_EQ(b.writer.shards[i].records, a.writer.shards[i].records);
    EXPECT_EQ(b.writer.shards[i].bytes, a.writer.shards[i].bytes);
    EXPECT_EQ(b.writer.shards[i].open, a.writer.shards[i].open);
  }
  for (const SideFileInfo& side : kSideFiles) {
    EXPECT_EQ(b.writer.side(side.file).bytes, a.writer.side(side.file).bytes) << side.file_name;
    EXPECT_EQ(b.writer.side(side.file).lines, a.writer.side(side.file).lines) << side.file_name;
  }
  EXPECT_EQ(b.totals.records, a.totals.records);
  EXPECT_EQ(b.totals.failed, a.totals.failed);
  EXPECT_EQ(b.totals.rejected, a.totals.rejected);
  EXPECT_EQ(b.totals.unverified, a.totals.unverified);
  EXPECT_EQ(b.totals.below_threshold, a.totals.below_threshold);
  EXPECT_EQ(b.totals.requests, a.totals.requests);
  EXPECT_EQ(b.totals.retries, a.totals.retries);
  EXPECT_EQ(b.totals.prompt_tokens, a.totals.prompt_tokens);
  EXPECT_EQ(b.totals.completion_tokens, a.totals.completion_tokens);
  EXPECT_EQ(b.totals.seconds, a.totals.seconds);
}

TEST_F(ManifestTest, IsReadableJsonWithTheDocumentedKeys) {
  // Given a written manifest
  write_manifest(path_, sample_manifest());
  // When the file is parsed as plain JSON
  std::string text = read_file(path_);
  auto json = nlohmann::ordered_json::parse(text);
  // Then it has the documented shape, pretty-printed, with the config in run order
  EXPECT_EQ(json["tool"], "personagen");
  EXPECT_EQ(json["version"], "0.1.0");
  EXPECT_EQ(json["complete"], false);
  EXPECT_EQ(json["config"].begin().key(), "task");
  EXPECT_EQ(json["checkpoint"]["next_line"], 1000001u);
  EXPECT_EQ(json["checkpoint"]["totals"]["retries"], 79u);
  EXPECT_EQ(json["shards"][1]["open"], true);
  EXPECT_EQ(json["failures"]["lines"], 3u);
  EXPECT_EQ(json["rejects"]["bytes"], 45u);
  EXPECT_EQ(json["unverified"]["lines"], 2u);
  EXPECT_EQ(json["checkpoint"]["totals"]["unverified"], 2u);
  EXPECT_NE(text.find("\n  \"config\": {"), std::string::npos) << text;
}

TEST_F(ManifestTest, WriteIsAtomicAndReplacesTheOldOne) {
  // Given a manifest already written
  Manifest manifest = sample_manifest();
  write_manifest(path_, manifest);
  // When a newer one is written over it
  manifest.complete = true;
  manifest.checkpoint.done_above.clear();
  write_manifest(path_, manifest);
  // Then the new one is read back and no .tmp is left
  EXPECT_TRUE(read_manifest(path_)->complete);
  EXPECT_TRUE(read_manifest(path_)->checkpoint.done_above.empty());
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(ManifestTest, MissingFileIsNoManifest) {
  // Given no manifest; then reading it gives nullopt
  EXPECT_FALSE(read_manifest(path_).has_value());
}

TEST_F(ManifestTest, UnwritableDirectoryIsAnErrorNamingTheFile) {
  // Given a path in a directory that does not exist; then writing names the file
  std::string path = dir_ + "/absent/manifest.json";
  try {
    write_manifest(path, sample_manifest());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ".tmp"), std::string::npos) << e.what();
  }
}

TEST_F(ManifestTest, CorruptFileIsAnErrorNamingTheFileAndPosition) {
  // Given a manifest cut off in the middle (e.g. edited by hand)
  write_file(path_, "{\n  \"tool\": \"personagen\",\n  \"version\": ");
  // Then reading it names the file and where the parse failed
  expect_error("line 3");
}

TEST_F(ManifestTest, MissingKeyIsAnErrorNamingIt) {
  // Given a valid manifest with the checkpoint's next_offset removed
  write_manifest(path_, sample_manifest());
  auto json = nlohmann::ordered_json::parse(read_file(path_));
  json["checkpoint"].erase("next_offset");
  write_file(path_, json.dump());
  // Then reading it names the field
  expect_error("checkpoint.next_offset");
}

TEST_F(ManifestTest, WrongTypesAndOtherToolsAreErrors) {
  // Given a shard count that is negative
  write_manifest(path_, sample_manifest());
  auto json = nlohmann::ordered_json::parse(read_file(path_));
  json["shards"][0]["records"] = -1;
  write_file(path_, json.dump());
  // Then the field is named
  expect_error("shards[].records");
  // Given a JSON file from another tool
  write_file(path_, "{\"tool\": \"other\"}");
  expect_error("tool");
  // Given a config value that is not a string
  write_manifest(path_, sample_manifest());
  json = nlohmann::ordered_json::parse(read_file(path_));
  json["config"]["seed"] = 1;
  write_file(path_, json.dump());
  expect_error("config.seed");
}

TEST_F(ManifestTest, AManifestWrittenBeforeUnverifiedReadsItAsEmpty) {
  // Given a manifest as the version before unverified.jsonl wrote it: no "unverified" object
  // and no "unverified" total
  write_file(path_, R"({
  "tool": "personagen",
  "version": "0.1.0",
  "complete": false,
  "retry_pass": false,
  "config": {"task": "math"},
  "checkpoint": {
    "next_line": 7, "next_offset": 210, "accepted_below": 6, "done_above": [9],
    "totals": {"records": 5, "failed": 1, "rejected": 1, "requests": 8, "retries": 2,
               "prompt_tokens": 100, "completion_tokens": 50, "billed_prompt_tokens": 120,
               "billed_completion_tokens": 60, "seconds": 1.5},
    "journal_seq": 4
  },
  "shards": [{"name": "math-00000.jsonl", "records": 5, "bytes": 150, "open": true}],
  "failures": {"lines": 1, "bytes": 30},
  "rejects": {"lines": 1, "bytes": 20}
})");
  // When it is read
  std::optional<Manifest> old = read_manifest(path_);
  // Then the side files it knew are as recorded, and unverified is empty
  ASSERT_TRUE(old.has_value());
  const WriterState& writer = old->checkpoint.writer;
  EXPECT_EQ(writer.side(SideFile::failures), (SideFileState{30, 1}));
  EXPECT_EQ(writer.side(SideFile::rejects), (SideFileState{20, 1}));
  EXPECT_EQ(writer.side(SideFile::unverified), (SideFileState{0, 0}));
  EXPECT_EQ(old->checkpoint.totals.unverified, 0u);
  EXPECT_EQ(writer.side(SideFile::below_threshold), (SideFileState{0, 0}));
  EXPECT_EQ(old->checkpoint.totals.below_threshold, 0u);
  EXPECT_EQ(old->checkpoint.totals.records, 5u);
  EXPECT_EQ(old->checkpoint.journal_seq, 4u);
  // And the side files every manifest had are still required
  auto json = nlohmann::ordered_json::parse(read_file(path_));
  json.erase("rejects");
  write_file(path_, json.dump());
  expect_error("rejects");
}

TEST_F(ManifestTest, AnInputFingerprintIsOptionalButMustBeWellFormed) {
  // Given a manifest without input fingerprints (stdin, or an earlier version)
  write_manifest(path_, sample_manifest());
  auto json = nlohmann::ordered_json::parse(read_file(path_));
  EXPECT_EQ(json["input_files"][0]["first_mib_xxh3"], "fedcba9876543210");
  EXPECT_EQ(json["input_files"][1]["path"], "in/a-00001.jsonl.gz");
  json.erase("input_files");
  write_file(path_, json.dump());
  // Then it reads, with the input unknown
  std::optional<Manifest> old = read_manifest(path_);
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->input.empty());
  // Given a hash that is not 16 hex digits, then the field is named
  write_manifest(path_, sample_manifest());
  json = nlohmann::ordered_json::parse(read_file(path_));
  json["input_files"][1]["last_mib_xxh3"] = "12345";
  write_file(path_, json.dump());
  expect_error("input_files[].last_mib_xxh3");
}

TEST_F(ManifestTest, AManifestOfOneInputBeforeSeveralInputsStillReads) {
  // Given a manifest as written before -i could repeat: one "input_fingerprint" without a path,
  // and a checkpoint without "next_file" or "next_file_line"
  write_manifest(path_, sample_manifest());
  auto json = nlohmann::ordered_json::parse(read_file(path_));
  json.erase("input_files");
  json["input_fingerprint"] = {
      {"size", 42}, {"first_mib_xxh3", "00000000000000ff"}, {"last_mib_xxh3", "0000000000000001"}};
  json["checkpoint"].erase("next_file");
  json["checkpoint"].erase("next_file_line");
  write_file(path_, json.dump());
  // Then it reads as one input file of unknown path, and the checkpoint is in the first file
  std::optional<Manifest> old = read_manifest(path_);
  ASSERT_TRUE(old.has_value());
  ASSERT_EQ(old->input.size(), 1u);
  EXPECT_EQ(old->input[0], (InputFingerprint{"", 42, 0xff, 1}));
  EXPECT_EQ(old->checkpoint.next.line, 1000001u);
  EXPECT_EQ(old->checkpoint.next.file, 0u);
  EXPECT_EQ(old->checkpoint.next.file_line, 0u);  // unknown: the reader takes the line
}

TEST(DescribeConfigDifferenceTest, EqualConfigsHaveNoDifference) {
  // Given two equal configs, then the description is empty
  RunConfig config = {{"model", "a"}, {"seed", "1"}};
  EXPECT_EQ(describe_config_difference(config, config), "");
  EXPECT_EQ(describe_config_difference({}, {}), "");
}

TEST(DescribeConfigDifferenceTest, NamesEveryChangeInOrder) {
  // Given a config where values changed, one name is new and one is gone
  RunConfig before = {{"model", "gpt-4o"}, {"task", "math"}, {"seed", "1"}, {"top_p", "0.9"}};
  RunConfig now = {{"model", "qwen2"}, {"task", "math"}, {"seed", "2"}, {"shots", "3"}};
  // Then every difference is named, in the order of the new config, then the gone ones
  EXPECT_EQ(describe_config_difference(before, now),
            "model was \"gpt-4o\", now \"qwen2\"; seed was \"1\", now \"2\"; "
            "shots is new (\"3\"); top_p is gone (was \"0.9\")");
}

TEST(DescribeConfigDifferenceTest, OrderAloneIsNoDifference) {
  // Given the same pairs in a different order, then there is no difference
  EXPECT_EQ(describe_config_difference({{"a", "1"}, {"b", "2"}}, {{"b", "2"}, {"a", "1"}}), "");
}

TEST(DescribeConfigDifferenceTest, EmptyValuesAreStillNamed) {
  // Given a value that became empty, then the change shows the empty quotes
  EXPECT_EQ(describe_config_difference({{"stop", "###"}}, {{"stop", ""}}),
            "stop was \"###\", now \"\"");
}

// write_file_atomic and sync_dir are the manifest's durable write (store/atomic_file.h), shared
// with the summary file and the shard writer.
TEST_F(ManifestTest, AtomicWriteReplacesTheWholeFileAndLeavesNoTmp) {
  // Given a file with longer content
  write_file_atomic(path_, "a longer first version\n");
  // When it is written again with shorter content
  write_file_atomic(path_, "short\n");
  // Then it holds exactly the new content, and no .tmp is left
  EXPECT_EQ(read_file(path_), "short\n");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(ManifestTest, SyncOfAMissingDirectoryIsAnErrorNamingIt) {
  // Given a directory that does not exist; then syncing it names it
  const std::string missing = dir_ + "/absent";
  try {
    sync_dir(missing);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing + ": cannot open directory"), std::string::npos)
        << e.what();
  }
  // And an existing one syncs
  EXPECT_NO_THROW(sync_dir(dir_));
}

}  // namespace
}  // namespace personagen
