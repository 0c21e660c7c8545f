#include "synth/output_parsers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/json_text.h"

namespace personagen {
namespace {

using nlohmann::json;

const char* const kNpc =
    R"({"name":"Mira","role":"herbalist","backstory":"Fled the capital.",)"
    R"("personality":"wry","dialogue":["Need a poultice?","Mind the nettles."]})";

const char* const kTool =
    R"({"type":"function","function":{"name":"get_shift_schedule","description":"Looks up shifts.",)"
    R"("parameters":{"type":"object","properties":{"nurse_id":{"type":"string"},)"
    R"("week":{"type":"integer"}},"required":["nurse_id"]}}})";

const char* const kBareFunction =
    R"({"name":"get_shift_schedule","description":"Looks up shifts.",)"
    R"("parameters":{"type":"object","properties":{"nurse_id":{"type":"string"}}}})";

// An npc object with one key replaced (or removed when `value` is null).
std::string npc_with(const std::string& key, const json& value) {
  json npc = json::parse(kNpc);
  if (value.is_null()) {
    npc.erase(key);
  } else {
    npc[key] = value;
  }
  return npc.dump();
}

// A full-form tool whose function has `key` replaced (or removed when `value` is null).
std::string tool_with(const std::string& key, const json& value) {
  json tool = json::parse(kTool);
  if (value.is_null()) {
    tool["function"].erase(key);
  } else {
    tool["function"][key] = value;
  }
  return tool.dump();
}

TEST(OutputParsersTest, ValidNpcIsAcceptedAndKeptCompact) {
  // Given a pretty-printed npc with an extra key
  json npc = json::parse(kNpc);
  npc["faction"] = "river guild";

  // When it is checked
  const ParsedOutput out = parse_output(OutputKind::npc, npc.dump(2));

  // Then it passes and `parsed` is the same object on one line, extra key included
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(out.parsed.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(out.parsed), npc);
}

TEST(OutputParsersTest, NpcInsideJsonFenceIsFound) {
  // Given an npc in a ```json fence with prose before and after
  const std::string content =
      "Here is your NPC:\n```json\n" + std::string(kNpc) + "\n```\nHope it fits {your} world!";

  // When it is checked
  const ParsedOutput out = parse_output(OutputKind::npc, content);

  // Then the fenced object is taken
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(json::parse(out.parsed), json::parse(kNpc));
}

TEST(OutputParsersTest, NpcInPlainFenceIsFound) {
  // Given an npc in a fence without a language tag
  const ParsedOutput out = parse_output(OutputKind::npc, "```\n" + std::string(kNpc) + "\n```");

  // Then it is found
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(json::parse(out.parsed)["name"], "Mira");
}

TEST(OutputParsersTest, NpcWithProseAroundIsFound) {
  // Given an npc between prose that holds braces, with braces and escaped quotes inside a JSON
  // string, or a string that ends in a backslash (so the JSON text holds \\")
  for (const char* backstory :
       {"Wrote {curly} notes and \"quoted\" }} things.", "Kept her maps in C:\\"}) {
    json npc = json::parse(kNpc);
    npc["backstory"] = backstory;
    const std::string content = "Sure! An NPC {as asked}:\n" + npc.dump() + "\nEnjoy }";

    // When it is checked
    const ParsedOutput out = parse_output(OutputKind::npc, content);

    // Then the brace scan ignores braces in strings and takes the complete object
    ASSERT_TRUE(out.ok) << backstory << ": " << out.reason;
    EXPECT_EQ(json::parse(out.parsed), npc);
  }
}

TEST(JsonTextTest, NextBracketSkipsStringsWithEscapedQuotesAndBackslashes) {
  // Given text whose strings hold brackets, an escaped quote, an escaped backslash, and a last
  // string that is never closed
  const std::string_view text = R"(x{"a\"]":"\\"}[ "unclosed {)";

  // When the brackets are listed from the start
  std::vector<size_t> found;
  for (size_t i = next_json_bracket(text, 0); i != std::string_view::npos;
       i = next_json_bracket(text, i + 1)) {
    found.push_back(i);
  }

  // Then only the three outside strings are found, and the unclosed string runs to the end
  EXPECT_EQ(found, (std::vector<size_t>{1, 13, 14}));
  EXPECT_EQ(next_json_bracket("", 0), std::string_view::npos);
  EXPECT_EQ(next_json_bracket(R"("\)", 0), std::string_view::npos);
}

TEST(OutputParsersTest, NpcMissingAnyRequiredFieldIsRejected) {
  for (const char* key : {"name", "role", "backstory", "personality", "dialogue"}) {
    // Given an npc without one required field
    // When it is checked
    const ParsedOutput out = parse_output(OutputKind::npc, npc_with(key, nullptr));

    // Then it fails and the reason names the field
    EXPECT_FALSE(out.ok) << key;
    EXPECT_EQ(out.reason, std::string("npc: missing \"") + key + "\"");
    EXPECT_TRUE(out.parsed.empty());
  }
}

TEST(OutputParsersTest, NpcFieldsOfTheWrongTypeAreRejected) {
  // Given npcs with an empty name, a numeric role and bad dialogue
  const ParsedOutput empty_name = parse_output(OutputKind::npc, npc_with("name", ""));
  const ParsedOutput number_role = parse_output(OutputKind::npc, npc_with("role", 7));
  const ParsedOutput string_dialogue = parse_output(OutputKind::npc, npc_with("dialogue", "hi"));
  const ParsedOutput empty_dialogue =
      parse_output(OutputKind::npc, npc_with("dialogue", json::array()));
  const ParsedOutput mixed_dialogue =
      parse_output(OutputKind::npc, npc_with("dialogue", json::array({"hi", 3})));

  // Then each fails with the problem named
  EXPECT_EQ(empty_name.reason, "npc: \"name\" must be a non-empty string");
  EXPECT_EQ(number_role.reason, "npc: \"role\" must be a string");
  const std::string dialogue_reason = "npc: \"dialogue\" must be a non-empty array of strings";
  EXPECT_EQ(string_dialogue.reason, dialogue_reason);
  EXPECT_EQ(empty_dialogue.reason, dialogue_reason);
  EXPECT_EQ(mixed_dialogue.reason, dialogue_reason);
  EXPECT_FALSE(empty_name.ok || number_role.ok || string_dialogue.ok || empty_dialogue.ok ||
               mixed_dialogue.ok);
}

TEST(OutputParsersTest, NpcThatIsNotJsonIsRejected) {
  // Given prose without an object, and a broken object
  const ParsedOutput prose = parse_output(OutputKind::npc, "Mira is a herbalist who fled.");
  const ParsedOutput broken = parse_output(OutputKind::npc, R"(NPC: {"name": "Mira", oops})");
  const ParsedOutput unclosed = parse_output(OutputKind::npc, R"({"name": "Mira")");

  // Then each fails with a reason that says why
  EXPECT_FALSE(prose.ok);
  EXPECT_EQ(prose.reason, "no JSON object in output");
  EXPECT_FALSE(broken.ok);
  EXPECT_TRUE(broken.reason.starts_with("invalid JSON: ")) << broken.reason;
  EXPECT_EQ(broken.reason.find('\n'), std::string::npos);
  EXPECT_FALSE(unclosed.ok);
  EXPECT_EQ(unclosed.reason, "no JSON object in output");
}

TEST(OutputParsersTest, NpcArrayInsteadOfObjectIsRejected) {
  // Given an array holding the npc
  const ParsedOutput out = parse_output(OutputKind::npc, "[" + std::string(kNpc) + "]");

  // Then it fails: the reply must be one object
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.reason, "not a JSON object (got array)");
}

TEST(OutputParsersTest, FencedArrayIsRejectedButAnEmptyFenceIsLookedPast) {
  // Given an npc array in a fence, and an empty fence before a bare npc
  const ParsedOutput array =
      parse_output(OutputKind::npc, "```json\n[" + std::string(kNpc) + "]\n```");
  const ParsedOutput after_empty_fence =
      parse_output(OutputKind::npc, "```\n```\nThe NPC: " + std::string(kNpc));

  // Then the array fails and the object after the empty fence is found
  EXPECT_FALSE(array.ok);
  EXPECT_EQ(array.reason, "not a JSON object (got array)");
  EXPECT_TRUE(after_empty_fence.ok) << after_empty_fence.reason;
}

TEST(OutputParsersTest, ValidFullToolIsAccepted) {
  // Given a tool in the full OpenAI form
  const ParsedOutput out = parse_output(OutputKind::tool, kTool);

  // Then it passes unchanged, keys in the model's order
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(out.parsed, kTool);
}

TEST(OutputParsersTest, BareFunctionIsWrappedIntoTheFullForm) {
  // Given a bare function object, as models often answer
  const ParsedOutput out = parse_output(OutputKind::tool, kBareFunction);

  // Then it passes, wrapped into {"type":"function","function":{...}}
  ASSERT_TRUE(out.ok) << out.reason;
  const json expected = {{"type", "function"}, {"function", json::parse(kBareFunction)}};
  EXPECT_EQ(json::parse(out.parsed), expected);
}

TEST(OutputParsersTest, FlatResponsesStyleToolIsWrapped) {
  // Given the flat form {"type":"function","name":...}
  json flat = json::parse(kBareFunction);
  flat["type"] = "function";

  // When it is checked
  const ParsedOutput out = parse_output(OutputKind::tool, flat.dump());

  // Then the function moves under "function" and "type" stays outside only
  ASSERT_TRUE(out.ok) << out.reason;
  const json parsed = json::parse(out.parsed);
  EXPECT_EQ(parsed["type"], "function");
  EXPECT_FALSE(parsed["function"].contains("type"));
  EXPECT_EQ(parsed["function"]["name"], "get_shift_schedule");
}

TEST(OutputParsersTest, ToolWithBadNameIsRejected) {
  const std::string name_reason = "tool: function.name must match ^[a-zA-Z0-9_-]{1,64}$";
  for (const json& name :
       {json("get shifts"), json(""), json(std::string(65, 'a')), json("über"), json(42)}) {
    // Given a tool whose name breaks the pattern
    // When it is checked
    const ParsedOutput out = parse_output(OutputKind::tool, tool_with("name", name));

    // Then it fails with the pattern in the reason
    EXPECT_FALSE(out.ok) << name;
    EXPECT_EQ(out.reason, name_reason) << name;
  }
  // And a 64-character name is still fine
  EXPECT_TRUE(parse_output(OutputKind::tool, tool_with("name", std::string(64, 'a'))).ok);
}

TEST(OutputParsersTest, ToolWithoutParametersOrDescriptionIsRejected) {
  // Given tools missing parameters or with an empty description
  const ParsedOutput no_parameters =
      parse_output(OutputKind::tool, tool_with("parameters", nullptr));
  const ParsedOutput no_description = parse_output(OutputKind::tool, tool_with("description", ""));

  // Then each fails naming the field
  EXPECT_FALSE(no_parameters.ok);
  EXPECT_EQ(no_parameters.reason, "tool: missing function.parameters");
  EXPECT_FALSE(no_description.ok);
  EXPECT_EQ(no_description.reason, "tool: function.description must be a non-empty string");
}

TEST(OutputParsersTest, ToolParametersMustBeAnObjectSchema) {
  // Given parameters that are not an object schema
  const ParsedOutput array_type = parse_output(
      OutputKind::tool, tool_with("parameters", {{"type", "array"}, {"items", json::object()}}));
  const ParsedOutput not_object = parse_output(OutputKind::tool, tool_with("parameters", "none"));
  const ParsedOutput bad_property = parse_output(
      OutputKind::tool,
      tool_with("parameters", {{"type", "object"}, {"properties", {{"id", "string"}}}}));

  // Then each fails naming the problem
  EXPECT_EQ(array_type.reason, "tool: function.parameters.type must be \"object\"");
  EXPECT_EQ(not_object.reason, "tool: function.parameters must be an object");
  EXPECT_EQ(bad_property.reason, "tool: property \"id\" must be an object");
  EXPECT_FALSE(array_type.ok || not_object.ok || bad_property.ok);
}

TEST(OutputParsersTest, ToolRequiredMustNameProperties) {
  // Given "required" naming a property that does not exist, and a non-string entry
  json parameters = json::parse(kTool)["function"]["parameters"];
  parameters["required"] = {"nurse_id", "ward"};
  const ParsedOutput unknown = parse_output(OutputKind::tool, tool_with("parameters", parameters));
  parameters["required"] = {1};
  const ParsedOutput number = parse_output(OutputKind::tool, tool_with("parameters", parameters));

  // Then both fail
  EXPECT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.reason, "tool: required names unknown property \"ward\"");
  EXPECT_FALSE(number.ok);
  EXPECT_EQ(number.reason, "tool: function.parameters.required must hold strings");
}

TEST(OutputParsersTest, ToolWithWrongTypeIsRejected) {
  // Given a wrapper whose type is not "function"
  json tool = json::parse(kTool);
  tool["type"] = "retrieval";

  // Then it fails
  const ParsedOutput out = parse_output(OutputKind::tool, tool.dump());
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.reason, "tool: \"type\" must be \"function\"");
}

TEST(OutputParsersTest, FencedToolIsFound) {
  // Given a bare function in a ```json fence after an explanation
  const std::string content =
      "The nurse needs this tool:\n\n```json\n" + std::string(kBareFunction) + "\n```\n";

  // When it is checked
  const ParsedOutput out = parse_output(OutputKind::tool, content);

  // Then it is found and wrapped
  ASSERT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(json::parse(out.parsed)["function"]["name"], "get_shift_schedule");
}

TEST(OutputParsersTest, HostileContentNeverThrows) {
  // Given contents that could trip a naive parser
  const std::vector<std::string> contents = {std::string(10000, '{'),
                                             std::string(10000, '['),
                                             "```",
                                             "```json\n",
                                             "{\"a\":\"\\",
                                             "{\"a\":\"\\u12\"}",
                                             std::string("{\"name\":\"\xff\xfe\"}"),
                                             std::string("\0{}", 3),
                                             "}{",
                                             "{}{}{}",
                                             "null",
                                             "\"just a string\""};
  for (const std::string& content : contents) {
    for (OutputKind kind : {OutputKind::text, OutputKind::npc, OutputKind::tool}) {
      // When it is checked
      ParsedOutput out;
      EXPECT_NO_THROW(out = parse_output(kind, content));

      // Then a failure always carries a reason
      EXPECT_TRUE(out.ok || !out.reason.empty());
    }
  }
}

TEST(OutputParsersTest, DeeplyNestedObjectIsRejectedWithoutOverflowingTheStack) {
  // Given a valid npc with a value nested a million levels deep, bare and with prose around it
  const size_t depth = 1000000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  const std::string deep = R"({"extra":)" + nested + "," + std::string(kNpc).substr(1);

  for (const std::string& content : {deep, "Here it is: " + deep + " Enjoy."}) {
    // When it is checked
    const ParsedOutput out = parse_output(OutputKind::npc, content);

    // Then it is a failure that says why, not a crash
    EXPECT_FALSE(out.ok);
    EXPECT_NE(out.reason.find("levels deep"), std::string::npos) << out.reason;
  }

  // And a value nested a few levels deep is kept
  const std::string shallow = std::string("{\"extra\":[[[1]]],") + std::string(kNpc).substr(1);
  const ParsedOutput out = parse_output(OutputKind::npc, shallow);
  EXPECT_TRUE(out.ok) << out.reason;
  EXPECT_EQ(json::parse(out.parsed)["extra"], json::parse("[[[1]]]"));
}

}  // namespace
}  // namespace personagen
