#include "store/run_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "input/input_files.h"
#include "personagen/error.h"
#include "store/kept_samples.h"
#include "store/manifest.h"
#include "store/shard_writer.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

class RunDirPrepareTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    out_ = fs::path(dir_) / "out";
    options_.inputs = {path("in.jsonl")};
    std::ofstream(options_.inputs[0]) << "{\"persona\":\"a\"}\n{\"persona\":\"b\"}\n";
  }

  RunStart prepare() {
    RunDir dir(out_.string());
    return dir.prepare(options_, config_, "math", expand_inputs(options_.inputs));
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

  // A finished run in out_: three closed shards of 2, 2 and 1 records, one failure, no rejects,
  // one unverified line.
  void finish_a_run() {
    RunStart start = prepare();
    ASSERT_EQ(start.kind, RunStart::Kind::fresh);
    Manifest manifest = *start.manifest;
    ShardWriter writer(out_.string(), "math", 2, {});
    for (int i = 0; i < 5; ++i) writer.write_record("{\"id\":" + std::to_string(i) + "}");
    writer.write_failure("{\"line\":6}");
    writer.write_unverified("{\"line\":7}");
    manifest.checkpoint.writer = writer.close();
    manifest.complete = true;
    write_manifest((out_ / "manifest.json").string(), manifest);
  }

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
  std::ofstream(out_ / "unverified.jsonl") << "{\"mine\":2}\n";
  // When a run is prepared in it, then it is a usage error naming the directory and --restart
  Error e = refusal();
  EXPECT_EQ(e.code(), ExitCode::usage);
  EXPECT_NE(std::string(e.what()).find(out_.string() + ": is not empty"), std::string::npos)
      << e.what();
  EXPECT_NE(std::string(e.what()).find("--restart"), std::string::npos) << e.what();
  // And nothing in it was touched or added
  EXPECT_EQ(read_file(out_ / "math-00000.jsonl"), "{\"mine\":1}\n");
  EXPECT_FALSE(fs::exists(out_ / "manifest.json"));
  // When --restart is given, then it starts fresh, clearing only personagen's own files
  options_.restart = true;
  EXPECT_EQ(prepare().kind, RunStart::Kind::fresh);
  EXPECT_FALSE(fs::exists(out_ / "math-00000.jsonl"));
  EXPECT_FALSE(fs::exists(out_ / "unverified.jsonl"));
  EXPECT_EQ(read_file(out_ / "notes.txt"), "mine");
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
      {"unverified appended", "unverified.jsonl: has 14 bytes, but the finished run recorded 11",
       [](const fs::path& out) {
         std::ofstream(out / "unverified.jsonl", std::ios::app) << "{\"x";
       }},
      {"unverified deleted", "unverified.jsonl: is missing, but the finished run recorded 11",
       [](const fs::path& out) { fs::remove(out / "unverified.jsonl"); }},
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

// RunDir::prepare keeps a run from silently forking: it refuses a rerun over another
// configuration or another input, except for what a --retry-failed pass may change.
class RunDirTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    input_ = dir_ + "/in.jsonl";
    out_ = dir_ + "/out";
    write_file(input_, "{\"persona\": \"a\"}\n{\"persona\": \"b\"}\n");
  }
  Options options() const {
    Options o;
    o.inputs = {input_};
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
    m.input.clear();
    if (input) m.input.push_back(*input);
    m.complete = complete;
    if (complete) {
      std::string failure = "{\"line\":2}\n";
      write_file(out_ + "/failures.jsonl", failure);
      m.checkpoint.writer.side(SideFile::failures).bytes = failure.size();
      m.checkpoint.writer.side(SideFile::failures).lines = 1;
      m.checkpoint.totals.failed = 1;
    }
    write_manifest(out_ + "/manifest.json", m);
  }
  RunStart prepare(const Options& o, const RunConfig& c) {
    return RunDir(out_).prepare(o, c, "math", expand_inputs(o.inputs));
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
  EXPECT_EQ(fresh.manifest->input, fingerprint_inputs({input_}));
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
  EXPECT_EQ(prepare(restart, config()).manifest->input, fingerprint_inputs({input_}));
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
  EXPECT_EQ(resume.manifest->input, fingerprint_inputs({input_}));
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
  EXPECT_EQ(resume.manifest->input, fingerprint_inputs({input_}));
  // Given a finished one, then it stays complete and the manifest records the fingerprint
  record_run(true, std::nullopt);
  EXPECT_EQ(prepare(options(), config()).kind, RunStart::Kind::complete);
  EXPECT_EQ(read_manifest(out_ + "/manifest.json")->input, fingerprint_inputs({input_}));
  // Given an unfinished run over stdin, then it has no fingerprint and resumes as before
  Options piped = options();
  piped.inputs = {"-"};
  Manifest of_stdin;
  of_stdin.config = {{"input", "-"}, {"model", "m"}};
  write_manifest(out_ + "/manifest.json", of_stdin);
  RunStart start = prepare(piped, of_stdin.config);
  EXPECT_EQ(start.kind, RunStart::Kind::resume);
  EXPECT_TRUE(start.manifest->input.empty());
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
  EXPECT_EQ(start.retry.requests, (std::vector<RequestId>{{2, kEveryRequest}}));
  // And the manifest records the new value before anything else happens
  std::optional<Manifest> recorded = read_manifest(out_ + "/manifest.json");
  EXPECT_TRUE(recorded->retry_pass);
  EXPECT_EQ(recorded->config, config("2048"));
  // So resuming that pass compares against it
  EXPECT_NE(refusal(options(), config()).find("max_tokens was \"2048\""), std::string::npos);
  EXPECT_EQ(prepare(options(), config("2048")).retry.requests,
            (std::vector<RequestId>{{2, kEveryRequest}}));
}

TEST_F(RunDirTest, ARetryListThatDoesNotFitItsLineIsRefusedBeforeFailuresJsonlIsMoved) {
  // Given a finished solve run (3 samples) whose failure of input line 2 keeps sample 0 but names
  // sample 3 as the one that failed: a pass would send nothing for the line and lose it
  record_run(true, fingerprint_input(input_));
  RunConfig solve = config();
  solve.emplace_back("samples", "3");
  SolveSample kept;
  kept.custom_id = "pg-a";
  kept.output = "\\boxed{7}";
  kept.answer = "7";
  kept.finish_reason = "stop";
  std::string failure = R"({"line":2,"request":3})";
  add_kept_samples({&kept, 1}, failure);
  failure += "\n";
  write_file(out_ + "/failures.jsonl", failure);
  Manifest m = *read_manifest(out_ + "/manifest.json");
  m.config = solve;
  m.checkpoint.writer.side(SideFile::failures).bytes = failure.size();
  write_manifest(out_ + "/manifest.json", m);

  // When --retry-failed is prepared, then it refuses naming the file, its line and what it expected
  Options retry = options();
  retry.retry_failed = true;
  std::string text = error_of([&] { prepare(retry, solve); });
  EXPECT_NE(
      text.find(out_ + "/failures.jsonl:1: input line 2: failed sample 3 is past --samples 3"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("expected its 3 samples, 0 to 2"), std::string::npos) << text;
  // And failures.jsonl is where it was and the manifest records no retry pass
  EXPECT_EQ(read_file(out_ + "/failures.jsonl"), failure);
  EXPECT_FALSE(fs::exists(out_ + "/failures.retry.jsonl"));
  EXPECT_FALSE(read_manifest(out_ + "/manifest.json")->retry_pass);
  // So a plain rerun still finds the run complete
  EXPECT_EQ(prepare(options(), solve).kind, RunStart::Kind::complete);
}

}  // namespace
}  // namespace personagen
