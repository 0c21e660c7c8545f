#include "util/text_util.h"

#include <gtest/gtest.h>

#include <string_view>

namespace personagen {
namespace {

using namespace std::string_view_literals;

TEST(TrimTest, DropsEveryKindOfWhitespaceAtBothEndsByDefault) {
  // Given text with spaces, tabs, line breaks, form feeds and vertical tabs around it; then
  // trim() drops them all, and keeps those inside
  EXPECT_EQ(trim(" \t\r\n\f\vtwo words\n\v\f\r\t "), "two words");
  EXPECT_EQ(trim("a \t b"), "a \t b");
}

TEST(TrimTest, AllBlankOrEmptyTextBecomesEmpty) {
  // Given text of blanks only, or nothing; then what is left is empty
  EXPECT_EQ(trim(" \t\n "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t", kSpaceTab), "");
}

TEST(TrimTest, ANarrowerSetKeepsTheOtherBlanks) {
  // Given blanks outside the set passed; then they stay
  EXPECT_EQ(trim("\n x \n", kSpaceTab), "\n x \n");
  EXPECT_EQ(trim(" \tx\t ", kSpaceTab), "x");
  EXPECT_EQ(trim("\f\r\n x \r\n\v", kSpaceTabNewline), "\f\r\n x \r\n\v");
  EXPECT_EQ(trim("\r\n x \r\n", kSpaceTabNewline), "x");
}

TEST(TrimTest, ASetMayHoldNulAndControlBytes) {
  // Given a set holding a NUL byte and a control character; then those are trimmed too
  constexpr auto kSet = " \0\x01"sv;
  EXPECT_EQ(trim("\0\x01 x\x01\0"sv, kSet), "x");
}

TEST(TrimTest, FrontAndBackTrimOneEndEach) {
  // Given blanks at both ends; then trim_front and trim_back each drop one end only
  EXPECT_EQ(trim_front("  x  "), "x  ");
  EXPECT_EQ(trim_back("  x  "), "  x");
  EXPECT_EQ(trim_back(trim_front("\n\t x \r\n", kSpaceTab), kSpaceTabNewline), "\n\t x");
}

TEST(TrimTest, TheResultIsAViewIntoTheText) {
  // Given a text; then the trimmed view points into it, also when nothing is left
  constexpr std::string_view text = "  abc  ";
  EXPECT_EQ(trim(text).data(), text.data() + 2);
  constexpr std::string_view blank = "   ";
  EXPECT_GE(trim(blank).data(), blank.data());
  EXPECT_LE(trim(blank).data(), blank.data() + blank.size());
}

}  // namespace
}  // namespace personagen
