// End-to-end: --config and --dump-config, and the dataset card (README.md) of an output
// directory, with the real binary against the local test server.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

class ConfigCard : public E2E {
 protected:
  fs::path write_text(const std::string& name, const std::string& text) {
    fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }
  // The render command line over two input files, and the same as a TOML file.
  std::vector<std::string> render_flags() {
    write_personas("a.jsonl", personas(2, "alpha"));
    write_personas("b.jsonl", personas(2, "beta"));
    return {"render",
            "-i",
            (dir_ / "a.jsonl").string(),
            "-i",
            (dir_ / "b.jsonl").string(),
            "-t",
            "math",
            "-m",
            "persona-few-shot",
            "--max-tokens",
            "512",
            "--temperature",
            "0.7",
            "--model",
            "file-model",
            "--system",
            "Be \"brief\",\nplease # really",
            "--seed",
            "9"};
  }
  fs::path render_config() {
    write_personas("a.jsonl", personas(2, "alpha"));
    write_personas("b.jsonl", personas(2, "beta"));
    return write_text("nightly.toml",
                      "# the nightly math build\n"
                      "task = \"math\"\n"
                      "method = \"persona-few-shot\"\n"
                      "input = [\"" +
                          (dir_ / "a.jsonl").string() + "\", \"" + (dir_ / "b.jsonl").string() +
                          "\"]\n"
                          "max-tokens = 512\n"
                          "temperature = 0.7\n"
                          "model = \"file-model\"\n"
                          "system = \"Be \\\"brief\\\",\\nplease # really\"\n"
                          "seed = 9\n");
  }
};

TEST_F(ConfigCard, ATomlConfigRendersExactlyWhatTheSameFlagsDo) {
  // Given the same configuration as flags and as a TOML file of long names
  Result flags = run(render_flags(), "");
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  ASSERT_EQ(read_jsonl(flags.out).size(), 4u);
  // When render reads the file, then its output is the same, byte for byte
  Result config = run({"render", "--config", render_config()}, "");
  ASSERT_EQ(config.exit_code, 0) << config.err;
  EXPECT_EQ(config.out, flags.out);
  // And the file's model beat $OPENAI_MODEL (the test sets it to test-model)
  EXPECT_NE(config.out.find("\"model\":\"file-model\""), std::string::npos);
  // And in a [render] table, too
  std::string table = "[render]\n" + read_file(render_config());
  Result in_table = run({"render", "--config", write_text("t.toml", table)}, "");
  ASSERT_EQ(in_table.exit_code, 0) << in_table.err;
  EXPECT_EQ(in_table.out, flags.out);
  // And in the [synth] table of a nightly run's file, or as dotted synth.keys: render shows
  // what that synth would send
  std::string synth_table = "[synth]\n" + read_file(render_config());
  Result in_synth = run({"render", "--config", write_text("s.toml", synth_table)}, "");
  ASSERT_EQ(in_synth.exit_code, 0) << in_synth.err;
  EXPECT_EQ(in_synth.out, flags.out);
  Result dotted = run({"render", "--config", write_text("d.toml", "synth.max-tokens = 9\n"), "-i",
                       write_text("p.jsonl", "{\"persona\":\"a chess coach\"}\n"), "-t", "math"},
                      "");
  ASSERT_EQ(dotted.exit_code, 0) << dotted.err;
  EXPECT_EQ(read_jsonl(dotted.out).at(0)["max_tokens"], 9);
}

TEST_F(ConfigCard, AFlagOnTheCommandLineBeatsTheFile) {
  Result r = run({"render", "--config", render_config(), "--max-tokens", "7"}, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& body : read_jsonl(r.out)) EXPECT_EQ(body["max_tokens"], 7);
}

TEST_F(ConfigCard, AnUnknownKeyIsOneLineNamingTheKeyAndTheFile) {
  fs::path path = write_text("nightly.toml", "task = \"math\"\nmax_tokenz = 512\n");
  Result r = run({"synth", "--config", path, "-i", "x.jsonl", "-o", dir_ / "out"}, "");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "personagen: error: " + path.string() +
                       ":2: unknown key \"max_tokenz\" (expected a long flag of personagen synth, "
                       "e.g. max-tokens)\n");
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(ConfigCard, FileErrorsAreOneLineAndNeverShowAValue) {
  // A key in a config file is refused with the flag's advice, and not shown
  fs::path key = write_text("k.toml", "api-key = \"sk-pasted-secret-0123\"\n");
  Result refused = run({"render", "--config", key, "-t", "math"}, "");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("use OPENAI_API_KEY or api-key-file"), std::string::npos);
  EXPECT_EQ(refused.err.find("sk-pasted"), std::string::npos) << refused.err;
  // A value that CLI11 rejects is not quoted back either
  fs::path bad = write_text("b.toml", "input = \"x\"\ntemperature = \"sk-pasted-secret-0123\"\n");
  Result invalid = run({"render", "--config", bad, "-t", "math"}, "");
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_NE(invalid.err.find("b.toml:2: "), std::string::npos) << invalid.err;
  EXPECT_NE(invalid.err.find("temperature"), std::string::npos) << invalid.err;
  EXPECT_EQ(invalid.err.find("sk-pasted"), std::string::npos) << invalid.err;
  // A malformed file names the line, a missing one the file
  Result malformed = run({"render", "--config", write_text("m.toml", "a = 1\nnot toml\n")}, "");
  EXPECT_EQ(malformed.exit_code, 2);
  EXPECT_NE(malformed.err.find("m.toml:2: expected key = value"), std::string::npos);
  Result missing = run({"render", "--config", dir_ / "none.toml"}, "");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("none.toml: no such file"), std::string::npos) << missing.err;
}

TEST_F(ConfigCard, TheDumpedConfigurationReadsBackToTheSameRender) {
  std::vector<std::string> args = render_flags();
  Result flags = run(args, "");
  args.push_back("--dump-config");
  Result dumped = run(args, "");
  ASSERT_EQ(dumped.exit_code, 0) << dumped.err;
  EXPECT_NE(dumped.out.find("max-tokens = 512\n"), std::string::npos) << dumped.out;
  EXPECT_NE(dumped.out.find("shots = 3\n"), std::string::npos) << dumped.out;  // a default
  Result again = run({"render", "--config", write_text("dumped.toml", dumped.out)}, "");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, flags.out);
}

TEST_F(ConfigCard, DedupAndBatchExportReadAConfigToo) {
  auto input = write_personas("in.jsonl", {"same text here", "same text here", "another one"});
  Result flags = run({"dedup", "-i", input, "-o", dir_ / "a.jsonl", "--ngram", "2"}, "");
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  fs::path config = write_text("d.toml", "input = \"" + input.string() + "\"\noutput = \"" +
                                             (dir_ / "b.jsonl").string() + "\"\nngram = 2\n");
  Result from_file = run({"dedup", "--config", config}, "");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(read_file(dir_ / "b.jsonl"), read_file(dir_ / "a.jsonl"));
  EXPECT_EQ(read_jsonl(read_file(dir_ / "b.jsonl")).size(), 2u);
  // batch export takes the request flags from a [batch.export] table
  fs::path batch = write_text("e.toml", "[batch.export]\ninput = \"" + input.string() +
                                            "\"\ntask = \"math\"\nmodel = \"m\"\n");
  Result exported = run({"batch", "export", "--config", batch, "-o", dir_ / "batch"}, "");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(dir_ / "batch"));
}

// The YAML header of the card in `dir` as JSON, parsed by PyYAML; nullopt when python3 or yaml
// is missing.
std::optional<json> card_header(const fs::path& dir) {
  if (std::system("python3 -c 'import yaml' >/dev/null 2>&1") != 0) return std::nullopt;
  std::string command =
      "python3 -c 'import sys, json, yaml\n"
      "text = open(sys.argv[1]).read()\n"
      "assert text.startswith(\"---\\n\")\n"
      "print(json.dumps(yaml.safe_load(text.split(\"---\\n\")[1])))' '" +
      (dir / "README.md").string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return json();
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  int status = pclose(pipe);
  EXPECT_EQ(status, 0) << "PyYAML could not read the header of " << dir / "README.md";
  return json::parse(out, nullptr, false);
}

// The shard file names of `dir` for `task`, as the card must list them.
json shard_names(const fs::path& dir, const std::string& task) {
  json names = json::array();
  for (const fs::path& shard : shard_files(dir, task)) names.push_back(shard.filename().string());
  return names;
}

TEST_F(ConfigCard, ASynthRunWritesACardWhoseDataFilesAreExactlyTheShards) {
  TestServer server;
  auto input = write_personas("in.jsonl", personas(5));
  fs::path out = dir_ / "out";
  Result r = run({"synth", "-i", input, "-t", "math", "-o", out, "--shard-size", "2", "--license",
                  "cc-by-4.0", "--price-in", "1", "--price-out", "2", "-q"},
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(out / "README.md"));
  std::string card = read_file(out / "README.md");
  EXPECT_NE(card.find("arXiv:2406.20094"), std::string::npos);
  EXPECT_NE(card.find("## Cost"), std::string::npos);
  EXPECT_EQ(card.find(server.base_url()), std::string::npos);
  // -i DIR reads the shards only, never the card
  Result again = run({"render", "-i", out, "-t", "math", "--field", "output"}, "");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_jsonl(again.out).size(), 5u);

  std::optional<json> header = card_header(out);
  if (!header) GTEST_SKIP() << "python3 with PyYAML (python3-yaml) is needed to parse the card";
  ASSERT_TRUE(header->is_object()) << card;
  EXPECT_EQ((*header)["license"], "cc-by-4.0");
  EXPECT_EQ((*header)["size_categories"], json::array({"n<1K"}));
  EXPECT_EQ((*header)["task_categories"], json::array({"text-generation"}));
  json files = (*header)["configs"][0]["data_files"][0];
  EXPECT_EQ(files["split"], "train");
  ASSERT_EQ(shard_names(out, "math").size(), 3u);
  EXPECT_EQ(files["path"], shard_names(out, "math"));
}

TEST_F(ConfigCard, AResumedRunRewritesTheCardWithTheFinalShards) {
  auto input = write_personas("in.jsonl", personas(40));
  fs::path out = dir_ / "out";
  std::vector<std::string> args{"synth", "-i", input, "-t",           "math", "-o",
                                out,     "-j", "2",   "--shard-size", "4",    "-q"};
  // Given a run interrupted part-way, whose card lists only shards that exist
  ASSERT_EQ(interrupted_run(args, 10, 50).exit_code, 130);
  ASSERT_TRUE(fs::exists(out / "README.md"));
  std::optional<json> before = card_header(out);
  if (before) {
    for (const json& name : (*before)["configs"][0]["data_files"][0]["path"])
      EXPECT_TRUE(fs::exists(out / name.get<std::string>())) << name;
  }
  // When it is resumed to the end
  TestServer server;
  Result r = run(args, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Then the card lists the final shards, all ten
  std::string card = read_file(out / "README.md");
  EXPECT_NE(card.find("| records | 40 |"), std::string::npos) << card;
  EXPECT_EQ(card.find("in progress"), std::string::npos);
  std::optional<json> after = card_header(out);
  if (!after) GTEST_SKIP() << "python3 with PyYAML (python3-yaml) is needed to parse the card";
  ASSERT_EQ(shard_names(out, "math").size(), 10u);
  EXPECT_EQ((*after)["configs"][0]["data_files"][0]["path"], shard_names(out, "math"));
}

}  // namespace
}  // namespace personagen::e2e
