// batch run and cancel from the real binary against the test server's Files and Batches API: the
// round trip, an expired batch resubmitted once, a failed validation, kill -9 at every step, and
// a cancel.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "e2e/batch_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::ServerOptions;
using personagen::testing::TestServer;
using std::chrono::seconds;

class BatchRunE2E : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    batch_ = dir_ / "batch";
    names_ = personas(6);
    input_ = write_personas("p.jsonl", names_);
  }
  std::vector<std::string> args() const {
    return {"batch",
            "run",
            "-i",
            input_,
            "-t",
            "math",
            "-o",
            batch_,
            "-q",
            "--summary",
            dir_ / "s.json",
            "--poll-interval",
            "0.02"};
  }
  bool has_results() const {
    return fs::exists(batch_ / "results-requests-00000.jsonl") ||
           fs::exists(batch_ / "errors-requests-00000.jsonl");
  }

  fs::path batch_, input_;
  std::vector<std::string> names_;
};

TEST_F(BatchRunE2E, TheRoundTripWritesEveryRecordOnceAndSummarizesTheBatch) {
  TestServer server;
  Result r = run(args(), server.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(batch_, "math", names_));
  EXPECT_EQ(server.file_uploads(), 1u);
  EXPECT_EQ(server.batches_created(), 1u);
  json summary = read_json(dir_ / "s.json");
  EXPECT_EQ(summary["status"], "ok");
  ASSERT_EQ(summary["batches"].size(), 1u);
  EXPECT_EQ(summary["batches"][0]["status"], "completed");
  EXPECT_EQ(summary["batches"][0]["completed"], 6);
  EXPECT_TRUE(summary["batches"][0]["batch_id"].get<std::string>().starts_with("batch_"));
  // And the records are those of an import of the same results: attempts 1, the server's usage
  for (const json& record : read_shards(batch_, "math")) EXPECT_EQ(record["attempts"], 1);

  // A rerun has nothing to do, sends nothing, and its summary still holds the totals.
  Result again = run(args(), server.base_url());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.batches_created(), 1u);
  json rerun = read_json(dir_ / "s.json");
  EXPECT_EQ(rerun["totals"]["records"], 6) << rerun.dump();
  EXPECT_EQ(rerun["shards"], 1);
}

TEST_F(BatchRunE2E, AnExpiredBatchKeepsItsFinishedHalfAndSendsTheRestOnce) {
  // Given a server whose first batch expires after three of its six requests
  ServerOptions options;
  options.expire_batches = 1;
  options.batch_expire_after = 3;
  TestServer server(options);
  // When the run goes
  Result r = run(args(), server.base_url());
  // Then the three unrun requests went in a second batch, and every persona is written once
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(batch_, "math", names_));
  EXPECT_EQ(server.batches_created(), 2u);
  EXPECT_EQ(exported_requests(batch_, "requests-r1-").size(), 3u);
  json summary = read_json(dir_ / "s.json");
  ASSERT_EQ(summary["batches"].size(), 2u);
  EXPECT_EQ(summary["batches"][0]["status"], "expired");
  EXPECT_EQ(summary["batches"][1]["status"], "completed");
}

TEST_F(BatchRunE2E, ABatchThatFailsValidationStopsTheRunWithTheServersErrors) {
  ServerOptions options;
  options.batch_fail_validation = true;
  TestServer server(options);
  Result r = run(args(), server.base_url());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "failed validation")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(shard_files(batch_, "math").empty());
}

// kill -9 at one step of a run, then the same command again: no second upload, no second batch,
// every persona once.
TEST_F(BatchRunE2E, Kill9AtEveryStepNeverUploadsOrPaysTwice) {
  struct Step {
    const char* name;
    std::function<bool(const TestServer&)> reached;
  };
  const std::vector<Step> steps = {
      {"after upload", [](const TestServer& s) { return s.file_uploads() >= 1; }},
      {"after create", [](const TestServer& s) { return s.batches_created() >= 1; }},
      {"while polling", [](const TestServer& s) { return s.batch_polls() >= 2; }},
      {"while importing", [this](const TestServer&) { return has_results(); }},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.name);
    fs::remove_all(batch_);
    ServerOptions options;
    options.batch_delay_ms = 200;  // the batch runs while the client polls
    TestServer server(options);
    pid_t pid = spawn(args(), server.base_url());
    bool reached = wait_until([&] { return step.reached(server); }, seconds(30));
    kill(pid, SIGKILL);
    Result killed = wait(pid);
    EXPECT_TRUE(reached);
    Result again = run(args(), server.base_url());
    EXPECT_EQ(again.exit_code, 0) << killed.err << again.err;
    EXPECT_EQ(server.file_uploads(), 1u);
    EXPECT_EQ(server.batches_created(), 1u);
    EXPECT_TRUE(check_exactly_once(batch_, "math", names_));
  }
}

TEST_F(BatchRunE2E, ACancelImportsWhatFinishedAndResubmitsNothing) {
  // Given a run whose batch runs slowly, one request at a time
  ServerOptions options;
  options.batch_line_delay_ms = 150;
  TestServer server(options);
  pid_t pid = spawn(args(), server.base_url());
  ASSERT_TRUE(wait_until([&] { return server.batches_created() >= 1; }, seconds(30)));
  // When it is cancelled from another shell
  Result cancel = run({"batch", "cancel", batch_}, server.base_url());
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_EQ(server.batch_cancels(), 1u);
  // Then the run imports what the batch finished, fails the rest as not run, and sends nothing
  std::optional<Result> r = wait_for(pid, seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, 3) << r->err;
  EXPECT_EQ(server.batches_created(), 1u);
  size_t records = read_shards(batch_, "math").size();
  std::vector<json> failures = read_jsonl(read_file(batch_ / "failures.jsonl"));
  EXPECT_EQ(records + failures.size(), names_.size());
  ASSERT_FALSE(failures.empty());
  EXPECT_EQ(failures[0]["kind"], "not_run");
  json summary = read_json(dir_ / "s.json");
  EXPECT_EQ(summary["batches"][0]["status"], "cancelled");
}

}  // namespace
}  // namespace personagen::e2e
