#include "input/selection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "input/record_reader.h"
#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

using Fields = std::vector<std::pair<std::string, std::string>>;

InputRecord persona(std::string text, Fields fields = {}) {
  InputRecord record;
  record.line = 1;
  record.persona = std::move(text);
  record.fields = std::move(fields);
  return record;
}

std::vector<uint64_t> lines_of(const std::vector<InputRecord>& records) {
  std::vector<uint64_t> lines;
  for (const auto& record : records) lines.push_back(record.line);
  return lines;
}

TEST(SelectionTest, NoFlagsSelectsEveryRecordButRejects) {
  // Given no selection flags
  Selection selection(SelectionOptions{});
  InputRecord reject = persona("");
  reject.reject = "not valid JSON";
  // When records are tested
  // Then it is inactive, every usable record passes and a reject does not
  EXPECT_FALSE(selection.active());
  EXPECT_TRUE(selection.fields().empty());
  EXPECT_TRUE(selection.selected(persona("a nurse")));
  EXPECT_FALSE(selection.selected(reject));
}

TEST(SelectionTest, PartsAreDisjointCoverEveryPersonaAndDependOnlyOnTheText) {
  // Given 4 parts of 2,000 personas
  const uint64_t parts = 4;
  std::vector<Selection> selections;
  for (uint64_t i = 0; i < parts; ++i) {
    SelectionOptions options;
    options.part = std::to_string(i) + "/" + std::to_string(parts);
    selections.emplace_back(options);
  }
  std::vector<size_t> sizes(parts);
  for (int n = 0; n < 2000; ++n) {
    // When each persona is tested against every part
    const InputRecord record = persona("persona " + std::to_string(n));
    size_t in = 0;
    for (uint64_t i = 0; i < parts; ++i) {
      if (selections[i].selected(record)) {
        ++in;
        ++sizes[i];
      }
    }
    // Then it is in exactly one part, whatever its other fields and line
    ASSERT_EQ(in, 1u) << record.persona;
    InputRecord moved = persona(record.persona, {{"domain", "Math"}});
    moved.line = 99;
    for (uint64_t i = 0; i < parts; ++i)
      EXPECT_EQ(selections[i].selected(moved), selections[i].selected(record));
  }
  // And the parts are about even
  for (size_t size : sizes) EXPECT_NEAR(static_cast<double>(size), 500.0, 100.0);
  EXPECT_TRUE(selections[0].active());
}

TEST(SelectionTest, APartMustBeIOfNWithIBelowN) {
  for (const char* bad : {"4/4", "1", "a/2", "1/0", "-1/3", "1/2/3", "/2", "1/"}) {
    SelectionOptions options;
    options.part = bad;
    EXPECT_NE(error_of([&] { Selection selection(options); }).find("--part"), std::string::npos)
        << bad;
  }
  SelectionOptions whole;
  whole.part = "0/1";
  EXPECT_TRUE(Selection(whole).selected(persona("anyone")));
}

TEST(SelectionTest, MatchNeedsOneOfTheRegexesAndExcludeDropsOnAny) {
  // Given two --match regexes and two --exclude regexes
  SelectionOptions options;
  options.match = {"nurse|doctor", "^a chef"};
  options.exclude = {"retired", "pediatric"};
  Selection selection(options);
  // When personas are tested
  // Then one match is enough, any exclude drops, and exclude wins over match
  EXPECT_TRUE(selection.active());
  EXPECT_TRUE(selection.selected(persona("an ER nurse in Lyon")));
  EXPECT_TRUE(selection.selected(persona("a chef who bakes")));
  EXPECT_FALSE(selection.selected(persona("the chef of a bistro")));  // "^a chef" is anchored
  EXPECT_FALSE(selection.selected(persona("a software engineer")));
  EXPECT_FALSE(selection.selected(persona("a retired nurse")));
  EXPECT_FALSE(selection.selected(persona("a pediatric doctor")));
}

TEST(SelectionTest, ExcludeAloneKeepsEverythingElse) {
  // Given only an --exclude regex
  SelectionOptions options;
  options.exclude = {"student"};
  Selection selection(options);
  // When personas are tested
  // Then only the matching ones are dropped
  EXPECT_TRUE(selection.selected(persona("a historian")));
  EXPECT_FALSE(selection.selected(persona("a PhD student in physics")));
}

TEST(SelectionTest, RegexesAreCaseInsensitiveAndWorkOnUtf8Text) {
  // Given lower-case regexes, one with non-ASCII text
  SelectionOptions options;
  options.match = {"teacher", "café owner"};
  Selection selection(options);
  // When personas in other cases, or in UTF-8, are tested
  // Then ASCII case is ignored, UTF-8 bytes match themselves, and non-ASCII case is not folded
  EXPECT_TRUE(selection.selected(persona("A TEACHER of Latin")));
  EXPECT_TRUE(selection.selected(persona("a Teacher")));
  EXPECT_TRUE(selection.selected(persona("a Café Owner in Paris")));
  EXPECT_FALSE(selection.selected(persona("a CAFÉ OWNER in Paris")));
  EXPECT_FALSE(selection.selected(persona("a preacher")));
}

TEST(SelectionTest, TextAfterANulByteIsSearchedToo) {
  // Given a regex and a persona whose JSON held "\u0000"
  SelectionOptions options;
  options.match = {"nurse"};
  Selection selection(options);
  // When it is tested
  // Then the whole persona is searched, not only the part before the NUL
  EXPECT_TRUE(selection.selected(persona(std::string("a\0 nurse", 8))));
}

TEST(SelectionTest, BadRegexIsAUsageErrorNamingFlagAndRegex) {
  // Given an unbalanced regex in --match, then in --exclude
  for (const char* flag : {"--match", "--exclude"}) {
    SelectionOptions options;
    (std::string(flag) == "--match" ? options.match : options.exclude) = {"ok", "(nurse"};
    // When the selection is built
    ExitCode code = ExitCode::ok;
    std::string message = error_of([&] { Selection selection(options); }, &code);
    // Then it is a usage error that names the flag and the regex
    EXPECT_EQ(code, ExitCode::usage) << flag;
    EXPECT_EQ(message.rfind(std::string(flag) + " \"(nurse\": not a valid regular expression: ", 0),
              0u)
        << message;
  }
}

TEST(SelectionTest, WhereComparesTheFieldText) {
  // Given where clauses on a string, a number and a boolean
  SelectionOptions options;
  options.where = {"domain=math", "level=3", "elite=true"};
  Selection selection(options);
  // When records with those fields are tested
  // Then every clause must hold, by exact text
  EXPECT_TRUE(selection.active());
  EXPECT_EQ(selection.fields(), (std::vector<std::string>{"domain", "level", "elite"}));
  EXPECT_TRUE(
      selection.selected(persona("p", {{"domain", "math"}, {"level", "3"}, {"elite", "true"}})));
  EXPECT_FALSE(
      selection.selected(persona("p", {{"domain", "Math"}, {"level", "3"}, {"elite", "true"}})));
  EXPECT_FALSE(
      selection.selected(persona("p", {{"domain", "math"}, {"level", "3.0"}, {"elite", "true"}})));
  EXPECT_FALSE(selection.selected(persona("p", {{"domain", "math"}, {"level", "3"}})));
}

TEST(SelectionTest, WhereOnAMissingFieldFailsAndNotEqualHolds) {
  // Given FIELD=VALUE and FIELD!=VALUE clauses
  SelectionOptions equal;
  equal.where = {"sex=Female"};
  SelectionOptions not_equal;
  not_equal.where = {"sex!=Female"};
  Selection is(equal);
  Selection is_not(not_equal);
  // When records with the field equal, different, or absent (missing or null) are tested
  const InputRecord same = persona("p", {{"sex", "Female"}});
  const InputRecord other = persona("p", {{"sex", "Male"}});
  const InputRecord absent = persona("p");
  // Then an absent field equals nothing
  EXPECT_TRUE(is.selected(same));
  EXPECT_FALSE(is.selected(other));
  EXPECT_FALSE(is.selected(absent));
  EXPECT_FALSE(is_not.selected(same));
  EXPECT_TRUE(is_not.selected(other));
  EXPECT_TRUE(is_not.selected(absent));
}

TEST(SelectionTest, WhereTreatsTheStringNoneExactlyLikeAnAbsentField) {
  // Given every kind of clause, including ones naming "None" and an empty value
  const InputRecord none = persona("p", {{"domain", "None"}});
  const InputRecord absent = persona("p");
  const InputRecord math = persona("p", {{"domain", "Math"}});
  for (const char* clause :
       {"domain=Math", "domain!=Math", "domain=None", "domain!=None", "domain=", "domain!="}) {
    SelectionOptions options;
    options.where = {clause};
    Selection selection(options);
    // When a record whose field is the string "None" is tested
    // Then it is selected exactly when a record without the field is
    EXPECT_EQ(selection.selected(none), selection.selected(absent)) << clause;
  }
  // And so FIELD=None never holds, and FIELD!=VALUE holds for "None" whatever VALUE is
  SelectionOptions is_none;
  is_none.where = {"domain=None"};
  EXPECT_FALSE(Selection(is_none).selected(none));
  SelectionOptions not_math;
  not_math.where = {"domain!=Math"};
  EXPECT_TRUE(Selection(not_math).selected(none));
  EXPECT_FALSE(Selection(not_math).selected(math));
  // And only the exact string counts: other spellings are ordinary values
  SelectionOptions lower;
  lower.where = {"domain=none"};
  EXPECT_TRUE(Selection(lower).selected(persona("p", {{"domain", "none"}})));
  SelectionOptions padded;
  padded.where = {"domain= None"};
  EXPECT_TRUE(Selection(padded).selected(persona("p", {{"domain", " None"}})));
}

TEST(SelectionTest, WhereValueMayBeEmptyOrHoldEquals) {
  // Given clauses with an empty value, an "=" in the value and a repeated field
  SelectionOptions options;
  options.where = {"note=", "expr=a=b", "note!=x"};
  Selection selection(options);
  // When a record is tested
  // Then the first "=" splits and a field is asked of the reader once
  EXPECT_EQ(selection.fields(), (std::vector<std::string>{"note", "expr"}));
  EXPECT_TRUE(selection.selected(persona("p", {{"note", ""}, {"expr", "a=b"}})));
  EXPECT_FALSE(selection.selected(persona("p", {{"note", ""}, {"expr", "a"}})));
}

TEST(SelectionTest, MalformedWhereIsAUsageError) {
  for (const char* clause : {"domain", "=math", "!=math", ""}) {
    // Given a where clause without a field or an "="
    SelectionOptions options;
    options.where = {clause};
    // When the selection is built
    ExitCode code = ExitCode::ok;
    std::string message = error_of([&] { Selection selection(options); }, &code);
    // Then it is a usage error that names the clause
    EXPECT_EQ(code, ExitCode::usage) << clause;
    EXPECT_EQ(message,
              "--where \"" + std::string(clause) + "\": expected FIELD=VALUE or FIELD!=VALUE");
  }
}

TEST(SelectionTest, SampleAloneMakesTheSelectionActive) {
  // Given only --sample
  SelectionOptions options;
  options.sample = 5;
  options.seed = 9;
  Selection selection(options);
  // Then it is active and keeps the numbers
  EXPECT_TRUE(selection.active());
  EXPECT_EQ(selection.sample(), 5u);
  EXPECT_EQ(selection.seed(), 9u);
  EXPECT_TRUE(selection.selected(persona("anyone")));
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

class ReservoirSampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "selection_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file of `count` personas "person <i>", i from 1, with a reject on each line in `bad`.
  std::string write(int count, std::set<int> bad = {}) {
    std::string path = (dir_ / "in.jsonl").string();
    std::ofstream out(path, std::ios::binary);
    for (int i = 1; i <= count; ++i) {
      if (bad.count(i)) {
        out << "not json " << i << "\n";
      } else {
        out << "{\"persona\": \"person " << i << "\", \"n\": " << i << "}\n";
      }
    }
    return path;
  }

  std::vector<InputRecord> sample(const std::string& path, uint64_t n, uint64_t seed,
                                  std::vector<InputRecord>& rejects,
                                  std::function<bool(const InputRecord&)> keep = nullptr) {
    RecordReader reader(path, {});
    if (!keep) keep = [](const InputRecord&) { return true; };
    return reservoir_sample(reader, n, seed, keep, rejects);
  }

  fs::path dir_;
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
  const fs::path path = dir_ / "elite.jsonl";
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
