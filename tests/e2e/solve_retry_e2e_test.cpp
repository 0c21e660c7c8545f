// solve --retry-failed on the real binary: a failed line keeps the samples that succeeded (they
// were billed) in its failure, and a retry pass, live or as a batch's next round, sends only the
// failed samples and votes with the kept ones, however often the line fails again; a list that
// does not fit its line is refused before anything is sent. (That a failures file without kept
// samples sends every sample again is unit-tested: RetryWants, KeptSamplesTest.)
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "e2e/batch_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

class SolveRetry : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    out_ = dir_ / "solve";
    // Problem A's three samples are one body (no seed): its first two attempts get a 500, so two
    // samples fail for good and one succeeds, which cannot make 2 of 3 agree. B is healthy.
    std::ofstream(dir_ / "problems.jsonl")
        << json{{"custom_id", "pg-src-a"}, {"output", "Problem A [[fault:500*2]]"}}.dump() << "\n"
        << json{{"custom_id", "pg-src-b"}, {"output", "Problem B"}}.dump() << "\n";
  }

  std::vector<std::string> args(const std::string& summary, bool retry) const {
    std::vector<std::string> a{"synth",       "-t", "solve",         "-i", dir_ / "problems.jsonl",
                               "-o",          out_, "--samples",     "3",  "--agree",
                               "2",           "-q", "--max-retries", "0",  "--summary",
                               dir_ / summary};
    if (retry) a.push_back("--retry-failed");
    return a;
  }

  // Requests the server received from `from` on that are of problem `name`.
  static size_t requests_of(const TestServer& server, size_t from, const std::string& name) {
    std::vector<std::string> bodies = server.chat_requests();
    size_t n = 0;
    for (size_t i = from; i < bodies.size(); ++i) n += contains(bodies[i], name);
    return n;
  }

  // Problem A's first run: two failures, the first keeping the sample that succeeded.
  json fail_problem_a(TestServer& server) {
    Result r = run(args("first.json", false), server.base_url());
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(server.chat_request_count(), 6u);
    std::vector<json> failures = read_jsonl(read_file(out_ / "failures.jsonl"));
    EXPECT_EQ(failures.size(), 2u);
    if (failures.size() != 2u) return json::object();
    EXPECT_EQ(failures[0]["line"], 1);
    EXPECT_FALSE(failures[1].contains("kept_samples"));
    EXPECT_EQ(failures[0]["kept_samples"].size(), 1u);
    return failures;
  }

  fs::path out_;
};

TEST_F(SolveRetry, ARetryPassSendsOnlyTheFailedSamplesAndVotesWithTheKeptOne) {
  // Given a solve run where two of problem A's samples failed for good and one succeeded
  TestServer server;
  json failures = fail_problem_a(server);
  ASSERT_EQ(failures.size(), 2u);
  const json kept = failures[0]["kept_samples"][0];
  // the kept sample is the one that did not fail, with what it was billed
  for (const json& f : failures) EXPECT_NE(f["request"], kept["request"]);
  EXPECT_EQ(kept["attempts"], 1);
  EXPECT_GT(kept["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_NE(kept["output"].get<std::string>().find("\\boxed{"), std::string::npos) << kept;
  ASSERT_EQ(read_shards(out_, "solve").size(), 1u);  // problem B

  // When --retry-failed runs with the server healthy (A's faults are used up)
  size_t before = server.chat_request_count();
  Result r = run(args("retry.json", true), server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Then the server received A's two failed samples and nothing else
  EXPECT_EQ(server.chat_request_count() - before, 2u);
  EXPECT_EQ(requests_of(server, before, "Problem A"), 2u);
  // And A's record holds the kept sample unchanged, beside the two new ones, all three agreeing
  std::vector<json> records = read_shards(out_, "solve");
  ASSERT_EQ(records.size(), 2u);
  const json& a = records[0]["source_id"] == "pg-src-a" ? records[0] : records[1];
  ASSERT_EQ(a["source_id"], "pg-src-a");
  EXPECT_EQ(a["verified"], true);
  EXPECT_EQ(a["agreement"], "3/3");
  ASSERT_EQ(a["samples"].size(), 3u);
  const json& same = a["samples"][kept["request"].get<size_t>()];
  EXPECT_EQ(same["custom_id"], kept["custom_id"]);
  EXPECT_EQ(same["output"], kept["output"]);
  EXPECT_EQ(same["answer"], kept["answer"]);
  EXPECT_EQ(same["attempts"], kept["attempts"]);
  for (const json& f : failures)
    EXPECT_EQ(a["samples"][f["request"].get<size_t>()]["custom_id"], f["custom_id"]);
  EXPECT_TRUE(read_file(out_ / "failures.jsonl").empty());

  // And the retry pass billed the two samples only: its tokens are the record's less the kept
  // sample's, which the first run had counted, and the totals count every request once
  json summary = read_json(dir_ / "retry.json");
  const json& run_totals = summary["this_run"];
  EXPECT_EQ(run_totals["requests"], 2);
  EXPECT_EQ(run_totals["failed"], 0);
  EXPECT_EQ(
      run_totals["billed_prompt_tokens"].get<int64_t>(),
      a["usage"]["prompt_tokens"].get<int64_t>() - kept["usage"]["prompt_tokens"].get<int64_t>());
  EXPECT_EQ(run_totals["billed_completion_tokens"].get<int64_t>(),
            a["usage"]["completion_tokens"].get<int64_t>() -
                kept["usage"]["completion_tokens"].get<int64_t>());
  EXPECT_EQ(summary["totals"]["requests"], 8);
  json first = read_json(dir_ / "first.json");
  EXPECT_EQ(summary["totals"]["billed_prompt_tokens"].get<int64_t>(),
            first["totals"]["billed_prompt_tokens"].get<int64_t>() +
                run_totals["billed_prompt_tokens"].get<int64_t>());
}

TEST_F(SolveRetry, AFailedSamplePastKIsRefusedBeforeAnythingIsSentAndTheRunStaysAsItWas) {
  // Given problem A's failures where the second names sample 7 of 3 (same length): with its
  // kept sample, the line would send nothing and vanish from the retry pass
  TestServer server;
  ASSERT_EQ(fail_problem_a(server).size(), 2u);
  std::string text = read_file(out_ / "failures.jsonl");
  size_t at = text.find("\"request\":", text.find('\n') + 1);
  ASSERT_NE(at, std::string::npos) << text;
  text[at + 10] = '7';
  std::ofstream(out_ / "failures.jsonl", std::ios::trunc) << text;

  // When --retry-failed runs, then it stops before sending anything, with one line naming the
  // file, the record and what it expected
  size_t before = server.chat_request_count();
  Result r = run(args("retry.json", true), server.base_url());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, (out_ / "failures.jsonl").string() +
                                  ":1: input line 1: failed sample 7 is past --samples 3"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "expected its 3 samples, 0 to 2")) << r.err;
  EXPECT_EQ(server.chat_request_count(), before);
  // And failures.jsonl is still in place, so a plain rerun finds the run as it was
  EXPECT_EQ(read_file(out_ / "failures.jsonl"), text);
  EXPECT_FALSE(fs::exists(out_ / "failures.retry.jsonl"));
  Result plain = run(args("plain.json", false), server.base_url());
  EXPECT_EQ(plain.exit_code, 3) << plain.err;
  EXPECT_EQ(server.chat_request_count(), before);
}

TEST_F(SolveRetry, ABatchLineThatFailsAgainKeepsTheOldAndTheNewSamplesUntilItsVoteIsIn) {
  // Given a solve batch of one problem whose samples answer 7, 9 and 7 (by seed)
  TestServer server;
  std::ofstream(dir_ / "one.jsonl")
      << json{{"output", "Problem C [[answers: 7|9|7]]"}}.dump() << "\n";
  fs::path batch = dir_ / "batch";
  Result exported = run({"batch", "export", "-i", dir_ / "one.jsonl", "-t", "solve", "-o", batch,
                         "--samples", "3", "--agree", "2", "--extra-body", R"({"seed": 0})", "-q"},
                        "");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  httplib::Client client("127.0.0.1", server.port());
  // Answers the requests of a round whose seed is in `answered` and expires the others, then
  // imports them; the import's exit code.
  auto round = [&](const std::vector<ExportedRequest>& requests, std::vector<int> answered) {
    std::string results;
    for (const ExportedRequest& request : requests) {
      int seed = request.body["seed"];
      results += std::find(answered.begin(), answered.end(), seed) != answered.end()
                     ? result_line(request.custom_id, 200, answer(client, request.body))
                     : expired_line(request.custom_id);
    }
    std::ofstream(dir_ / "results.jsonl", std::ios::trunc) << results;
    Result imported = run({"batch", "import", "-i", dir_ / "results.jsonl", "-o", batch, "-q"}, "");
    EXPECT_NE(imported.exit_code, 1) << imported.err;
    return imported.exit_code;
  };
  auto kept_requests = [&] {
    std::vector<json> failures = read_jsonl(read_file(batch / "failures.jsonl"));
    std::vector<int> kept;
    if (!failures.empty() && failures[0].contains("kept_samples"))
      for (const json& k : failures[0]["kept_samples"]) kept.push_back(k["request"]);
    return kept;
  };

  // When round 0 answers sample 0 (7) only, then the line fails, keeping sample 0
  std::vector<ExportedRequest> r0 = exported_requests(batch);
  ASSERT_EQ(r0.size(), 3u);
  EXPECT_EQ(round(r0, {0}), 3);
  EXPECT_EQ(kept_requests(), (std::vector<int>{0}));
  auto sample0 = std::find_if(r0.begin(), r0.end(),
                              [](const ExportedRequest& r) { return r.body["seed"] == 0; });
  ASSERT_NE(sample0, r0.end());

  // When round 1 sends samples 1 and 2, answers sample 1 (9) and expires sample 2
  ASSERT_EQ(run({"batch", "export", "--retry-failed", batch, "-q"}, "").exit_code, 0);
  std::vector<ExportedRequest> r1 = exported_requests(batch, "requests-r1-");
  ASSERT_EQ(r1.size(), 2u);
  EXPECT_EQ(round(r1, {1}), 3);
  // Then the line fails again, its new failure keeping the old sample 0 as it was and sample 1
  EXPECT_EQ(kept_requests(), (std::vector<int>{0, 1}));
  std::vector<json> failures = read_jsonl(read_file(batch / "failures.jsonl"));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["request"], 2);
  EXPECT_EQ(failures[0]["kept_samples"][0]["custom_id"], sample0->custom_id);

  // When round 2 sends sample 2 alone and it answers 7
  ASSERT_EQ(run({"batch", "export", "--retry-failed", batch, "-q"}, "").exit_code, 0);
  std::vector<ExportedRequest> r2 = exported_requests(batch, "requests-r2-");
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].body["seed"], 2);
  auto requests = [&] {
    return read_json(batch / "manifest.json")["checkpoint"]["totals"]["requests"].get<uint64_t>();
  };
  uint64_t requests_before = requests();
  EXPECT_EQ(round(r2, {2}), 0);
  // Then the problem is kept by 7, 9, 7, with the samples of rounds 0 and 1 as they were
  std::vector<json> records = read_shards(batch, "solve");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["agreement"], "2/3");
  EXPECT_EQ(records[0]["answer"], "7");
  for (const json& k : failures[0]["kept_samples"]) {
    const json& sample = records[0]["samples"][k["request"].get<size_t>()];
    EXPECT_EQ(sample["custom_id"], k["custom_id"]);
    EXPECT_EQ(sample["output"], k["output"]);
  }
  EXPECT_EQ(records[0]["samples"][2]["custom_id"], r2[0].custom_id);
  // And the round counted its one request only
  EXPECT_EQ(requests() - requests_before, 1u);
  EXPECT_TRUE(read_file(batch / "failures.jsonl").empty());
}

}  // namespace
}  // namespace personagen::e2e
