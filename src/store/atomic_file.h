#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace personagen {

// A file written as `<path>.tmp` and moved to `path` by commit(): flush, fsync, close, rename,
// then fsync of the directory. A crash at any point leaves either the old file or the whole new
// one, and once commit() returns the new one stays. The destructor never commits: a file that
// was not committed is removed, so a failed run leaves no partial file. Every failure throws
// Error naming the file and removes the .tmp. (ccache core/atomicfile.hpp.)
class AtomicFile {
 public:
  // Creates `<path>.tmp`, replacing any left by an earlier run. Throws Error naming it if it
  // cannot be created (a missing directory, no permission).
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends `data`; writes are buffered. Throws Error naming the .tmp on a failed write.
  void write(std::string_view data);
  // Makes the written bytes the content of `path`, durably. Call it once. Throws Error naming
  // the file (or, for the last step, its directory) on failure.
  void commit();

  const std::string& path() const { return path_; }

 private:
  // Closes and removes the .tmp, then throws Error("<file>: <what>: <errno text>").
  [[noreturn]] void fail(const std::string& file, const char* what, int err);

  std::string path_;
  std::string tmp_path_;
  std::FILE* file_ = nullptr;  // null once closed
};

// Writes `content` to `path` with an AtomicFile. Throws Error naming the file.
void write_file_atomic(const std::string& path, std::string_view content);

// Makes the creates, renames and removals in `dir` durable: they are not until the directory
// itself is synced. Throws Error naming the directory.
void sync_dir(const std::string& dir);

}  // namespace personagen
