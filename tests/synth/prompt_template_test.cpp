#include "synth/prompt_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "personagen/error.h"
#include "synth/tasks.h"

namespace personagen {
namespace {

std::string render(const Template& t, std::string_view persona,
                   std::vector<const Demonstration*> shots = {}, std::string_view world = "") {
  std::string out;
  t.render({persona, world, {}, nullptr}, shots, out);
  return out;
}

TEST(Template, SubstitutesPlaceholders) {
  Template t = Template::parse("Persona: {{persona}}. World: {{ world }}.", "t");
  EXPECT_EQ(render(t, "a nurse", {}, "Eldoria"), "Persona: a nurse. World: Eldoria.");
  EXPECT_EQ(t.placeholders(), (std::vector<std::string>{"persona", "world"}));
}

TEST(Template, RepeatsTheExamplesSectionPerShot) {
  // Given a section using the demonstration's fields, when rendered with two shots,
  // then the section appears twice, numbered, and the outer persona is the input's.
  Template t = Template::parse(
      "{{#examples}}{{index}}. {{persona}} -> {{output}}\n{{/examples}}Now: {{persona}}", "t");
  Demonstration a{"d1", "pa", "oa"}, b{"d2", "pb", "ob"};
  EXPECT_EQ(render(t, "me", {&a, &b}), "1. pa -> oa\n2. pb -> ob\nNow: me");
  EXPECT_TRUE(t.has_examples_section());
  EXPECT_EQ(render(t, "me"), "Now: me");
}

TEST(Template, EscapedBracesAreLiteral) {
  Template t = Template::parse("{{{{persona}} is {{persona}}", "t");
  EXPECT_EQ(render(t, "x"), "{{persona}} is x");
}

TEST(Template, SyntaxErrorsNameTheOriginAndOffset) {
  for (const char* bad : {"a {{persona", "{{}}", "{{#examples}}x", "{{/examples}}",
                          "{{#examples}}{{#examples}}{{/examples}}", "{{#other}}{{/other}}"}) {
    try {
      Template::parse(bad, "my.txt");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("my.txt: offset "), std::string::npos) << e.what();
      EXPECT_EQ(e.code(), ExitCode::usage);
    }
  }
}

TEST(Template, HashFollowsTheText) {
  EXPECT_EQ(Template::parse("a {{persona}}", "x").hash(),
            Template::parse("a {{persona}}", "y").hash());
  EXPECT_NE(Template::parse("a {{persona}}", "x").hash(),
            Template::parse("b {{persona}}", "x").hash());
}

TEST(Method, NamesRoundTrip) {
  for (Method m : {Method::zero_shot, Method::few_shot, Method::persona_few_shot})
    EXPECT_EQ(parse_method(to_string(m)), m);
  EXPECT_FALSE(parse_method("one-shot"));
}

TEST(SampleShots, IsDeterministicDistinctAndBounded) {
  auto a = sample_shots(10, 3, 42, "a nurse");
  EXPECT_EQ(a, sample_shots(10, 3, 42, "a nurse"));
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 3u);
  for (size_t i : a) EXPECT_LT(i, 10u);
  EXPECT_EQ(sample_shots(2, 5, 1, "x").size(), 2u);
  EXPECT_TRUE(sample_shots(0, 3, 1, "x").empty());
}

TEST(SampleShots, VariesWithSeedAndPersona) {
  // Over many personas, a different seed must change some draws; so must the persona.
  int seed_changes = 0, persona_changes = 0;
  for (int i = 0; i < 50; ++i) {
    std::string p = "persona " + std::to_string(i);
    seed_changes += sample_shots(10, 3, 1, p) != sample_shots(10, 3, 2, p);
    persona_changes += sample_shots(10, 3, 1, p) != sample_shots(10, 3, 1, p + "!");
  }
  EXPECT_GT(seed_changes, 40);
  EXPECT_GT(persona_changes, 40);
}

TEST(SampleShots, CoversThePoolUniformly) {
  std::vector<int> counts(8);
  for (int i = 0; i < 8000; ++i)
    for (size_t s : sample_shots(8, 2, 0, "p" + std::to_string(i))) ++counts[s];
  for (int c : counts) EXPECT_NEAR(c, 2000, 250);
}

TEST(TaskPrompts, EveryBuiltinTaskLoadsFromTheEmbeddedCopy) {
  // Given the templates embedded at build time, when each task loads, then all three methods,
  // at least 8 demonstrations, and (for npc) a world are there.
  for (const TaskInfo& info : builtin_tasks()) {
    TaskPrompts p = load_task_prompts(info.name, "", "");
    EXPECT_EQ(p.source, "embedded");
    EXPECT_GE(p.demos.size(), 8u) << info.name;
    EXPECT_TRUE(p.few_shot.has_examples_section()) << info.name;
    EXPECT_TRUE(p.persona_few_shot.has_examples_section()) << info.name;
    std::string out;
    p.zero_shot.render({"UNIQUE-PERSONA", p.world, {}, nullptr}, {}, out);
    EXPECT_NE(out.find("UNIQUE-PERSONA"), std::string::npos) << info.name;
    EXPECT_EQ(p.world.empty(), info.kind != OutputKind::npc) << info.name;
    for (const auto& demo : p.demos) {
      EXPECT_TRUE(parse_output(info.kind, demo.output).ok) << demo.id;
    }
  }
}

TEST(TaskPrompts, PersonaFewShotShowsThePairsAndFewShotOnlyOutputs) {
  TaskPrompts p = load_task_prompts("math", "", "");
  std::vector<const Demonstration*> shots{&p.demos[0], &p.demos[1]};
  std::string few, persona_few;
  p.few_shot.render({"me", "", {}, nullptr}, shots, few);
  p.persona_few_shot.render({"me", "", {}, nullptr}, shots, persona_few);
  EXPECT_NE(few.find(p.demos[0].output), std::string::npos);
  EXPECT_EQ(few.find(p.demos[0].persona), std::string::npos);
  EXPECT_NE(persona_few.find(p.demos[0].persona), std::string::npos);
  EXPECT_NE(persona_few.find(p.demos[1].output), std::string::npos);
}

TEST(TaskPrompts, MissingDirectoryNamesTheFile) {
  try {
    load_task_prompts("math", "/nonexistent-prompts", "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-prompts/math/zero-shot.txt"),
              std::string::npos);
  }
}

TEST(TaskPrompts, CustomTemplateUsesInputFieldsAndSiblingExamples) {
  std::string dir = ::testing::TempDir() + "custom_tpl";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/haiku.txt") << "Write a haiku about {{topic}} as {{persona}}.\n";
  std::ofstream(dir + "/examples.jsonl") << "{\"id\":\"h1\",\"persona\":\"p\",\"output\":\"o\"}\n";
  TaskPrompts p = load_custom_prompts(dir + "/haiku.txt", "");
  EXPECT_EQ(p.task, "haiku");
  EXPECT_EQ(p.demos.size(), 1u);
  std::vector<std::pair<std::string, std::string>> fields{{"topic", "rain"}};
  std::string out;
  p.zero_shot.render({"a poet", "", {}, &fields}, {}, out);
  EXPECT_EQ(out, "Write a haiku about rain as a poet.\n");
}

TEST(TaskPrompts, BadExamplesLineNamesFileAndLine) {
  std::string dir = ::testing::TempDir() + "bad_examples";
  std::filesystem::create_directories(dir + "/math");
  for (const char* m : {"zero-shot", "few-shot", "persona-few-shot"})
    std::ofstream(dir + "/math/" + m + ".txt") << "{{#examples}}{{output}}{{/examples}}{{persona}}";
  std::ofstream(dir + "/math/examples.jsonl")
      << "{\"id\":\"a\",\"persona\":\"p\",\"output\":\"o\"}\n{\"id\":1}\n";
  try {
    load_task_prompts("math", dir, "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("math/examples.jsonl:2:"), std::string::npos) << e.what();
  }
}

TEST(Template, ErrorMessagesStayOnOneLine) {
  // Given templates whose bad names span lines or run long
  const std::string long_name = "{{#" + std::string(500, 'x') + "}}";
  for (const std::string& bad : {std::string("{{#exam\nples}}"), long_name}) {
    try {
      // When they are parsed
      Template::parse(bad, "my.txt");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      // Then the message is one short line that still names the file
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_LT(message.size(), 200u) << message;
      EXPECT_EQ(message.rfind("my.txt: offset 0: unknown section", 0), 0u) << message;
    }
  }
}

}  // namespace
}  // namespace personagen
