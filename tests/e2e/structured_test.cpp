// Structured outputs from the real binary against the test server: the JSON tasks send their
// schema as response_format and get schema-shaped replies, render and batch export show it,
// --structured off sends none, a server that refuses it stops the run after one request, and a
// custom --template brings its own --schema (issue 13).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::echo_tool_name;
using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

// The lines of `text`.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The prompt (the last message's content) of a request body.
std::string prompt_of(const json& body) {
  return body["messages"].back()["content"].get<std::string>();
}

TEST_F(E2E, JsonTasksSendTheirSchemaAndEveryReplyIsValid) {
  TestServer server;
  auto input = write_personas("in.jsonl", personas(3));
  for (const std::string task : {"npc", "tool"}) {
    SCOPED_TRACE(task);
    size_t before = server.chat_request_count();
    // Given a JSON task with the default --structured auto, when synth runs,
    fs::path out = dir_ / task;
    Result r = run({"synth", "-i", input, "-t", task, "-o", out, "-q"}, server.base_url());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // then every request carried the task's schema, named after it, not strict (it has
    // maxLength),
    std::vector<std::string> bodies = server.chat_requests();
    ASSERT_EQ(bodies.size() - before, 3u);
    std::set<std::string> tags;  // each reply carries its prompt's tag
    for (size_t i = before; i < bodies.size(); ++i) {
      json body = json::parse(bodies[i]);
      EXPECT_EQ(body["response_format"]["type"], "json_schema");
      EXPECT_EQ(body["response_format"]["json_schema"]["name"], task);
      EXPECT_EQ(body["response_format"]["json_schema"]["strict"], false);
      tags.insert(echo_tool_name(prompt_of(body)).substr(std::string("echo_tool_").size()));
    }
    // and every record is the parsed, schema-shaped reply to its own request.
    std::vector<json> records = read_shards(out, task);
    ASSERT_EQ(records.size(), 3u);
    for (const json& rec : records) {
      ASSERT_TRUE(rec["parsed"].is_object()) << rec.dump();
      EXPECT_EQ(rec["attempts"], 1);
      const std::string text = rec["parsed"].dump();
      auto tag = std::find_if(tags.begin(), tags.end(), [&text](const std::string& t) {
        return text.find(t) != std::string::npos;
      });
      ASSERT_NE(tag, tags.end()) << rec.dump();
      tags.erase(tag);
    }
  }
  EXPECT_EQ(server.response_format_requests(), server.chat_request_count());

  // persona-to-persona gets the three personas its schema asks for at least.
  Result p2p = run({"synth", "-i", input, "-t", "persona-to-persona", "-o", dir_ / "p2p", "-q"},
                   server.base_url());
  ASSERT_EQ(p2p.exit_code, 0) << p2p.err;
  EXPECT_EQ(read_shards(dir_ / "p2p/hop-1", "persona-to-persona").size(), 9u);
  EXPECT_EQ(server.response_format_requests(), server.chat_request_count());
}

TEST_F(E2E, StructuredOffSendsNoResponseFormat) {
  TestServer server;
  auto input = write_personas("in.jsonl", personas(2));
  Result r =
      run({"synth", "-i", input, "-t", "npc", "-o", dir_ / "out", "-q", "--structured", "off"},
          server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_shards(dir_ / "out", "npc").size(), 2u);
  EXPECT_EQ(server.chat_request_count(), 2u);
  EXPECT_EQ(server.response_format_requests(), 0u);
}

TEST_F(E2E, RenderAndBatchExportShowTheResponseFormat) {
  auto input = write_personas("in.jsonl", personas(2));
  // Given render of npc, then each body has the schema; of math, none.
  Result npc = run({"render", "-i", input, "-t", "npc", "--model", "m"}, "http://127.0.0.1:9/v1");
  ASSERT_EQ(npc.exit_code, 0) << npc.err;
  std::vector<json> bodies = read_jsonl(npc.out);
  ASSERT_EQ(bodies.size(), 2u);
  for (const json& body : bodies)
    EXPECT_EQ(body["response_format"]["json_schema"]["schema"]["required"][0], "name");
  Result math = run({"render", "-i", input, "-t", "math", "--model", "m"}, "http://127.0.0.1:9/v1");
  ASSERT_EQ(math.exit_code, 0) << math.err;
  for (const json& body : read_jsonl(math.out)) EXPECT_FALSE(body.contains("response_format"));
  // A batch's requests are the same bodies.
  Result exported =
      run({"batch", "export", "-i", input, "-t", "npc", "--model", "m", "-o", dir_ / "batch"}, "");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::vector<json> lines = read_jsonl(read_file(dir_ / "batch/requests-00000.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i]["body"], bodies[i]);
}

TEST_F(E2E, AServerThatRefusesResponseFormatStopsTheRunAfterOneRequest) {
  // Given a server without structured outputs,
  ServerOptions refusing;
  refusing.reject_response_format = true;
  TestServer server(refusing);
  auto input = write_personas("in.jsonl", personas(5));
  // when an npc run sends the schema,
  Result r =
      run({"synth", "-i", input, "-t", "npc", "-o", dir_ / "out", "-j", "4"}, server.base_url());
  // then it stops after the first request, with one line that says so and what to do.
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(server.chat_request_count(), 1u);
  size_t lines = 0;
  for (const std::string& line : lines_of(r.err)) {
    if (line.find("response_format") == std::string::npos) continue;
    ++lines;
    EXPECT_NE(line.find("rerun with --structured off --restart"), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 1u) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  // And with --structured off (a new configuration, so --restart) it runs to the end.
  Result off = run({"synth", "-i", input, "-t", "npc", "-o", dir_ / "out", "-q", "--structured",
                    "off", "--restart"},
                   server.base_url());
  EXPECT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(read_shards(dir_ / "out", "npc").size(), 5u);
}

TEST_F(E2E, ARunBegunWithoutStructuredOutputsResumesWithoutThem) {
  // Given an npc run made as runs were before structured outputs (no response_format),
  TestServer server;
  auto input = write_personas("in.jsonl", personas(3));
  Result before = run({"synth", "-i", input, "-t", "npc", "-o", dir_ / "out", "-q", "--structured",
                       "off", "--limit", "2"},
                      server.base_url());
  ASSERT_EQ(before.exit_code, 0) << before.err;
  // when it is rerun without --structured (whose default is auto),
  Result rerun = run({"synth", "-i", input, "-t", "npc", "-o", dir_ / "out", "--limit", "2"},
                     server.base_url());
  // then it goes on as it began, without response_format,
  EXPECT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(server.response_format_requests(), 0u);
  EXPECT_EQ(read_shards(dir_ / "out", "npc").size(), 2u);
  // while an explicit --structured auto is another configuration.
  Result asked = run({"synth", "-i", input, "-t", "npc", "-o", dir_ / "out", "--limit", "2",
                      "--structured", "auto"},
                     server.base_url());
  EXPECT_EQ(asked.exit_code, 2) << asked.err;
  EXPECT_NE(asked.err.find("response_format"), std::string::npos) << asked.err;
}

TEST_F(E2E, ACustomTemplateBringsItsOwnSchema) {
  // Given a template and a schema for its replies,
  TestServer server;
  auto input = write_personas("in.jsonl", personas(3));
  std::ofstream(dir_ / "recipe.txt") << "Write a recipe as JSON for {{persona}}.";
  std::ofstream(dir_ / "recipe.json") << R"({
    "type": "object",
    "properties": {
      "title": {"type": "string", "maxLength": 40},
      "steps": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 4},
      "minutes": {"type": "integer", "minimum": 5, "maximum": 90}
    },
    "required": ["title", "steps", "minutes"],
    "additionalProperties": false
  })";
  // when synth runs it,
  Result r = run({"synth", "-i", input, "--template", dir_ / "recipe.txt", "--schema",
                  dir_ / "recipe.json", "-o", dir_ / "out", "-q"},
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // then every request sent the schema, and every record's output is an instance of it.
  EXPECT_EQ(server.response_format_requests(), 3u);
  json body = json::parse(server.chat_requests().at(0));
  EXPECT_EQ(body["response_format"]["json_schema"]["name"], "recipe");
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"]["properties"]["minutes"]["maximum"],
            90);
  std::vector<json> records = read_shards(dir_ / "out", "recipe");
  ASSERT_EQ(records.size(), 3u);
  std::set<std::string> titles;
  for (const json& rec : records) {
    json recipe = json::parse(rec["output"].get<std::string>());
    titles.insert(recipe["title"].get<std::string>());
    EXPECT_LE(recipe["title"].get<std::string>().size(), 40u);
    EXPECT_EQ(recipe["steps"].size(), 2u);
    EXPECT_GE(recipe["minutes"], 5);
    EXPECT_LE(recipe["minutes"], 90);
  }
  EXPECT_EQ(titles.size(), 3u);  // each from its own request
  // A --schema with a built-in task, or a schema file that is not JSON, is a usage error.
  Result builtin = run({"synth", "-i", input, "-t", "npc", "--schema", dir_ / "recipe.json", "-o",
                        dir_ / "npc", "-q"},
                       server.base_url());
  EXPECT_EQ(builtin.exit_code, 2) << builtin.err;
  std::ofstream(dir_ / "bad.json") << "{\"type\": ";
  Result bad =
      run({"render", "-i", input, "--template", dir_ / "recipe.txt", "--schema", dir_ / "bad.json"},
          "");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find((dir_ / "bad.json").string() + ": not JSON"), std::string::npos)
      << bad.err;
}

}  // namespace
}  // namespace personagen::e2e
