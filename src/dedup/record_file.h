#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/atomic_file.h"
#include "util/mapped_file.h"

namespace personagen {

// A binary file of fixed-size records, the intermediates of the staged dedup (dedup_stages.h):
// a header (magic, format version, record size), the records, and a trailer (magic, record
// count). Why both: the header says what the file is, and the trailer, written last, says it is
// whole, so a file cut anywhere (a full disk, a crashed copy) is an error that names it rather
// than fewer records. Records are native-endian: the stages of one run share an architecture.
class RecordFileWriter {
 public:
  // Durable: `path` is written as an AtomicFile (a final file of a stage). Not durable: written
  // in place without fsync (a sorted run in the temporary directory, removed after the merge).
  // Throws Error naming the file if it cannot be created.
  RecordFileWriter(std::string path, size_t record_size, bool durable);
  ~RecordFileWriter();
  RecordFileWriter(const RecordFileWriter&) = delete;
  RecordFileWriter& operator=(const RecordFileWriter&) = delete;

  // Appends `count` records of record_size bytes. Throws Error naming the file on failure.
  void write(const void* records, size_t count);
  template <class T>
  void write(const T& record) {
    write(&record, 1);
  }
  // Writes the trailer and makes the file complete. Throws Error naming the file on failure.
  void commit();

  uint64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  void put(std::string_view bytes);

  std::string path_;
  size_t record_size_;
  uint64_t count_ = 0;
  std::optional<AtomicFile> atomic_;
  std::FILE* plain_ = nullptr;
};

// Reads a RecordFileWriter's file, sequentially or at any record (pread, or memory after map()).
class RecordFileReader {
 public:
  // Throws Error naming the file if it cannot be opened, is not such a file, has records of
  // another size than `record_size`, or is truncated.
  RecordFileReader(std::string path, size_t record_size);
  ~RecordFileReader();
  RecordFileReader(RecordFileReader&& other) noexcept;
  RecordFileReader& operator=(RecordFileReader&&) = delete;
  RecordFileReader(const RecordFileReader&) = delete;
  RecordFileReader& operator=(const RecordFileReader&) = delete;

  uint64_t count() const { return count_; }
  const std::string& path() const { return path_; }

  // The next record into `record` (record_size bytes); false after the last.
  bool next(void* record);
  template <class T>
  bool next(T& record) {
    return next(static_cast<void*>(&record));
  }
  // Records [index, index + count) into `records`, wherever the sequential reading is. Throws
  // Error naming the file if they are not all there.
  void read_at(uint64_t index, size_t count, void* records) const;
  // Maps the file into memory, so that read_at() copies without a system call: buckets reads
  // every bucket member's values at random, and a pread each took four fifths of its time.
  // The stages' files are complete and never change once written. Throws Error naming the file.
  void map();

 private:
  std::string path_;
  size_t record_size_;
  uint64_t count_ = 0;
  uint64_t next_ = 0;  // the index of the record next() reads
  int fd_ = -1;
  MappedFile map_;  // after map(): the whole file
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;  // buffer_[begin_, end_) holds records next() has not returned
};

}  // namespace personagen
