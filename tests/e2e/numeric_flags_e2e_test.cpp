// End-to-end: every numeric flag of every command refuses a value out of its range, NaN and
// infinity with a usage error (exit 2) of one line that names the flag and what it expects.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

struct BadValue {
  const char* command;  // synth, render, dedup or decontam
  const char* flag;
  const char* value;
  const char* expected;  // what the message says was expected
};

const char* const kRate = "expected a number above 0 and at most 1";
const char* const kSeconds = "expected a number of at least 0";

const BadValue kBadValues[] = {
    {"synth", "--temperature", "nan", "expected a number from 0 to 2"},
    {"synth", "--temperature", "inf", "expected a number from 0 to 2"},
    {"synth", "--temperature", "2.5", "expected a number from 0 to 2"},
    {"render", "--temperature", "-0.1", "expected a number from 0 to 2"},
    {"synth", "--top-p", "0", kRate},
    {"render", "--top-p", "1.01", kRate},
    {"synth", "--top-p", "NaN", kRate},
    {"synth", "--max-tokens", "0", "expected a whole number of at least 1"},
    {"render", "--max-tokens", "1.5", "expected a whole number of at least 1"},
    {"synth", "--shots", "-1", "expected a whole number of at least 0"},
    {"synth", "--limit", "-1", "expected a whole number of at least 0"},
    {"synth", "--sample", "1e3", "expected a whole number of at least 0"},
    {"synth", "--seed", "-5", "expected a whole number of at least 0"},
    {"synth", "--hops", "7", "expected a whole number from 1 to 6"},
    {"synth", "--max-input-bytes", "0", "expected a whole number of at least 1"},
    {"synth", "--timeout", "0", "expected a number above 0"},
    {"synth", "--timeout", "inf", "expected a number above 0"},
    {"synth", "--timeout", "1e300", "expected a number above 0 and at most 1000000000"},
    {"synth", "--price-in", "-1", kSeconds},
    {"synth", "--price-out", "nan", kSeconds},
    {"synth", "--rpm", "-1", kSeconds},
    {"synth", "--tpm", "inf", kSeconds},
    {"synth", "-j", "0", "expected a whole number of at least 1"},
    {"synth", "--concurrency", "99999999999", "expected a whole number from 1 to 2147483647"},
    {"synth", "--max-retries", "-1", "expected a whole number of at least 0"},
    {"synth", "--length-retries", "-1", "expected a whole number of at least 0"},
    {"synth", "--outage-wait", "-5", kSeconds},
    {"synth", "--outage-wait", "nan", kSeconds},
    {"synth", "--max-reply-bytes", "0", "expected a whole number of at least 1"},
    {"synth", "--max-reply-bytes", "-1", "expected a whole number of at least 1"},
    {"synth", "--shard-size", "0", "expected a whole number of at least 1"},
    {"synth", "--grace", "-1", kSeconds},
    {"synth", "--checkpoint-interval", "nan", kSeconds},
    {"synth", "--progress-interval", "inf", kSeconds},
    {"synth", "--max-failures", "nan", "expected a count (100) or a percentage (5%)"},
    {"synth", "--max-rejects", "inf%", "expected a count (100) or a percentage (5%)"},
    {"dedup", "--threshold", "0", kRate},
    {"dedup", "--threshold", "1.5", kRate},
    {"dedup", "--cosine", "0", kRate},
    {"dedup", "--cosine", "nan", kRate},
    {"dedup", "--ngram", "0", "expected a whole number of at least 1"},
    {"dedup", "--num-perm", "5000", "expected a whole number from 1 to 4096"},
    {"dedup", "--bands", "-1", "expected a whole number of at least 0"},
    {"dedup", "--rows", "x", "expected a whole number of at least 0"},
    {"dedup", "-j", "0", "expected a whole number of at least 1"},
    {"dedup", "--batch", "0", "expected a whole number of at least 1"},
    {"dedup", "--timeout", "-1", "expected a number above 0"},
    {"dedup", "--max-retries", "-1", "expected a whole number of at least 0"},
    {"decontam", "--ngram", "0", "expected a whole number of at least 1"},
};

class NumericFlags : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    input_ = write_personas("in.jsonl", personas(2));
  }

  // `command` with everything it needs besides the flag under test.
  std::vector<std::string> command(const std::string& name) {
    std::string out = dir_ / "out";
    if (name == "synth") return {"synth", "-i", input_, "-t", "math", "-o", out};
    if (name == "render") return {"render", "-i", input_, "-t", "math"};
    if (name == "dedup") return {"dedup", "-i", input_, "-o", out + ".jsonl"};
    return {"decontam", "-i", input_, "-o", out + ".jsonl", "--against", input_};
  }

  std::string input_;
};

TEST_F(NumericFlags, AValueOutOfRangeNanOrInfinityIsAUsageErrorNamingTheFlag) {
  TestServer server;
  for (const BadValue& bad : kBadValues) {
    SCOPED_TRACE(std::string(bad.command) + " " + bad.flag + " " + bad.value);
    std::vector<std::string> args = command(bad.command);
    args.insert(args.end(), {bad.flag, bad.value});
    Result r = run(args, server.base_url());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    std::string flag = bad.flag;
    if (flag == "-j") flag = "--concurrency";
    EXPECT_NE(r.err.find(flag + ": " + bad.expected), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  // Nothing was sent: `--temperature nan` never reaches a server.
  EXPECT_EQ(server.chat_request_count(), 0u);
}

TEST_F(NumericFlags, TheEndsOfEachRangeAreAccepted) {
  // Given the edge values, render prints bodies that carry them as given.
  Result r = run({"render", "-i", input_, "-t", "math", "--temperature", "0", "--top-p", "1",
                  "--max-tokens", "1", "--shots", "0", "--seed", "18446744073709551615"},
                 "http://127.0.0.1:9/v1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> bodies = read_jsonl(r.out);
  ASSERT_EQ(bodies.size(), 2u) << r.out;
  EXPECT_EQ(bodies[0]["temperature"], 0);
  EXPECT_EQ(bodies[0]["top_p"], 1);
  EXPECT_EQ(bodies[0]["max_tokens"], 1);
  // A whole number with a leading zero is decimal, not octal: --max-tokens 010 is 10.
  Result decimal =
      run({"render", "-i", input_, "-t", "math", "--max-tokens", "010"}, "http://127.0.0.1:9/v1");
  ASSERT_EQ(decimal.exit_code, 0) << decimal.err;
  EXPECT_EQ(read_jsonl(decimal.out).at(0)["max_tokens"], 10) << decimal.out;
}

TEST_F(NumericFlags, ZeroWhereZeroMeansNoneIsAccepted) {
  // --rpm 0 and --tpm 0 mean unlimited, --grace 0 no grace, --outage-wait 0 no waiting.
  TestServer server;
  Result r = run({"synth", "-i",
                  input_,  "-t",
                  "math",  "-o",
                  "-",     "--rpm",
                  "0",     "--tpm",
                  "0",     "--grace",
                  "0",     "--outage-wait",
                  "0",     "--checkpoint-interval",
                  "0",     "--length-retries",
                  "0",     "--max-retries",
                  "0",     "-q"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_jsonl(r.out).size(), 2u) << r.out;
}

}  // namespace
}  // namespace personagen::e2e
