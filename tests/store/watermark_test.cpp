#include "store/watermark.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace personagen {
namespace {

// Line n starts at offset 10 * (n - 1) in these tests.
uint64_t offset_of(uint64_t line) {
  return 10 * (line - 1);
}

void read_line(Watermark& watermark, uint64_t line, bool selected = true) {
  watermark.begin({line, offset_of(line)}, selected);
  watermark.set_read_position({line + 1, offset_of(line + 1)});
}

TEST(WatermarkTest, FreshStartIsTheReadPosition) {
  // Given a fresh watermark
  Watermark watermark({}, 0, {});
  // Then low() is line 1 at offset 0 and nothing is in progress
  EXPECT_EQ(watermark.low().line, 1u);
  EXPECT_EQ(watermark.low().offset, 0u);
  EXPECT_EQ(watermark.in_progress(), 0u);
  EXPECT_EQ(watermark.span(), 0u);
  EXPECT_TRUE(watermark.done_above().empty());
}

TEST(WatermarkTest, InOrderFinishesAdvanceLow) {
  // Given three lines read
  Watermark watermark({}, 0, {});
  for (uint64_t line = 1; line <= 3; ++line) read_line(watermark, line);
  EXPECT_EQ(watermark.low().line, 1u);
  EXPECT_EQ(watermark.in_progress(), 3u);
  // When they finish in order
  watermark.finish(1);
  EXPECT_EQ(watermark.low().line, 2u);
  EXPECT_EQ(watermark.low().offset, offset_of(2));
  watermark.finish(2);
  watermark.finish(3);
  // Then low() is the read position and all three count as selected
  EXPECT_EQ(watermark.low().line, 4u);
  EXPECT_EQ(watermark.low().offset, offset_of(4));
  EXPECT_EQ(watermark.selected_below(), 3u);
  EXPECT_TRUE(watermark.done_above().empty());
  EXPECT_EQ(watermark.in_progress(), 0u);
}

TEST(WatermarkTest, OutOfOrderFinishesStayAboveLow) {
  // Given five lines read
  Watermark watermark({}, 0, {});
  for (uint64_t line = 1; line <= 5; ++line) read_line(watermark, line);
  // When 4, 2 and 5 finish before 1 and 3
  watermark.finish(4);
  watermark.finish(2);
  watermark.finish(5);
  // Then low() stays at line 1 and the finished ones are listed, sorted
  EXPECT_EQ(watermark.low().line, 1u);
  EXPECT_EQ(watermark.done_above(), (std::vector<uint64_t>{2, 4, 5}));
  EXPECT_EQ(watermark.in_progress(), 2u);
  EXPECT_EQ(watermark.selected_below(), 0u);
  // When 1 finishes, low() jumps over 2 to the unfinished 3
  watermark.finish(1);
  EXPECT_EQ(watermark.low().line, 3u);
  EXPECT_EQ(watermark.low().offset, offset_of(3));
  EXPECT_EQ(watermark.done_above(), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(watermark.selected_below(), 2u);
  // When 3 finishes, everything is below low()
  watermark.finish(3);
  EXPECT_EQ(watermark.low().line, 6u);
  EXPECT_TRUE(watermark.done_above().empty());
  EXPECT_EQ(watermark.selected_below(), 5u);
}

TEST(WatermarkTest, RejectsAreNotCountedAsAccepted) {
  // Given a resumed run with 7 selected lines below line 11, reading a selected line, a reject
  // and a selected line
  Watermark watermark({11, offset_of(11)}, 7, {});
  read_line(watermark, 11);
  read_line(watermark, 12, /*selected=*/false);
  read_line(watermark, 13);
  // When all finish
  watermark.finish(12);
  watermark.finish(13);
  EXPECT_EQ(watermark.selected_below(), 7u);
  watermark.finish(11);
  // Then only the two selected lines were added
  EXPECT_EQ(watermark.selected_below(), 9u);
  EXPECT_EQ(watermark.low().line, 14u);
}

TEST(WatermarkTest, BlankLinesMoveTheReadPositionBeyondTheLastBegunLine) {
  // Given line 1 read, then blank lines 2 and 3 skipped by the reader
  Watermark watermark({}, 0, {});
  watermark.begin({1, 0}, true);
  watermark.set_read_position({4, 42});
  EXPECT_EQ(watermark.span(), 1u);
  // When line 1 finishes
  watermark.finish(1);
  // Then low() is the read position past the blank lines, not line 2
  EXPECT_EQ(watermark.low().line, 4u);
  EXPECT_EQ(watermark.low().offset, 42u);
  EXPECT_EQ(watermark.span(), 0u);
}

TEST(WatermarkTest, SpanCoversLowToTheLastBegunLine) {
  // Given lines 1..3 read, with a blank line 4, then line 5 read
  Watermark watermark({}, 0, {});
  for (uint64_t line = 1; line <= 3; ++line) read_line(watermark, line);
  watermark.begin({5, offset_of(5)}, true);
  EXPECT_EQ(watermark.span(), 5u);
  // When 1 and 2 finish
  watermark.finish(2);
  watermark.finish(1);
  // Then the span runs from line 3 to line 5
  EXPECT_EQ(watermark.span(), 3u);
}

TEST(WatermarkTest, ResumedDoneLinesAreReportedUntilLowPassesThem) {
  // Given a checkpoint at line 10 with lines 12 and 14 already done (and a stale 8 below it)
  Watermark watermark({10, offset_of(10)}, 5, {14, 8, 12});
  EXPECT_TRUE(watermark.done_before(12));
  EXPECT_TRUE(watermark.done_before(14));
  EXPECT_FALSE(watermark.done_before(11));
  // Then, before anything is read, the next checkpoint still carries them
  EXPECT_EQ(watermark.done_above(), (std::vector<uint64_t>{12, 14}));

  // When lines 10 and 11 are read, 12 is skipped, and 13 is read
  read_line(watermark, 10);
  read_line(watermark, 11);
  ASSERT_TRUE(watermark.done_before(12));
  watermark.set_read_position({13, offset_of(13)});
  read_line(watermark, 13);
  // And 11 finishes while 10 is still in flight
  watermark.finish(11);
  // Then done_above merges this run's finished line with the earlier run's
  EXPECT_EQ(watermark.low().line, 10u);
  EXPECT_EQ(watermark.done_above(), (std::vector<uint64_t>{11, 12, 14}));

  // When 10 finishes, low() moves to 13: 12 is below it and drops out
  watermark.finish(10);
  EXPECT_EQ(watermark.low().line, 13u);
  EXPECT_EQ(watermark.done_above(), (std::vector<uint64_t>{14}));
  EXPECT_EQ(watermark.selected_below(), 7u);

  // When 13 finishes with 14 not yet re-read, 14 is still reported
  watermark.finish(13);
  EXPECT_EQ(watermark.low().line, 14u);
  EXPECT_EQ(watermark.done_above(), (std::vector<uint64_t>{14}));
  EXPECT_TRUE(watermark.done_before(14));
  // And once the reader skips 14 and reads 15, it is gone
  watermark.set_read_position({15, offset_of(15)});
  read_line(watermark, 15);
  EXPECT_TRUE(watermark.done_above().empty());
}

TEST(WatermarkTest, SkippedLineCanBeBegunAndFinishedToCountIt) {
  // Given a checkpoint at line 1 with line 2 done
  Watermark watermark({}, 0, {2});
  // When the caller re-reads line 2 and begins and finishes it at once, to count it as selected
  read_line(watermark, 1);
  read_line(watermark, 2);
  watermark.finish(2);
  // Then it is listed once, and counted once when low() passes it
  EXPECT_EQ(watermark.done_above(), (std::vector<uint64_t>{2}));
  watermark.finish(1);
  EXPECT_EQ(watermark.selected_below(), 2u);
  EXPECT_TRUE(watermark.done_above().empty());
}

TEST(WatermarkTest, MisuseIsALogicError) {
  // Given line 2 begun
  Watermark watermark({}, 0, {});
  watermark.begin({2, 10}, true);
  // Then beginning an earlier line, or finishing a line not in progress, throws
  EXPECT_THROW(watermark.begin({1, 0}, true), std::logic_error);
  EXPECT_THROW(watermark.finish(3), std::logic_error);
  watermark.begin({3, 20}, true);
  watermark.finish(3);
  EXPECT_THROW(watermark.finish(3), std::logic_error);
}

TEST(WatermarkTest, MemoryIsBoundedByTheWindow) {
  // Given a million lines, each finished soon after it begins, a few in flight at a time
  Watermark watermark({}, 0, {});
  for (uint64_t line = 1; line <= 1000000; ++line) {
    read_line(watermark, line);
    if (line > 3) watermark.finish(line - 3);
    // Then the window never grows past four lines
    ASSERT_LE(watermark.span(), 4u);
  }
  EXPECT_EQ(watermark.in_progress(), 3u);
  EXPECT_EQ(watermark.selected_below(), 999997u);
}

}  // namespace
}  // namespace personagen
