#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "input/record_reader.h"

namespace personagen {

// Tracks which input lines are finished so that a checkpoint can describe all progress as a
// low-watermark plus the few finished lines above it. Memory is bounded by the lines in
// progress, never by the lines done: this is what lets a billion-line run resume.
class Watermark {
 public:
  // Starts from a checkpoint: `start` is its low-watermark and `done_above` the lines at or after
  // it that were already finished (a fresh run passes {} and an empty list).
  // `selected_below` is its count of selected lines before `start`.
  Watermark(ReadPosition start, uint64_t selected_below, std::vector<uint64_t> done_above);

  // True if `line` was finished by an earlier run (one of the checkpoint's done_above lines).
  bool done_before(uint64_t line) const;

  // A line has been read; `at` is where it starts (its line number, file and offset). Lines
  // begin in increasing order. `selected` is whether it counts towards --limit: false for
  // rejects and for lines the selection flags leave out.
  void begin(const ReadPosition& at, bool selected);
  // A begun line is finished: written to a shard, failures.jsonl or rejects.jsonl.
  void finish(uint64_t line);
  // Where the reader is now (the line after the last one read, past any blank lines).
  void set_read_position(ReadPosition next);

  // The first line that is not finished: the oldest begun-and-unfinished line, else the read
  // position.
  ReadPosition low() const;
  // How many selected lines are before low(): what --limit counts on a resume.
  uint64_t selected_below() const { return selected_below_; }
  // Finished lines at or after low(), sorted, including the earlier run's that are still ahead.
  std::vector<uint64_t> done_above() const;
  // Lines begun and not finished.
  size_t in_progress() const { return unfinished_; }
  // How many lines the reader is ahead of low(); the caller bounds it to bound memory.
  uint64_t span() const;

 private:
  struct Entry {
    ReadPosition at;
    bool selected;
    bool finished;
  };
  void forget_passed();
  std::deque<Entry> window_;  // begun lines from low() on
  // The checkpoint's done_above lines, sorted; those before the window are dropped as it moves.
  std::deque<uint64_t> done_before_;
  ReadPosition read_;
  uint64_t selected_below_ = 0;
  size_t unfinished_ = 0;
};

}  // namespace personagen
