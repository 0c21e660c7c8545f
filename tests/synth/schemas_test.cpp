#include "synth/schemas.h"

#include <gtest/gtest.h>

#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "schema_replies.h"
#include "support/unit_support.h"
#include "synth/prompt_template.h"
#include "synth/tasks.h"
#include "test_server/test_server_client.h"

namespace personagen {
namespace {

using nlohmann::json;

// The kinds with a built-in schema, and a task of each.
struct JsonTask {
  OutputKind kind;
  const char* task;
};
constexpr JsonTask kJsonTasks[] = {{OutputKind::npc, "npc"},
                                   {OutputKind::tool, "tool"},
                                   {OutputKind::persona_list, "persona-to-persona"}};

json schema_of(OutputKind kind) {
  return json::parse(*task_schema(kind));
}

// What is wrong with `value` as an instance of `schema` ("" when nothing): the keywords the
// built-in schemas use (type, properties, required, additionalProperties, enum, items,
// minLength, maxLength, minItems, maxItems), enough to hold a reply up to them.
std::string violation(const json& schema, const json& value, const std::string& at = "$") {
  if (schema.contains("enum")) {
    for (const json& allowed : schema["enum"])
      if (allowed == value) return "";
    return at + ": not in the enum";
  }
  const std::string type = schema.value("type", "");
  if (type == "string") {
    if (!value.is_string()) return at + ": not a string";
    const size_t size = value.get<std::string>().size();
    if (size > schema.value("maxLength", size_t{1} << 30))
      return at + ": " + std::to_string(size) + " characters, over maxLength";
    if (size < schema.value("minLength", size_t{0})) return at + ": under minLength";
  }
  if (type == "array") {
    if (!value.is_array()) return at + ": not an array";
    if (value.size() > schema.value("maxItems", size_t{1} << 30)) return at + ": over maxItems";
    if (value.size() < schema.value("minItems", size_t{0})) return at + ": under minItems";
    for (size_t i = 0; i < value.size(); ++i)
      if (auto bad = violation(schema["items"], value[i], at + "[" + std::to_string(i) + "]");
          !bad.empty())
        return bad;
  }
  if (type == "object") {
    if (!value.is_object()) return at + ": not an object";
    for (const json& name : schema.value("required", json::array()))
      if (!value.contains(name.get<std::string>())) return at + ": misses " + name.dump();
    const json properties = schema.value("properties", json::object());
    const json extra = schema.value("additionalProperties", json(true));
    for (const auto& [name, member] : value.items()) {
      if (properties.contains(name)) {
        if (auto bad = violation(properties[name], member, at + "." + name); !bad.empty())
          return bad;
      } else if (extra == false) {
        return at + ": \"" + name + "\" is not allowed";
      } else if (extra.is_object()) {
        if (auto bad = violation(extra, member, at + "." + name); !bad.empty()) return bad;
      }
    }
  }
  return "";
}

// Whether every string and array of `schema` is bounded, except inside the free-form part of a
// schema (an object that allows other properties).
std::string unbounded(const json& schema, const std::string& at = "$") {
  const std::string type = schema.value("type", "");
  if (type == "string" && !schema.contains("maxLength") && !schema.contains("enum"))
    return at + " has no maxLength";
  if (type == "array") {
    if (!schema.contains("maxItems") || !schema.contains("minItems"))
      return at + " has no minItems or maxItems";
    return unbounded(schema["items"], at + "[]");
  }
  const json properties = schema.value("properties", json::object());
  for (const auto& [name, member] : properties.items())
    if (auto bad = unbounded(member, at + "." + name); !bad.empty()) return bad;
  return "";
}

TEST(Schemas, StructuredModesHaveTheirFlagNames) {
  EXPECT_EQ(parse_structured("auto"), Structured::automatic);
  EXPECT_EQ(parse_structured("json_schema"), Structured::json_schema);
  EXPECT_EQ(parse_structured("json_object"), Structured::json_object);
  EXPECT_EQ(parse_structured("off"), Structured::off);
  EXPECT_EQ(parse_structured("json"), std::nullopt);
  EXPECT_EQ(parse_structured(""), std::nullopt);
}

TEST(Schemas, OnlyTheJsonKindsHaveASchema) {
  for (const JsonTask& t : kJsonTasks) EXPECT_TRUE(task_schema(t.kind).has_value()) << t.task;
  for (OutputKind kind : {OutputKind::text, OutputKind::persona, OutputKind::solution})
    EXPECT_FALSE(task_schema(kind).has_value());
}

TEST(Schemas, EveryBuiltInSchemaIsAnObjectSchemaWithBoundsAndNeverStrict) {
  for (const JsonTask& t : kJsonTasks) {
    SCOPED_TRACE(t.task);
    // Given a built-in schema, then it is JSON, an object at the root (as OpenAI wants),
    json schema = json::parse(*task_schema(t.kind), nullptr, false);
    ASSERT_TRUE(schema.is_object());
    EXPECT_EQ(schema["type"], "object");
    EXPECT_EQ(schema["additionalProperties"], false);
    // every string and array is bounded,
    EXPECT_EQ(unbounded(schema), "");
    // and since maxLength is not a strict keyword, it is sent with strict false.
    EXPECT_FALSE(strict_eligible(*task_schema(t.kind)));
  }
}

TEST(Schemas, EveryShippedDemonstrationFitsItsSchema) {
  // The bounds follow the templates: the demonstrations written for them fit within them.
  for (const JsonTask& t : kJsonTasks) {
    TaskPrompts prompts = load_task_prompts(t.task, "", "", false);
    ASSERT_FALSE(prompts.demos.empty()) << t.task;
    for (const Demonstration& demo : prompts.demos) {
      json reply = json::parse(demo.output);
      if (t.kind == OutputKind::persona_list) reply = {{"personas", reply}};
      EXPECT_EQ(violation(schema_of(t.kind), reply), "") << demo.id;
    }
  }
}

TEST(Schemas, TheTestServersInstanceOfEachSchemaPassesTheTasksParser) {
  for (const JsonTask& t : kJsonTasks) {
    SCOPED_TRACE(t.task);
    // Given the test server's reply under the schema to two prompts,
    std::string first = testing::detail::schema_instance(*task_schema(t.kind), "prompt one");
    std::string second = testing::detail::schema_instance(*task_schema(t.kind), "prompt two");
    // then each fits the schema and passes the task's parser, and they differ.
    EXPECT_EQ(violation(schema_of(t.kind), json::parse(first)), "") << first;
    ParsedOutput parsed = parse_output(t.kind, first);
    EXPECT_TRUE(parsed.ok) << parsed.reason << ": " << first;
    EXPECT_NE(first, second);
  }
  // The persona list: the three personas the schema asks for at least, all different.
  ParsedOutput personas =
      parse_output(OutputKind::persona_list,
                   testing::detail::schema_instance(*task_schema(OutputKind::persona_list), "p"));
  EXPECT_EQ(personas.personas.size(), 3u);
}

TEST(Schemas, StrictNeedsEveryObjectClosedWithEveryPropertyRequired) {
  const std::string closed =
      R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},)"
      R"("required":["a","b"],"additionalProperties":false})";
  EXPECT_TRUE(strict_eligible(closed));
  // Not closed, or closed with true, or a property left out of "required":
  EXPECT_FALSE(strict_eligible(R"({"type":"object","properties":{"a":{"type":"string"}},)"
                               R"("required":["a"]})"));
  EXPECT_FALSE(strict_eligible(R"({"type":"object","properties":{"a":{"type":"string"}},)"
                               R"("required":["a"],"additionalProperties":true})"));
  EXPECT_FALSE(strict_eligible(R"({"type":"object","properties":{"a":{"type":"string"},)"
                               R"("b":{"type":"string"}},"required":["a"],)"
                               R"("additionalProperties":false})"));
  // and the same rules hold for nested objects, in properties, items, anyOf and $defs.
  const std::string open_inner = R"({"type":"object","properties":{"x":{"type":"string"}}})";
  for (const std::string& nested :
       {R"("p":)" + open_inner, R"("p":{"type":"array","items":)" + open_inner + "}",
        R"("p":{"anyOf":[{"type":"null"},)" + open_inner + "]}"}) {
    EXPECT_FALSE(strict_eligible(R"({"type":"object","properties":{)" + nested +
                                 R"(},"required":["p"],"additionalProperties":false})"))
        << nested;
  }
  EXPECT_FALSE(strict_eligible(R"({"type":"object","properties":{},"required":[],)"
                               R"("additionalProperties":false,"$defs":{"d":)" +
                               open_inner + "}}"));
}

TEST(Schemas, StrictAllowsOnlyTheKeywordsOpenAiSupports) {
  auto with = [](const std::string& property) {
    return R"({"type":"object","properties":{"p":)" + property +
           R"(},"required":["p"],"additionalProperties":false})";
  };
  // Supported: pattern and format, number bounds, item counts, enum, const, anyOf, $ref/$defs.
  for (const std::string ok :
       {R"({"type":"string","pattern":"^a+$","format":"date","description":"d","title":"t"})",
        R"({"type":"number","minimum":0,"maximum":9,"exclusiveMinimum":-1,"multipleOf":0.5})",
        R"({"type":"integer","exclusiveMaximum":10})",
        R"({"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3})",
        R"({"type":["string","null"],"enum":["a",null]})", R"({"const":"x"})",
        R"({"anyOf":[{"type":"string"},{"type":"null"}]})"})
    EXPECT_TRUE(strict_eligible(with(ok))) << ok;
  EXPECT_TRUE(strict_eligible(R"({"type":"object","properties":{"p":{"$ref":"#/$defs/d"}},)"
                              R"("required":["p"],"additionalProperties":false,)"
                              R"("$defs":{"d":{"type":"string"}}})"));
  // Not supported: string lengths among others, so the built-in schemas are not strict.
  for (const std::string refused :
       {R"({"type":"string","maxLength":5})", R"({"type":"string","minLength":1})",
        R"({"type":"array","items":{"type":"string"},"uniqueItems":true})",
        R"({"type":"object","properties":{},"required":[],"additionalProperties":false,)"
        R"("maxProperties":3})",
        R"({"type":"string","default":"x"})", R"({"oneOf":[{"type":"string"}]})"})
    EXPECT_FALSE(strict_eligible(with(refused))) << refused;
  // The root is an object, not an anyOf, and the text is a JSON object.
  EXPECT_FALSE(strict_eligible(R"({"type":"array","items":{"type":"string"}})"));
  EXPECT_FALSE(strict_eligible(R"({"type":"object","anyOf":[],"properties":{},"required":[],)"
                               R"("additionalProperties":false})"));
  EXPECT_FALSE(strict_eligible("[]"));
  EXPECT_FALSE(strict_eligible("{not json"));
}

TEST(Schemas, ResponseFormatFollowsTheModeAndTheTask) {
  // Given npc, when auto, then json_schema with the task's schema, its name and strict false.
  json npc =
      json::parse(response_format_json(Structured::automatic, "npc", task_schema(OutputKind::npc)));
  EXPECT_EQ(npc["type"], "json_schema");
  EXPECT_EQ(npc["json_schema"]["name"], "npc");
  EXPECT_EQ(npc["json_schema"]["schema"], schema_of(OutputKind::npc));
  EXPECT_EQ(npc["json_schema"]["strict"], false);
  // The text is compact JSON on one line, since it goes into a JSONL body as it is,
  std::string text =
      response_format_json(Structured::json_schema, "tool", task_schema(OutputKind::tool));
  EXPECT_EQ(text, nlohmann::ordered_json::parse(text).dump());
  // and the schema keeps its property order (the order a constrained reply is written in).
  EXPECT_LT(text.find("\"name\""), text.find("\"parameters\""));
  // A schema that OpenAI's strict mode takes is sent strict.
  const std::string closed =
      R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"],)"
      R"("additionalProperties":false})";
  EXPECT_EQ(json::parse(response_format_json(Structured::automatic, "mine",
                                             closed))["json_schema"]["strict"],
            true);
  // json_object, off, and auto for a text task.
  EXPECT_EQ(response_format_json(Structured::json_object, "npc", task_schema(OutputKind::npc)),
            R"({"type":"json_object"})");
  EXPECT_EQ(response_format_json(Structured::off, "npc", task_schema(OutputKind::npc)), "");
  EXPECT_EQ(response_format_json(Structured::automatic, "math", std::nullopt), "");
}

TEST(Schemas, ANameIsMadeToFitTheNameRule) {
  const std::string schema = R"({"type":"object"})";
  auto name = [&schema](const std::string& task) {
    return json::parse(
        response_format_json(Structured::automatic, task, schema))["json_schema"]["name"];
  };
  EXPECT_EQ(name("persona-to-persona"), "persona-to-persona");
  EXPECT_EQ(name("my task.v2"), "my_task_v2");
  EXPECT_EQ(name(std::string(80, 'x')), std::string(64, 'x'));
  EXPECT_EQ(name(""), "reply");
}

TEST(Schemas, AModeThatNeedsASchemaOnATextTaskIsAUsageError) {
  ExitCode code = ExitCode::ok;
  std::string error =
      error_of([] { response_format_json(Structured::json_schema, "math", std::nullopt); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_NE(error.find("--structured json_schema"), std::string::npos) << error;
  EXPECT_NE(error.find("math"), std::string::npos) << error;
  error = error_of([] { response_format_json(Structured::json_object, "knowledge", {}); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_NE(error.find("--structured json_object"), std::string::npos) << error;
}

class SchemaFile : public TempDirTest {};

TEST_F(SchemaFile, AGoodFileIsReadAsCompactJson) {
  write_file(path("s.json"), "{\n  \"type\": \"object\",\n  \"properties\": {}\n}\n");
  EXPECT_EQ(load_schema_file(path("s.json")), R"({"type":"object","properties":{}})");
}

TEST_F(SchemaFile, ABadFileIsAOneLineErrorNamingTheFileAndTheProblem) {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"{\n  \"type\": \"object\",\n}", "line 3"},
      {"[1, 2]", "expected a JSON schema object, got array"},
      {R"({"name":"x","schema":{"type":"object"}})", "give the schema itself"},
      {R"({"type": 3})", "\"type\" must be a string or an array of strings"},
      {"", "not JSON"},
  };
  for (const Case& c : cases) {
    write_file(path("s.json"), c.text);
    ExitCode code = ExitCode::ok;
    std::string error = error_of([&] { load_schema_file(path("s.json")); }, &code);
    EXPECT_EQ(code, ExitCode::usage) << c.text;
    EXPECT_EQ(error.rfind("--schema " + path("s.json") + ": ", 0), 0u) << error;
    EXPECT_NE(error.find(c.says), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  std::string missing = error_of([&] { load_schema_file(path("missing.json")); });
  EXPECT_NE(missing.find("missing.json: cannot read the file"), std::string::npos) << missing;
}

// The test server's side: what the e2e tests of structured outputs rely on.
std::string with_format(const std::string& prompt, const json& format) {
  json body = json::parse(testing::chat_body(prompt));
  body["response_format"] = format;
  return body.dump();
}

json npc_format() {
  return {{"type", "json_schema"},
          {"json_schema", {{"name", "npc"}, {"schema", schema_of(OutputKind::npc)}}}};
}

TEST(TestServerStructuredOutputs, AMalformedResponseFormatIsA400NamingIt) {
  testing::TestServer server;
  const json schema = {{"type", "object"}};
  const json malformed[] = {
      "json_object",
      {{"type", "xml"}},
      {{"json_schema", {{"name", "x"}, {"schema", schema}}}},
      {{"type", "json_schema"}},
      {{"type", "json_schema"}, {"json_schema", {{"schema", schema}}}},
      {{"type", "json_schema"}, {"json_schema", {{"name", "bad name"}, {"schema", schema}}}},
      {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", "{}"}}}},
      {{"type", "json_schema"},
       {"json_schema", {{"name", "x"}, {"schema", schema}, {"strict", "yes"}}}},
  };
  for (const json& format : malformed) {
    auto reply = testing::post_chat(server, with_format("hi", format));
    ASSERT_EQ(testing::status_of(reply), 400) << format.dump();
    std::string message = json::parse(reply->body)["error"]["message"];
    EXPECT_NE(message.find("response_format"), std::string::npos) << message;
  }
  EXPECT_EQ(server.response_format_requests(), std::size(malformed));
}

TEST(TestServerStructuredOutputs, ASchemaShapesTheReplyAndOtherFormatsGetTheEcho) {
  testing::TestServer server;
  // json_schema: an instance of the schema, built from the prompt.
  auto shaped = testing::post_chat(server, with_format("Write an NPC.", npc_format()));
  ASSERT_EQ(testing::status_of(shaped), 200);
  json npc = testing::content_of(shaped->body);
  EXPECT_EQ(violation(schema_of(OutputKind::npc), npc), "") << npc.dump();
  EXPECT_EQ(npc["name"], testing::echo_tool_name("Write an NPC."));
  // json_object and text: the usual echo of the prompt.
  for (const char* type : {"json_object", "text"}) {
    auto echo = testing::post_chat(server, with_format("Echo me.", {{"type", type}}));
    ASSERT_EQ(testing::status_of(echo), 200) << type;
    EXPECT_EQ(testing::content_of(echo->body)["prompt"], "Echo me.") << type;
  }
  EXPECT_EQ(server.response_format_requests(), 3u);
  // A reply that a marker scripts wins over the schema, and faults still apply.
  auto solution = testing::post_chat(server, with_format("Solve [[answers: 7]]", npc_format()));
  ASSERT_EQ(testing::status_of(solution), 200);
  EXPECT_NE(solution->body.find("boxed{7}"), std::string::npos) << solution->body;
  auto broken = testing::post_chat(server, with_format("An NPC [[fault:badjson]]", npc_format()));
  ASSERT_EQ(testing::status_of(broken), 200);
  EXPECT_NE(broken->body.find("this is not json"), std::string::npos) << broken->body;
}

TEST(TestServerStructuredOutputs, AServerWithoutStructuredOutputsRefusesEveryResponseFormat) {
  testing::ServerOptions options;
  options.reject_response_format = true;
  testing::TestServer server(options);
  for (const json& format : {json{{"type", "json_object"}}, json{{"type", "text"}}, npc_format()}) {
    auto refused = testing::post_chat(server, with_format("hi", format));
    ASSERT_EQ(testing::status_of(refused), 400) << format.dump();
    EXPECT_NE(refused->body.find("response_format"), std::string::npos) << refused->body;
  }
  // A request without one is answered as usual.
  EXPECT_EQ(testing::status_of(testing::post_chat(server, testing::chat_body("hi"))), 200);
  EXPECT_EQ(server.response_format_requests(), 3u);
  EXPECT_EQ(server.chat_request_count(), 4u);
}

}  // namespace
}  // namespace personagen
