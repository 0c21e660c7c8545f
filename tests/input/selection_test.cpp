#include "input/selection.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "input/record_reader.h"
#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

InputRecord persona(std::string text, Fields fields = {}) {
  InputRecord record;
  record.line = 1;
  record.persona = std::move(text);
  record.fields = std::move(fields);
  return record;
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

}  // namespace
}  // namespace personagen
