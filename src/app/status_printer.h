#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "personagen/progress.h"

namespace personagen {

// One progress line, at most `width` columns (0 = no limit), e.g.
// "[ 42%] 1,204 done, 3 failed, 0 rejected | 64 in flight, 2 retrying | 812.4 req/s | 1.2M tok |
// $0.93 | ETA 3m12s" (the cost only when known). With `bar` (a terminal) the percent is drawn as
// "[########------------]  42%". Trimming drops whole parts from the right. Pure, so it can be
// unit-tested.
std::string format_progress(const Progress& progress, size_t width, bool bar = false);

// The final one-line summary, e.g.
// "personagen: 5,000 records, 3 failed, 0 rejected in 12.3s (406.5 rec/s, 1.2M tokens, $0.93)
// -> out/", the cost only when known.
std::string format_summary(const Progress& progress, const std::string& destination);

// Owns the terminal line. On a TTY it overwrites one line in place (trimmed to the terminal
// width); otherwise it prints a plain line at most every `interval`. Writes to `out` (stderr).
class LinePrinter {
 public:
  LinePrinter(FILE* out, bool smart_terminal);
  // Shows `line` in place on a TTY, or as a new line otherwise.
  void print(const std::string& line);
  // Ends an in-place line so the next output starts on a fresh line.
  void finish_line();
  bool smart() const { return smart_; }
  size_t width() const;

 private:
  // The summary is written as a plain line even on a TTY, so it is never trimmed.
  friend class StatusPrinter;

  FILE* out_;
  bool smart_;
  bool have_blank_line_ = true;
};

// Turns Progress snapshots into lines: on a TTY at most ~10 times a second, otherwise every
// `plain_interval`. Quiet mode prints nothing but errors elsewhere.
class StatusPrinter final : public RunStatus {
 public:
  StatusPrinter(LinePrinter& printer, std::chrono::milliseconds plain_interval, bool quiet);
  // Called often by the work loop; prints only when it is time.
  void update(const Progress& progress) override;
  // Prints the summary line (even in quiet mode when `always`), ending any in-place line first.
  void finish(const Progress& progress, const std::string& destination, bool always) override;
  // Prints `line` on a line of its own, unless quiet.
  void note(const std::string& line) override;

 private:
  LinePrinter& printer_;
  std::chrono::milliseconds interval_;
  bool quiet_;
  // When a line was last printed; in plain mode it starts at construction, so the first line
  // comes one interval into the run.
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace personagen
