// End-to-end: `personagen dedup` in memory, out of core past --memory, and in four stage commands
// over three parts, as a Slurm array would run them, give the same bytes (issue 15).

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"

namespace personagen::e2e {
namespace {

class DedupStagesE2E : public E2E {
 protected:
  // Three input files with exact duplicates (case and space changed), near duplicates (a word
  // added), unusable and blank lines, and 80 templated records that crowd their band buckets.
  std::vector<std::string> write_inputs() {
    const std::vector<std::string> roles = {"nurse",   "baker",  "pilot",  "farmer", "teacher",
                                            "chemist", "welder", "typist", "lawyer", "painter"};
    const std::vector<std::string> places = {"Lisbon", "Osaka", "Lagos", "Quito", "Oslo",
                                             "Hanoi",  "Perth", "Accra", "Turin", "Dhaka"};
    std::vector<std::string> lines;
    for (size_t i = 0; i < 120; ++i) {
      const std::string persona = "a " + roles[i % 10] + " from " + places[(i / 10) % 10] +
                                  " who collects item " + std::to_string(i) + " and sings";
      lines.push_back(json{{"persona", persona}, {"id", i}}.dump());
      if (i % 7 == 0) lines.push_back(json{{"persona", "  A " + persona.substr(2)}}.dump());
      if (i % 5 == 0) lines.push_back(json{{"persona", persona + " loudly"}}.dump());
      if (i % 31 == 0) lines.push_back("{\"no_persona\": 1}");
      if (i % 37 == 0) lines.push_back("");
    }
    for (size_t i = 0; i < 80; ++i) {
      lines.push_back(json{{"persona",
                            "the same long template of words for every record with "
                            "only its last word changed " +
                                std::to_string(i * 7919 % 100)}}
                          .dump());
    }
    std::vector<std::string> files;
    for (size_t f = 0; f < 3; ++f) {
      const fs::path path = dir_ / ("in-" + std::to_string(f) + ".jsonl");
      std::ofstream out(path);
      for (size_t i = f * lines.size() / 3; i < (f + 1) * lines.size() / 3; ++i) {
        out << lines[i] << "\n";
      }
      files.push_back(path);
    }
    return files;
  }

  Result dedup(std::vector<std::string> args, const std::vector<std::string>& inputs = {}) {
    if (!inputs.empty()) {
      args.push_back("-i");
      args.insert(args.end(), inputs.begin(), inputs.end());
    }
    return run(args, "http://127.0.0.1:9/v1");  // never used: no --embed-model
  }
};

TEST_F(DedupStagesE2E, OutOfCoreAndStagedGiveTheInMemoryBytes) {
  // Given three input files
  const std::vector<std::string> inputs = write_inputs();

  // When dedup runs in memory, then out of core under a tiny --memory
  Result memory =
      dedup({"dedup", "-o", dir_ / "memory.jsonl", "--report", dir_ / "memory.report"}, inputs);
  ASSERT_EQ(memory.exit_code, 0) << memory.err;
  Result spilled = dedup({"dedup", "-o", dir_ / "ooc.jsonl", "--report", dir_ / "ooc.report",
                          "--memory", "1M", "--tmp", dir_ / "tmp"},
                         inputs);
  ASSERT_EQ(spilled.exit_code, 0) << spilled.err;
  EXPECT_NE(spilled.err.find("going on out of core"), std::string::npos) << spilled.err;

  // and in four stages: three parts, the bands in two jobs
  const std::string work = dir_ / "work";
  for (const char* part : {"0/3", "1/3", "2/3"}) {
    Result r = dedup({"dedup", "signatures", "--part", part, "-o", work, "--memory", "1M"}, inputs);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  for (const char* bands : {"0-5", "6-11"}) {
    Result r = dedup({"dedup", "buckets", "-o", work, "--bands", bands});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  Result clusters = dedup({"dedup", "clusters", "-o", work});
  ASSERT_EQ(clusters.exit_code, 0) << clusters.err;
  std::string staged, staged_report;
  for (const std::string part : {"0", "1", "2"}) {
    Result r =
        dedup({"dedup", "filter", "--part", part + "/3", "-o", work, "--output",
               dir_ / ("out-" + part + ".jsonl"), "--report", dir_ / ("report-" + part + ".jsonl")},
              inputs);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    staged += read_file(dir_ / ("out-" + part + ".jsonl"));
    staged_report += read_file(dir_ / ("report-" + part + ".jsonl"));
  }

  // Then the kept records and the reports are the same bytes every way
  const std::string kept = read_file(dir_ / "memory.jsonl");
  const std::string report = read_file(dir_ / "memory.report");
  EXPECT_GT(kept.size(), 1000u);
  EXPECT_NE(report.find("\"stage\":\"minhash\""), std::string::npos);
  EXPECT_NE(report.find("\"stage\":\"exact\""), std::string::npos);
  EXPECT_EQ(read_file(dir_ / "ooc.jsonl"), kept);
  EXPECT_EQ(read_file(dir_ / "ooc.report"), report);
  EXPECT_EQ(staged, kept);
  EXPECT_EQ(staged_report, report);

  // and a finished stage run again does nothing
  Result again = dedup({"dedup", "signatures", "--part", "1/3", "-o", work}, inputs);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already done"), std::string::npos) << again.err;
}

TEST_F(DedupStagesE2E, BadStageFlagsAndMissingPartsAreOneLineErrors) {
  const std::vector<std::string> inputs = write_inputs();
  const std::string work = dir_ / "work";

  // A part out of range, a band range backwards, a size that is not one: usage errors (exit 2)
  Result part = dedup({"dedup", "signatures", "--part", "3/3", "-o", work}, inputs);
  EXPECT_EQ(part.exit_code, 2);
  EXPECT_NE(part.err.find("--part"), std::string::npos) << part.err;
  Result bands = dedup({"dedup", "buckets", "-o", work, "--bands", "6-2"});
  EXPECT_EQ(bands.exit_code, 2);
  EXPECT_NE(bands.err.find("--bands 6-2"), std::string::npos) << bands.err;
  Result size = dedup({"dedup", "-o", dir_ / "out.jsonl", "--memory", "lots"}, inputs);
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_NE(size.err.find("expected a size such as 4G"), std::string::npos) << size.err;
  // --memory below 1M, on dedup and on a stage: refused
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"dedup", "-o", dir_ / "out.jsonl", "--memory", "512K"},
        std::vector<std::string>{"dedup", "signatures", "-o", work, "--memory", "512K"}}) {
    Result small = dedup(args, inputs);
    EXPECT_EQ(small.exit_code, 2) << small.err;
    EXPECT_NE(small.err.find("--memory: at least 1M"), std::string::npos) << small.err;
  }
  // A flag of another stage is refused, not ignored
  Result foreign = dedup({"dedup", "clusters", "-o", work, "--threshold", "0.5"});
  EXPECT_EQ(foreign.exit_code, 2) << foreign.err;

  // Buckets before every part has its signatures: an error naming the missing part, no files
  ASSERT_EQ(dedup({"dedup", "signatures", "--part", "0/2", "-o", work}, inputs).exit_code, 0);
  Result early = dedup({"dedup", "buckets", "-o", work});
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_NE(early.err.find("part-1-of-2"), std::string::npos) << early.err;
  EXPECT_EQ(std::count(early.err.begin(), early.err.end(), '\n'), 1) << early.err;
  EXPECT_FALSE(fs::exists(fs::path(work) / "buckets"));
}

}  // namespace
}  // namespace personagen::e2e
