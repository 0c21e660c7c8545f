#include "app/status_printer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <string>

namespace personagen {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

// Everything written so far to a tmpfile().
std::string contents(FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  std::fseek(file, 0, SEEK_END);
  return text;
}

// Owns a tmpfile() standing in for stderr.
class TempFile {
 public:
  TempFile() : file_(std::tmpfile()) {}
  ~TempFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  FILE* get() const { return file_; }
  std::string text() const { return contents(file_); }

 private:
  FILE* file_;
};

// Sets $COLUMNS for one test and puts back what was there.
class ScopedColumns {
 public:
  explicit ScopedColumns(const char* value) {
    if (const char* old = getenv("COLUMNS")) old_ = old, had_ = true;
    setenv("COLUMNS", value, 1);
  }
  ~ScopedColumns() {
    if (had_) {
      setenv("COLUMNS", old_.c_str(), 1);
    } else {
      unsetenv("COLUMNS");
    }
  }

 private:
  std::string old_;
  bool had_ = false;
};

Progress busy_run() {
  Progress p;
  p.elapsed_seconds = 10;
  p.done = 1204;
  p.failed = 3;
  p.rejected = 0;
  p.in_flight = 64;
  p.waiting = 2;
  p.prompt_tokens = 1'000'000;
  p.completion_tokens = 234'567;
  p.fraction = 0.42;
  return p;
}

TEST(StatusPrinterTest, ProgressLineForABusyRun) {
  // Given a run 42% through after 10 seconds
  // When it is formatted without a width limit
  const std::string line = format_progress(busy_run(), 0);

  // Then every part shows: percent, counts, queue, rate, tokens and ETA (10s * 0.58 / 0.42)
  EXPECT_EQ(line,
            "[ 42%] 1,204 done, 3 failed, 0 rejected | 64 in flight, 2 retrying | 120.7 req/s | "
            "1.2M tok | ETA 14s");
}

TEST(StatusPrinterTest, ProgressLineWithMinutesAndLargeCounts) {
  // Given a long run with large counts
  Progress p;
  p.elapsed_seconds = 600;
  p.done = 1'234'567;
  p.failed = 1'000;
  p.rejected = 12'345;
  p.in_flight = 1'024;
  p.completion_tokens = 845'123;
  p.fraction = 0.75;

  // When it is formatted
  const std::string line = format_progress(p, 0);

  // Then thousands separators appear everywhere and the ETA is in minutes
  EXPECT_EQ(line,
            "[ 75%] 1,234,567 done, 1,000 failed, 12,345 rejected | 1,024 in flight, 0 retrying | "
            "2,059.3 req/s | 845k tok | ETA 3m20s");
}

TEST(StatusPrinterTest, ProgressLineWithUnknownFraction) {
  // Given input read from a pipe, so the fraction is unknown
  Progress p = busy_run();
  p.fraction = -1;
  p.prompt_tokens = 999;
  p.completion_tokens = 0;

  // When it is formatted
  const std::string line = format_progress(p, 0);

  // Then there is neither percent nor ETA
  EXPECT_EQ(line,
            "1,204 done, 3 failed, 0 rejected | 64 in flight, 2 retrying | 120.7 req/s | 999 tok");
}

TEST(StatusPrinterTest, ProgressAtStartHasPercentButNoEta) {
  // Given nothing consumed and no time elapsed
  Progress p;
  p.fraction = 0;

  // Then the percent shows, the rate is zero and there is no ETA to divide by zero for
  EXPECT_EQ(format_progress(p, 0),
            "[  0%] 0 done, 0 failed, 0 rejected | 0 in flight, 0 retrying | 0.0 req/s | 0 tok");
}

TEST(StatusPrinterTest, ProgressTrimsWholePartsToTheWidth) {
  // Given the full line of a busy run
  const std::string full = format_progress(busy_run(), 0);

  for (size_t width = 1; width <= full.size() + 5; ++width) {
    // When it is formatted for a narrower terminal
    const std::string line = format_progress(busy_run(), width);

    // Then it never exceeds the width, and it is a prefix made of whole parts
    EXPECT_LE(line.size(), width);
    EXPECT_TRUE(full.starts_with(line)) << line;
    if (!line.empty() && line.size() < full.size()) {
      const char next = full[line.size()];
      EXPECT_TRUE(next == ' ' || next == ',') << "cut mid-part at " << width << ": " << line;
    }
  }
  // And the least important parts go first
  EXPECT_EQ(format_progress(busy_run(), 60),
            "[ 42%] 1,204 done, 3 failed, 0 rejected | 64 in flight");
  EXPECT_EQ(format_progress(busy_run(), 6), "[ 42%]");
  EXPECT_EQ(format_progress(busy_run(), 5), "");
  EXPECT_EQ(format_progress(busy_run(), full.size()), full);
}

TEST(StatusPrinterTest, SummaryLine) {
  // Given a finished run
  Progress p;
  p.elapsed_seconds = 12.3;
  p.done = 5000;
  p.failed = 3;
  p.prompt_tokens = 700'000;
  p.completion_tokens = 500'000;

  // When it is summarized
  const std::string line = format_summary(p, "out/");

  // Then one line tells counts, time, rate, tokens and the destination as given
  EXPECT_EQ(line,
            "personagen: 5,000 records, 3 failed, 0 rejected in 12.3s (406.5 rec/s, 1.2M tokens) "
            "-> out/");
}

TEST(StatusPrinterTest, UnverifiedShowsOnlyWhenThereAreAny) {
  // Given a run with lines without agreement
  Progress p = busy_run();
  p.unverified = 7;
  // Then the progress line and the summary count them after the rejects
  EXPECT_EQ(format_progress(p, 0),
            "[ 42%] 1,204 done, 3 failed, 0 rejected, 7 unverified | 64 in flight, 2 retrying | "
            "120.7 req/s | 1.2M tok | ETA 14s");
  EXPECT_EQ(format_summary(p, "out/"),
            "personagen: 1,204 records, 3 failed, 0 rejected, 7 unverified in 10.0s (120.4 rec/s, "
            "1.2M tokens) -> out/");
  // And without any, the lines are as before (the tests above pin them)
  p.unverified = 0;
  EXPECT_EQ(format_progress(p, 0).find("unverified"), std::string::npos);
  EXPECT_EQ(format_summary(p, "out/").find("unverified"), std::string::npos);
}

TEST(StatusPrinterTest, BelowThresholdShowsOnlyWhenThereAreAny) {
  // Given a judge run with records below --min-score
  Progress p = busy_run();
  p.below_threshold = 5;
  // Then the progress line and the summary count them after the rejects
  EXPECT_EQ(format_progress(p, 0),
            "[ 42%] 1,204 done, 3 failed, 0 rejected, 5 below threshold | 64 in flight, 2 "
            "retrying | 120.7 req/s | 1.2M tok | ETA 14s");
  EXPECT_EQ(format_summary(p, "out/"),
            "personagen: 1,204 records, 3 failed, 0 rejected, 5 below threshold in 10.0s (120.4 "
            "rec/s, 1.2M tokens) -> out/");
  p.below_threshold = 0;
  EXPECT_EQ(format_summary(p, "out/").find("below"), std::string::npos);
}

TEST(StatusPrinterTest, CostShowsWhenPricesAreKnown) {
  // Given a run whose token prices are known
  Progress p = busy_run();
  p.cost = 12345.678;

  // Then the progress line and the summary show dollars and cents, after the tokens
  EXPECT_NE(format_progress(p, 0).find(" tok | $12,345.68 |"), std::string::npos)
      << format_progress(p, 0);
  EXPECT_NE(format_summary(p, "out/").find(" tokens, $12,345.68) -> out/"), std::string::npos)
      << format_summary(p, "out/");
  // And without prices there is no cost at all
  EXPECT_EQ(format_progress(busy_run(), 0).find('$'), std::string::npos);
}

TEST(StatusPrinterTest, ATerminalGetsABar) {
  // Given a run 42% of the way through
  // When it is formatted with a bar, then 8 of 20 cells are full and the percent follows
  EXPECT_TRUE(format_progress(busy_run(), 0, true).starts_with("[########------------]  42% 1,204"))
      << format_progress(busy_run(), 0, true);
  Progress done = busy_run();
  done.fraction = 1;
  EXPECT_TRUE(format_progress(done, 0, true).starts_with("[####################] 100% "));
}

TEST(StatusPrinterTest, SummaryOfALongRunUsesMinutesAndHours) {
  // Given a run of two hours five minutes
  Progress p;
  p.elapsed_seconds = 7500;
  p.done = 15'000;

  // Then the time reads as hours and minutes
  EXPECT_EQ(format_summary(p, "-"),
            "personagen: 15,000 records, 0 failed, 0 rejected in 2h05m (2.0 rec/s, 0 tokens) -> -");
}

TEST(StatusPrinterTest, SmartLinePrinterOverwritesInPlace) {
  // Given a smart printer on a file (not a TTY, so the width comes from $COLUMNS)
  ScopedColumns columns("10");
  TempFile out;
  LinePrinter printer(out.get(), true);
  ASSERT_EQ(printer.width(), 10u);

  // When two lines are shown, the second too long, and the line is finished twice
  printer.print("first");
  printer.print("0123456789abcdef");
  printer.finish_line();
  printer.finish_line();

  // Then each overwrites the line, the long one is cut to the width, and one newline ends it
  EXPECT_EQ(out.text(), "\rfirst\x1b[K\r0123456789\x1b[K\n");
}

TEST(StatusPrinterTest, PlainLinePrinterWritesWholeLines) {
  // Given a plain printer
  ScopedColumns columns("10");
  TempFile out;
  LinePrinter printer(out.get(), false);

  // When lines are printed and the line is finished
  printer.print("first");
  printer.print("0123456789abcdef");
  printer.finish_line();

  // Then they are plain, untrimmed lines with no escape codes and no extra newline
  EXPECT_EQ(out.text(), "first\n0123456789abcdef\n");
}

TEST(StatusPrinterTest, WidthFallsBackTo80) {
  // Given no terminal and a useless $COLUMNS
  ScopedColumns columns("wide");
  TempFile out;
  LinePrinter printer(out.get(), true);

  // Then the width is 80
  EXPECT_EQ(printer.width(), 80u);
}

TEST(StatusPrinterTest, QuietPrintsNothingButTheForcedSummary) {
  // Given a quiet status printer with a zero interval
  TempFile out;
  LinePrinter line_printer(out.get(), false);
  StatusPrinter status(line_printer, milliseconds(0), true);

  // When it is updated and finished without `always`
  status.update(busy_run());
  status.update(busy_run());
  status.finish(busy_run(), "out/", false);

  // Then nothing at all is written
  EXPECT_EQ(out.text(), "");

  // And with `always` the summary alone is written
  status.finish(busy_run(), "out/", true);
  EXPECT_EQ(out.text(), format_summary(busy_run(), "out/") + "\n");
}

TEST(StatusPrinterTest, PlainPrintsOncePerIntervalElapsed) {
  // Given a plain status printer with a zero interval
  TempFile out;
  LinePrinter line_printer(out.get(), false);
  StatusPrinter status(line_printer, milliseconds(0), false);

  // When it is updated
  status.update(busy_run());

  // Then the full progress line is printed, followed by the summary at the end
  status.finish(busy_run(), "out/", false);
  EXPECT_EQ(out.text(),
            format_progress(busy_run(), 0) + "\n" + format_summary(busy_run(), "out/") + "\n");
}

TEST(StatusPrinterTest, PlainPrintsNothingBeforeTheFirstInterval) {
  // Given a plain status printer with an hour-long interval
  TempFile out;
  LinePrinter line_printer(out.get(), false);
  StatusPrinter status(line_printer, hours(1), false);

  // When it is updated many times at once
  for (int i = 0; i < 100; ++i) status.update(busy_run());

  // Then nothing is printed yet
  EXPECT_EQ(out.text(), "");
}

TEST(StatusPrinterTest, SmartPrintsAtOnceAndEndsTheLineBeforeTheSummary) {
  // Given a smart status printer on a wide "terminal", with an hour-long plain interval
  ScopedColumns columns("200");
  TempFile out;
  LinePrinter line_printer(out.get(), true);
  StatusPrinter status(line_printer, hours(1), false);

  // When it is updated once and then finished
  status.update(busy_run());
  status.finish(busy_run(), "out/", false);

  // Then the update shows in place at once (the plain interval does not apply), and the summary
  // follows on a fresh line
  EXPECT_EQ(out.text(), "\r" + format_progress(busy_run(), 200, true) + "\x1b[K\n" +
                            format_summary(busy_run(), "out/") + "\n");
}

}  // namespace
}  // namespace personagen
