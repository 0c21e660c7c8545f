// What scripts/demo.sh shows, on two personas: each task's synth step against the bundled test
// server, as the demo runs it (persona-few-shot, the default --structured), gives records that
// look like their task, each built from its own persona; and the SFT chain's solve step verifies
// the math problems (issue 16).
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

const std::vector<std::string> kPersonas = {
    "A retired marine biologist in Lisbon who volunteers at the city aquarium on weekends",
    "A night-shift nurse at a rural clinic in Saskatchewan"};

class DemoTasks : public E2E {
 protected:
  // The demo's synth step for `task` on kPersonas: its records, one per persona, in input order.
  std::vector<json> synth(const std::string& task) {
    fs::path out = dir_ / task;
    Result r = run({"synth", "-i", input(), "-t", task, "-m", "persona-few-shot", "-o", out, "-q"},
                   server_.base_url());
    EXPECT_EQ(r.exit_code, 0) << task << ": " << r.err;
    std::vector<json> records = read_shards(out, task);
    EXPECT_EQ(records.size(), kPersonas.size()) << task;
    std::sort(records.begin(), records.end(),
              [](const json& a, const json& b) { return index_of(a) < index_of(b); });
    return records;
  }

  fs::path input() {
    if (input_.empty()) input_ = write_personas("personas.jsonl", kPersonas);
    return input_;
  }

  static size_t index_of(const json& record) {
    auto at = std::find(kPersonas.begin(), kPersonas.end(), persona_of(record));
    return static_cast<size_t>(at - kPersonas.begin());
  }

  // The persona as the replies quote it: "a retired marine biologist ...".
  static std::string quoted(const std::string& persona) {
    std::string text = persona;
    text[0] = 'a';
    return text;
  }

  TestServer server_;
  fs::path input_;
};

TEST_F(DemoTasks, TextTasksLookLikeTheirTaskAndNameTheirPersona) {
  for (const json& rec : synth("math")) {
    const std::string output = rec["output"];
    EXPECT_EQ(output.rfind("Math problem: For " + quoted(persona_of(rec)), 0), 0u) << output;
    EXPECT_EQ(output.find("\\boxed"), std::string::npos) << output;  // no solution given
  }
  for (const json& rec : synth("reasoning")) {
    const std::string output = rec["output"];
    EXPECT_EQ(output.rfind("Logical reasoning problem: " + persona_of(rec), 0), 0u) << output;
  }
  for (const json& rec : synth("instruction")) {
    const std::string output = rec["output"];
    EXPECT_EQ(output.rfind("I'm " + quoted(persona_of(rec)) + ".", 0), 0u) << output;
    EXPECT_NE(output.find('?'), std::string::npos) << output;
  }
  for (const json& rec : synth("knowledge")) {
    // A question alone on the first line, a blank line, then the article as the persona.
    const std::string output = rec["output"];
    size_t blank = output.find("\n\n");
    ASSERT_NE(blank, std::string::npos) << output;
    EXPECT_EQ(output[blank - 1], '?') << output;
    EXPECT_EQ(output.find('\n'), blank) << output;
    EXPECT_NE(output.find("As " + quoted(persona_of(rec)), blank), std::string::npos) << output;
  }
}

TEST_F(DemoTasks, JsonTasksParseAsTheirObjects) {
  std::set<std::string> names;
  for (const json& rec : synth("npc")) {
    // The NPC object, and nothing else: no tool, no echo of the prompt.
    json npc = json::parse(rec["output"].get<std::string>());
    std::set<std::string> keys;
    for (const auto& [key, value] : npc.items()) keys.insert(key);
    EXPECT_EQ(keys, (std::set<std::string>{"name", "role", "backstory", "personality", "dialogue"}))
        << npc.dump();
    EXPECT_EQ(rec["parsed"], npc);
    ASSERT_TRUE(npc["dialogue"].is_array());
    EXPECT_FALSE(npc["dialogue"].empty());
    EXPECT_NE(npc["backstory"].get<std::string>().find(quoted(persona_of(rec))), std::string::npos)
        << npc.dump();
    names.insert(npc["name"].get<std::string>() + npc["backstory"].get<std::string>());
  }
  EXPECT_EQ(names.size(), kPersonas.size());
  for (const json& rec : synth("tool")) {
    json tool = json::parse(rec["output"].get<std::string>());
    EXPECT_EQ(tool.size(), 2u) << tool.dump();
    EXPECT_EQ(tool["type"], "function");
    const std::string name = tool["function"]["name"];
    EXPECT_TRUE(std::regex_match(name, std::regex("[a-z]+_[a-z]+_[0-9a-f]{8}"))) << name;
    EXPECT_EQ(tool["function"]["parameters"]["type"], "object");
    EXPECT_EQ(rec["parsed"], tool);
  }
}

TEST_F(DemoTasks, SolvingTheMathProblemsVerifiesEachOne) {
  // Given the demo's math records,
  synth("math");
  // when the SFT chain solves them with the demo's seed,
  fs::path out = dir_ / "solve";
  Result r = run({"synth", "-t", "solve", "-i", dir_ / "math", "-o", out, "--extra-body",
                  R"({"seed": 1})", "-q"},
                 server_.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // then every problem is kept, its three samples agreeing on a boxed answer.
  std::vector<json> solved = read_shards(out, "solve");
  ASSERT_EQ(solved.size(), kPersonas.size());
  for (const json& rec : solved) {
    EXPECT_EQ(rec["problem"].get<std::string>().rfind("Math problem:", 0), 0u) << rec.dump();
    EXPECT_EQ(rec["agreement"], "3/3") << rec.dump();
    EXPECT_NE(rec["solution"].get<std::string>().find("\\boxed{"), std::string::npos);
  }
}

TEST_F(DemoTasks, PersonaTasksGivePersonas) {
  // persona-to-persona under its schema: three personas of the persona's circle.
  fs::path out = dir_ / "p2p";
  Result r = run({"synth", "-i", input(), "-t", "persona-to-persona", "-o", out, "-q"},
                 server_.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> personas = read_shards(out / "hop-1", "persona-to-persona");
  ASSERT_EQ(personas.size(), 3 * kPersonas.size());
  for (const json& rec : personas) {
    const std::string persona = persona_of(rec);
    EXPECT_TRUE(persona.find("this retired marine biologist") != std::string::npos ||
                persona.find("this night-shift nurse") != std::string::npos)
        << rec.dump();
  }
}

TEST_F(E2E, HelpEndsWithExamplesAndListsTheCommonFlagsFirst) {
  // personagen --help ends with a synth, a solve and a report example;
  Result top = run({"--help"}, "");
  EXPECT_EQ(top.exit_code, 0) << top.err;
  size_t examples = top.out.find("Examples:");
  ASSERT_NE(examples, std::string::npos) << top.out;
  for (const char* example : {"personagen synth -i", "-t solve", "personagen report -i"})
    EXPECT_NE(top.out.find(example, examples), std::string::npos) << example;
  // and synth --help names -i, -t, -o and --model before the rarer flags.
  Result synth = run({"synth", "--help"}, "");
  EXPECT_EQ(synth.exit_code, 0) << synth.err;
  size_t rare = synth.out.find("--shard-size");
  ASSERT_NE(rare, std::string::npos) << synth.out;
  for (const char* flag : {"--input", "--task", "--output", "--model", "--base-url"})
    EXPECT_LT(synth.out.find(flag), rare) << flag << "\n" << synth.out;
  // The examples are the top level's: no subcommand's help repeats them.
  for (std::vector<std::string> help : std::vector<std::vector<std::string>>{
           {"synth", "--help"}, {"dedup", "buckets", "--help"}, {"report", "--help"}}) {
    Result sub = run(help, "");
    EXPECT_EQ(sub.out.find("Examples:"), std::string::npos) << help[0] << "\n" << sub.out;
  }
}

}  // namespace
}  // namespace personagen::e2e
