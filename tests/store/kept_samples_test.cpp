#include "store/kept_samples.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/output_record.h"
#include "store/run_dir.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

using nlohmann::json;

class KeptSamplesTest : public TempDirTest {
 protected:
  // A failure of sample `request` of `line`, as synth formats it.
  static std::string failure(uint64_t line, uint64_t request) {
    FailureRecord f;
    f.custom_id = "pg-failed";
    f.line = line;
    f.request = request;
    f.persona = "What is 3 + 4?";
    f.task = "solve";
    f.kind = "http_status";
    f.reason = "HTTP 500";
    f.status = 500;
    f.attempts = 1;
    std::string out;
    format_failure(f, out);
    return out;
  }

  // A line's three samples: 0 and 2 succeeded, 1 failed.
  static std::vector<SolveSample> two_samples() {
    std::vector<SolveSample> samples(3);
    samples[0] = {
        "pg-a", "Solution A \"quoted\"\n\\boxed{7}", "7", "thought", "stop", "", {10, 5, 15, 2}, 1};
    samples[1] = {"pg-b", "", "", "", "", "HTTP 500", {}, 2};
    samples[2] = {"pg-c", "Solution C \\boxed{9}", "9", "", "stop", "", {11, 6, 17, 0}, 3};
    return samples;
  }
};

TEST_F(KeptSamplesTest, AFailureKeepsItsSamplesAsAnAddedFieldAndReadsThemBack) {
  // Given a formatted failure, when the samples are added
  std::string plain = failure(4, 1);
  std::string with = plain;
  std::vector<SolveSample> samples = two_samples();
  add_kept_samples(samples, with);

  // Then every field of the failure is as it was, and "kept_samples" is the last one
  json before = json::parse(plain);
  json after = json::parse(with);
  for (const auto& [key, value] : before.items()) EXPECT_EQ(after[key], value) << key;
  EXPECT_EQ(after.size(), before.size() + 1);
  ASSERT_EQ(after["kept_samples"].size(), 2u);
  EXPECT_EQ(after["kept_samples"][0]["usage"]["reasoning_tokens"], 2);
  EXPECT_FALSE(after["kept_samples"][1].contains("reasoning"));

  // And the samples read back are the ones written, field by field
  std::vector<KeptSample> back = parse_kept_samples(with, "f.jsonl:1");
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < back.size(); ++i) {
    const SolveSample& written = samples[i * 2];  // the failed sample 1 is not kept
    EXPECT_EQ(back[i].request, i * 2);
    EXPECT_EQ(back[i].custom_id, written.custom_id);
    EXPECT_EQ(back[i].output, written.output);
    EXPECT_EQ(back[i].answer, written.answer);
    EXPECT_EQ(back[i].reasoning, written.reasoning);
    EXPECT_EQ(back[i].finish_reason, written.finish_reason);
    EXPECT_EQ(back[i].usage.prompt_tokens, written.usage.prompt_tokens);
    EXPECT_EQ(back[i].usage.completion_tokens, written.usage.completion_tokens);
    EXPECT_EQ(back[i].usage.total_tokens, written.usage.total_tokens);
    EXPECT_EQ(back[i].usage.reasoning_tokens, written.usage.reasoning_tokens);
    EXPECT_EQ(back[i].attempts, written.attempts);
  }
  // And a failure without samples is left as it is and has none
  std::string none = plain;
  add_kept_samples({}, none);
  EXPECT_EQ(none, plain);
  add_kept_samples(std::span(samples).subspan(1, 1), none);  // only a failed one
  EXPECT_EQ(none, plain);
  EXPECT_TRUE(parse_kept_samples(plain, "f.jsonl:1").empty());
}

TEST_F(KeptSamplesTest, BadKeptSamplesAreAnErrorNamingWhere) {
  std::string text = error_of([] {
    parse_kept_samples(R"({"line":1,"request":0,"kept_samples":[{"request":0}]})", "f.jsonl:3");
  });
  EXPECT_NE(text.find("f.jsonl:3: kept sample 1 lacks a field"), std::string::npos) << text;
  text = error_of([] { parse_kept_samples(R"({"line":1,"kept_samples":{}})", "f.jsonl:4"); });
  EXPECT_NE(text.find("f.jsonl:4: \"kept_samples\" is not an array"), std::string::npos) << text;
}

TEST_F(KeptSamplesTest, ReadFailedRequestsFindsTheFailureThatKeepsALinesSamples) {
  // Given a failures file: line 7 failed alone (an older failure, nothing kept), line 4's
  // sample 1 failed and its first failure keeps samples 0 and 2
  std::string kept = failure(4, 1);
  add_kept_samples(two_samples(), kept);
  std::string first = failure(7, 0) + "\n";
  write_file(path("failures.jsonl"), first + kept + "\n");

  // When it is read
  FailedRequests failed = read_failed_requests(path("failures.jsonl"), 3);

  // Then it lists the failed requests, and the offset of the record that keeps line 4's samples
  EXPECT_EQ(failed.path, path("failures.jsonl"));
  EXPECT_EQ(failed.requests, (std::vector<RequestId>{{4, 1}, {7, 0}}));
  ASSERT_EQ(failed.kept.size(), 1u);
  EXPECT_EQ(failed.kept_at(4), std::optional<uint64_t>(first.size()));
  EXPECT_EQ(failed.kept_at(7), std::nullopt);
  KeptSamplesReader reader(failed.path);
  std::vector<KeptSample> back = reader.at(*failed.kept_at(4));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].custom_id, "pg-c");

  // And an offset that holds no failure record is an error naming the file and the offset
  std::string text = error_of([&] { reader.at(3); });
  EXPECT_NE(text.find(path("failures.jsonl") + ": at offset 3"), std::string::npos) << text;
  text = error_of([&] { reader.at(first.size() + kept.size() + 1); });  // the end
  EXPECT_NE(text.find(": cannot read the failure record"), std::string::npos) << text;
  // And the reader, which stays open, still reads a record after those
  EXPECT_EQ(reader.at(*failed.kept_at(4)).size(), 2u);
}

TEST_F(KeptSamplesTest, AFailuresFileWithBadKeptSamplesIsRefusedNamingItsLine) {
  write_file(path("failures.jsonl"),
             failure(1, 0) + "\n" + R"({"line":2,"request":0,"kept_samples":[1]})" + "\n");
  std::string text = error_of([&] { read_failed_requests(path("failures.jsonl"), 3); });
  EXPECT_NE(text.find(path("failures.jsonl") + ":2: kept sample 1"), std::string::npos) << text;
}

TEST_F(KeptSamplesTest, ALineWhoseKeptAndFailedSamplesAreNotItsKIsRefusedNamingTheRecord) {
  // A failures file where line 4 keeps samples 0 and 2 and its other failures are `failed`
  auto refusal = [this](const std::vector<std::string>& failed, uint64_t samples) {
    std::string kept = failure(4, 1);
    add_kept_samples(two_samples(), kept);
    std::string text = failure(7, 0) + "\n" + kept + "\n";
    for (const std::string& f : failed) text += f + "\n";
    write_file(path("failures.jsonl"), text);
    return error_of([&] { read_failed_requests(path("failures.jsonl"), samples); });
  };
  std::string where = path("failures.jsonl") + ":2: input line 4: ";
  // Then samples 0 to 2 each once are accepted
  EXPECT_EQ(refusal({}, 3), "");
  // And a failed sample past K is refused (the line would keep its samples and send nothing)
  std::string text = refusal({failure(4, 3)}, 3);
  EXPECT_NE(text.find(where + "failed sample 3 is past --samples 3"), std::string::npos) << text;
  EXPECT_NE(text.find("(expected its 3 samples, 0 to 2, each either kept"), std::string::npos)
      << text;
  // And so is a kept sample past K
  text = refusal({}, 2);
  EXPECT_NE(text.find(where + "kept sample 2 is past --samples 2"), std::string::npos) << text;
  // And a sample both kept and failed
  text = refusal({failure(4, 0)}, 3);
  EXPECT_NE(text.find(where + "sample 0 is kept twice, or kept and failed"), std::string::npos)
      << text;
  // And one neither kept nor failed
  text = refusal({}, 4);
  EXPECT_NE(text.find(where + "sample 3 is neither kept nor failed"), std::string::npos) << text;
  // And a failure of the whole line (no "request") beside kept samples
  text = refusal({R"({"line":4})"}, 3);
  EXPECT_NE(text.find(where + "a failure names no \"request\""), std::string::npos) << text;
}

}  // namespace
}  // namespace personagen
