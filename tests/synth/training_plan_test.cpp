// The plan and requests of the training-data tasks (respond, solve, converse) and --samples.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "personagen/error.h"
#include "support/unit_support.h"
#include "synth/synth_plan.h"

namespace personagen {
namespace {

using nlohmann::json;

Options options(std::string task) {
  Options o;
  o.task = std::move(task);
  o.model = "m";
  return o;
}

std::string usage_error_of(const Options& o) {
  try {
    make_plan(o);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    return e.what();
  }
  return "no error";
}

TEST(TrainingPlan, SolveDefaultsToThreeSamplesAndTwoMustAgree) {
  SynthPlan plan = make_plan(options("solve"));
  EXPECT_EQ(plan.samples, 3u);
  EXPECT_EQ(plan.agree, 2u);
  EXPECT_EQ(plan.units(), 3u);
  EXPECT_EQ(plan.role, TaskRole::training);
  // It reads a record's output, and carries the record's persona and ids.
  EXPECT_EQ(plan.reader.persona_fields, (std::vector<std::string>{"output", "synthesized text"}));
  for (const char* field : {"custom_id", "persona", "persona_id"})
    EXPECT_NE(
        std::find(plan.reader.optional_fields.begin(), plan.reader.optional_fields.end(), field),
        plan.reader.optional_fields.end())
        << field;
}

TEST(TrainingPlan, BadCombinationsAreUsageErrors) {
  Options o = options("solve");
  o.samples = 2;
  o.agree = 3;
  EXPECT_NE(usage_error_of(o).find("--agree 3 is more than --samples 2"), std::string::npos);
  o = options("math");
  o.agree = 2;
  EXPECT_NE(usage_error_of(o).find("--agree applies to solve only"), std::string::npos);
  o = options("respond");
  o.method = "few-shot";
  EXPECT_NE(usage_error_of(o).find("only -m zero-shot applies"), std::string::npos);
  o = options("respond");
  o.format = "personahub";
  EXPECT_NE(usage_error_of(o).find("--format personahub"), std::string::npos);
  o = options("math");
  o.keep_reasoning = true;
  EXPECT_NE(usage_error_of(o).find("--keep-reasoning applies to --format chat"), std::string::npos);
  o = options("converse");
  o.turns = 0;
  EXPECT_NE(usage_error_of(o).find("--turns"), std::string::npos);
}

TEST(TrainingPlan, RespondSendsTheTextAsItIs) {
  Options o = options("respond");
  o.system = "Be kind.";
  SynthPlan plan = make_plan(o);
  RequestBuilder builder(plan);
  builder.build(record("How do I repot a fern?\n"));
  json body = json::parse(builder.body());
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["content"], "Be kind.");
  EXPECT_EQ(body["messages"][1]["content"], "How do I repot a fern?\n");
}

TEST(TrainingPlan, SamplesHaveTheirOwnKeysAndTheFirstKeepsTheOldOne) {
  Options o = options("math");
  SynthPlan one = make_plan(o);
  RequestBuilder single(one);
  single.build(record("a nurse"));
  std::string old_key = single.custom_id();
  o.samples = 3;
  SynthPlan plan = make_plan(o);
  RequestBuilder builder(plan);
  std::set<std::string> keys;
  for (size_t k = 0; k < 3; ++k) {
    builder.build(record("a nurse"), k);
    keys.insert(builder.custom_id());
    if (k == 0) {
      EXPECT_EQ(builder.custom_id(), old_key);
    }
    // Without a seed the bodies are the same request, sampled again by the server.
    EXPECT_EQ(builder.body(), single.body());
  }
  EXPECT_EQ(keys.size(), 3u);
  // The run's configuration names the samples only when there is more than one.
  auto has = [](const SynthPlan& p, const char* key) {
    for (const auto& [name, value] : p.config)
      if (name == key) return true;
    return false;
  };
  EXPECT_FALSE(has(one, "samples"));
  EXPECT_TRUE(has(plan, "samples"));
}

TEST(TrainingPlan, SampleKSendsSeedPlusK) {
  Options o = options("solve");
  o.extra_body = R"({"seed": 100, "top_k": 5})";
  SynthPlan plan = make_plan(o);
  ASSERT_TRUE(plan.body_seed);
  RequestBuilder builder(plan);
  for (int k = 0; k < 3; ++k) {
    builder.build(record("What is 2 + 2?"), static_cast<size_t>(k));
    json body = json::parse(builder.body());
    EXPECT_EQ(body["seed"], 100 + k);
    EXPECT_EQ(body["top_k"], 5);
  }
}

TEST(TrainingPlan, SolvePromptHoldsTheProblem) {
  SynthPlan plan = make_plan(options("solve"));
  RequestBuilder builder(plan);
  builder.build(record("Problem: what is 6 x 7?"));
  EXPECT_NE(builder.prompt().find("Problem: what is 6 x 7?"), std::string::npos);
  EXPECT_NE(builder.prompt().find("\\boxed"), std::string::npos);
}

TEST(TrainingPlan, ConverseAlternatesThePersonaAsUserAndTheAssistant) {
  Options o = options("converse");
  o.turns = 3;
  o.system = "You are a helpful assistant.";
  SynthPlan plan = make_plan(o);
  EXPECT_EQ(plan.steps(), 5u);
  RequestBuilder builder(plan);
  InputRecord r = record("How do I prune roses?", {{"persona", "a retired rose grower"}});
  builder.build(r);
  std::string key = builder.custom_id();
  json first = json::parse(builder.body());
  ASSERT_EQ(first["messages"].size(), 2u);
  EXPECT_EQ(first["messages"][1]["content"], "How do I prune roses?");

  std::vector<ChatMessage> messages{{"user", "How do I prune roses?"},
                                    {"assistant", "Cut above an outward bud."}};
  builder.build_turn("a retired rose grower", messages, 0, 1);
  json user_turn = json::parse(builder.body());
  ASSERT_EQ(user_turn["messages"].size(), 1u);  // no system message: the persona writes
  std::string prompt = user_turn["messages"][0]["content"];
  EXPECT_NE(prompt.find("a retired rose grower"), std::string::npos);
  EXPECT_NE(prompt.find("User: How do I prune roses?\n\nAssistant: Cut above an outward bud."),
            std::string::npos);
  EXPECT_NE(prompt.find("You are playing the user in a conversation"), std::string::npos);

  messages.push_back({"user", "And in winter?"});
  builder.build_turn("a retired rose grower", messages, 0, 2);
  json reply_turn = json::parse(builder.body());
  ASSERT_EQ(reply_turn["messages"].size(), 4u);
  EXPECT_EQ(reply_turn["messages"][0]["role"], "system");
  EXPECT_EQ(reply_turn["messages"][2]["role"], "assistant");
  EXPECT_EQ(reply_turn["messages"][3]["content"], "And in winter?");
  EXPECT_EQ(builder.custom_id(), key);  // a conversation has one key
}

TEST(TrainingPlan, SourceFieldsCarryTheRecordsProvenance) {
  InputRecord r = record(
      "text", {{"custom_id", "pg-9"}, {"input persona", "ph persona"}, {"persona_id", "p3"}});
  r.id = "own-id";
  SourceFields source = source_fields(r);
  EXPECT_EQ(source.persona, "ph persona");
  EXPECT_EQ(source.persona_id, "p3");
  EXPECT_EQ(source.source_id, "pg-9");  // the custom_id wins over the record's own id
  r.fields = {{"persona", "p"}, {"input persona", "q"}};
  EXPECT_EQ(source_fields(r).persona, "p");
  EXPECT_EQ(source_fields(r).source_id, "own-id");
}

}  // namespace
}  // namespace personagen
