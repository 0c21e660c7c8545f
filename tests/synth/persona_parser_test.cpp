#include "synth/persona_parser.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace personagen {
namespace {

using nlohmann::json;

TEST(PersonaParser, CleansLabelsQuotesAndNewlines) {
  ParsedOutput out = parse_persona("  Persona: \"A beekeeper in Ljubljana\n who sells honey.\"  ");
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(json::parse(out.parsed), "A beekeeper in Ljubljana who sells honey.");
}

TEST(PersonaParser, RejectsWhatIsNotOnePersona) {
  // Given replies that are not a usable persona, when parsed, then each says why.
  EXPECT_EQ(parse_persona("   ").reason, "empty output");
  EXPECT_EQ(parse_persona("I'm sorry, but I can't help with that.").reason,
            "a refusal, not a persona");
  EXPECT_EQ(parse_persona("1. A nurse\n2. A doctor").reason,
            "a list where one persona was asked for");
  EXPECT_EQ(parse_persona("- A nurse\n- A doctor").reason,
            "a list where one persona was asked for");
  EXPECT_EQ(parse_persona("[\"A nurse\", \"A doctor\"]").reason,
            "a list where one persona was asked for");
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "word ";
  EXPECT_NE(parse_persona(long_text).reason.find("too long"), std::string::npos);
}

TEST(PersonaParser, ControlCharactersAreBlank) {
  // Found by fuzzing: a form feed alone was accepted as a persona.
  EXPECT_FALSE(parse_persona("\f").ok);
  EXPECT_FALSE(parse_persona("\v\n").ok);
  EXPECT_FALSE(parse_persona_list(R"(["\f","a"])").ok);
  ParsedOutput out = parse_persona("A cook\f");
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.personas.at(0), "A cook");
}

TEST(PersonaParser, ListTakesAJsonArrayInOrFenceAndDropsDuplicates) {
  ParsedOutput out = parse_persona_list("```json\n[\"A nurse\", \"A doctor\", \"A nurse\"]\n```");
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(json::parse(out.parsed), json::array({"A nurse", "A doctor"}));
}

TEST(PersonaParser, ListRejectsNonArraysAndBadItems) {
  EXPECT_FALSE(parse_persona_list("A nurse and a doctor").ok);
  EXPECT_FALSE(parse_persona_list("[]").ok);
  EXPECT_FALSE(parse_persona_list("[1, 2]").ok);
  EXPECT_NE(parse_persona_list("[\"A nurse\", \"\"]").reason.find("item 2: empty"),
            std::string::npos);
  EXPECT_EQ(parse_persona_list("I cannot do that.").reason, "a refusal, not a persona");
}

TEST(PersonaParser, TasksDispatchToThem) {
  EXPECT_TRUE(parse_output(OutputKind::persona, "A cook.").ok);
  EXPECT_TRUE(parse_output(OutputKind::persona_list, "[\"A cook.\"]").ok);
  ASSERT_NE(find_task("text-to-persona"), nullptr);
  EXPECT_EQ(find_task("persona-to-persona")->kind, OutputKind::persona_list);
}

}  // namespace
}  // namespace personagen
