#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dedup/syntactic_dedup.h"
#include "input/byte_source.h"
#include "store/atomic_file.h"

namespace personagen {

// The input's lines as raw bytes, numbered as RecordReader numbers them (blank lines count, and
// several files are one input, each file's last line ending at its end), for copying kept
// records as they were. A skipped line is never held in memory, however long.
class RawLineReader {
 public:
  // Throws Error naming the file if it cannot be opened; reads as open_byte_source does.
  explicit RawLineReader(std::vector<std::string> paths);

  // Moves past the next line and, if `line` is not null, stores it there without its newline,
  // a CR before it, or a byte-order mark at the start of a file. False at the end.
  bool next(std::string* line);

  // Keeps at most `bytes` of a line (the rest is skipped, not held); cut() says whether the last
  // line was longer. Unlimited until set.
  void limit_line(size_t bytes) { max_line_ = bytes; }
  bool cut() const { return cut_; }
  // The file the last line came from.
  const std::string& path() const { return paths_[file_]; }

 private:
  std::vector<std::string> paths_;
  size_t max_line_ = SIZE_MAX;
  bool cut_ = false;
  size_t file_ = 0;
  std::unique_ptr<ByteSource> source_;
  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool first_ = true;
};

// An output of dedup or decontam: an AtomicFile, or stdout for "-". If it is destroyed without
// commit(), the .tmp file is removed: a failed run leaves no partial file.
class OutputFile {
 public:
  // Throws Error naming the file if it cannot be created.
  explicit OutputFile(const std::string& path);

  // Throws Error naming the file on a failed write.
  void write(std::string_view data);
  // Flushes stdout, or commits the AtomicFile. Throws Error naming the file on failure.
  void commit();

 private:
  std::optional<AtomicFile> file_;  // empty for stdout
};

// Standard input copied to a temporary file, removed again when this goes out of scope.
class SpooledStdin {
 public:
  // Throws Error if the copy fails.
  SpooledStdin();
  ~SpooledStdin();
  SpooledStdin(const SpooledStdin&) = delete;
  SpooledStdin& operator=(const SpooledStdin&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The files dedup or decontam reads, more than once: the -i values expanded (expand_inputs), or
// for "-" a copy of standard input in a temporary file (removed with this).
class InputFiles {
 public:
  // Throws a usage Error as expand_inputs does, or Error if the copy of stdin fails.
  explicit InputFiles(const std::vector<std::string>& inputs);
  ~InputFiles();
  InputFiles(const InputFiles&) = delete;
  InputFiles& operator=(const InputFiles&) = delete;

  const std::vector<std::string>& paths() const { return paths_; }
  // How messages name file number `index`, and all of them: "stdin" for standard input.
  std::string name(size_t index) const;
  const std::string& name() const { return name_; }

 private:
  std::unique_ptr<SpooledStdin> spool_;
  std::vector<std::string> paths_;
  std::string name_;
};

// A fresh path in the temporary directory ($TMPDIR, else /tmp) whose name starts with `prefix`;
// the file exists, empty. Throws Error if it cannot be created.
std::string make_temp_path(const std::string& prefix);

// Removes a file when it goes out of scope.
class TempFileRemover {
 public:
  explicit TempFileRemover(std::string path) : path_(std::move(path)) {}
  ~TempFileRemover();
  TempFileRemover(const TempFileRemover&) = delete;
  TempFileRemover& operator=(const TempFileRemover&) = delete;

 private:
  std::string path_;
};

// How messages name an input: its path, or "stdin" for "-".
std::string display_name(const std::string& path);

// The start of a record's text for a report line: at most 200 bytes, ending on a character
// boundary so that it stays valid UTF-8.
std::string_view report_excerpt(std::string_view text);

// Appends the report line of a dropped record whose text is `text`: one JSON object with its
// line, duplicate_of, stage, similarity (4 decimals) and report_excerpt(text), and a newline.
void append_report_line(std::string& out, const DroppedRecord& drop, std::string_view text);

}  // namespace personagen
