#pragma once

// The seam between a run and where its output goes: a directory of shards (shard_writer.h) or
// stdout (stdout_sink.h), and the state of that output that a checkpoint records.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/side_file.h"

namespace personagen {

// One output shard, as recorded in the manifest.
struct ShardInfo {
  std::string name;  // file name inside the output directory, e.g. "math-00000.jsonl"
  uint64_t records = 0;
  uint64_t bytes = 0;
  bool open = false;  // still being written, as name + ".tmp"
};

// The durable state of an output directory at a checkpoint. Resuming from it truncates every
// file back to exactly these lengths, so nothing written after the checkpoint survives.
struct WriterState {
  std::vector<ShardInfo> shards;  // in order; only the last one may be open
  SideFileStates side_files{};    // indexed by SideFile

  SideFileState& side(SideFile file) { return side_files[side_index(file)]; }
  const SideFileState& side(SideFile file) const { return side_files[side_index(file)]; }
};

// Where records and the side files' lines (side_file.h) go. Each write takes one JSON document
// without a newline; a write throws std::logic_error if it holds one or comes after close(),
// and Error naming the file on an I/O error.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void write_record(std::string_view json) = 0;
  // One line to side file `file`; the wrappers below name the common ones at the call site.
  virtual void write_side(SideFile file, std::string_view json) = 0;
  void write_failure(std::string_view json) { write_side(SideFile::failures, json); }
  void write_reject(std::string_view json) { write_side(SideFile::rejects, json); }
  void write_unverified(std::string_view json) { write_side(SideFile::unverified, json); }
  // Hands everything written so far to the kernel, without waiting for the disk: after a kill
  // -9 it is in the files. The journal (journal.h) relies on this order.
  virtual void flush() {}
  // The state now, lengths including bytes still buffered; no copy, for the journal.
  virtual const WriterState& state() const = 0;
  // Makes everything written so far durable (flush + fdatasync) and returns the state to record
  // in a checkpoint. Throws Error naming the file on an I/O error.
  virtual WriterState sync() = 0;
  // Closes the open shard (renaming it into place), syncs, and returns the final state; the
  // stdout sink only flushes. Nothing may be written afterwards. A destructor never commits:
  // without close(), the open shard stays a .tmp that the next run truncates.
  virtual WriterState close() = 0;
};

// Throws std::logic_error if `json` holds a newline. Every sink checks each line it is given:
// a newline inside a record would make one record two lines and break every line count.
inline void check_one_line(std::string_view json) {
  if (json.find('\n') != std::string_view::npos) {
    throw std::logic_error("RecordSink: a line to write contains a newline");
  }
}

}  // namespace personagen
