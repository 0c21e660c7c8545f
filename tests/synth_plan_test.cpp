#include "personagen/synth_plan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "personagen/error.h"

namespace personagen {
namespace {

Options base_options() {
  Options o;
  o.input = "in.jsonl";
  o.task = "math";
  o.method = "persona-few-shot";
  o.model = "m";
  o.shots = 3;
  return o;
}

InputRecord record(std::string persona) {
  InputRecord r;
  r.line = 1;
  r.persona = std::move(persona);
  return r;
}

TEST(SynthPlan, BuildsABodyWithThePersonaAndKShots) {
  // Given persona-few-shot with 3 shots, when a request is built, then the body is a chat
  // completion whose single user message holds the persona and exactly 3 demonstrations.
  SynthPlan plan = make_plan(base_options());
  RequestBuilder builder(plan);
  builder.build(record("a lighthouse keeper"));
  auto body = nlohmann::json::parse(builder.body());
  EXPECT_EQ(body["model"], "m");
  ASSERT_EQ(body["messages"].size(), 1u);
  std::string prompt = body["messages"][0]["content"];
  EXPECT_EQ(prompt, builder.prompt());
  EXPECT_NE(prompt.find("a lighthouse keeper"), std::string::npos);
  ASSERT_EQ(builder.shots().size(), 3u);
  for (const Demonstration* d : builder.shots()) {
    EXPECT_NE(prompt.find(d->persona), std::string::npos);
    EXPECT_NE(prompt.find(d->output), std::string::npos);
  }
  EXPECT_FALSE(body.contains("temperature"));
}

TEST(SynthPlan, ZeroShotHasNoDemonstrations) {
  Options o = base_options();
  o.method = "zero-shot";
  SynthPlan plan = make_plan(o);
  RequestBuilder builder(plan);
  builder.build(record("x"));
  EXPECT_TRUE(builder.shots().empty());
  for (const auto& demo : plan.prompts.demos)
    EXPECT_EQ(builder.prompt().find(demo.output), std::string::npos);
}

TEST(SynthPlan, CustomIdIsDeterministicAndSensitiveToEveryInput) {
  auto id = [](Options o, std::string persona) {
    SynthPlan plan = make_plan(o);
    RequestBuilder builder(plan);
    builder.build(record(persona));
    return builder.custom_id();
  };
  Options o = base_options();
  std::string base = id(o, "p");
  EXPECT_EQ(base, id(o, "p"));
  EXPECT_EQ(base.rfind("pg-", 0), 0u);
  EXPECT_NE(base, id(o, "q"));
  Options other = o;
  other.model = "n";
  EXPECT_NE(base, id(other, "p"));
  other = o;
  other.temperature = 0.5;
  EXPECT_NE(base, id(other, "p"));
  other = o;
  other.method = "few-shot";
  EXPECT_NE(base, id(other, "p"));
  other = o;
  other.task = "reasoning";
  EXPECT_NE(base, id(other, "p"));
}

TEST(SynthPlan, ConfigNamesWhatMustMatchOnResume) {
  Options o = base_options();
  o.temperature = 0.7;
  SynthPlan plan = make_plan(o);
  auto find = [&](const std::string& name) {
    for (const auto& [k, v] : plan.config)
      if (k == name) return v;
    return std::string("<absent>");
  };
  EXPECT_EQ(find("task"), "math");
  EXPECT_EQ(find("method"), "persona-few-shot");
  EXPECT_EQ(find("model"), "m");
  EXPECT_EQ(find("temperature"), "0.7");
  EXPECT_EQ(find("template").rfind("math/persona-few-shot@", 0), 0u);
}

TEST(SynthPlan, UsageErrorsNameTheProblem) {
  auto expect_usage = [](Options o, const std::string& needle) {
    try {
      make_plan(o);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Options o = base_options();
  o.task = "poetry";
  expect_usage(o, "unknown task \"poetry\"");
  o = base_options();
  o.method = "one-shot";
  expect_usage(o, "unknown method");
  o = base_options();
  o.format = "csv";
  expect_usage(o, "unknown format");
  o = base_options();
  o.task = "";
  expect_usage(o, "--task is required");
}

TEST(SynthPlan, NpcPromptCarriesTheWorld) {
  Options o = base_options();
  o.task = "npc";
  SynthPlan plan = make_plan(o);
  RequestBuilder builder(plan);
  builder.build(record("a blacksmith"));
  ASSERT_FALSE(plan.prompts.world.empty());
  EXPECT_NE(builder.prompt().find(plan.prompts.world.substr(0, 40)), std::string::npos);
}

}  // namespace
}  // namespace personagen
