#include "app/config_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "personagen/error.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

// The message of the usage Error that parse_config_text throws for `text`, or "" if none.
std::string parse_error(const std::string& text) {
  try {
    parse_config_text(text, "c.toml");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    return e.what();
  }
  return "";
}

TEST(ConfigText, ReadsTheTomlAConfigNeeds) {
  // Given flat keys of every kind, a table and a dotted key
  auto entries = parse_config_text(
      "# nightly\n"
      "task = \"math\"  # a comment\n"
      "max-tokens = 1_024\n"
      "temperature = +0.7\n"
      "restart = true\n"
      "input = [\n  \"a.jsonl\", # first\n  'b\\.jsonl',\n]\n"
      "system = \"\"\"\nLine \\\"one\\\"\\n\\u00e9\"\"\"\n"
      "[synth]\n"
      "seed = 7\n"
      "batch.export.shots = 2\n",
      "c.toml");
  ASSERT_EQ(entries.size(), 8u);
  EXPECT_EQ(entries[0].key, "task");
  EXPECT_EQ(entries[0].values, std::vector<std::string>{"math"});
  EXPECT_EQ(entries[0].line, 2u);
  EXPECT_EQ(entries[1].values[0], "1024");
  EXPECT_EQ(entries[2].values[0], "0.7");
  EXPECT_TRUE(entries[3].is_bool);
  EXPECT_TRUE(entries[4].is_array);
  // A literal string keeps its backslash
  EXPECT_EQ(entries[4].values, (std::vector<std::string>{"a.jsonl", "b\\.jsonl"}));
  EXPECT_EQ(entries[5].values[0], "Line \"one\"\n\xC3\xA9");
  EXPECT_EQ(entries[6].table, std::vector<std::string>{"synth"});
  EXPECT_EQ(entries[6].line, 13u);
  EXPECT_EQ(entries[7].table, (std::vector<std::string>{"synth", "batch", "export"}));
  EXPECT_EQ(entries[7].key, "shots");
}

TEST(ConfigText, AValueAtTheEndOfAFileWithoutANewlineIsRead) {
  // The last line of many files has no newline; a number or word there once never ended.
  auto entries = parse_config_text("max-tokens = 512", "c.toml");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].values, std::vector<std::string>{"512"});
  EXPECT_EQ(parse_config_text("quiet = true", "c.toml")[0].values,
            std::vector<std::string>{"true"});
  EXPECT_NE(parse_error("n = 1_00xp"), "");  // not a number: an error, at once
}

TEST(ConfigText, AMalformedFileIsOneLineNamingTheFileAndTheLine) {
  EXPECT_EQ(parse_error("task = \"math\"\nthis is not toml\n"), "c.toml:2: expected key = value");
  EXPECT_EQ(parse_error("a = 1\nb = \"open\n"), "c.toml:2: the string is not closed");
  EXPECT_EQ(parse_error("a = 1\na = 2\n"), "c.toml:2: key \"a\" is given twice");
  EXPECT_NE(parse_error("d = 2024-01-01\n").find("c.toml:1: expected a value"), std::string::npos);
  EXPECT_NE(parse_error("t = {a = 1}\n").find("inline tables"), std::string::npos);
  EXPECT_NE(parse_error("x = 007\n").find("c.toml:1:"), std::string::npos);
  EXPECT_NE(parse_error("x = \"\\q\"\n").find("unknown escape"), std::string::npos);
  EXPECT_NE(parse_error("x = \"\xff\"\n").find("c.toml:1: not UTF-8"), std::string::npos);
  // A value is never quoted back: it may be a key pasted in the wrong place
  EXPECT_EQ(parse_error("model = sk-secret-value\n").find("sk-secret"), std::string::npos);
}

// A root with one subcommand like synth's, its flags bound to plain variables.
struct TestCli {
  CLI::App app{"test"};
  ConfigFile config;
  std::string task, model;
  int64_t max_tokens = 0;
  int shots = 3;
  std::vector<std::string> inputs;
  bool restart = false, quiet = false;
  CLI::App* synth = nullptr;

  TestCli() {
    add_config_flags(app, config);
    app.fallthrough();
    app.add_flag("-q,--quiet", quiet);
    synth = app.add_subcommand("synth");
    synth->add_option("-t,--task", task);
    synth->add_option("--model", model);
    synth->add_option("--max-tokens", max_tokens);
    synth->add_option("--shots", shots)->capture_default_str();
    synth->add_option("-i,--input", inputs);
    synth->add_flag("--restart", restart);
  }
  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());
    app.parse(args);
  }
};

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/personagen-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& text) {
    std::string path = dir_ / "c.toml";
    std::ofstream(path) << text;
    return path;
  }
  // The usage Error's message of parsing `args`, or "".
  std::string error_of(TestCli& cli, const std::vector<std::string>& args) {
    try {
      cli.parse(args);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(ConfigFileTest, FlatKeysGoToTheSubcommandGivenAndFlagsWin) {
  // Given a file with flat keys, one of them also given as a flag
  std::string path = write(
      "task = \"math\"\nmax-tokens = 512\ninput = [\"a\", \"b\"]\nrestart = true\nquiet = true\n"
      "model = \"file\"\n");
  TestCli cli;
  cli.parse({"synth", "--config", path, "--model", "flag"});
  // Then the file fills what the command line left, and the command line wins
  EXPECT_EQ(cli.task, "math");
  EXPECT_EQ(cli.max_tokens, 512);
  EXPECT_EQ(cli.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(cli.restart);
  EXPECT_TRUE(cli.quiet);  // personagen's own flag, flat too
  EXPECT_EQ(cli.model, "flag");
  EXPECT_EQ(cli.shots, 3);
}

TEST_F(ConfigFileTest, TheSubcommandsTableWinsOverFlatKeys) {
  std::string path = write("task = \"flat\"\n[synth]\ntask = \"table\"\n");
  TestCli cli;
  cli.parse({"--config", path, "synth"});
  EXPECT_EQ(cli.task, "table");
}

TEST_F(ConfigFileTest, AnUnknownKeyNamesTheKeyTheFileAndTheNearestFlag) {
  std::string path = write("task = \"math\"\nmax_tokenz = 5\n");
  TestCli cli;
  EXPECT_EQ(error_of(cli, {"synth", "--config", path}),
            path +
                ":2: unknown key \"max_tokenz\" (expected a long flag of personagen synth, e.g. "
                "max-tokens)");
}

TEST_F(ConfigFileTest, AnApiKeyIsRefusedWithoutQuotingIt) {
  std::string path = write("api_key = \"sk-very-secret\"\n");
  TestCli cli;
  std::string message = error_of(cli, {"synth", "--config", path});
  EXPECT_NE(message.find("use OPENAI_API_KEY or api-key-file"), std::string::npos) << message;
  EXPECT_EQ(message.find("sk-very"), std::string::npos);
}

TEST_F(ConfigFileTest, AMissingFileAndWrongShapesAreUsageErrors) {
  TestCli missing;
  EXPECT_EQ(error_of(missing, {"synth", "--config", (dir_ / "nope.toml").string()}),
            "--config " + (dir_ / "nope.toml").string() + ": no such file");
  TestCli flag;
  std::string path = write("restart = \"yes\"\n");
  EXPECT_NE(error_of(flag, {"synth", "--config", path}).find(":1: restart is a flag"),
            std::string::npos);
  TestCli array;
  path = write("task = [\"a\", \"b\"]\n");
  EXPECT_NE(error_of(array, {"synth", "--config", path}).find("task takes one value"),
            std::string::npos);
  TestCli table;
  path = write("[synht]\ntask = \"a\"\n");
  std::string unknown_table = error_of(table, {"synth", "--config", path});
  EXPECT_NE(unknown_table.find(":2: unknown table [synht]"), std::string::npos) << unknown_table;
}

TEST(ConfigFileWhere, NamesTheFileLineOfAKeyNotGivenAsAFlag) {
  // Given a file that set max-tokens on line 2
  ConfigFile config;
  config.path = "c.toml";
  config.entries.push_back(ConfigEntry{2, {}, "max-tokens", {"abc"}, false, false});
  const std::string message = "--max-tokens: Value abc could not be converted";
  auto where = [&](std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    return config.where(message, argv);
  };
  // Then an error about --max-tokens is the file's when the command line has another flag that
  // only starts the same, and not when it gives the flag itself (either way)
  EXPECT_EQ(where({"personagen", "synth", "--max-tokens-x", "5"}), "c.toml:2: ");
  EXPECT_EQ(where({"personagen", "synth", "--max-tokens", "5"}), "");
  EXPECT_EQ(where({"personagen", "synth", "--max-tokens=5"}), "");
  // And an error about a longer flag is not the file's key's
  EXPECT_EQ(config.where("--max-tokens-x: unknown", {}), "");
}

TEST_F(ConfigFileTest, TheDumpReadsBackToTheSameConfiguration) {
  // Given values that need quoting and escaping
  TestCli first;
  first.parse({"synth", "-t", "a \"quoted\" task\twith\\ a tab", "--model", "007", "--max-tokens",
               "64", "-i", "x", "-i", "y,z", "--restart"});
  std::string dumped = dump_config(first.app);
  EXPECT_NE(dumped.find("shots = 3\n"), std::string::npos) << dumped;  // a default
  EXPECT_NE(dumped.find("model = \"007\"\n"), std::string::npos) << dumped;
  // When it is read back
  TestCli second;
  second.parse({"synth", "--config", write(dumped)});
  // Then every value is the same
  EXPECT_EQ(second.task, first.task);
  EXPECT_EQ(second.model, "007");
  EXPECT_EQ(second.max_tokens, 64);
  EXPECT_EQ(second.inputs, first.inputs);
  EXPECT_TRUE(second.restart);
  EXPECT_EQ(dump_config(second.app), dumped);
}

}  // namespace
}  // namespace personagen
