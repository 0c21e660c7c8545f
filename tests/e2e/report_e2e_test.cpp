// personagen report end to end (issue 14): a constructed dataset whose figures are known, a run
// directory with its manifest and prices, --compare, the page, --embed-model, and bad flags.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

// Flags that do not parse or do not fit together: exit 2, one line naming the flag and what it
// expects, nothing on stdout, nothing read or written. No server is needed: nothing is sent.
class ReportFlags : public E2E {};

struct BadReportFlags {
  std::vector<std::string> args;  // after "report -i <records>"
  const char* message;            // a part of the one line on stderr
};

TEST_F(ReportFlags, BadFlagsAreOneLineUsageErrors) {
  const std::string records = dir_ / "records.jsonl";
  std::ofstream(records) << R"({"persona":"p","output":"o"})"
                         << "\n";
  const std::string page = dir_ / "page.html";
  const BadReportFlags cases[] = {
      {{"--sample", "1"}, "--sample: expected a whole number from 2 to 10000"},
      {{"--sample", "10001"}, "--sample: expected a whole number from 2 to 10000"},
      {{"--dup-sample", "0"}, "--dup-sample: expected a whole number of at least 1"},
      {{"--seed", "-1"}, "--seed: expected a whole number of at least 0"},
      {{"--price-in", "nan"}, "--price-in: expected a number of at least 0"},
      {{"--html", "-"}, "report: --html needs a file"},
      {{"--json", page, "--html", page}, "report: --json and --html must be different files"},
      {{"--field", ""}, "report: --field must name a field"},
      {{"--bogus"}, "--bogus"},
      {{"--api-key", "sk-secret-value"}, "--api-key is not accepted"},
  };
  for (const BadReportFlags& bad : cases) {
    std::vector<std::string> args{"report", "-i", records};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    SCOPED_TRACE(bad.args.front());
    Result r = run(args, "http://127.0.0.1:9/v1");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(bad.message), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("sk-secret-value"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(fs::exists(page));

  // and -i is required
  Result missing = run({"report"}, "http://127.0.0.1:9/v1");
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("--input"), std::string::npos) << missing.err;
}

TEST_F(ReportFlags, ConfigFileKeysAreReportFlags) {
  // Given config files: one with a report flag out of range, one with a key report lacks
  const std::string records = dir_ / "records.jsonl";
  std::ofstream(records) << R"({"persona":"p","output":"o"})"
                         << "\n";
  const std::string bad_value = dir_ / "bad-value.toml", unknown = dir_ / "unknown.toml";
  std::ofstream(bad_value) << "[report]\nsample = 1\n";
  std::ofstream(unknown) << "[report]\ntemperature = 0.5\n";

  // When report reads them, then each is a usage error naming the flag or the key
  Result range = run({"report", "-i", records, "--config", bad_value}, "http://127.0.0.1:9/v1");
  EXPECT_EQ(range.exit_code, 2) << range.err;
  EXPECT_NE(range.err.find("--sample: expected a whole number from 2 to 10000"), std::string::npos)
      << range.err;
  Result key = run({"report", "-i", records, "--config", unknown}, "http://127.0.0.1:9/v1");
  EXPECT_EQ(key.exit_code, 2) << key.err;
  EXPECT_NE(key.err.find("temperature"), std::string::npos) << key.err;
}

using personagen::testing::TestServer;

// A dataset whose every figure the test knows: 40 records of lower-case ASCII words (so the
// report's normalization changes nothing), 10 of them one text repeated (9 near duplicates at any
// threshold), 15 that open "math problem a farmer", 12 "write a short story", and 3 that open on
// their own; two bad lines besides.
struct KnownDataset {
  std::vector<std::string> outputs;
  std::string jsonl;

  KnownDataset() {
    const std::string repeated =
        "the quick brown fox jumps over the lazy dog near the river bank today";
    for (int i = 0; i < 40; ++i) {
      std::string text;
      if (i < 10) {
        text = repeated;
      } else {
        text = i < 25 ? "math problem a farmer" : i < 37 ? "write a short story" : "opening";
        if (i >= 37) text += std::to_string(i) + " stands alone";
        for (int k = 0; k < 3 + i % 7; ++k)
          text += " w" + std::to_string(i) + "x" + std::to_string(k);
      }
      outputs.push_back(text);
      json record{
          {"persona", "persona " + std::to_string(i % 20)},
          {"output", text},
          {"task", "math"},
          {"finish_reason", i % 20 == 3 ? "length" : "stop"},
          {"attempts", i % 13 == 5 ? 2 : 1},
          {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 20}, {"total_tokens", 30}}}};
      jsonl += record.dump() + "\n";
      if (i == 7) jsonl += "this line is not json\n";
      if (i == 8)
        jsonl += R"({"persona":"no output here"})"
                 "\n";
    }
  }

  static std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }

  // Unique n-grams over all n-grams, counted here the plain way.
  double distinct(size_t n) const {
    std::set<std::string> unique;
    size_t all = 0;
    for (const std::string& text : outputs) {
      std::vector<std::string> w = words(text);
      for (size_t i = 0; i + n <= w.size(); ++i, ++all) {
        std::string gram;
        for (size_t k = 0; k < n; ++k) gram += w[i + k] + " ";
        unique.insert(gram);
      }
    }
    return static_cast<double>(unique.size()) / static_cast<double>(all);
  }

  // The nearest-rank percentile of words per output.
  double percentile(double p) const {
    std::vector<size_t> lengths;
    for (const std::string& text : outputs) lengths.push_back(words(text).size());
    std::sort(lengths.begin(), lengths.end());
    size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(lengths.size())));
    return static_cast<double>(lengths[std::max<size_t>(rank, 1) - 1]);
  }
};

class Report : public E2E {};

TEST_F(Report, GivesTheKnownFiguresOfAConstructedDataset) {
  KnownDataset known;
  fs::path input = dir_ / "known.jsonl";
  std::ofstream(input) << known.jsonl;
  Result r = run({"report", "-i", input, "--json", dir_ / "r.json", "--html", dir_ / "r.html"}, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = read_json(dir_ / "r.json");
  EXPECT_EQ(report["schema"], "personagen.report/1");
  ASSERT_EQ(report["datasets"].size(), 1u);
  const json& d = report["datasets"][0];

  // The run
  EXPECT_EQ(d["run"]["records"], 40);
  EXPECT_EQ(d["run"]["bad_lines"], 2);
  EXPECT_EQ(d["run"]["finish_reasons"], (json{{"length", 2}, {"stop", 38}}));
  EXPECT_EQ(d["run"]["attempts"], (json{{"1", 37}, {"2", 3}}));
  EXPECT_EQ(d["run"]["prompt_tokens"], 400);
  EXPECT_EQ(d["run"]["completion_tokens"], 800);
  EXPECT_TRUE(d["run"]["cost_usd"].is_null());  // no prices

  // Length, exact
  EXPECT_EQ(d["length"]["count"], 40);
  EXPECT_EQ(d["length"]["min"], known.percentile(0));
  EXPECT_EQ(d["length"]["p10"], known.percentile(0.10));
  EXPECT_EQ(d["length"]["p50"], known.percentile(0.50));
  EXPECT_EQ(d["length"]["p90"], known.percentile(0.90));
  EXPECT_EQ(d["length"]["max"], known.percentile(1));

  // Diversity: within the stated error (0 when exact, as it is at this size)
  for (size_t n = 1; n <= 3; ++n) {
    const json& e = d["diversity"]["distinct_" + std::to_string(n)];
    EXPECT_NEAR(e["value"].get<double>(), known.distinct(n), e["error"].get<double>() + 1e-9) << n;
  }
  for (const char* key : {"near_dup_90", "near_dup_70"}) {
    const json& e = d["diversity"][key];
    EXPECT_NEAR(e["value"].get<double>(), 9.0 / 40, e["error"].get<double>() + 1e-9) << key;
  }
  const json& openings = d["diversity"]["openings"];
  ASSERT_GE(openings.size(), 3u);
  EXPECT_EQ(openings[0]["key"], "math problem a farmer");
  EXPECT_EQ(openings[0]["count"], 15);
  EXPECT_DOUBLE_EQ(openings[0]["share"].get<double>(), 15.0 / 40);
  EXPECT_EQ(openings[1]["key"], "write a short story");
  EXPECT_EQ(openings[2]["key"], "the quick brown fox");
  EXPECT_EQ(openings[2]["count"], 10);
  EXPECT_NEAR(d["diversity"]["personas"]["value"].get<double>(), 20,
              d["diversity"]["personas"]["error"].get<double>() + 1e-9);

  // The terminal summary shows the same, and the page is one self-contained file
  EXPECT_NE(r.out.find("math problem a farmer"), std::string::npos) << r.out;
  std::string html = read_file(dir_ / "r.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("math problem a farmer"), std::string::npos);
}

TEST_F(Report, ReadsARunDirectoryWithItsCostAndComparesDatasetsInColumns) {
  TestServer server;
  fs::path input = write_personas("p.jsonl", personas(6));
  Result synth =
      run({"synth", "-i", input, "-t", "math", "-o", dir_ / "math", "-q", "--structured", "off"},
          server.base_url());
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  KnownDataset known;
  fs::path other = dir_ / "known.jsonl";
  std::ofstream(other) << known.jsonl;

  Result r = run({"report", "-i", dir_ / "math", "--compare", other, "--price-in", "1",
                  "--price-out", "2", "--json", "-"},
                 "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out);  // --json -: the JSON alone on stdout
  ASSERT_EQ(report["datasets"].size(), 2u);
  const json& run_dir = report["datasets"][0];
  EXPECT_EQ(run_dir["run"]["records"], 6);
  EXPECT_EQ(run_dir["run"]["tasks"], (json{{"math", 6}}));
  // Billed tokens come from the manifest, and the cost from them at the prices given
  json totals = read_json(dir_ / "math/manifest.json")["checkpoint"]["totals"];
  ASSERT_FALSE(run_dir["run"]["billed_prompt_tokens"].is_null());
  EXPECT_EQ(run_dir["run"]["billed_prompt_tokens"], totals["billed_prompt_tokens"]);
  EXPECT_EQ(run_dir["run"]["billed_completion_tokens"], totals["billed_completion_tokens"]);
  double cost = (totals["billed_prompt_tokens"].get<double>() * 1 +
                 totals["billed_completion_tokens"].get<double>() * 2) /
                1e6;
  EXPECT_NEAR(run_dir["run"]["cost_usd"].get<double>(), cost, 1e-12);
  EXPECT_EQ(report["datasets"][1]["run"]["records"], 40);

  // On the terminal, the two datasets are columns of the same rows
  Result text = run({"report", "-i", dir_ / "math", "--compare", other}, "");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  bool both = false;
  std::istringstream lines(text.out);
  for (std::string line; std::getline(lines, line);)
    both = both || (line.find("records") != std::string::npos &&
                    line.find(" 6") != std::string::npos && line.find("40") != std::string::npos);
  EXPECT_TRUE(both) << text.out;
}

TEST_F(Report, CountsSolveRecordsWrittenAsChat) {
  // Given a solve run written with --format chat: one problem whose answers agree (its shard
  // record is messages only) and one whose answers do not (in unverified.jsonl)
  TestServer server;
  fs::path problems = dir_ / "problems.jsonl";
  std::ofstream(problems)
      << json{{"custom_id", "a"}, {"persona", "p"}, {"output", "Problem A [[answers: 7|7|9]]"}}
             .dump()
      << "\n"
      << json{{"custom_id", "b"}, {"persona", "q"}, {"output", "Problem B [[answers: 1|2|3]]"}}
             .dump()
      << "\n";
  // (sample k sends seed k, and the test server answers with entry k of the marker)
  Result synth = run({"synth", "-t", "solve", "-i", problems, "-o", dir_ / "chat", "--format",
                      "chat", "--extra-body", R"({"seed": 0})", "-q"},
                     server.base_url());
  ASSERT_EQ(synth.exit_code, 0) << synth.err;

  // When it is reported
  Result r = run({"report", "-i", dir_ / "chat", "--json", "-"}, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Then both are solve records, and half of them agreed
  const json d = json::parse(r.out)["datasets"][0];
  EXPECT_EQ(d["run"]["records"], 1);
  EXPECT_EQ(d["run"]["unverified"], 1);
  ASSERT_FALSE(d["task"]["solve"].is_null()) << r.out;
  EXPECT_EQ(d["task"]["solve"]["records"], 2);
  EXPECT_EQ(d["task"]["solve"]["agreement_rate"], 0.5);
}

TEST_F(Report, UndefinedFiguresAreNullInTheJsonAndDashesOnTheTerminal) {
  // Given an empty input, when it is reported
  fs::path empty = dir_ / "empty.jsonl";
  std::ofstream{empty};
  Result r = run({"report", "-i", empty, "--json", "-"}, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Then the means, percentiles and shares of nothing are null, not 0
  const json d = json::parse(r.out)["datasets"][0];
  EXPECT_EQ(d["length"]["count"], 0);
  for (const char* key : {"mean", "min", "p50", "max"})
    EXPECT_TRUE(d["length"][key].is_null()) << key << ": " << d["length"][key];
  for (const char* key : {"distinct_1", "distinct_3", "near_dup_90", "outputs_per_persona"})
    EXPECT_TRUE(d["diversity"][key].is_null()) << key << ": " << d["diversity"][key];

  // And "-" on the terminal
  Result text = run({"report", "-i", empty}, "");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  std::istringstream lines(text.out);
  size_t dashes = 0;
  for (std::string line; std::getline(lines, line);)
    dashes +=
        (line.starts_with("  mean ") || line.starts_with("  distinct-1 ")) && line.ends_with(" -");
  EXPECT_EQ(dashes, 2u) << text.out;
}

TEST_F(Report, AReportIsNeverWrittenOverAnInput) {
  KnownDataset known;
  fs::path input = dir_ / "known.jsonl";
  std::ofstream(input) << known.jsonl;
  for (const char* flag : {"--json", "--html"}) {
    Result r = run({"report", "-i", input, flag, input}, "");
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_NE(r.err.find("is an input; write the report to another file"), std::string::npos)
        << r.err;
    EXPECT_EQ(read_file(input), known.jsonl);
  }
}

TEST_F(Report, EmbedModelComparesOutputSimilarityWithPersonaSimilarity) {
  TestServer server;
  KnownDataset known;
  fs::path input = dir_ / "known.jsonl";
  std::ofstream(input) << known.jsonl;
  Result r = run({"report", "-i", input, "--embed-model", "test-embed", "--sample", "16", "--json",
                  dir_ / "r.json", "-q"},
                 server.base_url(), {{"OPENAI_API_KEY", "sk-test-report-key"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = read_json(dir_ / "r.json");
  const json& s = report["datasets"][0]["similarity"];
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["model"], "test-embed");
  EXPECT_EQ(s["sample"], 16);
  EXPECT_EQ(s["pairs"], 16 * 15 / 2);
  ASSERT_FALSE(s["bins"].empty());
  uint64_t pairs = 0;
  for (const json& bin : s["bins"]) pairs += bin["pairs"].get<uint64_t>();
  EXPECT_EQ(pairs, 16u * 15 / 2);
  EXPECT_EQ(r.err.find("sk-test-report-key"), std::string::npos);
}

}  // namespace
}  // namespace personagen::e2e
