// End-to-end tests of personagen report (being written).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"

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

}  // namespace
}  // namespace personagen::e2e
