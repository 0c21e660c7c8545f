// End-to-end tests: the real personagen binary against the local OpenAI-compatible test server.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

TEST_F(E2E, StdoutStreamsValidJsonl) {
  TestServer server;
  auto input = write_personas("in.jsonl", personas(5));
  Result r = run({"synth", "-i", input, "-t", "math", "-o", "-", "-q"}, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> records = read_jsonl(r.out);
  EXPECT_EQ(records.size(), 5u);
  for (const json& rec : records) EXPECT_EQ(rec["task"], "math");
}

TEST_F(E2E, OtherFormats) {
  TestServer server;
  auto input = write_personas("in.jsonl", personas(2));
  Result r = run({"synth", "-i", input, "-t", "tool", "-o", "-", "--format", "personahub", "-q"},
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& rec : read_jsonl(r.out)) {
    EXPECT_TRUE(rec.contains("input persona"));
    EXPECT_EQ(rec["description"], "tool development");
    json decoded =
        json::parse(json::parse(rec["synthesized text"].get<std::string>()).get<std::string>());
    EXPECT_EQ(decoded["type"], "function");
  }
  r = run({"synth", "-i", input, "-t", "math", "-o", "-", "--format", "chat", "-q"},
          server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& rec : read_jsonl(r.out)) {
    ASSERT_EQ(rec["messages"].size(), 2u);
    EXPECT_EQ(rec["messages"][1]["role"], "assistant");
  }
}

TEST_F(E2E, RetriesFailuresAndRejectsAreRecorded) {
  TestServer server;
  fs::path input = dir_ / "in.jsonl";
  {
    std::ofstream out(input);
    out << json{{"persona", "retry me [[fault:503*2]]"}}.dump() << "\n";
    out << json{{"persona", "rate limited [[fault:429ra*1]]"}}.dump() << "\n";
    out << json{{"persona", "not found [[fault:404*always]]"}}.dump() << "\n";
    out << "this is not json\n";
    out << json{{"name", "no persona field"}}.dump() << "\n";
    out << json{{"persona", "fine"}}.dump() << "\r\n";
    out << json{{"persona", "cut off once [[fault:length*1]]"}}.dump() << "\n";
  }
  fs::path out = dir_ / "out";
  fs::path summary = dir_ / "summary.json";
  Result r = run({"synth", "-i", input, "-t", "math", "-o", out, "--summary", summary, "-q"},
                 server.base_url());
  // Done, but one record failed: exit code 3.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  std::map<std::string, int> attempts;
  for (const json& rec : read_shards(out, "math")) attempts[rec["persona"]] = rec["attempts"];
  EXPECT_EQ(attempts.size(), 4u);
  EXPECT_EQ(attempts["retry me [[fault:503*2]]"], 3);
  EXPECT_EQ(attempts["rate limited [[fault:429ra*1]]"], 2);
  EXPECT_EQ(attempts["fine"], 1);
  EXPECT_EQ(attempts["cut off once [[fault:length*1]]"], 2);

  auto failures = read_jsonl(read_file(out / "failures.jsonl"));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["status"], 404);
  EXPECT_EQ(failures[0]["line"], 3);
  EXPECT_EQ(failures[0]["attempts"], 1);

  auto rejects = read_jsonl(read_file(out / "rejects.jsonl"));
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[0]["line"], 4);
  EXPECT_EQ(rejects[1]["line"], 5);

  json s = json::parse(read_file(summary));
  EXPECT_EQ(s["status"], "some_failed");
  EXPECT_EQ(s["totals"]["records"], 4);
  EXPECT_EQ(s["totals"]["failed"], 1);
  EXPECT_EQ(s["totals"]["rejected"], 2);
}

TEST_F(E2E, RerunIsIdempotentAndADifferentConfigIsRefused) {
  TestServer server;
  auto input = write_personas("in.jsonl", personas(4));
  fs::path out = dir_ / "out";
  std::vector<std::string> args{"synth", "-i", input, "-t", "math", "-o", out, "-q"};
  ASSERT_EQ(run(args, server.base_url()).exit_code, 0);
  size_t requests = server.chat_request_count();

  // Rerunning the same command does nothing more.
  Result again = run(args, server.base_url());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.chat_request_count(), requests);
  EXPECT_EQ(read_shards(out, "math").size(), 4u);

  // Another model into the same directory is refused, naming the difference.
  auto other = args;
  other.insert(other.end(), {"--model", "other-model"});
  Result refused = run(other, server.base_url());
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("model"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("other-model"), std::string::npos) << refused.err;

  // --restart starts over.
  other.push_back("--restart");
  EXPECT_EQ(run(other, server.base_url()).exit_code, 0);
  EXPECT_EQ(server.chat_request_count(), requests + 4);
}

TEST_F(E2E, AuthFailureStopsAtOnceWithOneLineAndNeverShowsTheKey) {
  ServerOptions options;
  options.api_key = "right-key";
  TestServer server(options);
  auto input = write_personas("in.jsonl", personas(50));
  fs::path key_file = dir_ / "key";
  std::ofstream(key_file) << "sk-wrong-secret-key\n";
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "--api-key-file",
                  key_file, "-j", "2", "-q"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(server.chat_request_count(), 50u);
  EXPECT_EQ(r.err.find("sk-wrong-secret-key"), std::string::npos);
  EXPECT_EQ(r.out.find("sk-wrong-secret-key"), std::string::npos);
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out"))
    EXPECT_EQ(read_file(entry.path()).find("sk-wrong-secret-key"), std::string::npos)
        << entry.path();

  // With the right key, from the environment, the same run resumes and completes.
  Result ok = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "-q"}, server.base_url(),
                  {{"OPENAI_API_KEY", "right-key"}});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(read_shards(dir_ / "out", "math").size(), 50u);
  // The key goes only where it belongs: in the Authorization header.
  for (const auto& header : server.authorization_headers()) {
    EXPECT_TRUE(header == "Bearer right-key" || header == "Bearer sk-wrong-secret-key") << header;
  }
}

TEST_F(E2E, SigtermCheckpointsExits130AndTheRerunFinishesExactlyOnce) {
  auto input = write_personas("in.jsonl", personas(200));
  fs::path out = dir_ / "out";
  std::vector<std::string> args{"synth", "-i", input,          "-t", "math",    "-o", out,
                                "-j",    "8",  "--shard-size", "16", "--grace", "5",  "-q"};
  {
    ServerOptions slow;
    slow.delay_ms = 50;
    TestServer server(slow);
    pid_t pid = spawn(args, server.base_url());
    // Wait (bounded) until the run is well under way, then interrupt it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (server.chat_request_count() < 40 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polls the condition
    ASSERT_GE(server.chat_request_count(), 40u);
    kill(pid, SIGTERM);
    Result r = wait(pid);
    EXPECT_EQ(r.exit_code, 130) << r.err;
    EXPECT_LT(read_shards(out, "math").size(), 200u);
  }
  TestServer server;
  Result r = run(args, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> records = read_shards(out, "math");
  std::multiset<std::string> seen;
  for (const json& rec : records) seen.insert(rec["persona"]);
  auto expected = personas(200);
  EXPECT_EQ(seen, std::multiset<std::string>(expected.begin(), expected.end()));
}

TEST_F(E2E, RenderPrintsBodiesWithoutNetwork) {
  auto input = write_personas("in.jsonl", personas(3));
  Result r = run({"render", "-i", input, "-t", "npc", "-m", "few-shot", "--model", "m"},
                 "http://127.0.0.1:9/v1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> bodies = read_jsonl(r.out);
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[0]["model"], "m");
  EXPECT_NE(bodies[0]["messages"][0]["content"].get<std::string>().find(personas(3)[0]),
            std::string::npos);
}

TEST_F(E2E, SystemAndExtraBodyReachEveryRequest) {
  // Given a system message and extra fields for a vLLM server (no thinking, a fixed seed)
  auto input = write_personas("in.jsonl", personas(3));
  const std::vector<std::string> extras{
      "--system", "You write for children.", "--extra-body",
      R"({"seed":7,"chat_template_kwargs":{"enable_thinking":false}})"};
  std::vector<std::string> render{"render", "-i", input, "-t", "math", "--model", "m"};
  render.insert(render.end(), extras.begin(), extras.end());

  // When the requests are rendered, then each carries both
  Result r = run(render, "http://127.0.0.1:9/v1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> bodies = read_jsonl(r.out);
  ASSERT_EQ(bodies.size(), 3u);
  for (const json& body : bodies) {
    EXPECT_EQ(body["messages"][0],
              (json{{"role", "system"}, {"content", "You write for children."}}));
    EXPECT_EQ(body["messages"][1]["role"], "user");
    EXPECT_EQ(body["seed"], 7);
    EXPECT_EQ(body["chat_template_kwargs"]["enable_thinking"], false);
  }

  // And a run with them makes its records, and refuses to resume without them
  TestServer server;
  std::vector<std::string> synth{"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "-q"};
  std::vector<std::string> with = synth;
  with.insert(with.end(), extras.begin(), extras.end());
  ASSERT_EQ(run(with, server.base_url()).exit_code, 0);
  EXPECT_EQ(read_shards(dir_ / "out", "math").size(), 3u);
  Result without = run(synth, server.base_url());
  EXPECT_EQ(without.exit_code, 2);
  EXPECT_NE(without.err.find("extra_body is gone"), std::string::npos) << without.err;

  // And an extra body that is not a JSON object is a usage error naming the flag
  render.back() = "[1]";
  Result bad = run(render, "http://127.0.0.1:9/v1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--extra-body: not an object"), std::string::npos) << bad.err;
}

TEST_F(E2E, DecontamDropsSynthRecordsThatQuoteATestSet) {
  // Given math records, one of which quotes a test-set question word for word
  TestServer server;
  const std::string question =
      "A baker fills 12 trays with 30 rolls each and sells all but 17 of them. How many rolls "
      "did the baker sell?";
  auto input = write_personas("in.jsonl", {"A teacher", "A pilot"});
  ASSERT_EQ(run({"synth", "-i", input, "-t", "math", "-o", dir_ / "math", "-q"}, server.base_url())
                .exit_code,
            0);
  fs::path records = dir_ / "records.jsonl";
  {
    std::ofstream out(records);
    for (const json& record : read_shards(dir_ / "math", "math")) out << record.dump() << "\n";
    out << json{{"custom_id", "pg-leak"}, {"output", "Problem: " + question}}.dump() << "\n";
  }
  fs::path test = dir_ / "test.jsonl";
  std::ofstream(test) << json{{"question", question}, {"answer", "343"}}.dump() << "\n";

  // When decontam runs from the command line
  Result r = run({"decontam", "-i", records, "--against", test, "-o", dir_ / "clean.jsonl",
                  "--report", dir_ / "dropped.jsonl"},
                 "http://127.0.0.1:9/v1");

  // Then the synthesized records are kept, the leak is dropped, and one line says so
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_jsonl(read_file(dir_ / "clean.jsonl")).size(), 2u);
  std::vector<json> dropped = read_jsonl(read_file(dir_ / "dropped.jsonl"));
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]["line"], 3);
  EXPECT_NE(r.err.find("decontam kept 2 of 3 records (1 share a 13-word run"), std::string::npos)
      << r.err;
}

TEST_F(E2E, UsageErrorsExitWith2) {
  auto input = write_personas("in.jsonl", personas(1));
  EXPECT_EQ(
      run({"synth", "-i", input, "-t", "poetry", "-o", "-"}, "http://127.0.0.1:9/v1").exit_code, 2);
  EXPECT_EQ(run({"synth", "-i", input, "-t", "math"}, "http://127.0.0.1:9/v1").exit_code, 2);
  Result missing =
      run({"synth", "-i", dir_ / "nope.jsonl", "-t", "math", "-o", "-"}, "http://127.0.0.1:9/v1");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.jsonl"), std::string::npos) << missing.err;
  Result tasks = run({"tasks"}, "http://127.0.0.1:9/v1");
  EXPECT_EQ(tasks.exit_code, 0);
  for (const char* task : kBuiltinTasks) EXPECT_NE(tasks.out.find(task), std::string::npos);
}

TEST_F(E2E, ARunOverARegeneratedInputIsRefusedNotMixedOrSkipped) {
  auto input = write_personas("in.jsonl", personas(60));
  fs::path out = dir_ / "out";
  std::vector<std::string> args{"synth", "-i", input, "-t", "math", "-o", out, "-j", "2", "-q"};
  // Given a run interrupted part-way
  ASSERT_EQ(interrupted_run(args, 6, 50).exit_code, 130);
  TestServer server;
  // When the input is regenerated under the same path, then the resume is refused with one
  // line naming the file, and nothing is requested
  write_personas("in.jsonl", personas(60, "regenerated"));
  Result refused = run(args, server.base_url());
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find(input.string() + " changed since this run began (size "),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(server.chat_request_count(), 0u);
  // When the original input is back, then the run finishes exactly once
  write_personas("in.jsonl", personas(60));
  ASSERT_EQ(run(args, server.base_url()).exit_code, 0);
  EXPECT_TRUE(check_exactly_once(out, "math", personas(60)));
  // When a finished run's input is regenerated, then the rerun fails instead of "nothing to do"
  write_personas("in.jsonl", personas(60, "regenerated"));
  size_t requests = server.chat_request_count();
  refused = run(args, server.base_url());
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("use a new --output, or --restart"), std::string::npos) << refused.err;
  EXPECT_EQ(server.chat_request_count(), requests);
}

TEST_F(E2E, RetryFailedMayRaiseMaxTokensAndRecordsIt) {
  TestServer server;
  std::vector<std::string> list = personas(6);
  list[2] += " [[fault:404*1]]";
  auto input = write_personas("in.jsonl", list);
  std::vector<std::string> args{"synth", "-i", input, "-t", "math", "-o", dir_ / "out"};
  // Given a finished run with one failure
  ASSERT_EQ(run(args, server.base_url()).exit_code, 3);
  size_t before = server.chat_request_count();
  // When --retry-failed raises --max-tokens, then only the failure is asked again, with it
  // (the test server fails the first attempt of each new body, so it fails once more)
  auto retry = args;
  retry.insert(retry.end(), {"--retry-failed", "--max-tokens", "2048", "--log-level", "info"});
  Result r = run(retry, server.base_url());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  ASSERT_EQ(server.chat_request_count(), before + 1);
  EXPECT_EQ(json::parse(server.chat_requests().back())["max_tokens"], 2048);
  // And one info line names the change
  EXPECT_NE(r.err.find("max_tokens was \"server default\", now \"2048\""), std::string::npos)
      << r.err;
  // When it is retried again with the same setting, then it succeeds
  r = run(retry, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.chat_request_count(), before + 2);
  EXPECT_TRUE(check_exactly_once(dir_ / "out", "math", list));
  // And the run now records it: the same flags find it complete, the old ones are refused
  auto same = args;
  same.insert(same.end(), {"--max-tokens", "2048"});
  EXPECT_EQ(run(same, server.base_url()).exit_code, 0);
  Result plain = run(args, server.base_url());
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_NE(plain.err.find("max_tokens was \"2048\""), std::string::npos) << plain.err;
  EXPECT_EQ(server.chat_request_count(), before + 2);
}

TEST_F(E2E, HopsResumeOverTheShardOfTheFinishedHop) {
  auto input = write_personas("in.jsonl", personas(3));
  fs::path out = dir_ / "out";
  std::vector<std::string> args{
      "synth", "-t", "persona-to-persona", "-i", input, "--hops", "2", "-o", out, "-j", "1", "-q"};
  // Given a two-hop expansion interrupted during hop 2 (hop 1 makes 3 requests)
  ASSERT_EQ(interrupted_run(args, 5, 100).exit_code, 130);
  ASSERT_TRUE(fs::exists(out / "hop-2/manifest.json"));
  json manifest = json::parse(read_file(out / "hop-2/manifest.json"));
  EXPECT_EQ(manifest["input_files"][0]["size"],
            fs::file_size(out / "hop-1/persona-to-persona-00000.jsonl"));
  // When it is rerun, then hop 2 resumes over hop 1's shard and finishes: 9 x 3 personas
  TestServer server;
  Result r = run(args, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> hop2 = read_jsonl(read_file(out / "hop-2/persona-to-persona-00000.jsonl"));
  EXPECT_EQ(hop2.size(), 27u);
  std::set<std::string> ids;
  for (const json& record : hop2) ids.insert(record["custom_id"]);
  EXPECT_EQ(ids.size(), 27u);
}

}  // namespace
}  // namespace personagen::e2e
