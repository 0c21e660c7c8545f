// -t judge on the real binary against the test server: records scored on a rubric, --min-score
// sending the low ones to below-threshold.jsonl, the summary counting both, exactly once across
// kill -9 and reruns, and --rubric FILE in the prompt (issue 13).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using namespace std::chrono_literals;
using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

class Judge : public E2E {
 protected:
  // Math records as synth writes them, with the scores the test server will give each in a
  // [[judge: V,P,Q]] marker when `scores` has an entry for it.
  fs::path write_math_records(const std::string& name, size_t n,
                              const std::vector<std::string>& scores = {}) {
    fs::path path = dir_ / name;
    std::ofstream out(path);
    for (size_t i = 0; i < n; ++i) {
      std::string marker = i < scores.size() ? " [[judge: " + scores[i] + "]]" : "";
      out << json{{"custom_id", "pg-math-" + std::to_string(i)},
                  {"persona", "persona " + std::to_string(i)},
                  {"persona_id", "p" + std::to_string(i)},
                  {"task", "math"},
                  {"output", "Math problem " + std::to_string(i) + ": how many hives?" + marker}}
                 .dump()
          << "\n";
    }
    return path;
  }
  static std::vector<std::string> args(std::vector<std::string> a) {
    a.insert(a.end(), {"-q", "-j", "4"});
    return a;
  }
  // The user prompt of each body that `render` printed.
  static std::vector<std::string> rendered_prompts(const std::string& out) {
    std::vector<std::string> prompts;
    for (const json& body : read_jsonl(out))
      prompts.push_back(body["messages"].back()["content"].get<std::string>());
    return prompts;
  }
};

TEST_F(Judge, MinScoreSplitsTheRecordsAndTheSummaryCountsBoth) {
  TestServer server;
  // Given math records that synth made from personas, four of them with known scores
  std::vector<std::string> people = {"A beekeeper [[judge: 9,8,7]]", "A nurse [[judge: 2,3,4]]",
                                     "A pilot [[judge: 6,5,6]]",     "A chef [[judge: 5,6,5]]",
                                     "A teacher who grows tomatoes", "A farmer who fixes tractors"};
  fs::path personas = write_personas("personas.jsonl", people);
  Result made =
      run(args({"synth", "-t", "math", "-i", personas, "-o", dir_ / "math"}), server.base_url());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::map<std::string, json> math;  // custom_id -> math record
  for (const json& record : read_shards(dir_ / "math", "math")) math[record["custom_id"]] = record;
  ASSERT_EQ(math.size(), people.size());

  // When they are judged with --min-score 5.5
  fs::path out = dir_ / "judged", summary = dir_ / "summary.json";
  std::vector<std::string> judge = args({"synth", "-t", "judge", "-i", dir_ / "math", "-o", out,
                                         "--min-score", "5.5", "--summary", summary});
  Result r = run(judge, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Then the shards hold only records scoring 5.5 or more, below-threshold.jsonl the others
  std::vector<json> kept = read_shards(out, "judge");
  std::vector<json> below = read_jsonl(read_file(out / "below-threshold.jsonl"));
  std::set<std::string> kept_personas, below_personas, sources;
  for (const json& record : kept) {
    EXPECT_GE(record["overall"].get<double>(), 5.5) << record.dump();
    kept_personas.insert(record["persona"]);
  }
  for (const json& record : below) {
    EXPECT_LT(record["overall"].get<double>(), 5.5) << record.dump();
    below_personas.insert(record["persona"]);
  }
  for (const auto& name : {people[0], people[2]}) EXPECT_TRUE(kept_personas.contains(name));
  for (const auto& name : {people[1], people[3]}) EXPECT_TRUE(below_personas.contains(name));
  EXPECT_EQ(kept.size() + below.size(), people.size());

  // And each record carries the judged record's provenance, its rubric, text and scores
  for (const json& record : kept) {
    sources.insert(record["source_id"]);
    const json& source = math.at(record["source_id"]);
    EXPECT_EQ(record["persona"], source["persona"]);
    EXPECT_EQ(record["text"], source["output"]);
    EXPECT_EQ(record["rubric"], "math");
    EXPECT_EQ(record["task"], "judge");
    EXPECT_EQ(record["template"]["id"], "judge/zero-shot");
    EXPECT_EQ(record["scores"].size(), 3u);
    EXPECT_FALSE(record["reason"].get<std::string>().empty());
    EXPECT_EQ(record["synthetic"], true);
  }
  for (const json& record : below) sources.insert(record["source_id"]);
  EXPECT_EQ(sources.size(), people.size());
  json beekeeper;
  for (const json& record : kept)
    if (record["persona"] == people[0]) beekeeper = record;
  EXPECT_EQ(beekeeper["scores"], (json{{"validity", 9}, {"persona_fit", 8}, {"quality", 7}}));
  EXPECT_EQ(beekeeper["overall"], 8);

  // And the summary and the manifest count both, adding up to the input
  json s = read_json(summary);
  EXPECT_EQ(s["totals"]["records"], kept.size());
  EXPECT_EQ(s["totals"]["below_threshold"], below.size());
  json manifest = read_json(out / "manifest.json");
  EXPECT_EQ(manifest["checkpoint"]["totals"]["below_threshold"], below.size());
  EXPECT_EQ(manifest["below_threshold"]["lines"], below.size());
  EXPECT_EQ(manifest["config"]["min_score"], "5.5");
  // Every judge request asked for the judge's schema (--structured auto); the math run before
  // it, a text task, asked for none.
  EXPECT_EQ(server.response_format_requests(), people.size());
  json body = json::parse(server.chat_requests().back());
  EXPECT_EQ(body["response_format"]["json_schema"]["name"], "judge");
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"]["required"],
            json::array({"scores", "reason"}));

  // And a rerun sends nothing and adds nothing
  size_t sent = server.chat_requests().size();
  std::string shards_before = read_file(shard_files(out, "judge").front());
  std::string below_before = read_file(out / "below-threshold.jsonl");
  Result again = run(judge, server.base_url());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.chat_requests().size(), sent);
  EXPECT_EQ(read_file(shard_files(out, "judge").front()), shards_before);
  EXPECT_EQ(read_file(out / "below-threshold.jsonl"), below_before);
}

TEST_F(Judge, KillNineThenRerunsKeepEveryRecordExactlyOnce) {
  // Given 40 records, every other one scoring below the threshold
  std::vector<std::string> scores;
  for (int i = 0; i < 40; ++i) scores.push_back(i % 2 == 0 ? "8,8,8" : "2,2,2");
  fs::path in = write_math_records("math.jsonl", scores.size(), scores);
  fs::path out = dir_ / "judged";
  std::vector<std::string> judge = {"synth",
                                    "-t",
                                    "judge",
                                    "-i",
                                    in,
                                    "-o",
                                    out,
                                    "--min-score",
                                    "5",
                                    "-q",
                                    "-j",
                                    "4",
                                    "--checkpoint-interval",
                                    "0.05"};
  ServerOptions slow;
  slow.delay_ms = 5;
  TestServer server(slow);

  // When the run is killed with -9 part-way, then run again to the end, then once more
  pid_t pid = spawn(judge, server.base_url());
  bool reached = server.wait_for_chat_requests(12, 30s);
  kill(pid, SIGKILL);
  Result killed = wait(pid);
  ASSERT_TRUE(reached || killed.exit_code == 0) << killed.err;
  EXPECT_TRUE(check_checkpoint_prefixes(out, "judge"));
  Result done = run(judge, server.base_url());
  ASSERT_EQ(done.exit_code, 0) << done.err;
  size_t sent = server.chat_requests().size();
  Result again = run(judge, server.base_url());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server.chat_requests().size(), sent);

  // Then every record is in the shards or below-threshold.jsonl exactly once, on its side
  std::multiset<std::string> kept, below;
  for (const json& record : read_shards(out, "judge")) {
    EXPECT_EQ(record["overall"], 8) << record.dump();
    kept.insert(record["source_id"]);
  }
  std::vector<json> below_lines;
  ASSERT_FALSE(parse_jsonl(read_file(out / "below-threshold.jsonl"), below_lines));
  for (const json& record : below_lines) {
    EXPECT_EQ(record["overall"], 2) << record.dump();
    below.insert(record["source_id"]);
  }
  EXPECT_EQ(kept.size(), 20u);
  EXPECT_EQ(below.size(), 20u);
  EXPECT_EQ(std::set<std::string>(kept.begin(), kept.end()).size(), 20u);
  EXPECT_EQ(std::set<std::string>(below.begin(), below.end()).size(), 20u);
  // A kill re-buys at most the requests of about one loop turn (4 in flight)
  EXPECT_LE(sent, 40u + 2 * 4u);
  json manifest = read_json(out / "manifest.json");
  EXPECT_EQ(manifest["checkpoint"]["totals"]["records"], 20);
  EXPECT_EQ(manifest["checkpoint"]["totals"]["below_threshold"], 20);
}

TEST_F(Judge, RubricFileReplacesTheRubricInThePrompt) {
  TestServer server;
  fs::path in = write_math_records("math.jsonl", 1);
  // Given the built-in rubric, chosen from the record's task
  Result builtin = run({"render", "-t", "judge", "-i", in}, server.base_url());
  ASSERT_EQ(builtin.exit_code, 0) << builtin.err;
  std::vector<std::string> prompts = rendered_prompts(builtin.out);
  ASSERT_EQ(prompts.size(), 1u);
  EXPECT_NE(prompts[0].find("The text is a math problem."), std::string::npos) << prompts[0];
  EXPECT_NE(prompts[0].find("Math problem 0: how many hives?"), std::string::npos);
  EXPECT_NE(prompts[0].find("written for: persona 0"), std::string::npos);

  // When --rubric names a file, its text is the rubric
  fs::path rubric = dir_ / "haiku.txt";
  std::ofstream(rubric) << "Judge it as a haiku: syllables, imagery, a season word.\n";
  Result custom = run({"render", "-t", "judge", "-i", in, "--rubric", rubric}, server.base_url());
  ASSERT_EQ(custom.exit_code, 0) << custom.err;
  prompts = rendered_prompts(custom.out);
  ASSERT_EQ(prompts.size(), 1u);
  EXPECT_NE(prompts[0].find("Judge it as a haiku"), std::string::npos) << prompts[0];
  EXPECT_EQ(prompts[0].find("The text is a math problem."), std::string::npos);

  // And a solve record is judged on its problem, as math
  std::ofstream(dir_ / "solve.jsonl") << json{{"custom_id", "pg-s"},
                                              {"persona", "a nurse"},
                                              {"task", "solve"},
                                              {"problem", "What is 6 x 7?"},
                                              {"solution", "42"}}
                                             .dump()
                                      << "\n";
  Result solved = run({"render", "-t", "judge", "-i", dir_ / "solve.jsonl"}, server.base_url());
  ASSERT_EQ(solved.exit_code, 0) << solved.err;
  prompts = rendered_prompts(solved.out);
  ASSERT_EQ(prompts.size(), 1u);
  EXPECT_NE(prompts[0].find("What is 6 x 7?"), std::string::npos) << prompts[0];
  EXPECT_NE(prompts[0].find("The text is a math problem."), std::string::npos);
  EXPECT_TRUE(server.chat_requests().empty());
}

TEST_F(Judge, BadJudgeFlagsAreOneLineUsageErrors) {
  TestServer server;
  fs::path in = write_math_records("math.jsonl", 1);
  for (std::vector<std::string> bad : {
           std::vector<std::string>{"-t", "judge", "--rubric", (dir_ / "missing.txt").string()},
           std::vector<std::string>{"-t", "math", "--min-score", "5"},
           std::vector<std::string>{"-t", "judge", "--min-score", "11"},
           std::vector<std::string>{"-t", "judge", "--format", "chat"},
       }) {
    std::vector<std::string> a{"synth", "-i", in, "-o", dir_ / "bad", "-q"};
    a.insert(a.end(), bad.begin(), bad.end());
    Result r = run(a, server.base_url());
    EXPECT_EQ(r.exit_code, 2) << bad[2] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_TRUE(server.chat_requests().empty());
}

TEST_F(Judge, AnInvalidJudgmentIsRetriedThenFailed) {
  TestServer server;
  // Given a record the server always scores out of range
  fs::path in = write_math_records("math.jsonl", 2, {"11,5,5"});
  fs::path out = dir_ / "judged";
  Result r = run(args({"synth", "-t", "judge", "-i", in, "-o", out, "--max-retries", "1"}),
                 server.base_url());
  // Then it fails after its retry, and the other record is kept
  EXPECT_EQ(r.exit_code, 3) << r.err;
  std::vector<json> failures = read_jsonl(read_file(out / "failures.jsonl"));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["kind"], "invalid_output");
  EXPECT_NE(failures[0]["reason"].get<std::string>().find("scores.validity"), std::string::npos);
  EXPECT_EQ(failures[0]["attempts"], 2);
  EXPECT_EQ(read_shards(out, "judge").size(), 1u);
  EXPECT_FALSE(fs::exists(out / "below-threshold.jsonl"));
}

}  // namespace
}  // namespace personagen::e2e
