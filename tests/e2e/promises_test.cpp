// End-to-end: the promises outside the main path (issue 9) on the real binary: exactly once for
// lines with several requests, a kill -9 that costs only what was in flight, honest token
// counts, a broken configuration or an outage that burns nothing, and progress that tells the
// truth.
#include <gtest/gtest.h>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using namespace std::chrono_literals;
using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

// Complete lines of a file (a torn last line does not count).
size_t complete_lines(const fs::path& path) {
  std::string text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST_F(E2E, RetryFailedSendsOnlyTheFailedRequestsOfALine) {
  // Given text-to-persona with two relations, where 30% of the requests fail for good,
  fs::path texts = write_texts(dir_ / "texts.jsonl", 40);
  fs::path out = dir_ / "out";
  std::vector<std::string> args{
      "synth", "-t",         "text-to-persona", "-i", texts,           "-o",
      out,     "--relation", "read,like",       "-q", "--max-retries", "0"};
  {
    ServerOptions faulty;
    faulty.fault_rate = 0.3;
    faulty.fault_kinds = {"500"};
    TestServer server(faulty);
    Result r = run(args, server.base_url());
    ASSERT_EQ(r.exit_code, 3) << r.err;
  }
  std::vector<json> failures = read_jsonl(read_file(out / "failures.jsonl"));
  ASSERT_FALSE(failures.empty());
  for (const json& f : failures) EXPECT_TRUE(f.contains("request")) << f.dump();

  // when --retry-failed runs against a healthy server,
  TestServer server;
  args.push_back("--retry-failed");
  Result r = run(args, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // then it sent only the failed requests, and every (text, relation) is there exactly once.
  EXPECT_EQ(server.chat_request_count(), failures.size());
  std::vector<json> records = read_shards(out, "text-to-persona");
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const json& rec : records) ++seen[{rec["source"], rec["relation"]}];
  EXPECT_EQ(records.size(), 80u);
  EXPECT_EQ(seen.size(), 80u);
}

TEST_F(E2E, ARelationGivenTwiceIsAUsageErrorAndManyRelationsDoNotCrash) {
  TestServer server;
  fs::path texts = write_texts(dir_ / "texts.jsonl", 2);
  for (std::string relations :
       {"read,read", "read,write,like,dislike,read,write,like,dislike,read"}) {
    Result r = run(
        {"synth", "-t", "text-to-persona", "-i", texts, "-o", dir_ / "o", "--relation", relations},
        server.base_url());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--relation read is given twice"), std::string::npos) << r.err;
    EXPECT_TRUE(no_crash_output(r.err));
  }
  EXPECT_EQ(server.chat_request_count(), 0u);
}

TEST_F(E2E, AHopWithoutPersonasEndsTheExpansionWithExit3) {
  // Given a persona-to-persona expansion whose first hop fails for every persona,
  fs::path input = write_personas("seeds.jsonl", personas(3));
  fs::path summary = dir_ / "summary.json";
  ServerOptions failing;
  failing.fault_rate = 1;
  failing.fault_kinds = {"500"};
  TestServer server(failing);
  Result r = run({"synth", "-t", "persona-to-persona", "-i", input, "-o", dir_ / "p2p", "--hops",
                  "3", "--max-retries", "0", "--summary", summary, "-q"},
                 server.base_url());
  // then the expansion ends after it: exit 3, no hop 2, and the summary names the empty hop.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("cannot open"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "p2p/hop-2"));
  json s = read_json(summary);
  EXPECT_EQ(s["failed_hop"], 1) << s.dump();
  EXPECT_NE(s["message"].get<std::string>().find("hop 1 made no personas"), std::string::npos)
      << s.dump();
}

TEST_F(E2E, KillNineKeepsWhatWasWrittenSinceTheCheckpoint) {
  // Given a run that never checkpoints after it starts, writing small shards,
  const int n = 400;
  std::vector<std::string> all = personas(n);
  fs::path input = write_personas("in.jsonl", all);
  fs::path out = dir_ / "out";
  std::vector<std::string> args{"synth",
                                "-i",
                                input,
                                "-t",
                                "math",
                                "-o",
                                out,
                                "-q",
                                "-j",
                                "4",
                                "--shard-size",
                                "30",
                                "--checkpoint-interval",
                                "1000"};
  size_t kept = 0;
  {
    ServerOptions slow;
    slow.delay_ms = 5;
    TestServer server(slow);
    pid_t pid = spawn(args, server.base_url());
    // when it is killed with -9 after about 150 records,
    ASSERT_TRUE(wait_until(
        [&] {
          size_t lines = 0;
          if (fs::exists(out))
            for (const auto& shard : shard_files(out, "math")) lines += complete_lines(shard);
          return lines >= 150;
        },
        60s, 5ms));
    kill(pid, SIGKILL);
    Result killed = wait(pid);
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "the kill did not land: " << killed.err;
    for (const auto& entry : fs::directory_iterator(out)) {
      std::string name = entry.path().filename();
      if (name.rfind("math-", 0) == 0) kept += complete_lines(entry.path());
    }
  }
  ASSERT_GE(kept, 150u);
  // then a rerun keeps those records and requests only the rest, give or take what was in
  // flight (4) and the replies of the loop turn the kill interrupted (4).
  TestServer server;
  Result r = run(args, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(out, "math", all));
  EXPECT_LE(server.chat_request_count(), n - kept + 8);
  EXPECT_FALSE(fs::exists(out / "checkpoint.journal")) << "a complete run keeps no journal";
}

TEST_F(E2E, TokensOfEveryBilledReplyAreCountedAndLengthRetriesAreBounded) {
  // Given one persona whose first reply is cut off, and one that is always cut off,
  TestServer server;
  fs::path input =
      write_personas("in.jsonl", {"cut once [[fault:length*1]]", "cut ever [[fault:length*9]]"});
  fs::path summary = dir_ / "summary.json";
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "--summary", summary,
                  "-q", "-j", "1"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  // then the always-cut one is sent twice (one length retry by default), and its failure says
  // that --max-tokens is the fix,
  EXPECT_EQ(server.chat_request_count(), 4u);
  json failure = read_jsonl(read_file(dir_ / "out/failures.jsonl")).at(0);
  EXPECT_EQ(failure["kind"], "truncated");
  EXPECT_NE(failure["reason"].get<std::string>().find("--max-tokens"), std::string::npos);
  EXPECT_EQ(failure["attempts"], 2);
  // and the summary counts the tokens of all four billed replies, apart from the accepted one.
  json s = read_json(summary);
  const json& t = s["totals"];
  EXPECT_GT(t["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(t["billed_prompt_tokens"].get<int>(), 4 * t["prompt_tokens"].get<int>()) << t.dump();
  EXPECT_GT(t["billed_completion_tokens"].get<int>(), t["completion_tokens"].get<int>());

  // And --length-retries 0 sends each cut-off request once.
  TestServer once;
  Result r0 = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out0", "-q",
                   "--length-retries", "0", "-j", "1"},
                  once.base_url());
  EXPECT_EQ(r0.exit_code, 3) << r0.err;
  EXPECT_EQ(once.chat_request_count(), 2u);
}

TEST_F(E2E, ABrokenConfigurationCostsOneRequest) {
  std::vector<std::string> many = personas(100);
  fs::path input = write_personas("in.jsonl", many);
  // Given a wrong key: the run stops after one request, not a window of 64.
  ServerOptions keyed;
  keyed.api_key = "right-key";
  TestServer server(keyed);
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "k", "-q"}, server.base_url(),
                 {{"OPENAI_API_KEY", "wrong-key"}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(server.chat_request_count(), 1u);
  // Given a server that refuses every request (a wrong model or path answers 404): one request
  // and one line that says the configuration looks wrong.
  fs::path refused = write_personas("refused.jsonl", personas(100, "[[fault:404*always]]"));
  TestServer plain;
  Result m = run({"synth", "-i", refused, "-t", "math", "-o", dir_ / "m"}, plain.base_url());
  EXPECT_EQ(m.exit_code, 1) << m.err;
  EXPECT_EQ(plain.chat_request_count(), 1u);
  EXPECT_NE(m.err.find("configuration looks wrong"), std::string::npos) << m.err;
  EXPECT_TRUE(no_crash_output(m.err));
}

TEST_F(E2E, AnOutageIsWaitedOutInsteadOfFailingTheInput) {
  // Given an endpoint that is down when the run starts,
  int port = 0;
  {
    TestServer probe;
    port = probe.port();
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  std::vector<std::string> some = personas(30);
  fs::path input = write_personas("in.jsonl", some);
  pid_t pid = spawn({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "--max-retries", "1",
                     "--outage-wait", "60"},
                    url);
  // when the run notices the outage and the endpoint comes back,
  ASSERT_TRUE(wait_until(
      [&] {
        return read_file(dir_ / "run.stderr").find("no endpoint can be reached") !=
               std::string::npos;
      },
      30s, 10ms))
      << read_file(dir_ / "run.stderr");
  ServerOptions back;
  back.port = port;
  TestServer server(back);
  std::optional<Result> r = wait_for(pid, 60s);
  ASSERT_TRUE(r.has_value());
  // then nothing failed: every persona has its record.
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_TRUE(check_exactly_once(dir_ / "out", "math", some));
  EXPECT_FALSE(fs::exists(dir_ / "out/failures.jsonl"));
}

TEST_F(E2E, AnEndpointNeverReachedStopsTheRunAfterTheOutageWait) {
  int port = 0;
  {
    TestServer probe;
    port = probe.port();
  }
  fs::path input = write_personas("in.jsonl", personas(20));
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "-q", "--max-retries",
                  "0", "--outage-wait", "0.5"},
                 "http://127.0.0.1:" + std::to_string(port) + "/v1");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("check --base-url"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out/failures.jsonl")) << "nothing is failed for an outage";
}

}  // namespace
}  // namespace personagen::e2e
