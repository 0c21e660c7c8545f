#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dedup/record_file.h"

namespace personagen {

// A directory for sorted runs, made fresh under `parent` (created if missing) and removed with
// everything in it when this goes out of scope, also on an error. Throws Error naming it if it
// cannot be made.
class RunDirectory {
 public:
  RunDirectory(const std::string& parent, const std::string& prefix);
  ~RunDirectory();
  // Removes the directories `parent`/`prefix`.XXXXXX a killed run left behind. Only for a caller
  // that holds the lock of the stage the prefix names, so that no live run's directory goes.
  static void remove_leftovers(const std::string& parent, const std::string& prefix);
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The k-way merge of sorted record files: their records in order of T's operator<, ties in the
// order the files were added. Each file may have a transform applied to its records as they are
// read (the staged dedup turns a part's line numbers into the whole input's), which must keep
// the file's order.
template <class T>
class MergeReader {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  void add(RecordFileReader reader, std::function<void(T&)> transform = {}) {
    sources_.push_back({std::move(reader), std::move(transform)});
  }

  // The next record; false after the last. Throws Error naming a file that cannot be read.
  bool next(T& record) {
    if (!started_) start();
    if (heap_.empty()) return false;
    Head head = heap_.top();
    heap_.pop();
    record = head.record;
    if (read(head.source, head.record)) heap_.push(head);
    return true;
  }

 private:
  struct Source {
    RecordFileReader reader;
    std::function<void(T&)> transform;
  };
  struct Head {
    T record;
    size_t source;
    // The priority queue puts the greatest first: this orders the smallest record, then the
    // earliest file, there.
    bool operator<(const Head& other) const {
      if (other.record < record) return true;
      if (record < other.record) return false;
      return source > other.source;
    }
  };
  bool read(size_t source, T& record) {
    Source& s = sources_[source];
    if (!s.reader.next(record)) return false;
    if (s.transform) s.transform(record);
    return true;
  }
  void start() {
    started_ = true;
    for (size_t i = 0; i < sources_.size(); ++i) {
      Head head{T{}, i};
      if (read(i, head.record)) heap_.push(head);
    }
  }

  std::vector<Source> sources_;
  std::priority_queue<Head> heap_;
  bool started_ = false;
};

// An external sort of fixed-size records: records gather in a buffer of at most `memory_bytes`;
// a full buffer is sorted and written as a run to the run directory; finish() merges the runs
// (or, if none was written, sorts the buffer alone) and hands every record over in order.
// Why fixed-size, trivially copyable records: the runs are plain arrays, read back with no
// parsing, and a record costs its size and nothing more in the buffer.
template <class T>
class SpillSorter {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // `runs`: where runs go (it must outlive this); `name` starts their file names.
  SpillSorter(const RunDirectory& runs, std::string name, size_t memory_bytes)
      : runs_(runs),
        name_(std::move(name)),
        capacity_(std::max<size_t>(1, memory_bytes / sizeof(T))) {}

  void add(const T& record) {
    // Why reserve: push_back would grow the buffer by doubling, past the share of memory.
    if (buffer_.capacity() < capacity_) buffer_.reserve(capacity_);
    if (buffer_.size() == capacity_) spill();
    buffer_.push_back(record);
  }

  // Calls out(record) for every record added, in order of operator<; with `unique`, once for
  // each distinct record (operator==). Throws Error naming a run that cannot be written or read.
  template <class Out>
  void finish(bool unique, Out&& out) {
    std::sort(buffer_.begin(), buffer_.end());
    bool any = false;
    T last{};
    auto emit = [&](const T& record) {
      if (unique && any && record == last) return;
      any = true;
      last = record;
      out(record);
    };
    if (runs_written_.empty()) {
      for (const T& record : buffer_) emit(record);
    } else {
      if (!buffer_.empty()) spill();
      reduce_runs();
      MergeReader<T> merge;
      for (const std::string& run : runs_written_) merge.add(RecordFileReader(run, sizeof(T)));
      for (T record; merge.next(record);) emit(record);
      for (const std::string& run : runs_written_) std::remove(run.c_str());
    }
    buffer_.clear();
    buffer_.shrink_to_fit();
  }

  // The bytes the buffer holds, at most memory_bytes (or one record).
  size_t buffer_bytes() const { return buffer_.capacity() * sizeof(T); }

  // Runs written because the buffer was full.
  uint64_t spilled_runs() const { return spilled_; }

 private:
  std::string next_run_path() {
    return runs_.path() + "/" + name_ + ".run-" + std::to_string(next_run_++);
  }

  void spill() {
    std::sort(buffer_.begin(), buffer_.end());
    std::string path = next_run_path();
    RecordFileWriter writer(path, sizeof(T), false);
    writer.write(buffer_.data(), buffer_.size());
    writer.commit();
    runs_written_.push_back(std::move(path));
    ++spilled_;
    buffer_.clear();
  }

  // Why: each run being merged holds an open file and a read buffer, so past kMaxMergeWays
  // runs, groups of them are first merged into longer runs.
  void reduce_runs() {
    while (runs_written_.size() > kMaxMergeWays) {
      std::vector<std::string> merged;
      for (size_t begin = 0; begin < runs_written_.size(); begin += kMaxMergeWays) {
        const size_t end = std::min(runs_written_.size(), begin + kMaxMergeWays);
        MergeReader<T> merge;
        for (size_t r = begin; r < end; ++r) {
          merge.add(RecordFileReader(runs_written_[r], sizeof(T)));
        }
        std::string path = next_run_path();
        RecordFileWriter writer(path, sizeof(T), false);
        for (T record; merge.next(record);) writer.write(record);
        writer.commit();
        for (size_t r = begin; r < end; ++r) std::remove(runs_written_[r].c_str());
        merged.push_back(std::move(path));
      }
      runs_written_ = std::move(merged);
    }
  }

  static constexpr size_t kMaxMergeWays = 256;

  const RunDirectory& runs_;
  std::string name_;
  size_t capacity_;
  std::vector<T> buffer_;
  std::vector<std::string> runs_written_;
  uint64_t next_run_ = 0;
  uint64_t spilled_ = 0;
};

}  // namespace personagen
