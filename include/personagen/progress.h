#pragma once

#include <cstdint>
#include <string>

namespace personagen {

// A snapshot of a run, taken by the work loop and handed to whatever shows it. Plain numbers
// only.
struct Progress {
  double elapsed_seconds = 0;
  uint64_t done = 0;        // records written this run
  uint64_t failed = 0;      // failures written this run
  uint64_t rejected = 0;    // rejects written this run
  uint64_t unverified = 0;  // lines without agreement written this run (unverified.jsonl)
  // judge records below --min-score written this run (below-threshold.jsonl)
  uint64_t below_threshold = 0;
  uint64_t in_flight = 0;
  uint64_t waiting = 0;  // requests waiting for a retry
  uint64_t retries = 0;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  double fraction = -1;  // share of the input consumed, 0..1; negative when unknown
  double cost = -1;      // dollars spent on tokens, from --price-in/--price-out; negative = unknown
};

// What a run shows while it goes and when it ends. The work never prints: the app implements
// this over the terminal (StatusPrinter), tests record the calls.
class RunStatus {
 public:
  virtual ~RunStatus() = default;
  // Called often by the work loop; the implementation decides when a line is due.
  virtual void update(const Progress& progress) = 0;
  // The run's last line, for output `destination` ("stdout" or a directory); shown even in
  // quiet mode when `always` (the run did not end cleanly).
  virtual void finish(const Progress& progress, const std::string& destination, bool always) = 0;
  // A note for the user that is not a log message, e.g. that the output is already complete.
  // Not shown in quiet mode.
  virtual void note(const std::string& line) = 0;
};

}  // namespace personagen
