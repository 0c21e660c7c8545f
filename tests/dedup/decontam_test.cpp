#include "dedup/decontam.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dedup/dedup_fixture.h"
#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

using Json = nlohmann::json;
using testing_support::DedupTest;

// The 13-word run the tests share: it stands in a GSM8K-like test question.
const std::string kTestQuestion =
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did Natalia sell altogether in April and May?";

class DecontamTest : public DedupTest {
 protected:
  DecontamOptions decontam_options(const std::string& in, const std::string& test) const {
    DecontamOptions o;
    o.inputs = {in};
    o.output = path("out.jsonl");
    o.report = path("report.jsonl");
    o.against = {test};
    return o;
  }
  static std::string record_line(const std::string& output) {
    return Json{{"custom_id", "pg-1"}, {"output", output}}.dump() + "\n";
  }
};

TEST_F(DecontamTest, DropsRecordsThatShareThirteenWordsWithATestQuestion) {
  // Given a test set, and records of which one quotes 13 words of a test question with other
  // case and punctuation, one shares only 12 words in a row, and one is unrelated
  std::string test =
      write("test.jsonl", Json{{"question", kTestQuestion}, {"answer", "72"}}.dump() + "\n");
  std::string in =
      write("in.jsonl",
            record_line(
                "A riddle: NATALIA SOLD CLIPS TO 48 OF HER FRIENDS IN APRIL, AND THEN she left.") +
                record_line("Natalia sold clips to 48 of her friends in April, and then slept.") +
                record_line("A nurse counts 12 bandages on Monday and twice as many on Tuesday."));

  // When the records are decontaminated
  DecontamStats stats = run_decontam(decontam_options(in, test));

  // Then the one with the 13-word run is dropped and named in the report with the shared words
  std::vector<std::string> kept = lines(path("out.jsonl"));
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_NE(kept[0].find("slept"), std::string::npos);
  EXPECT_NE(kept[1].find("nurse"), std::string::npos);
  EXPECT_EQ(stats.read, 3u);
  EXPECT_EQ(stats.kept, 2u);
  EXPECT_EQ(stats.dropped, 1u);
  EXPECT_EQ(stats.test_texts, 2u);   // the question and the answer
  EXPECT_EQ(stats.short_texts, 1u);  // "72" can match nothing
  std::vector<Json> dropped = report(path("report.jsonl"));
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]["line"], 1);
  EXPECT_EQ(dropped[0]["matches"], test + ":1");
  EXPECT_EQ(dropped[0]["ngram"], "natalia sold clips to 48 of her friends in april and then she");
}

TEST_F(DecontamTest, KeptLinesAreCopiedAsTheyWereAndEveryTestSetCounts) {
  // Given two test sets (MATH-style "problem" and a custom field) and records with blank lines,
  // a line that is not JSON and a record whose text is from the second test set
  std::string math = write("math.jsonl", Json{{"problem", "unrelated words only"}}.dump() + "\n");
  std::string custom = write("custom.jsonl", "\n" + Json{{"prompt", kTestQuestion}}.dump() + "\n");
  const std::string odd = R"({"output": "kept \u00e9 as written",   "extra": [1, 2]})";
  std::string in = write("in.jsonl", odd + "\n\nnot json\n" + record_line(kTestQuestion));

  // When the records are decontaminated against both
  DecontamOptions o = decontam_options(in, math);
  o.against.push_back(custom);
  DecontamStats stats = run_decontam(o);

  // Then the kept line is byte for byte the input line, the bad line is rejected and not
  // written, and the match names the second test set's line 2
  EXPECT_EQ(read(path("out.jsonl")), odd + "\n");
  EXPECT_EQ(stats.read, 3u);
  EXPECT_EQ(stats.rejected, 1u);
  EXPECT_EQ(stats.dropped, 1u);
  std::vector<Json> dropped = report(path("report.jsonl"));
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]["line"], 4);
  EXPECT_EQ(dropped[0]["matches"], custom + ":2");
}

TEST_F(DecontamTest, TheNgramLengthIsAnOption) {
  // Given a record that shares 5 words in a row with a test text
  std::string test =
      write("test.jsonl", Json{{"text", "the quick brown fox jumps high"}}.dump() + "\n");
  std::string in = write("in.jsonl", record_line("see the quick brown fox jumps over it"));
  DecontamOptions o = decontam_options(in, test);

  // When the n-gram is 13 words, then it is kept; when it is 5 words, then it is dropped
  EXPECT_EQ(run_decontam(o).dropped, 0u);
  o.ngram = 5;
  EXPECT_EQ(run_decontam(o).dropped, 1u);
  EXPECT_TRUE(lines(path("out.jsonl")).empty());
}

TEST_F(DecontamTest, BadOptionsAndFilesAreErrorsNamingThem) {
  std::string in = write("in.jsonl", record_line("x"));
  DecontamOptions o = decontam_options(in, path("missing.jsonl"));
  EXPECT_NE(error_of([&] { run_decontam(o); }).find("missing.jsonl"), std::string::npos);
  o.against.clear();
  ExitCode code = ExitCode::ok;
  EXPECT_NE(error_of([&] { run_decontam(o); }, &code).find("--against is required"),
            std::string::npos);
  EXPECT_EQ(code, ExitCode::usage);
  o = decontam_options(in, in);
  o.ngram = 0;
  EXPECT_NE(error_of([&] { run_decontam(o); }).find("--ngram"), std::string::npos);
  // And a failed run leaves no output file behind
  EXPECT_FALSE(std::filesystem::exists(path("out.jsonl")));
}

}  // namespace
}  // namespace personagen
