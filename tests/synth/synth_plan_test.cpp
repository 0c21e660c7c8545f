#include "synth/synth_plan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

Options base_options() {
  Options o;
  o.inputs = {"in.jsonl"};
  o.task = "math";
  o.method = "persona-few-shot";
  o.model = "m";
  o.shots = 3;
  return o;
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
  other = o;
  other.system = "Answer in French.";
  EXPECT_NE(base, id(other, "p"));
  const std::string with_system = id(other, "p");
  other.system = "Answer in German.";
  EXPECT_NE(with_system, id(other, "p"));
  other = o;
  other.extra_body = R"({"seed": 7})";
  const std::string with_seed = id(other, "p");
  EXPECT_NE(base, with_seed);
  // The same object written differently is the same request, so the same key.
  other.extra_body = R"(  {"seed":7}  )";
  EXPECT_EQ(with_seed, id(other, "p"));
}

TEST(SynthPlan, SystemAndExtraBodyGoIntoEveryBodyAndTheConfig) {
  // Given a system message and extra fields, given in no particular key order
  Options o = base_options();
  o.system = "Answer in French.";
  o.extra_body = R"({"stop":["\n\n"],"chat_template_kwargs":{"enable_thinking":false},"seed":7})";
  SynthPlan plan = make_plan(o);
  RequestBuilder builder(plan);

  // When a request is built
  builder.build(record("a nurse"));

  // Then the body has the system message first and the extra fields as given
  const nlohmann::json body = nlohmann::json::parse(builder.body());
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][0]["content"], "Answer in French.");
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(body["seed"], 7);
  EXPECT_EQ(body["stop"][0], "\n\n");
  EXPECT_EQ(body["chat_template_kwargs"]["enable_thinking"], false);
  // And the configuration records both, the fields in canonical (sorted, compact) form
  auto find = [&](const std::string& name) {
    for (const auto& [k, v] : plan.config)
      if (k == name) return v;
    return std::string("<absent>");
  };
  EXPECT_EQ(find("extra_body"),
            R"("chat_template_kwargs":{"enable_thinking":false},"seed":7,"stop":["\n\n"])");
  EXPECT_NE(find("system"), "<absent>");
  // And without them, neither is in the configuration, so older runs resume
  SynthPlan plain = make_plan(base_options());
  for (const auto& [k, v] : plain.config) {
    EXPECT_NE(k, "system");
    EXPECT_NE(k, "extra_body");
  }
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
  for (const char* bad :
       {"[1]", "{", "\"seed\"", R"({"model":"x"})", R"({"messages":[]})", R"({"stream":true})"}) {
    o = base_options();
    o.extra_body = bad;
    expect_usage(o, "--extra-body: ");
  }
  o = base_options();
  o.max_tokens = 100;
  o.extra_body = R"({"max_tokens":200})";
  expect_usage(o, "\"max_tokens\" is also set by its flag");
  o.max_tokens.reset();
  EXPECT_NO_THROW(make_plan(o));  // without the flag, the field may set it
}

// The body and custom_id of the request for one persona under `o`.
struct Built {
  nlohmann::json body;
  std::string custom_id;
};
Built build_one(const Options& o, const std::string& persona = "a blacksmith") {
  SynthPlan plan = make_plan(o);
  RequestBuilder builder(plan);
  builder.build(record(persona));
  return {nlohmann::json::parse(builder.body()), builder.custom_id()};
}

TEST(SynthPlan, JsonTasksSendTheirSchemaAndTextTasksNothing) {
  // Given each JSON task with the default --structured auto, then every body carries the
  // task's schema as response_format, and the configuration records it.
  for (const char* task : {"npc", "tool", "persona-to-persona"}) {
    SCOPED_TRACE(task);
    Options o = base_options();
    o.task = task;
    Built built = build_one(o);
    const nlohmann::json& format = built.body["response_format"];
    EXPECT_EQ(format["type"], "json_schema");
    EXPECT_EQ(format["json_schema"]["name"], task);
    EXPECT_EQ(format["json_schema"]["schema"]["type"], "object");
    EXPECT_EQ(format["json_schema"]["strict"], false);
    EXPECT_NE(config_value(make_plan(o), "response_format"), "<absent>");
    // With --structured off, nothing is sent or recorded, and the key is another.
    Options off = o;
    off.structured = "off";
    Built plain = build_one(off);
    EXPECT_FALSE(plain.body.contains("response_format"));
    EXPECT_EQ(config_value(make_plan(off), "response_format"), "<absent>");
    EXPECT_NE(plain.custom_id, built.custom_id);
    // json_object asks for any JSON object.
    Options object = o;
    object.structured = "json_object";
    EXPECT_EQ(build_one(object).body["response_format"], (nlohmann::json{{"type", "json_object"}}));
  }
  // A text task sends nothing, with auto as with off: its requests and keys are what they were.
  Options math = base_options();
  Built text = build_one(math);
  EXPECT_FALSE(text.body.contains("response_format"));
  EXPECT_EQ(config_value(make_plan(math), "response_format"), "<absent>");
  math.structured = "off";
  EXPECT_EQ(build_one(math).custom_id, text.custom_id);
}

TEST(SynthPlan, StructuredFlagsThatDoNotApplyAreUsageErrors) {
  auto expect_usage = [](const Options& o, const std::string& needle) {
    ExitCode code = ExitCode::ok;
    std::string error = error_of([&] { make_plan(o); }, &code);
    EXPECT_EQ(code, ExitCode::usage) << needle;
    EXPECT_NE(error.find(needle), std::string::npos) << error;
  };
  Options o = base_options();
  o.structured = "yes";
  expect_usage(o, "unknown --structured \"yes\"");
  o = base_options();
  o.structured = "json_schema";
  expect_usage(o, "--structured json_schema: math replies in text");
  o.structured = "json_object";
  expect_usage(o, "--structured json_object applies to the JSON tasks");
  o = base_options();
  o.task = "npc";
  o.schema_file = "schema.json";
  expect_usage(o, "--schema applies to a custom --template; npc has its built-in schema");
  // A response_format of one's own goes in --extra-body with --structured off only.
  for (const char* task : {"npc", "math"}) {
    o = base_options();
    o.task = task;
    o.extra_body = R"({"response_format":{"type":"json_object"}})";
    // A text task sends no response_format of its own under auto, so there is nothing to clash.
    if (std::string(task) == "npc")
      expect_usage(o, "give it once: --structured off to send your own");
    else
      EXPECT_EQ(build_one(o).body["response_format"], (nlohmann::json{{"type", "json_object"}}));
    o.structured = "off";
    EXPECT_EQ(build_one(o).body["response_format"], (nlohmann::json{{"type", "json_object"}}));
  }
}

class CustomSchema : public TempDirTest {
 protected:
  // Options for the template recipe.txt with `schema` in the file `name` (none when empty).
  Options custom(const std::string& schema, const std::string& name = "recipe.schema.json") {
    write_file(path("recipe.txt"), "Write a recipe as JSON for {{persona}}.");
    Options o = base_options();
    o.task.clear();
    o.method = "zero-shot";
    o.template_file = path("recipe.txt");
    if (!schema.empty()) {
      write_file(path(name), schema);
      o.schema_file = path(name);
    }
    return o;
  }
};

TEST_F(CustomSchema, ACustomTemplateSendsItsSchema) {
  // Given a custom template with a schema that OpenAI's strict mode accepts,
  const std::string schema =
      R"({"type": "object", "properties": {"title": {"type": "string"}},
          "required": ["title"], "additionalProperties": false})";
  Built built = build_one(custom(schema));
  // then each body asks for it, named after the template, strict,
  const nlohmann::json& format = built.body["response_format"];
  EXPECT_EQ(format["type"], "json_schema");
  EXPECT_EQ(format["json_schema"]["name"], "recipe");
  EXPECT_EQ(format["json_schema"]["schema"], nlohmann::json::parse(schema));
  EXPECT_EQ(format["json_schema"]["strict"], true);
  // and the schema is part of the key and of the configuration.
  Options other = custom(R"({"type": "object"})", "other.schema.json");
  EXPECT_NE(build_one(other).custom_id, built.custom_id);
  EXPECT_NE(config_value(make_plan(other), "response_format"),
            config_value(make_plan(custom(schema)), "response_format"));
  // Without --schema a custom template is a text task: nothing is sent, and json_schema has
  // nothing to send.
  Options text = custom("");
  EXPECT_FALSE(build_one(text).body.contains("response_format"));
  text.structured = "json_schema";
  EXPECT_NE(error_of([&] { make_plan(text); }).find("--structured json_schema: recipe"),
            std::string::npos);
}

TEST_F(CustomSchema, ABadSchemaFileIsAUsageErrorNamingIt) {
  Options o = custom("{\"type\": \"object\",}");
  ExitCode code = ExitCode::ok;
  std::string error = error_of([&] { make_plan(o); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_EQ(error.rfind("--schema " + o.schema_file + ": not JSON: ", 0), 0u) << error;
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
