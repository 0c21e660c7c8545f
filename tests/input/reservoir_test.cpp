// Sampling: Reservoir's uniform draw, and reservoir_sample over a reader (--sample).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "input/record_reader.h"
#include "input/selection.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

using Fields = std::vector<std::pair<std::string, std::string>>;

std::vector<uint64_t> lines_of(const std::vector<InputRecord>& records) {
  std::vector<uint64_t> lines;
  for (const auto& record : records) lines.push_back(record.line);
  return lines;
}

TEST(ReservoirTest, InclusionIsUniform) {
  // Given 20,000 reservoirs of 10 over the same 100 records, each with its own seed
  constexpr int kTrials = 20000;
  constexpr int kItems = 100;
  constexpr int kSize = 10;
  std::vector<int> counts(kItems + 1, 0);
  for (int trial = 0; trial < kTrials; ++trial) {
    Reservoir reservoir(kSize, trial);
    for (int line = 1; line <= kItems; ++line) {
      InputRecord record;
      record.line = line;
      reservoir.offer(std::move(record));
    }
    // When each is taken
    auto sample = reservoir.take();
    ASSERT_EQ(sample.size(), static_cast<size_t>(kSize));
    for (const auto& record : sample) ++counts[record.line];
  }
  // Then each record is in about 10% of them (the standard deviation is 0.2%)
  for (int line = 1; line <= kItems; ++line) {
    double frequency = static_cast<double>(counts[line]) / kTrials;
    EXPECT_NEAR(frequency, 0.1, 0.01) << "line " << line;
  }
}

class ReservoirSampleTest : public TempDirTest {
 protected:
  // A file of `count` personas "person <i>", i from 1, with a reject on each line in `bad`.
  std::string write(int count, std::set<int> bad = {}) {
    std::string file = path("in.jsonl");
    std::ofstream out(file, std::ios::binary);
    for (int i = 1; i <= count; ++i) {
      if (bad.count(i)) {
        out << "not json " << i << "\n";
      } else {
        out << "{\"persona\": \"person " << i << "\", \"n\": " << i << "}\n";
      }
    }
    return file;
  }

  std::vector<InputRecord> sample(const std::string& path, uint64_t n, uint64_t seed,
                                  std::vector<InputRecord>& rejects,
                                  std::function<bool(const InputRecord&)> keep = nullptr) {
    RecordReader reader(path, {});
    if (!keep) keep = [](const InputRecord&) { return true; };
    return reservoir_sample(reader, n, seed, keep, rejects);
  }
};

TEST_F(ReservoirSampleTest, TakesExactlyNSortedByLine) {
  // Given 1,000 personas
  const std::string path = write(1000);
  std::vector<InputRecord> rejects;
  // When 10 are sampled
  auto records = sample(path, 10, 7, rejects);
  // Then there are 10 distinct records, in line order, with their personas
  ASSERT_EQ(records.size(), 10u);
  auto lines = lines_of(records);
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
  EXPECT_EQ(std::set<uint64_t>(lines.begin(), lines.end()).size(), 10u);
  for (const auto& record : records) {
    EXPECT_EQ(record.persona, "person " + std::to_string(record.line));
  }
  EXPECT_TRUE(rejects.empty());
}

TEST_F(ReservoirSampleTest, FewerRecordsThanNGivesThemAll) {
  // Given 5 personas
  const std::string path = write(5);
  std::vector<InputRecord> rejects;
  // When 10 are sampled
  auto records = sample(path, 10, 1, rejects);
  // Then all 5 come back in order
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(ReservoirSampleTest, ZeroGivesNothing) {
  // Given personas
  const std::string path = write(5, {3});
  std::vector<InputRecord> rejects;
  // When 0 are sampled
  auto records = sample(path, 0, 1, rejects);
  // Then the sample is empty but the rejects are still reported
  EXPECT_TRUE(records.empty());
  EXPECT_EQ(rejects.size(), 1u);
}

TEST_F(ReservoirSampleTest, SameSeedSameSampleOtherSeedOtherSample) {
  // Given 1,000 personas
  const std::string path = write(1000);
  std::vector<InputRecord> rejects;
  // When they are sampled twice with one seed and once with another
  auto first = lines_of(sample(path, 20, 42, rejects));
  auto again = lines_of(sample(path, 20, 42, rejects));
  auto other = lines_of(sample(path, 20, 43, rejects));
  // Then the same seed gives the same sample and the other seed a different one
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
}

TEST_F(ReservoirSampleTest, KeepFilterIsRespectedAndRejectsAreCollectedInOrder) {
  // Given 200 lines, some of which are not JSON
  const std::string path = write(200, {4, 50, 51, 199});
  std::vector<InputRecord> rejects;
  int asked = 0;
  // When 30 are sampled among the even personas other than n=100 (read as an optional field
  // for the where clause)
  SelectionOptions options;
  options.where = {"n!=100"};
  options.match = {"[02468]$"};
  Selection selection(options);
  ReaderOptions reader_options;
  reader_options.optional_fields = selection.fields();
  RecordReader reader(path, reader_options);
  auto records = reservoir_sample(
      reader, 30, 5,
      [&](const InputRecord& record) {
        ++asked;
        return selection.selected(record);
      },
      rejects);
  // Then only kept records are sampled, keep() never sees a reject, and every reject is returned
  ASSERT_EQ(records.size(), 30u);
  for (const auto& record : records) {
    EXPECT_EQ(record.line % 2, 0u) << record.line;
    EXPECT_NE(record.line, 100u);
    EXPECT_EQ(record.fields, (Fields{{"n", std::to_string(record.line)}}));
  }
  EXPECT_EQ(asked, 196);
  EXPECT_EQ(lines_of(rejects), (std::vector<uint64_t>{4, 50, 51, 199}));
  for (const auto& record : rejects) EXPECT_FALSE(record.ok());
}

TEST_F(ReservoirSampleTest, ElitePersonasWithNullOrNoneDomainsAreSelectedAlike) {
  // Given Persona Hub elite lines whose domain is "Math", null, the string "None" or missing
  const fs::path path = fs::path(dir_) / "elite.jsonl";
  {
    std::ofstream out(path);
    out << R"({"persona": "a", "domain": "Math"}
{"persona": "b", "domain": null}
{"persona": "c", "domain": "None"}
{"persona": "d"}
)";
  }
  for (const char* clause : {"domain=Math", "domain!=Math", "domain=None", "domain!=None"}) {
    SelectionOptions options;
    options.where = {clause};
    Selection selection(options);
    ReaderOptions reader_options;
    reader_options.optional_fields = selection.fields();
    RecordReader reader(path.string(), reader_options);
    // When the lines are read for a where clause and tested
    std::vector<bool> selected;
    while (auto record = reader.next()) selected.push_back(selection.selected(*record));
    // Then null, "None" and missing give the same answer
    ASSERT_EQ(selected.size(), 4u) << clause;
    EXPECT_EQ(selected[1], selected[3]) << clause;
    EXPECT_EQ(selected[2], selected[3]) << clause;
  }
  // And "domain!=Math" keeps exactly the three lines without a domain
  SelectionOptions options;
  options.where = {"domain!=Math"};
  Selection selection(options);
  ReaderOptions reader_options;
  reader_options.optional_fields = selection.fields();
  RecordReader reader(path.string(), reader_options);
  std::vector<InputRecord> rejects;
  auto records = reservoir_sample(
      reader, 10, 1, [&](const InputRecord& record) { return selection.selected(record); },
      rejects);
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{2, 3, 4}));
}

TEST_F(ReservoirSampleTest, FewerKeptThanNGivesAllKept) {
  // Given 100 personas, of which 3 pass the filter
  const std::string path = write(100);
  std::vector<InputRecord> rejects;
  // When 10 are sampled
  auto records = sample(path, 10, 3, rejects, [](const InputRecord& record) {
    return record.line == 7 || record.line == 70 || record.line == 77;
  });
  // Then the 3 come back in order
  EXPECT_EQ(lines_of(records), (std::vector<uint64_t>{7, 70, 77}));
}

}  // namespace
}  // namespace personagen
