// The check every numeric flag goes through before the flag parser converts it.
#include "util/number_range.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace personagen {
namespace {

// The message for `text` in `range` ("" when accepted), and the text as the parser gets it.
std::string check(std::string text, const NumberRange& range, std::string* rewritten = nullptr) {
  std::string message = check_number(text, range);
  if (rewritten) *rewritten = text;
  return message;
}

TEST(NumberRange, NanInfinityHexAndBlanksAreNotNumbers) {
  const NumberRange temperature{.max = 2, .show_max = true};
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity", "0x1p0", " 1", "1 ", "", "1e",
                          "1.2.3", "sk-abc"}) {
    EXPECT_EQ(check(bad, temperature), "expected a number from 0 to 2") << bad;
  }
  EXPECT_EQ(check("1e999", temperature), "expected a number from 0 to 2");
  for (const char* good : {"0", "2", "0.7", "1e-3", "+1.5", ".5"})
    EXPECT_EQ(check(good, temperature), "") << good;
  EXPECT_EQ(check("2.0001", temperature), "expected a number from 0 to 2");
  EXPECT_EQ(check("-0.1", temperature), "expected a number from 0 to 2");
}

TEST(NumberRange, AnOpenLowerEndRefusesTheEndItself) {
  const NumberRange top_p{.max = 1, .above_min = true, .show_max = true};
  EXPECT_EQ(check("0", top_p), "expected a number above 0 and at most 1");
  EXPECT_EQ(check("1", top_p), "");
  const NumberRange timeout{.above_min = true};
  EXPECT_EQ(check("0", timeout), "expected a number above 0");
  EXPECT_EQ(check("0.001", timeout), "");
  // A duration too large for nanoseconds names the maximum.
  EXPECT_EQ(check("1e300", timeout), "expected a number above 0 and at most 1000000000");
}

TEST(NumberRange, WholeNumbersAreDecimalAndWithinTheirType) {
  std::string rewritten;
  EXPECT_EQ(check("010", whole_at_least<int>(1), &rewritten), "");
  EXPECT_EQ(rewritten, "10");  // not octal 8
  EXPECT_EQ(check("+7", whole_at_least<int>(1), &rewritten), "");
  EXPECT_EQ(rewritten, "7");
  for (const char* bad : {"1.5", "0x10", "1e3", "", "-", "ten", " 3"})
    EXPECT_EQ(check(bad, whole_at_least<int>(1)), "expected a whole number of at least 1") << bad;
  // "-1" is below the minimum, not a huge unsigned number.
  EXPECT_EQ(check("-1", whole_at_least<uint64_t>(1)), "expected a whole number of at least 1");
  EXPECT_EQ(check("0", whole_at_least<uint64_t>(1)), "expected a whole number of at least 1");
  EXPECT_EQ(check("2147483648", whole_at_least<int>(1)),
            "expected a whole number from 1 to 2147483647");
  EXPECT_EQ(check("99999999999999999999999", whole_at_least<int64_t>(1)),
            "expected a whole number from 1 to 9.223372037e+18");
  EXPECT_EQ(check("18446744073709551615", whole_at_least<uint64_t>(0)), "");
  const NumberRange hops{.whole = true, .min = 1, .max = 6, .show_max = true};
  EXPECT_EQ(check("7", hops), "expected a whole number from 1 to 6");
}

TEST(NumberRange, DescribeGivesTheRangeForHelp) {
  EXPECT_EQ(describe({.max = 2, .show_max = true}), "[0, 2]");
  EXPECT_EQ(describe({.max = 1, .above_min = true, .show_max = true}), "(0, 1]");
  EXPECT_EQ(describe(whole_at_least<int>(1)), ">= 1");
  EXPECT_EQ(describe({.above_min = true}), "> 0");
}

}  // namespace
}  // namespace personagen
