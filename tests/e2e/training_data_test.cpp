// The training-data tasks on the real binary against the test server: solve with answer
// agreement, respond, converse, --samples and reasoning models (issue 11).
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

class TrainingData : public E2E {
 protected:
  // Records as synth writes them: an output, its persona and its custom_id.
  fs::path write_records(const std::string& name, const std::vector<std::string>& outputs) {
    fs::path path = dir_ / name;
    std::ofstream out(path);
    for (size_t i = 0; i < outputs.size(); ++i)
      out << json{{"custom_id", "pg-src-" + std::to_string(i)},
                  {"persona", "persona " + std::to_string(i)},
                  {"persona_id", "p" + std::to_string(i)},
                  {"output", outputs[i]}}
                 .dump()
          << "\n";
    return path;
  }
  static std::vector<std::string> args(std::vector<std::string> a) {
    a.insert(a.end(), {"-q", "-j", "8"});
    return a;
  }
};

TEST_F(TrainingData, SolveKeepsProblemsWhoseAnswersAgreeAndSetsAsideTheRest) {
  TestServer server;
  fs::path in =
      write_records("problems.jsonl",
                    {"Problem A [[answers: 7|7|9]]", "Problem B [[answers: 1|2|3]]",
                     "Problem C [[answers: 0.5|\\frac{1}{2}|.50]]", "Problem D [[answers: 4||4]]"});
  fs::path out = dir_ / "solve";
  Result r = run(args({"synth", "-t", "solve", "-i", in, "-o", out, "--extra-body",
                       R"({"seed": 0})", "--max-retries", "1"}),
                 server.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> kept = read_shards(out, "solve");
  ASSERT_EQ(kept.size(), 3u);
  std::map<std::string, json> by_problem;
  for (const json& k : kept) by_problem[k["problem"].get<std::string>().substr(0, 9)] = k;
  const json& a = by_problem.at("Problem A");
  EXPECT_EQ(a["answer"], "7");
  EXPECT_EQ(a["votes"], (json{{"7", 2}, {"9", 1}}));
  EXPECT_EQ(a["agreement"], "2/3");
  EXPECT_EQ(a["verified"], true);
  EXPECT_NE(a["solution"].get<std::string>().find("\\boxed{7}"), std::string::npos);
  EXPECT_EQ(a["samples"].size(), 3u);
  EXPECT_EQ(a["persona"], "persona 0");
  EXPECT_EQ(a["persona_id"], "p0");
  EXPECT_EQ(a["source_id"], "pg-src-0");
  // Numbers are compared as numbers: 0.5 = \frac{1}{2} = .50.
  EXPECT_EQ(by_problem.at("Problem C")["agreement"], "3/3");
  // A sample with no final answer fails; the other two still agree.
  const json& d = by_problem.at("Problem D");
  EXPECT_EQ(d["agreement"], "2/3");
  EXPECT_TRUE(d["samples"][1].contains("failure"));

  std::vector<json> unverified = read_jsonl(read_file(out / "unverified.jsonl"));
  ASSERT_EQ(unverified.size(), 1u);
  EXPECT_EQ(unverified[0]["verified"], false);
  EXPECT_EQ(unverified[0]["votes"].size(), 3u);
  EXPECT_EQ(unverified[0]["source_id"], "pg-src-1");
  json manifest = read_json(out / "manifest.json");
  EXPECT_EQ(manifest["checkpoint"]["totals"]["records"], 3);
  EXPECT_EQ(manifest["checkpoint"]["totals"]["unverified"], 1);

  // Sample k was sent with seed + k, one request per sample (plus D's retry).
  std::map<int, int> seeds;
  for (const std::string& body : server.chat_requests()) ++seeds[json::parse(body)["seed"]];
  EXPECT_EQ(seeds[0], 4);
  EXPECT_EQ(seeds[1], 5);  // D's sample 1 was retried once
  EXPECT_EQ(seeds[2], 4);

  // A rerun has nothing to do and sends nothing.
  size_t sent = server.chat_requests().size();
  Result again = run(args({"synth", "-t", "solve", "-i", in, "-o", out, "--extra-body",
                           R"({"seed": 0})", "--max-retries", "1"}),
                     server.base_url());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.chat_requests().size(), sent);
}

TEST_F(TrainingData, SolveChatIsProblemThenSolution) {
  TestServer server;
  fs::path in = write_records("problems.jsonl", {"Problem A [[answers: 7|7|9]]"});
  fs::path out = dir_ / "chat";
  Result r = run(args({"synth", "-t", "solve", "-i", in, "-o", out, "--format", "chat",
                       "--extra-body", R"({"seed": 0})"}),
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> kept = read_shards(out, "solve");
  ASSERT_EQ(kept.size(), 1u);
  ASSERT_EQ(kept[0].size(), 1u);
  const json& messages = kept[0]["messages"];
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["content"], "Problem A [[answers: 7|7|9]]");
  EXPECT_NE(messages[1]["content"].get<std::string>().find("\\boxed{7}"), std::string::npos);
}

TEST_F(TrainingData, BadSolveAndConverseFlagsAreUsageErrors) {
  TestServer server;
  fs::path in = write_records("p.jsonl", {"Problem [[answers: 1]]"});
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"-t", "solve", "--samples", "3", "--agree", "4"},
        std::vector<std::string>{"-t", "solve", "--samples", "0"},
        std::vector<std::string>{"-t", "converse", "--turns", "0"},
        std::vector<std::string>{"-t", "respond", "-m", "few-shot"}}) {
    std::vector<std::string> a{"synth", "-i", in, "-o", dir_ / "bad", "-q"};
    a.insert(a.end(), bad.begin(), bad.end());
    Result r = run(a, server.base_url());
    EXPECT_EQ(r.exit_code, 2) << bad[1] << " " << bad[2] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_TRUE(server.chat_requests().empty());
}

TEST_F(TrainingData, AnEmptyProblemIsARejectNamingItsLine) {
  TestServer server;
  fs::path in = write_records("p.jsonl", {"Problem [[answers: 1|1|1]]", "  "});
  fs::path out = dir_ / "solve";
  Result r = run(args({"synth", "-t", "solve", "-i", in, "-o", out}), server.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> rejects = read_jsonl(read_file(out / "rejects.jsonl"));
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0]["line"], 2);
  EXPECT_NE(rejects[0]["reason"].get<std::string>().find("empty"), std::string::npos);
  EXPECT_EQ(read_shards(out, "solve").size(), 1u);
}

TEST_F(TrainingData, RespondWritesPromptResponsePairsWithProvenance) {
  TestServer server;
  fs::path in = write_records("prompts.jsonl", {"How do I prune roses?", "Explain tides."});
  fs::path out = dir_ / "respond";
  Result r = run(args({"synth", "-t", "respond", "-i", in, "-o", out}), server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> records = read_shards(out, "respond");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["prompt"], "How do I prune roses?");
  EXPECT_EQ(records[0]["persona"], "persona 0");
  EXPECT_EQ(records[0]["source_id"], "pg-src-0");
  EXPECT_FALSE(records[0]["output"].get<std::string>().empty());
  // The prompt is sent as it is: no persona in it.
  for (const std::string& body : server.chat_requests()) {
    json b = json::parse(body);
    ASSERT_EQ(b["messages"].size(), 1u);
    std::string content = b["messages"][0]["content"];
    EXPECT_TRUE(content == "How do I prune roses?" || content == "Explain tides.") << content;
  }
  fs::path chat = dir_ / "chat";
  r = run(args({"synth", "-t", "respond", "-i", in, "-o", chat, "--format", "chat"}),
          server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json pair = read_shards(chat, "respond").at(0);
  ASSERT_EQ(pair["messages"].size(), 2u);
  EXPECT_EQ(pair["messages"][0], (json{{"role", "user"}, {"content", "How do I prune roses?"}}));
  EXPECT_EQ(pair["messages"][1]["role"], "assistant");
}

TEST_F(TrainingData, SamplesWriteKRecordsPerPersonaEachFromItsOwnRequest) {
  TestServer server;
  fs::path in = write_personas("personas.jsonl", personas(3));
  fs::path out = dir_ / "math";
  Result r =
      run(args({"synth", "-t", "math", "-i", in, "-o", out, "--samples", "2"}), server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> records = read_shards(out, "math");
  ASSERT_EQ(records.size(), 6u);
  std::set<std::string> ids;
  for (const json& record : records) ids.insert(record["custom_id"]);
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(server.chat_requests().size(), 6u);
}

TEST_F(TrainingData, SamplesOfAPersonaTaskMultiplyThePersonasOfEveryRelation) {
  TestServer server;
  fs::path in = write_texts(dir_ / "texts.jsonl", 2);
  fs::path out = dir_ / "personas";
  Result r = run(args({"synth", "-t", "text-to-persona", "-i", in, "-o", out, "--relation",
                       "read,write", "--samples", "2", "--extra-body", R"({"seed": 3})"}),
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> records = read_shards(out, "text-to-persona");
  ASSERT_EQ(records.size(), 8u);  // 2 texts x 2 relations x 2 samples, one persona each
  std::map<std::string, int> relations;
  for (const json& record : records) ++relations[record["relation"]];
  EXPECT_EQ(relations, (std::map<std::string, int>{{"read", 4}, {"write", 4}}));
  std::set<int> seeds;
  for (const std::string& body : server.chat_requests())
    seeds.insert(json::parse(body)["seed"].get<int>());
  EXPECT_EQ(seeds, (std::set<int>{3, 4}));
}

TEST_F(TrainingData, ConverseWritesWholeConversationsWithThePersonaAsTheUser) {
  TestServer server;
  fs::path in = write_records("prompts.jsonl", {"How do I prune roses?", "Explain tides."});
  fs::path out = dir_ / "converse";
  Result r = run(args({"synth", "-t", "converse", "-i", in, "-o", out, "--turns", "3"}),
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> records = read_shards(out, "converse");
  ASSERT_EQ(records.size(), 2u);
  for (const json& record : records) {
    const json& messages = record["messages"];
    ASSERT_EQ(messages.size(), 6u) << record.dump();
    for (size_t i = 0; i < messages.size(); ++i)
      EXPECT_EQ(messages[i]["role"], i % 2 == 0 ? "user" : "assistant");
    EXPECT_NE(messages[2]["content"].get<std::string>().find("Follow-up from echo persona"),
              std::string::npos)
        << messages[2];
    EXPECT_EQ(record["turns"], 3);
  }
  // 3 assistant replies and 2 persona turns per conversation.
  EXPECT_EQ(server.chat_requests().size(), 10u);
}

TEST_F(TrainingData, ConverseNeedsThePersonaToPlayTheUser) {
  TestServer server;
  fs::path in = dir_ / "bare.jsonl";
  std::ofstream(in) << json{{"output", "Hello?"}}.dump() << "\n";
  fs::path out = dir_ / "converse";
  Result r = run(args({"synth", "-t", "converse", "-i", in, "-o", out}), server.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> rejects = read_jsonl(read_file(out / "rejects.jsonl"));
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_NE(rejects[0]["reason"].get<std::string>().find("persona"), std::string::npos);
}

TEST_F(TrainingData, ReasoningIsKeptApartFromTheAnswer) {
  TestServer server;
  fs::path in = write_records("prompts.jsonl", {"Why is the sky blue? [[think]]",
                                                "Why is the sea salty? [[think-inline]]"});
  fs::path out = dir_ / "respond";
  Result r = run(args({"synth", "-t", "respond", "-i", in, "-o", out}), server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& record : read_shards(out, "respond")) {
    EXPECT_FALSE(record["reasoning"].get<std::string>().empty()) << record.dump();
    EXPECT_EQ(record["output"].get<std::string>().find("<think>"), std::string::npos);
  }
  fs::path chat = dir_ / "chat";
  r = run(args({"synth", "-t", "respond", "-i", in, "-o", chat, "--format", "chat"}),
          server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& record : read_shards(chat, "respond"))
    EXPECT_EQ(record["messages"][1]["content"].get<std::string>().find("<think>"),
              std::string::npos);
  fs::path kept = dir_ / "kept";
  r = run(args({"synth", "-t", "respond", "-i", in, "-o", kept, "--format", "chat",
                "--keep-reasoning"}),
          server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& record : read_shards(kept, "respond"))
    EXPECT_EQ(record["messages"][1]["content"].get<std::string>().rfind("<think>\n", 0), 0u);
}

TEST_F(TrainingData, TheSftChainGoesFromPersonasToVerifiedProblems) {
  // Given personas, each with a number in the middle of its text, so that no two share a run of
  // 13 words, and a test set quoting persona 2's (which its math problem quotes in turn)
  TestServer server;
  std::vector<std::string> people;
  for (int i = 0; i < 4; ++i)
    people.push_back("Keeper of the lighthouse at cape " + std::to_string(i) +
                     " on the rocky northern coast who counts ships and storms");
  fs::path in = write_personas("personas.jsonl", people);
  fs::path test = dir_ / "test.jsonl";
  std::ofstream(test) << json{{"question", people[2]}}.dump() << "\n";

  // When the README's chain runs: math, solve over the math directory, decontam, dedup
  ASSERT_EQ(
      run(args({"synth", "-t", "math", "-m", "persona-few-shot", "-i", in, "-o", dir_ / "math"}),
          server.base_url())
          .exit_code,
      0);
  Result solved = run(args({"synth", "-t", "solve", "-i", dir_ / "math", "-o", dir_ / "solve",
                            "--extra-body", R"({"seed": 1})"}),
                      server.base_url());
  ASSERT_EQ(solved.exit_code, 0) << solved.err;
  Result clean = run({"decontam", "-i", dir_ / "solve", "--field", "problem", "--against", test,
                      "-o", dir_ / "clean.jsonl"},
                     "http://127.0.0.1:9/v1");
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  Result deduped = run({"dedup", "-i", dir_ / "clean.jsonl", "--field", "problem", "-o",
                        dir_ / "sft.jsonl", "--threshold", "0.99"},
                       "http://127.0.0.1:9/v1");
  ASSERT_EQ(deduped.exit_code, 0) << deduped.err;

  // Then every problem was solved 3 times and kept (the server agrees with itself), each record
  // traces back to its persona and its math record, and the leaked one is gone
  std::map<std::string, std::string> math_ids;  // persona -> custom_id of its math record
  for (const json& record : read_shards(dir_ / "math", "math"))
    math_ids[record["persona"]] = record["custom_id"];
  std::vector<json> kept = read_shards(dir_ / "solve", "solve");
  ASSERT_EQ(kept.size(), 4u);
  for (const json& record : kept) {
    EXPECT_EQ(record["agreement"], "3/3");
    EXPECT_EQ(record["source_id"], math_ids.at(record["persona"]));
  }
  std::vector<json> sft = read_jsonl(read_file(dir_ / "sft.jsonl"));
  ASSERT_EQ(sft.size(), 3u);
  for (const json& record : sft) {
    EXPECT_NE(record["persona"], people[2]);
    EXPECT_TRUE(record.contains("solution"));
  }
  EXPECT_EQ(server.chat_requests().size(), 4u + 12u);
}

// kill -9 in the middle of a run, then the same command until it completes: every line ends up
// exactly once (a record, an unverified line or a failure) and no conversation is torn.
class TrainingCrash : public TrainingData {
 protected:
  // Kills the run twice once the server has seen `kill_after` more requests, then runs it to the
  // end. Returns the requests sent in all, which must stay within `needed` plus what the kills
  // can waste: the requests of the lines in flight (`wasted_per_kill`).
  size_t kill_and_resume(const std::vector<std::string>& run_args, size_t kill_after) {
    ServerOptions slow;
    slow.delay_ms = 5;
    TestServer server(slow);
    int landed = 0;
    for (int round = 0; round < 2; ++round) {
      pid_t pid = spawn(run_args, server.base_url());
      size_t target = server.chat_requests().size() + kill_after;
      bool reached = server.wait_for_chat_requests(target, 30s);
      kill(pid, SIGKILL);
      Result killed = wait(pid);
      EXPECT_TRUE(reached || killed.exit_code == 0) << killed.err;
      landed += killed.exit_code == 128 + SIGKILL;
    }
    EXPECT_GE(landed, 1) << "no kill landed while the run was going";
    Result done = run(run_args, server.base_url());
    EXPECT_EQ(done.exit_code, 0) << done.err;
    return server.chat_requests().size();
  }
};

TEST_F(TrainingCrash, KillNineDuringSolveKeepsEveryLineExactlyOnce) {
  std::vector<std::string> problems;
  for (int i = 0; i < 120; ++i)
    problems.push_back("Problem " + std::to_string(i) +
                       (i % 3 == 0 ? " [[answers: 1|2|3]]" : " [[answers: 5|5|6]]"));
  fs::path in = write_records("problems.jsonl", problems);
  fs::path out = dir_ / "solve";
  size_t sent = kill_and_resume({"synth", "-t", "solve", "-i", in, "-o", out, "-q", "-j", "16",
                                 "--checkpoint-interval", "0.05", "--extra-body", R"({"seed": 0})"},
                                90);
  // 360 requests are needed; a kill re-buys at most the samples of the lines in flight (16
  // requests in flight, so at most 16 lines of 3 samples each).
  EXPECT_LE(sent, 360u + 2 * 16 * 3);
  std::multiset<std::string> seen;
  for (const json& record : read_shards(out, "solve")) {
    EXPECT_EQ(record["agreement"], "2/3");
    seen.insert(record["source_id"]);
  }
  for (const json& line : read_jsonl(read_file(out / "unverified.jsonl")))
    seen.insert(line["source_id"]);
  ASSERT_EQ(seen.size(), problems.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), problems.size());
  EXPECT_EQ(read_jsonl(read_file(out / "unverified.jsonl")).size(), 40u);
}

TEST_F(TrainingCrash, KillNineDuringConverseTearsNoConversation) {
  std::vector<std::string> prompts;
  for (int i = 0; i < 60; ++i) prompts.push_back("Question " + std::to_string(i) + "?");
  fs::path in = write_records("prompts.jsonl", prompts);
  fs::path out = dir_ / "converse";
  kill_and_resume({"synth", "-t", "converse", "-i", in, "-o", out, "-q", "-j", "16", "--turns", "3",
                   "--checkpoint-interval", "0.05"},
                  120);
  std::set<std::string> seen;
  size_t records = 0;
  for (const json& record : read_shards(out, "converse")) {
    ++records;
    EXPECT_EQ(record["messages"].size(), 6u);
    seen.insert(record["source_id"]);
  }
  EXPECT_EQ(records, prompts.size());
  EXPECT_EQ(seen.size(), prompts.size());
}

}  // namespace
}  // namespace personagen::e2e
