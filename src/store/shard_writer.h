#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  uint64_t failures_bytes = 0;
  uint64_t failures_lines = 0;
  uint64_t rejects_bytes = 0;
  uint64_t rejects_lines = 0;
};

// Where records, failures and rejects go. Each write takes one JSON document without a newline.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void write_record(std::string_view json) = 0;
  virtual void write_failure(std::string_view json) = 0;
  virtual void write_reject(std::string_view json) = 0;
  // Hands everything written so far to the kernel, without waiting for the disk: after a kill
  // -9 it is in the files. The journal (journal.h) relies on this order.
  virtual void flush() {}
  // The state now, lengths including bytes still buffered; no copy, for the journal.
  virtual const WriterState& state() const = 0;
  // Makes everything written so far durable (flush + fdatasync) and returns the state to record
  // in a checkpoint. Throws Error naming the file on an I/O error.
  virtual WriterState sync() = 0;
  // Closes the open shard (renaming it into place), syncs, and returns the final state.
  // Nothing may be written afterwards. A destructor never commits: without close(), the open
  // shard stays a .tmp that the next run truncates.
  virtual WriterState close() = 0;
};

// Records to stdout, one per line. Failures and rejects have no file, so each is written to
// `diagnostics` (stderr) as one line, whatever -q and --log-level say, so that nothing is lost:
// "personagen: failure: <the failures.jsonl JSON>" and "personagen: reject: <the rejects.jsonl
// JSON>". A failed write to either stream throws Error naming it.
std::unique_ptr<RecordSink> make_stdout_sink(FILE* diagnostics = stderr);

// Rotating shards `<prefix>-00000.jsonl`, `<prefix>-00001.jsonl`, ... in `dir`, `shard_size`
// records each, plus failures.jsonl and rejects.jsonl (created on first use). A shard is written
// as `<name>.tmp` and renamed when it is full or closed.
class ShardWriter : public RecordSink {
 public:
  // Creates `dir` if needed. With a non-empty `resume` state, restores the directory to it:
  // truncates the open shard and the side files to their recorded lengths (renaming a shard
  // back to .tmp if it was renamed after the checkpoint), and deletes shards created after it.
  // Throws Error naming the file if a closed shard is missing or not exactly as long as
  // recorded (nothing is written to a shard once it is closed), or another file is shorter.
  ShardWriter(std::string dir, std::string prefix, uint64_t shard_size, const WriterState& resume);
  ~ShardWriter() override;

  void write_record(std::string_view json) override;
  void write_failure(std::string_view json) override;
  void write_reject(std::string_view json) override;
  void flush() override;
  WriterState sync() override;
  WriterState close() override;
  const WriterState& state() const override { return state_; }

 private:
  struct File;
  void restore(const WriterState& resume);
  void restore_shard(const ShardInfo& info, bool last);
  void rotate();
  File& shard();
  File& side_file(std::unique_ptr<File>& file, const char* name, uint64_t recorded_bytes);
  void check_writable() const;
  std::string dir_;
  std::string prefix_;
  uint64_t shard_size_;  // 0: never rotate
  WriterState state_;    // lengths include bytes still buffered
  std::unique_ptr<File> shard_;
  std::unique_ptr<File> failures_;
  std::unique_ptr<File> rejects_;
  bool dir_dirty_ = false;  // a file was created, renamed or removed since the last directory fsync
  bool closed_ = false;
};

// The name of shard `index`: `<prefix>-00042.jsonl`.
std::string shard_file_name(const std::string& prefix, uint64_t index);

// Removes what a previous run left in `dir`: shards with this prefix (and their .tmp files),
// failures.jsonl, rejects.jsonl and manifest.json. Other files are left alone. For --restart.
void clear_output_dir(const std::string& dir, const std::string& prefix);

}  // namespace personagen
