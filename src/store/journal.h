#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/manifest.h"
#include "store/record_sink.h"

namespace personagen {

// The journal: what a run finished since its last checkpoint, so that a kill -9 costs at most
// the requests in flight, not everything written since the checkpoint (every 2 s, thousands of
// paid replies at a high rate).
//
// After each input line is written (its records, failures or reject), one text line is added:
// the line number, the lengths of the files it touched and the totals after it. The sink's
// bytes reach the kernel before the entry's (RecordSink::flush, then Journal::flush), so an
// entry in the file always has its records in the files. A resume applies the entries after the
// checkpoint's journal_seq while the files hold their bytes (ending in a newline), and keeps
// those records; only what no entry vouches for is cut. The journal is not synced: after a power
// loss the checkpoint is what holds, as before. A checkpoint clears it, so it holds at most one
// interval of lines.
class Journal {
 public:
  // Opens `path` for appending, creating it. Entries are numbered from `seq` + 1; shards before
  // `first_shard` are closed and never written again. Throws Error naming the file.
  Journal(std::string path, uint64_t seq, size_t first_shard);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Records that input `line` is finished; `writer` and `totals` are the state after it.
  void add(uint64_t line, const WriterState& writer, const Totals& totals);
  // Writes the entries added so far to the file (no fsync). Call it after the sink's flush().
  void flush();
  // The last entry's number.
  uint64_t seq() const { return seq_; }
  // A checkpoint now holds everything up to seq(): empties the file. Throws Error.
  void clear();
  // The run is complete: the file is removed.
  void remove();

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t seq_;
  size_t first_shard_;  // the first shard an entry must list: the ones after may change
  std::string buffer_;
};

// What the entries after a checkpoint add to it.
struct JournalRecovery {
  WriterState writer;           // the files' lengths after the last entry applied
  Totals totals;                // after it (seconds: the checkpoint's)
  std::vector<uint64_t> lines;  // the input lines those entries finished
  uint64_t seq = 0;             // the last entry applied
};

// Reads the journal at `path` (a missing file is an empty journal) and applies to `checkpoint`
// its entries numbered after checkpoint.journal_seq, in order, while the files in `dir` hold
// the bytes each entry records; stops at the first that they do not, or at a torn line.
// nullopt when no entry applies.
std::optional<JournalRecovery> recover_journal(const std::string& path, const std::string& dir,
                                               const std::string& prefix, uint64_t shard_size,
                                               const Checkpoint& checkpoint);

// The journal's file name inside an output directory.
inline constexpr const char* kJournalName = "checkpoint.journal";

}  // namespace personagen
