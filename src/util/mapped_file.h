#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace personagen {

// An open file's first `size` bytes mapped read-only into memory, for random reads without a
// system call each: the staged dedup's values (buckets reads every bucket member's) and batch
// import's result lines (read in the export's order, not the file's). On this project's
// paravirtualized machines a pread costs microseconds, which dominated both.
// The file must not shrink while it is mapped: a read past its new end stops the process
// (SIGBUS). Both users map files that nothing rewrites during the run.
class MappedFile {
 public:
  MappedFile() = default;
  // Maps `fd` (which stays the caller's) from offset 0; an empty mapping for size 0. Throws
  // Error("<path>: cannot map into memory: <reason>").
  MappedFile(int fd, size_t size, const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  bool mapped() const { return data_ != nullptr; }
  std::string_view bytes() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace personagen
