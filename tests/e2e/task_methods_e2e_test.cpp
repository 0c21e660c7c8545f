// Every generation task under every prompt method, end to end against the test server.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

const char* const kMethods[] = {"zero-shot", "few-shot", "persona-few-shot"};

// The demonstrations of a task, as shipped in prompts/<task>/examples.jsonl.
std::vector<json> demos(const std::string& task) {
  return read_jsonl(
      read_file(fs::path(PERSONAGEN_SOURCE_DIR) / "prompts" / task / "examples.jsonl"));
}

TEST_F(E2E, EveryTaskAndMethodGivesOneRecordPerPersonaFromItsOwnRequest) {
  TestServer server;
  auto input = write_personas("in.jsonl", personas(7));
  for (const char* task : kBuiltinTasks) {
    auto task_demos = demos(task);
    for (const char* method : kMethods) {
      SCOPED_TRACE(std::string(task) + " " + method);
      size_t before = server.chat_request_count();
      fs::path out = dir_ / (std::string(task) + "-" + method);
      // Given 7 personas and shards of 3, when synth runs, then it exits 0 with 3 shards.
      // (--structured off: the prompt alone asks for the format; structured_test.cpp has the
      // schema-shaped replies.)
      Result r = run({"synth", "-i", input, "-t", task, "-m", method, "-o", out, "--shots", "2",
                      "--shard-size", "3", "-q", "--structured", "off"},
                     server.base_url());
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_TRUE(fs::exists(out / (std::string(task) + "-00002.jsonl")));
      EXPECT_FALSE(fs::exists(out / (std::string(task) + "-00003.jsonl")));
      EXPECT_TRUE(fs::exists(out / "manifest.json"));

      // Each persona gives exactly one record, whose output the test server built from its own
      // prompt: each of the task's replies names the persona's role ("persona number 3").
      std::vector<json> records = read_shards(out, task);
      ASSERT_EQ(records.size(), 7u);
      std::multiset<std::string> seen;
      for (const json& rec : records) {
        std::string persona = rec["persona"];
        seen.insert(persona);
        std::string role = persona.substr(2, persona.find(" who ") - 2);
        EXPECT_NE(rec["output"].get<std::string>().find(role), std::string::npos) << rec.dump();
        EXPECT_EQ(rec["task"], task);
        EXPECT_EQ(rec["method"], method);
        EXPECT_EQ(rec["synthetic"], true);
        EXPECT_EQ(rec["attempts"], 1);
        EXPECT_EQ(rec["custom_id"].get<std::string>().rfind("pg-", 0), 0u);
        bool structured = std::string(task) == "npc" || std::string(task) == "tool";
        EXPECT_EQ(rec["parsed"].is_object(), structured);
        if (std::string(task) == "tool") {
          EXPECT_EQ(rec["parsed"]["type"], "function");
        }
        if (std::string(task) == "npc") {
          EXPECT_TRUE(rec["parsed"].contains("dialogue"));
        }
      }
      auto expected = personas(7);
      EXPECT_EQ(seen, std::multiset<std::string>(expected.begin(), expected.end()));

      // The bodies carry the persona and the right number of demonstrations.
      auto bodies = server.chat_requests();
      ASSERT_EQ(bodies.size() - before, 7u);
      size_t want_shots = std::string(method) == "zero-shot" ? 0 : 2;
      for (size_t i = before; i < bodies.size(); ++i) {
        json body = json::parse(bodies[i]);
        EXPECT_EQ(body["model"], "test-model");
        std::string prompt = body["messages"][0]["content"];
        size_t shown = 0, shown_personas = 0;
        for (const json& demo : task_demos) {
          shown += prompt.find(demo["output"].get<std::string>()) != std::string::npos;
          shown_personas += prompt.find(demo["persona"].get<std::string>()) != std::string::npos;
        }
        EXPECT_EQ(shown, want_shots);
        EXPECT_EQ(shown_personas, std::string(method) == "persona-few-shot" ? 2u : 0u);
      }
    }
  }
}

}  // namespace
}  // namespace personagen::e2e
