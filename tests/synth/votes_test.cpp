#include "synth/votes.h"

#include <gtest/gtest.h>

namespace personagen {
namespace {

using Answers = std::vector<std::optional<std::string>>;

TEST(Votes, TwoOfThreeAgree) {
  Answers answers{"7", "9", "7"};
  Votes votes = tally(answers);
  EXPECT_EQ(votes.best, 2u);
  ASSERT_TRUE(votes.chosen);
  EXPECT_EQ(*votes.chosen, 0u);  // the first sample with the majority answer
  ASSERT_NE(votes.answer(), nullptr);
  EXPECT_EQ(*votes.answer(), "7");
  ASSERT_EQ(votes.counts.size(), 2u);
  EXPECT_EQ(votes.counts[0], (std::pair<std::string, size_t>{"7", 2}));
  EXPECT_EQ(votes.counts[1], (std::pair<std::string, size_t>{"9", 1}));
  EXPECT_EQ(votes.agreement(3), "2/3");
}

TEST(Votes, TheMajorityMayComeLate) {
  Answers answers{"1", "2", "2"};
  Votes votes = tally(answers);
  EXPECT_EQ(votes.best, 2u);
  EXPECT_EQ(*votes.chosen, 1u);
  EXPECT_EQ(*votes.answer(), "2");
}

TEST(Votes, ATieGoesToTheAnswerSeenFirst) {
  Answers answers{"a", "b", "b", "a"};
  Votes votes = tally(answers);
  EXPECT_EQ(votes.best, 2u);
  EXPECT_EQ(*votes.chosen, 0u);
  EXPECT_EQ(*votes.answer(), "a");
}

TEST(Votes, AllDifferentIsOneVoteEach) {
  Answers answers{"1", "2", "3"};
  Votes votes = tally(answers);
  EXPECT_EQ(votes.best, 1u);
  EXPECT_EQ(votes.agreement(3), "1/3");
}

TEST(Votes, FailedSamplesVoteForNothing) {
  Answers answers{std::nullopt, "4", std::nullopt};
  Votes votes = tally(answers);
  EXPECT_EQ(votes.best, 1u);
  EXPECT_EQ(*votes.chosen, 1u);
  Answers none{std::nullopt, std::nullopt};
  Votes empty = tally(none);
  EXPECT_EQ(empty.best, 0u);
  EXPECT_FALSE(empty.chosen);
  EXPECT_EQ(empty.answer(), nullptr);
  EXPECT_EQ(empty.agreement(2), "0/2");
}

}  // namespace
}  // namespace personagen
