// The output directory seen from the real binary: a finished run checks its files before it
// says "nothing to do", a resume refuses a closed shard that was changed, a directory that holds
// someone else's files is refused, an over-long last line is one reject, and a reply is capped.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using namespace std::chrono_literals;
using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

void append(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::app) << text;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class RunDirE2E : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    out_ = dir_ / "out";
  }

  std::vector<std::string> args(const fs::path& input, const fs::path& out) const {
    return {"synth", "-i", input, "-t", "math", "-o", out, "-q", "--shard-size", "2"};
  }

  // A finished run in out_ with three closed shards, a failure and a reject: exit code 3.
  std::vector<std::string> finish_a_run() {
    std::vector<std::string> all = personas(6, "verify");
    all[5] += " [[fault:404*always]]";
    std::ofstream in(dir_ / "in.jsonl");
    for (const std::string& p : all) in << json{{"persona", p}}.dump() << "\n";
    in << "not json\n";
    in.close();
    Result r = run(args(dir_ / "in.jsonl", out_), server_.base_url());
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_TRUE(check_exactly_once(out_, "math", all));
    return all;
  }

  TestServer server_;
  fs::path out_;
};

TEST_F(RunDirE2E, AFinishedRunRefusesFilesChangedAfterItFinished) {
  // Given a finished run, and copies of its directory each changed in one way
  finish_a_run();
  const std::string shard0 = read_file(out_ / "math-00000.jsonl");
  const uint64_t shard0_bytes = shard0.size();
  const uint64_t shard1_bytes = fs::file_size(out_ / "math-00001.jsonl");
  const uint64_t shard2_bytes = fs::file_size(out_ / "math-00002.jsonl");
  const uint64_t failures_bytes = fs::file_size(out_ / "failures.jsonl");
  struct Change {
    std::string name;
    std::string file;     // the file the error must name
    std::string lengths;  // both lengths, as the error must give them
    void (*apply)(const fs::path& out, const std::string& shard0);
  };
  const std::vector<Change> changes{
      {"a shard deleted", "math-00001.jsonl",
       "is missing, but the finished run recorded " + std::to_string(shard1_bytes),
       [](const fs::path& out, const std::string&) { fs::remove(out / "math-00001.jsonl"); }},
      {"a shard cut mid-line", "math-00000.jsonl",
       "has " + std::to_string(shard0_bytes - 7) + " bytes, but the finished run recorded " +
           std::to_string(shard0_bytes),
       [](const fs::path& out, const std::string& s) {
         fs::resize_file(out / "math-00000.jsonl", s.size() - 7);
       }},
      {"garbage appended to a shard", "math-00002.jsonl",
       "has " + std::to_string(shard2_bytes + 8) + " bytes, but the finished run recorded " +
           std::to_string(shard2_bytes),
       [](const fs::path& out, const std::string&) {
         append(out / "math-00002.jsonl", "garbage\n");
       }},
      {"failures.jsonl deleted", "failures.jsonl",
       "is missing, but the finished run recorded " + std::to_string(failures_bytes),
       [](const fs::path& out, const std::string&) { fs::remove(out / "failures.jsonl"); }},
      {"garbage appended to rejects.jsonl", "rejects.jsonl", "but the finished run recorded",
       [](const fs::path& out, const std::string&) { append(out / "rejects.jsonl", "{\"x\""); }},
  };
  for (const Change& change : changes) {
    SCOPED_TRACE(change.name);
    fs::path copy = dir_ / "copy";
    fs::remove_all(copy);
    fs::copy(out_, copy, fs::copy_options::recursive);
    change.apply(copy, shard0);
    // When it is run again
    Result r = run(args(dir_ / "in.jsonl", copy), server_.base_url());
    // Then it refuses with exit code 1, naming the file, both lengths and what to do
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, (copy / change.file).string())) << r.err;
    EXPECT_TRUE(contains(r.err, change.lengths)) << r.err;
    EXPECT_TRUE(contains(r.err, "--restart")) << r.err;
    EXPECT_FALSE(contains(r.err, "already complete")) << r.err;
  }
  // And the unchanged directory is still complete, with nothing to do
  Result again = run(args(dir_ / "in.jsonl", out_), server_.base_url());
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_EQ(read_file(out_ / "math-00000.jsonl"), shard0);
}

TEST_F(RunDirE2E, AResumeRefusesAClosedShardWithBytesAppended) {
  // Given a run interrupted after some one-record shards were closed
  std::ofstream in(dir_ / "in.jsonl");
  for (const std::string& p : personas(20, "resume")) in << json{{"persona", p}}.dump() << "\n";
  in.close();
  std::vector<std::string> a{"synth", "-i", dir_ / "in.jsonl", "-t", "math", "-o", out_, "-q",
                             "-j",    "1",  "--shard-size",    "1"};
  Result stopped = interrupted_run(a, 5, 50);
  ASSERT_EQ(stopped.exit_code, 130) << stopped.err;
  ASSERT_TRUE(fs::exists(out_ / "math-00000.jsonl"));
  const uint64_t bytes = fs::file_size(out_ / "math-00000.jsonl");
  // When garbage is appended to a closed shard and the run resumed
  append(out_ / "math-00000.jsonl", "garbage\n");
  Result r = run(a, server_.base_url());
  // Then it refuses, naming the shard and both lengths, and leaves the shard alone
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "math-00000.jsonl: has " + std::to_string(bytes + 8) +
                                  " bytes, but the checkpoint recorded " + std::to_string(bytes)))
      << r.err;
  EXPECT_EQ(fs::file_size(out_ / "math-00000.jsonl"), bytes + 8);
}

TEST_F(RunDirE2E, ADirectoryWithoutAManifestIsRefusedUnlessRestart) {
  // Given a directory holding the user's own files, one named like a shard
  fs::create_directories(out_);
  std::ofstream(out_ / "notes.txt") << "mine\n";
  std::ofstream(out_ / "math-00000.jsonl") << "{\"my\":\"data\"}\n";
  std::vector<std::string> good = personas(3, "fresh");
  fs::path input = write_personas("in.jsonl", good);
  // When synth writes into it
  Result r = run(args(input, out_), server_.base_url());
  // Then it is a usage error naming the directory, and nothing in it is touched
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, out_.string())) << r.err;
  EXPECT_TRUE(contains(r.err, "not empty")) << r.err;
  EXPECT_TRUE(contains(r.err, "--restart")) << r.err;
  EXPECT_EQ(read_file(out_ / "math-00000.jsonl"), "{\"my\":\"data\"}\n");
  EXPECT_EQ(read_file(out_ / "notes.txt"), "mine\n");
  EXPECT_FALSE(fs::exists(out_ / "manifest.json"));
  EXPECT_EQ(server_.chat_request_count(), 0u);
  // When --restart is given, then the run goes ahead and leaves the files that are not its own
  std::vector<std::string> restart = args(input, out_);
  restart.push_back("--restart");
  Result ok = run(restart, server_.base_url());
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
  EXPECT_EQ(read_file(out_ / "notes.txt"), "mine\n");
}

TEST_F(RunDirE2E, ARunKilledRightAfterItsFirstRecordResumes) {
  // Given a run killed once its first shard exists, before any checkpoint (the second line's
  // first reply hangs)
  std::vector<std::string> good = personas(2, "killed");
  good[1] += " [[fault:hang]]";
  fs::path input = write_personas("in.jsonl", good);
  std::vector<std::string> a = args(input, out_);
  a.insert(a.end(), {"-j", "2", "--checkpoint-interval", "3600"});
  pid_t pid = spawn(a, server_.base_url());
  ASSERT_TRUE(wait_until([&] { return fs::exists(out_ / "math-00000.jsonl.tmp"); }, 30s));
  // (and once the hanging request has been sent: a slow build may not have sent it yet, and its
  // rerun would then wait out the whole hang)
  ASSERT_TRUE(server_.wait_for_chat_requests(2, 30s));
  kill(pid, SIGKILL);
  EXPECT_EQ(wait(pid).exit_code, 128 + SIGKILL);
  // Then its manifest is there, and a rerun resumes it to every persona exactly once
  EXPECT_TRUE(fs::exists(out_ / "manifest.json"));
  Result r = run(a, server_.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
}

TEST_F(RunDirE2E, AnOverLongLastLineWithoutANewlineIsOneReject) {
  // Given a 9 MiB last line with no final newline (the line limit is 8 MiB)
  std::vector<std::string> good = personas(2, "long");
  std::string text;
  for (const std::string& p : good) text += json{{"persona", p}}.dump() + "\n";
  text += json{{"persona", std::string(9 << 20, 'x')}}.dump();
  std::ofstream(dir_ / "in.jsonl", std::ios::binary) << text;
  // When synth runs with at most one reject allowed
  std::vector<std::string> a = args(dir_ / "in.jsonl", out_);
  a.insert(a.end(), {"--max-rejects", "1"});
  Result r = run(a, server_.base_url());
  // Then the line is rejected once, as line 3, and the run succeeds
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> rejects = read_jsonl(read_file(out_ / "rejects.jsonl"));
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0]["line"], 3);
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
}

TEST_F(RunDirE2E, AReplyOverMaxReplyBytesIsAFailureAndNotRetried) {
  // Given a persona whose reply is 64 MiB, among ordinary ones
  std::vector<std::string> all = personas(3, "reply");
  all[1] += " [[fault:huge*always]]";
  fs::path input = write_personas("in.jsonl", all);
  // When synth runs with the default limit (8 MiB)
  Result r = run(args(input, out_), server_.base_url());
  // Then that reply is a failure that names the limit, asked for once, and the others are records
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(check_exactly_once(out_, "math", all));
  std::vector<json> failures = read_jsonl(read_file(out_ / "failures.jsonl"));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["kind"], "too_large");
  std::string reason = failures[0]["reason"];
  EXPECT_TRUE(contains(reason, "8388608")) << reason;
  EXPECT_TRUE(contains(reason, "--max-reply-bytes")) << reason;
  EXPECT_LT(reason.size(), 400u);
  EXPECT_EQ(server_.chat_request_count(), 3u);
  EXPECT_EQ(read_shards(out_, "math").size(), 2u);
  // And with a limit above the reply, the same reply is a record
  fs::path out2 = dir_ / "out2";
  std::vector<std::string> a = args(input, out2);
  a.insert(a.end(), {"--max-reply-bytes", std::to_string(100 << 20)});
  Result big = run(a, server_.base_url());
  EXPECT_EQ(big.exit_code, 0) << big.err;
  EXPECT_TRUE(check_exactly_once(out2, "math", all));
}

}  // namespace
}  // namespace personagen::e2e
