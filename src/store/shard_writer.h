#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/record_sink.h"

namespace personagen {

// Rotating shards `<prefix>-00000.jsonl`, `<prefix>-00001.jsonl`, ... in `dir`, `shard_size`
// records each, plus the side files of side_file.h (failures.jsonl, ..., each created on first
// use). A shard is written
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
  void write_side(SideFile file, std::string_view json) override;
  void flush() override;
  WriterState sync() override;
  WriterState close() override;
  const WriterState& state() const override { return state_; }

 private:
  struct File;
  void restore(const WriterState& resume);
  void restore_shard(const ShardInfo& info, bool last);
  void rotate();
  // The open shard; creates the next one (and its entry in state_) if none is open.
  File& open_shard();
  // Side file `file`, opened for appending (created) on first use.
  File& open_side_file(SideFile file);
  void check_writable() const;
  std::string dir_;
  std::string prefix_;
  uint64_t shard_size_;  // 0: never rotate
  WriterState state_;    // lengths include bytes still buffered
  std::unique_ptr<File> shard_;
  std::array<std::unique_ptr<File>, kSideFileCount> side_files_;  // indexed by SideFile
  bool dir_dirty_ = false;  // a file was created, renamed or removed since the last directory fsync
  bool closed_ = false;
};

// The name of shard `index`: `<prefix>-00042.jsonl`.
std::string shard_file_name(const std::string& prefix, uint64_t index);

// Removes what a previous run left in `dir`: shards with this prefix (and their .tmp files),
// the side files (failures.jsonl, ...) and manifest.json. Other files are left alone. For
// --restart.
void clear_output_dir(const std::string& dir, const std::string& prefix);

}  // namespace personagen
