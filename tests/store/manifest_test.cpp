#include "store/manifest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "personagen/error.h"
#include "store/atomic_file.h"
#include "store/run_dir.h"
#include "store/shard_writer.h"
#include "store/watermark.h"

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
  manifest.input = InputFingerprint{123456789012ull, 0xfedcba9876543210ull, 1};
  Checkpoint& checkpoint = manifest.checkpoint;
  checkpoint.next = {1000001, 123456789012ull};
  checkpoint.accepted_below = 999990;
  checkpoint.done_above = {1000003, 1000007};
  checkpoint.writer.shards = {{"math-00000.jsonl", 1000, 523400, false},
                              {"math-00001.jsonl", 17, 9000, true}};
  checkpoint.writer.failures_bytes = 300;
  checkpoint.writer.failures_lines = 3;
  checkpoint.writer.rejects_bytes = 45;
  checkpoint.writer.rejects_lines = 1;
  Totals& totals = checkpoint.totals;
  totals.records = 1017;
  totals.failed = 3;
  totals.rejected = 1;
  totals.requests = 1100;
  totals.retries = 79;
  totals.prompt_tokens = 18446744073709551615ull;  // the largest value survives
  totals.completion_tokens = 77;
  totals.seconds = 12.345678901234567;
  return manifest;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "manifest_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/manifest.json";
  }
  void TearDown() override { fs::remove_all(dir_); }

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

  std::string dir_;
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
  const Checkpoint& a = written.checkpoint;
  const Checkpoint& b = read->checkpoint;
  EXPECT_EQ(b.next.line, a.next.line);
  EXPECT_EQ(b.next.offset, a.next.offset);
  EXPECT_EQ(b.accepted_below, a.accepted_below);
  EXPECT_EQ(b.done_above, a.done_above);
  ASSERT_EQ(b.writer.shards.size(), a.writer.shards.size());
  for (size_t i = 0; i < a.writer.shards.size(); ++i) {
    EXPECT_EQ(b.writer.shards[i].name, a.writer.shards[i].name);
    EXPECT_EQ(b.writer.shards[i].records, a.writer.shards[i].records);
    EXPECT_EQ(b.writer.shards[i].bytes, a.writer.shards[i].bytes);
    EXPECT_EQ(b.writer.shards[i].open, a.writer.shards[i].open);
  }
  EXPECT_EQ(b.writer.failures_bytes, a.writer.failures_bytes);
  EXPECT_EQ(b.writer.failures_lines, a.writer.failures_lines);
  EXPECT_EQ(b.writer.rejects_bytes, a.writer.rejects_bytes);
  EXPECT_EQ(b.writer.rejects_lines, a.writer.rejects_lines);
  EXPECT_EQ(b.totals.records, a.totals.records);
  EXPECT_EQ(b.totals.failed, a.totals.failed);
  EXPECT_EQ(b.totals.rejected, a.totals.rejected);
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

TEST_F(ManifestTest, AnInputFingerprintIsOptionalButMustBeWellFormed) {
  // Given a manifest of an earlier version, without an input fingerprint
  write_manifest(path_, sample_manifest());
  auto json = nlohmann::ordered_json::parse(read_file(path_));
  EXPECT_EQ(json["input_fingerprint"]["first_mib_xxh3"], "fedcba9876543210");
  json.erase("input_fingerprint");
  write_file(path_, json.dump());
  // Then it reads, with the input unknown
  std::optional<Manifest> old = read_manifest(path_);
  ASSERT_TRUE(old.has_value());
  EXPECT_FALSE(old->input.has_value());
  // Given a hash that is not 16 hex digits, then the field is named
  write_manifest(path_, sample_manifest());
  json = nlohmann::ordered_json::parse(read_file(path_));
  json["input_fingerprint"]["last_mib_xxh3"] = "12345";
  write_file(path_, json.dump());
  expect_error("input_fingerprint.last_mib_xxh3");
}

// The whole exactly-once contract: a simulated run reads lines, finishes them out of order into
// shards, failures.jsonl and rejects.jsonl, checkpoints into manifest.json at random, and is
// killed at random. Each restart resumes from the manifest alone. In the end every input line
// must be in exactly one place.
class ExactlyOnceTest : public ManifestTest {
 protected:
  static constexpr uint64_t kLines = 1500;
  static bool blank(uint64_t line) { return line % 17 == 0; }
  static bool reject(uint64_t line) { return line % 13 == 0; }
  static bool failure(uint64_t line) { return line % 11 == 0; }
  static uint64_t offset_of(uint64_t line) { return 100 * (line - 1); }
  static std::string json_of(uint64_t line) { return "{\"line\":" + std::to_string(line) + "}"; }

  // Runs until the input is done or a random crash; returns whether it finished.
  bool run(std::mt19937& random) {
    std::optional<Manifest> previous = read_manifest(path_);
    Manifest manifest = previous.value_or(Manifest{});
    const Checkpoint& cp = manifest.checkpoint;
    EXPECT_EQ(cp.next.offset, offset_of(cp.next.line));
    Watermark watermark(cp.next, cp.accepted_below, cp.done_above);
    ShardWriter writer(dir_, "math", 17, cp.writer);
    uint64_t next = cp.next.line;
    std::vector<uint64_t> in_flight;
    auto finish = [&](uint64_t line) {
      if (reject(line)) {
        writer.write_reject(json_of(line));
      } else if (failure(line)) {
        writer.write_failure(json_of(line));
      } else {
        writer.write_record(json_of(line));
      }
      watermark.finish(line);
    };
    auto checkpoint = [&](bool complete) {
      manifest.checkpoint.writer = complete ? writer.close() : writer.sync();
      manifest.checkpoint.next = watermark.low();
      manifest.checkpoint.accepted_below = watermark.accepted_below();
      manifest.checkpoint.done_above = watermark.done_above();
      manifest.complete = complete;
      write_manifest(path_, manifest);
    };
    while (next <= kLines || !in_flight.empty()) {
      if (random() % 400 == 0) return false;  // kill -9
      if (random() % 30 == 0) checkpoint(false);
      if (next <= kLines && (in_flight.size() < 8 && random() % 2 == 0)) {
        uint64_t line = next++;
        if (!blank(line)) {
          // A line finished by an earlier run is counted, not redone.
          watermark.begin(line, offset_of(line), !reject(line));
          if (watermark.done_before(line)) {
            watermark.finish(line);
          } else if (reject(line)) {
            finish(line);
          } else {
            in_flight.push_back(line);
          }
        }
        watermark.set_read_position({next, offset_of(next)});
      } else if (!in_flight.empty()) {
        size_t pick = random() % in_flight.size();
        finish(in_flight[pick]);
        in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(pick));
      }
    }
    checkpoint(true);
    return true;
  }
};

TEST_F(ExactlyOnceTest, CrashAnywhereThenResumeFinishesTheJob) {
  // Given a run that is killed at random and restarted from its manifest until it completes
  std::mt19937 random(7);
  int runs = 1;
  while (!run(random)) ++runs;
  // Then every non-blank line is in exactly one of the outputs, in the right one
  std::map<uint64_t, std::string> where;
  auto collect = [&](const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    for (std::string line; std::getline(in, line);) {
      uint64_t number = nlohmann::json::parse(line)["line"].get<uint64_t>();
      EXPECT_TRUE(where.emplace(number, name.substr(0, 4)).second) << "line " << number << " twice";
    }
  };
  std::optional<Manifest> manifest = read_manifest(path_);
  ASSERT_TRUE(manifest.has_value());
  EXPECT_TRUE(manifest->complete);
  for (const ShardInfo& shard : manifest->checkpoint.writer.shards) collect(shard.name);
  collect("failures.jsonl");
  collect("rejects.jsonl");
  uint64_t accepted = 0;
  for (uint64_t line = 1; line <= kLines; ++line) {
    if (blank(line)) {
      EXPECT_FALSE(where.contains(line)) << line;
      continue;
    }
    accepted += reject(line) ? 0 : 1;
    std::string expected = reject(line) ? "reje" : failure(line) ? "fail" : "math";
    EXPECT_EQ(where[line], expected) << "line " << line;
  }
  EXPECT_EQ(where.size(), kLines - kLines / 17);
  // And the checkpoint's counters agree with the files
  EXPECT_EQ(manifest->checkpoint.next.line, kLines + 1);
  EXPECT_TRUE(manifest->checkpoint.done_above.empty());
  EXPECT_EQ(manifest->checkpoint.accepted_below, accepted);
  EXPECT_GT(runs, 3);
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

// write_file_atomic and sync_dir are the manifest's durable write (atomic_file), shared with the
// summary file and the shard writer.
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

// RunDir::prepare keeps a run from silently forking: it refuses a rerun over another
// configuration or another input, except for what a --retry-failed pass may change.
class RunDirTest : public ManifestTest {
 protected:
  void SetUp() override {
    ManifestTest::SetUp();
    input_ = dir_ + "/in.jsonl";
    out_ = dir_ + "/out";
    write_file(input_, "{\"persona\": \"a\"}\n{\"persona\": \"b\"}\n");
  }
  Options options() const {
    Options o;
    o.input = input_;
    return o;
  }
  RunConfig config(const std::string& max_tokens = "server default",
                   const std::string& model = "m") const {
    return {{"input", input_}, {"model", model}, {"max_tokens", max_tokens}};
  }
  // A run's manifest: finished or not, with one failure (input line 2) when finished.
  void record_run(bool complete, std::optional<InputFingerprint> input) {
    fs::create_directories(out_);
    Manifest m;
    m.config = config();
    m.input = input;
    m.complete = complete;
    if (complete) {
      std::string failure = "{\"line\":2}\n";
      write_file(out_ + "/failures.jsonl", failure);
      m.checkpoint.writer.failures_bytes = failure.size();
      m.checkpoint.writer.failures_lines = 1;
      m.checkpoint.totals.failed = 1;
    }
    write_manifest(out_ + "/manifest.json", m);
  }
  RunStart prepare(const Options& o, const RunConfig& c) {
    return RunDir(out_).prepare(o, c, "math");
  }
  // The message of the usage Error that prepare() throws, or "accepted".
  std::string refusal(const Options& o, const RunConfig& c) {
    try {
      prepare(o, c);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage) << e.what();
      return e.what();
    }
    return "accepted";
  }

  std::string input_;
  std::string out_;
};

TEST_F(RunDirTest, FingerprintSeesAChangeAtEitherEndAndLeavesStdinAndPipesAlone) {
  // Given a 3 MiB input
  std::string text(3 << 20, 'x');
  write_file(input_, text);
  std::optional<InputFingerprint> before = fingerprint_input(input_);
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->size, text.size());
  // Then the same bytes written again give the same fingerprint
  write_file(input_, text);
  EXPECT_EQ(fingerprint_input(input_), before);
  // And a change in the last MiB, in the first MiB, or of the size shows
  text.back() = 'y';
  write_file(input_, text);
  EXPECT_EQ(fingerprint_input(input_)->head, before->head);
  EXPECT_NE(fingerprint_input(input_)->tail, before->tail);
  text.front() = 'y';
  write_file(input_, text);
  EXPECT_NE(fingerprint_input(input_)->head, before->head);
  write_file(input_, text + "z");
  EXPECT_EQ(fingerprint_input(input_)->size, text.size() + 1);
  // And stdin, a named pipe (which must not be read) and a missing file have none
  EXPECT_FALSE(fingerprint_input("-").has_value());
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(fingerprint_input(fifo).has_value());
  EXPECT_FALSE(fingerprint_input(dir_ + "/absent.jsonl").has_value());
}

TEST_F(RunDirTest, ARerunOverAReplacedInputIsRefusedNamingWhatChanged) {
  // Given a fresh run: it starts from a manifest that holds the input's fingerprint
  RunStart fresh = prepare(options(), config());
  ASSERT_EQ(fresh.kind, RunStart::Kind::fresh);
  ASSERT_TRUE(fresh.manifest.has_value());
  EXPECT_EQ(fresh.manifest->input, fingerprint_input(input_));
  uint64_t size = fs::file_size(input_);
  for (bool complete : {false, true}) {
    record_run(complete, fingerprint_input(input_));
    // When the input is regenerated under the same path
    write_file(input_, "{\"persona\": \"a new one\"}\n");
    // Then resuming, or calling a finished run complete, is refused naming the file and sizes
    EXPECT_EQ(refusal(options(), config()),
              out_ + ": the input " + input_ + " changed since this run began (size " +
                  std::to_string(fs::file_size(input_)) + ", was " + std::to_string(size) +
                  "); use a new --output, or --restart to start over");
    // And with the same size but other bytes too
    write_file(input_, "{\"persona\": \"A\"}\n{\"persona\": \"B\"}\n");
    EXPECT_NE(refusal(options(), config()).find("(same size, but its first MiB differs)"),
              std::string::npos);
    // And the original input resumes again (or is complete again)
    write_file(input_, "{\"persona\": \"a\"}\n{\"persona\": \"b\"}\n");
    EXPECT_EQ(prepare(options(), config()).kind,
              complete ? RunStart::Kind::complete : RunStart::Kind::resume);
  }
  // And --restart starts over with the new input
  write_file(input_, "{\"persona\": \"a new one\"}\n");
  Options restart = options();
  restart.restart = true;
  EXPECT_EQ(prepare(restart, config()).manifest->input, fingerprint_input(input_));
}

TEST_F(RunDirTest, AnUnfinishedRunOverAFileThatOnlyGrewGoesOn) {
  // Given an unfinished run over a file cut off in the middle of a line
  std::string whole = std::string(3 << 20, 'x') + "\n{\"persona\": \"b\"}\n";
  write_file(input_, whole.substr(0, whole.size() - 5));
  record_run(false, fingerprint_input(input_));
  // When the file is made whole, then the run resumes and takes on the whole file
  write_file(input_, whole);
  RunStart resume = prepare(options(), config());
  EXPECT_EQ(resume.kind, RunStart::Kind::resume);
  EXPECT_EQ(resume.manifest->input, fingerprint_input(input_));
  // Given the same, finished: then lines added since are refused, not skipped as "complete"
  write_file(input_, whole.substr(0, whole.size() - 5));
  record_run(true, fingerprint_input(input_));
  write_file(input_, whole);
  EXPECT_NE(refusal(options(), config()).find("changed since this run began"), std::string::npos);
  // And a grown file whose first part changed is refused even when unfinished
  record_run(false, fingerprint_input(input_));
  whole[10] = 'y';
  write_file(input_, whole + "{}\n");
  EXPECT_NE(refusal(options(), config()).find("changed since this run began"), std::string::npos);
}

TEST_F(RunDirTest, AManifestWithoutAFingerprintResumesAndThenRecordsIt) {
  // Given an unfinished run recorded by an earlier version (no fingerprint)
  record_run(false, std::nullopt);
  // Then it resumes, taking on the fingerprint of the input now
  RunStart resume = prepare(options(), config());
  EXPECT_EQ(resume.kind, RunStart::Kind::resume);
  EXPECT_EQ(resume.manifest->input, fingerprint_input(input_));
  // Given a finished one, then it stays complete and the manifest records the fingerprint
  record_run(true, std::nullopt);
  EXPECT_EQ(prepare(options(), config()).kind, RunStart::Kind::complete);
  EXPECT_EQ(read_manifest(out_ + "/manifest.json")->input, fingerprint_input(input_));
  // Given an unfinished run over stdin, then it has no fingerprint and resumes as before
  Options piped = options();
  piped.input = "-";
  Manifest of_stdin;
  of_stdin.config = {{"input", "-"}, {"model", "m"}};
  write_manifest(out_ + "/manifest.json", of_stdin);
  RunStart start = prepare(piped, of_stdin.config);
  EXPECT_EQ(start.kind, RunStart::Kind::resume);
  EXPECT_FALSE(start.manifest->input.has_value());
}

TEST_F(RunDirTest, RetryFailedMayChangeSamplingOnlyAndRecordsIt) {
  record_run(true, fingerprint_input(input_));
  Options retry = options();
  retry.retry_failed = true;
  // Given a finished run with one failure: a plain rerun with another --max-tokens is refused
  EXPECT_NE(refusal(options(), config("2048")).find("max_tokens was \"server default\""),
            std::string::npos);
  // And so is a retry pass with another model
  EXPECT_NE(refusal(retry, config("2048", "other")).find("model was \"m\", now \"other\""),
            std::string::npos);
  // When --retry-failed raises --max-tokens, then the retry pass starts for the failed line
  RunStart start = prepare(retry, config("2048"));
  EXPECT_EQ(start.kind, RunStart::Kind::resume);
  EXPECT_EQ(start.retry_requests, (std::vector<RequestId>{{2, kEveryRequest}}));
  // And the manifest records the new value before anything else happens
  std::optional<Manifest> recorded = read_manifest(out_ + "/manifest.json");
  EXPECT_TRUE(recorded->retry_pass);
  EXPECT_EQ(recorded->config, config("2048"));
  // So resuming that pass compares against it
  EXPECT_NE(refusal(options(), config()).find("max_tokens was \"2048\""), std::string::npos);
  EXPECT_EQ(prepare(options(), config("2048")).retry_requests,
            (std::vector<RequestId>{{2, kEveryRequest}}));
}

}  // namespace
}  // namespace personagen
