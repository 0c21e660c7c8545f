// -t judge: the reply's parser, the rubrics and how each record's is chosen, the schema, and the
// plan and requests of a judge run.
#include "synth/judge.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/training_records.h"
#include "support/unit_support.h"
#include "synth/synth_plan.h"

namespace personagen {
namespace {

using nlohmann::json;

constexpr const char* kGood =
    R"({"scores": {"validity": 8, "persona_fit": 6, "quality": 7}, "reason": "Clear and solvable."})";

Options judge_options() {
  Options o;
  o.task = "judge";
  o.model = "m";
  return o;
}

TEST(JudgeParser, AGoodReplyBecomesScoresOverallAndReason) {
  // Given a reply that is exactly the object
  ParsedOutput out = parse_judgment(kGood);
  // Then it is accepted, and parsed holds the scores, their mean and the reason
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(out.parsed, R"({"scores":{"validity":8,"persona_fit":6,"quality":7},"overall":7,)"
                        R"("reason":"Clear and solvable."})");
  EXPECT_DOUBLE_EQ(judged_overall(out.parsed), 7.0);
  // And parse_output dispatches the judge kind to it
  EXPECT_EQ(parse_output(OutputKind::judge, kGood).parsed, out.parsed);
}

TEST(JudgeParser, AFencedReplyOrOneInProseIsFound) {
  std::string fenced = std::string("Here is my verdict:\n```json\n") + kGood + "\n```\n";
  std::string prose = std::string("My scores: ") + kGood + " Hope this helps.";
  for (const std::string& reply : {fenced, prose}) {
    ParsedOutput out = parse_judgment(reply);
    ASSERT_TRUE(out.ok) << reply << ": " << out.reason;
    EXPECT_DOUBLE_EQ(judged_overall(out.parsed), 7.0);
  }
}

TEST(JudgeParser, ScoresMustBeWholeNumbersFromOneToTen) {
  // A number with no fraction is a whole number; extra members are ignored
  ParsedOutput whole = parse_judgment(
      R"({"scores":{"validity":8.0,"persona_fit":1,"quality":10,"style":3},"reason":"ok","overall":9})");
  ASSERT_TRUE(whole.ok) << whole.reason;
  EXPECT_EQ(json::parse(whole.parsed)["scores"],
            (json{{"validity", 8}, {"persona_fit", 1}, {"quality", 10}}));
  EXPECT_DOUBLE_EQ(json::parse(whole.parsed)["overall"].get<double>(), 6.33);
  for (const char* bad : {"0", "11", "-3", "7.5", "\"7\"", "true", "null"}) {
    std::string reply = std::string(R"({"scores":{"validity":)") + bad +
                        R"(,"persona_fit":5,"quality":5},"reason":"r"})";
    ParsedOutput out = parse_judgment(reply);
    EXPECT_FALSE(out.ok) << bad;
    EXPECT_EQ(out.reason, "judge: scores.validity must be an integer from 1 to 10") << bad;
  }
}

TEST(JudgeParser, AMissingKeyOrAnEmptyReasonIsAOneLineFailure) {
  struct Case {
    const char* reply;
    const char* reason;
  };
  for (const Case& c : {
           Case{R"({"scores":{"validity":5,"quality":5},"reason":"r"})",
                "judge: missing scores.persona_fit"},
           Case{R"({"reason":"r"})", "judge: missing \"scores\""},
           Case{R"({"scores":[5,5,5],"reason":"r"})", "judge: \"scores\" must be an object"},
           Case{R"({"scores":{"validity":5,"persona_fit":5,"quality":5}})",
                "judge: \"reason\" must be a non-empty string"},
           Case{R"({"scores":{"validity":5,"persona_fit":5,"quality":5},"reason":"  "})",
                "judge: \"reason\" must be a non-empty string"},
           Case{R"({"scores":{"validity":5,"persona_fit":5,"quality":5},"reason":7})",
                "judge: \"reason\" must be a non-empty string"},
           Case{"I would give it a 7.", "judge: no JSON object in output"},
       }) {
    ParsedOutput out = parse_judgment(c.reply);
    EXPECT_FALSE(out.ok) << c.reply;
    EXPECT_EQ(out.reason, c.reason) << c.reply;
    EXPECT_EQ(out.reason.find('\n'), std::string::npos);
  }
}

TEST(JudgeParser, OverallIsTheMeanRoundedToTwoDecimals) {
  EXPECT_DOUBLE_EQ(overall_score(5, 6, 6), 5.67);
  EXPECT_DOUBLE_EQ(overall_score(5, 5, 6), 5.33);
  EXPECT_DOUBLE_EQ(overall_score(1, 1, 1), 1.0);
  EXPECT_DOUBLE_EQ(overall_score(10, 10, 9), 9.67);
  EXPECT_DOUBLE_EQ(overall_score(2, 3, 6), 3.67);
  // And the record text writes it in its shortest form
  ParsedOutput out =
      parse_judgment(R"({"scores":{"validity":5,"persona_fit":6,"quality":6},"reason":"r"})");
  ASSERT_TRUE(out.ok);
  EXPECT_NE(out.parsed.find("\"overall\":5.67,"), std::string::npos) << out.parsed;
}

TEST(JudgeSchema, IsStrictCompactJsonWithBoundedScoresAndReason) {
  json schema = json::parse(judge_schema());
  EXPECT_EQ(nlohmann::ordered_json::parse(judge_schema()).dump(), judge_schema());  // compact
  EXPECT_EQ(schema["additionalProperties"], false);
  EXPECT_EQ(schema["required"], (json{"scores", "reason"}));
  const json& scores = schema["properties"]["scores"];
  EXPECT_EQ(scores["additionalProperties"], false);
  EXPECT_EQ(scores["required"], (json{"validity", "persona_fit", "quality"}));
  for (const char* name : {"validity", "persona_fit", "quality"}) {
    EXPECT_EQ(scores["properties"][name]["type"], "integer");
    EXPECT_EQ(scores["properties"][name]["minimum"], 1);
    EXPECT_EQ(scores["properties"][name]["maximum"], 10);
  }
  EXPECT_EQ(schema["properties"]["reason"]["maxLength"], 300);
  // And a reply the parser accepts has exactly the schema's shape
  json reply = json::parse(kGood);
  for (const auto& [key, value] : reply.items()) EXPECT_TRUE(schema["properties"].contains(key));
}

TEST(JudgeRubrics, EachRecordsRubricComesFromItsTaskOrDescription) {
  for (const char* task : {"math", "reasoning", "instruction", "knowledge", "npc", "tool"})
    EXPECT_EQ(rubric_for(task, ""), task);
  EXPECT_EQ(rubric_for("solve", ""), "math");
  EXPECT_EQ(rubric_for("respond", ""), "instruction");
  EXPECT_EQ(rubric_for("converse", ""), "instruction");
  // Persona Hub's files say what they hold in "description"
  EXPECT_EQ(rubric_for("", "math problem"), "math");
  EXPECT_EQ(rubric_for("", "logical reasoning problem"), "reasoning");
  EXPECT_EQ(rubric_for("", "knowledge-rich text"), "knowledge");
  EXPECT_EQ(rubric_for("", "game npc"), "npc");
  EXPECT_EQ(rubric_for("", "tool development"), "tool");
  // Anything else is judged on the generic rubric
  EXPECT_EQ(rubric_for("", ""), "generic");
  EXPECT_EQ(rubric_for("poetry", "a poem"), "generic");
  EXPECT_EQ(rubric_for("judge", ""), "generic");

  JudgeRubrics rubrics = JudgeRubrics::load("", "");
  EXPECT_EQ(rubrics.for_record(record("x", {{"task", "solve"}})).name, "math");
  EXPECT_EQ(rubrics.for_record(record("x", {{"description", "game npc"}})).name, "npc");
  EXPECT_EQ(rubrics.for_record(record("x")).name, "generic");
  EXPECT_NE(rubrics.for_record(record("x", {{"task", "tool"}})).text.find("parameters"),
            std::string::npos);
  EXPECT_TRUE(rubrics.config_value().starts_with("auto@"));
}

TEST(JudgeRubrics, RubricFlagIsABuiltInNameOrAFile) {
  // A name fixes one built-in rubric for every record
  JudgeRubrics named = JudgeRubrics::load("reasoning", "");
  EXPECT_EQ(named.for_record(record("x", {{"task", "math"}})).name, "reasoning");
  EXPECT_TRUE(named.config_value().starts_with("reasoning@"));
  // A file's text replaces the rubric
  std::string path = ::testing::TempDir() + "judge_rubric_test.txt";
  write_file(path, "Score haiku: syllables, imagery, season word.\n");
  JudgeRubrics file = JudgeRubrics::load(path, "");
  const Rubric& rubric = file.for_record(record("x", {{"task", "math"}}));
  EXPECT_EQ(rubric.text, "Score haiku: syllables, imagery, season word.\n");
  EXPECT_TRUE(rubric.name.starts_with("file:"));
  EXPECT_EQ(file.config_value(), rubric.name);
  // A missing or empty file is a usage error naming it
  ExitCode code = ExitCode::ok;
  std::string missing = error_of([] { JudgeRubrics::load("/no/such/rubric.txt", ""); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_NE(missing.find("--rubric /no/such/rubric.txt: cannot read the file"), std::string::npos)
      << missing;
  write_file(path, " \n");
  std::string empty = error_of([&] { JudgeRubrics::load(path, ""); });
  EXPECT_NE(empty.find("the file is empty"), std::string::npos) << empty;
  std::remove(path.c_str());
}

TEST(JudgePlan, ReadsAnyRecordsTextAndOnlyJudgeTakesItsFlags) {
  SynthPlan plan = make_plan(judge_options());
  EXPECT_EQ(plan.kind, OutputKind::judge);
  EXPECT_EQ(plan.role, TaskRole::training);
  // A synth record's output, a Persona Hub record's text, a solve record's problem
  EXPECT_EQ(plan.reader.persona_fields,
            (std::vector<std::string>{"output", "synthesized text", "problem"}));
  for (const char* field : {"custom_id", "persona", "persona_id", "task", "description"})
    EXPECT_NE(
        std::find(plan.reader.optional_fields.begin(), plan.reader.optional_fields.end(), field),
        plan.reader.optional_fields.end())
        << field;
  EXPECT_EQ(config_value(plan, "min_score"), "<absent>");

  Options o = judge_options();
  o.format = "chat";
  EXPECT_NE(error_of([&] { make_plan(o); }).find("judge writes --format record only"),
            std::string::npos);
  o = judge_options();
  o.method = "few-shot";
  EXPECT_NE(error_of([&] { make_plan(o); }).find("only -m zero-shot applies"), std::string::npos);
  o = judge_options();
  o.task = "math";
  o.min_score = 5;
  EXPECT_EQ(error_of([&] { make_plan(o); }), "--min-score applies to -t judge only");
  o.min_score.reset();
  o.rubric = "math";
  EXPECT_EQ(error_of([&] { make_plan(o); }), "--rubric applies to -t judge only");
  o = judge_options();
  o.min_score = 5.5;
  EXPECT_EQ(config_value(make_plan(o), "min_score"), "5.5");
}

TEST(JudgePlan, ThePromptShowsThePersonaTheTextAndTheRubric) {
  SynthPlan plan = make_plan(judge_options());
  RequestBuilder builder(plan);
  builder.build(record("Math problem: a beekeeper has 12 hives...",
                       {{"persona", "A beekeeper in Ljubljana"}, {"task", "math"}}));
  const std::string& prompt = builder.prompt();
  EXPECT_NE(prompt.find("You are judging one piece of synthetic training data"), std::string::npos);
  EXPECT_NE(prompt.find("Persona the text was written for: A beekeeper in Ljubljana\n"),
            std::string::npos)
      << prompt;
  EXPECT_NE(prompt.find("Math problem: a beekeeper has 12 hives..."), std::string::npos);
  EXPECT_NE(prompt.find("The text is a math problem."), std::string::npos) << prompt;
  EXPECT_EQ(prompt.find("{{"), std::string::npos);
  // Without a persona, the prompt says there is none
  builder.build(record("Some text"));
  EXPECT_NE(builder.prompt().find("written for: (none given)"), std::string::npos);
  EXPECT_NE(builder.prompt().find("of no specific kind"), std::string::npos);
}

TEST(JudgePlan, TheCustomIdAndConfigurationChangeWithTheRubric) {
  InputRecord r = record("Math problem: 2 + 2?", {{"persona", "a nurse"}, {"task", "math"}});
  auto key_and_config = [&](const std::string& rubric) {
    Options o = judge_options();
    o.rubric = rubric;
    SynthPlan plan = make_plan(o);
    RequestBuilder builder(plan);
    builder.build(r);
    return std::pair{builder.custom_id(), config_value(plan, "rubric")};
  };
  auto automatic = key_and_config("");
  auto math = key_and_config("math");
  auto tool = key_and_config("tool");
  // The record's own rubric is math: the same request, whether chosen or named
  EXPECT_EQ(automatic.first, math.first);
  EXPECT_NE(math.first, tool.first);
  EXPECT_NE(automatic.second, math.second);
  EXPECT_NE(math.second, tool.second);
  std::string path = ::testing::TempDir() + "judge_key_rubric.txt";
  write_file(path, "Rubric one.\n");
  auto one = key_and_config(path);
  write_file(path, "Rubric two.\n");
  auto two = key_and_config(path);
  std::remove(path.c_str());
  EXPECT_NE(one.first, two.first);
  EXPECT_NE(one.second, two.second);
  EXPECT_NE(one.first, math.first);
  // And the judged record's persona shapes the request too
  Options o = judge_options();
  SynthPlan plan = make_plan(o);
  RequestBuilder builder(plan);
  builder.build(record("Math problem: 2 + 2?", {{"persona", "a pilot"}, {"task", "math"}}));
  EXPECT_NE(builder.custom_id(), automatic.first);
}

TEST(JudgeRecordFormat, CarriesProvenanceScoresAndTheText) {
  ParsedOutput parsed = parse_judgment(kGood);
  ASSERT_TRUE(parsed.ok);
  JudgeRecord r;
  r.custom_id = "pg-j";
  r.source = {"a nurse", "p1", "pg-src"};
  r.provenance = {"judge", "zero-shot", "m", "judge/zero-shot", 0x1234, {}};
  r.rubric = "math";
  r.text = "Math problem: 2 + 2?";
  r.judgment = parsed.parsed;
  r.finish_reason = "stop";
  r.usage.prompt_tokens = 10;
  r.usage.completion_tokens = 5;
  r.usage.total_tokens = 15;
  r.attempts = 2;
  std::string out;
  format_judge_record(r, out);
  json j = json::parse(out);
  EXPECT_EQ(j["custom_id"], "pg-j");
  EXPECT_EQ(j["persona"], "a nurse");
  EXPECT_EQ(j["persona_id"], "p1");
  EXPECT_EQ(j["source_id"], "pg-src");
  EXPECT_EQ(j["task"], "judge");
  EXPECT_EQ(j["template"]["id"], "judge/zero-shot");
  EXPECT_EQ(j["rubric"], "math");
  EXPECT_EQ(j["text"], "Math problem: 2 + 2?");
  EXPECT_EQ(j["scores"], (json{{"validity", 8}, {"persona_fit", 6}, {"quality", 7}}));
  EXPECT_EQ(j["overall"], 7);
  EXPECT_EQ(j["reason"], "Clear and solvable.");
  EXPECT_EQ(j["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["total_tokens"], 15);
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["synthetic"], true);
}

}  // namespace
}  // namespace personagen
