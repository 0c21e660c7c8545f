#include "store/training_records.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace personagen {
namespace {

using nlohmann::json;

const Provenance kSolve{"solve", "zero-shot", "m", "solve/zero-shot", 0x1, {}};

struct SolveFixture {
  std::vector<SolveSample> samples;
  std::vector<std::pair<std::string, size_t>> votes{{"7", 2}, {"9", 1}};
  std::string answer = "7";

  SolveFixture() {
    samples.resize(3);
    samples[0] = {"pg-a", "Solution A. \\boxed{7}", "7", "thought A", "stop",
                  "",     {10, 5, 15, 2},           1};
    samples[1] = {"pg-b", "Solution B. \\boxed{9}", "9", "", "stop", "", {10, 6, 16, 0}, 2};
    samples[2] = {"pg-c", "Solution C. \\boxed{7.0}", "7.0", "", "stop", "", {10, 7, 17, 0}, 1};
  }
  SolveRecord record(bool verified) const {
    SolveRecord r;
    r.custom_id = "pg-a";
    r.source = {"a beekeeper", "p1", "pg-src"};
    r.provenance = kSolve;
    r.problem = "What is 3 + 4?";
    r.answer = &answer;
    r.votes = votes;
    r.agreement = "2/3";
    r.verified = verified;
    r.chosen = 0;
    r.samples = samples;
    return r;
  }
};

TEST(TrainingRecords, AVerifiedSolveRecordCarriesTheVoteAndEverySample) {
  SolveFixture f;
  std::string out;
  format_solve_record(OutputFormat::record, f.record(true), out);
  json j = json::parse(out);
  EXPECT_EQ(j["custom_id"], "pg-a");
  EXPECT_EQ(j["persona"], "a beekeeper");
  EXPECT_EQ(j["persona_id"], "p1");
  EXPECT_EQ(j["source_id"], "pg-src");
  EXPECT_EQ(j["task"], "solve");
  EXPECT_EQ(j["problem"], "What is 3 + 4?");
  EXPECT_EQ(j["answer"], "7");
  EXPECT_EQ(j["votes"], (json{{"7", 2}, {"9", 1}}));
  EXPECT_EQ(j["agreement"], "2/3");
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["solution"], "Solution A. \\boxed{7}");
  EXPECT_EQ(j["reasoning"], "thought A");
  ASSERT_EQ(j["samples"].size(), 3u);
  EXPECT_EQ(j["samples"][1]["answer"], "9");
  EXPECT_EQ(j["samples"][2]["output"], "Solution C. \\boxed{7.0}");
  EXPECT_EQ(j["usage"]["completion_tokens"], 18);
  EXPECT_EQ(j["usage"]["reasoning_tokens"], 2);
  EXPECT_EQ(j["attempts"], 4);
  EXPECT_EQ(j["synthetic"], true);
}

TEST(TrainingRecords, AnUnverifiedSolveRecordHasNoSolution) {
  SolveFixture f;
  std::string out;
  format_solve_record(OutputFormat::record, f.record(false), out);
  json j = json::parse(out);
  EXPECT_EQ(j["verified"], false);
  EXPECT_FALSE(j.contains("solution"));
  EXPECT_EQ(j["votes"].size(), 2u);
}

TEST(TrainingRecords, AFailedSampleIsListedWithItsReason) {
  SolveFixture f;
  f.samples[1] = {"pg-b", "", "", "", "", "HTTP 400: bad", {}, 3};
  std::string out;
  format_solve_record(OutputFormat::record, f.record(true), out);
  json j = json::parse(out);
  EXPECT_EQ(j["samples"][1]["failure"], "HTTP 400: bad");
  EXPECT_FALSE(j["samples"][1].contains("output"));
  EXPECT_EQ(j["samples"][1]["attempts"], 3);
}

TEST(TrainingRecords, SolveChatIsProblemThenSolutionWithThinkingOnlyOnRequest) {
  SolveFixture f;
  std::string out;
  format_solve_record(OutputFormat::chat, f.record(true), out);
  EXPECT_EQ(json::parse(out),
            (json{{"messages",
                   {{{"role", "user"}, {"content", "What is 3 + 4?"}},
                    {{"role", "assistant"}, {"content", "Solution A. \\boxed{7}"}}}}}));
  SolveRecord kept = f.record(true);
  kept.keep_reasoning = true;
  format_solve_record(OutputFormat::chat, kept, out);
  EXPECT_EQ(json::parse(out)["messages"][1]["content"],
            "<think>\nthought A\n</think>\n\nSolution A. \\boxed{7}");
}

std::vector<Turn> conversation() {
  return {{"user", "How do I prune roses?", ""},
          {"assistant", "Cut above an outward bud.", "the user gardens"},
          {"user", "And in winter?", ""},
          {"assistant", "Wait for late winter.", ""}};
}

TEST(TrainingRecords, AConversationRecordKeepsEveryTurnAndItsProvenance) {
  std::vector<Turn> turns = conversation();
  ConversationRecord r;
  r.custom_id = "pg-c";
  r.source = {"a gardener", "", "pg-src"};
  r.provenance = {"converse", "zero-shot", "m", "converse/zero-shot", 0x2, {}};
  r.turns = turns;
  r.finish_reason = "stop";
  r.usage = {30, 20, 50, 0};
  r.attempts = 3;
  std::string out;
  format_conversation(OutputFormat::record, r, out);
  json j = json::parse(out);
  EXPECT_EQ(j["persona"], "a gardener");
  EXPECT_FALSE(j.contains("persona_id"));
  EXPECT_EQ(j["source_id"], "pg-src");
  EXPECT_EQ(j["turns"], 2);
  ASSERT_EQ(j["messages"].size(), 4u);
  EXPECT_EQ(j["messages"][1]["reasoning"], "the user gardens");
  EXPECT_FALSE(j["messages"][0].contains("reasoning"));
  EXPECT_EQ(j["attempts"], 3);
  EXPECT_EQ(j["synthetic"], true);
}

TEST(TrainingRecords, ConversationChatHasTheSystemAndLeavesReasoningOut) {
  std::vector<Turn> turns = conversation();
  ConversationRecord r;
  r.system = "Be brief.";
  r.turns = turns;
  std::string out;
  format_conversation(OutputFormat::chat, r, out);
  json j = json::parse(out);
  ASSERT_EQ(j.size(), 1u);
  ASSERT_EQ(j["messages"].size(), 5u);
  EXPECT_EQ(j["messages"][0], (json{{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(j["messages"][2]["content"], "Cut above an outward bud.");
  r.keep_reasoning = true;
  format_conversation(OutputFormat::chat, r, out);
  EXPECT_EQ(json::parse(out)["messages"][2]["content"],
            "<think>\nthe user gardens\n</think>\n\nCut above an outward bud.");
}

}  // namespace
}  // namespace personagen
