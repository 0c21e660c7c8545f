#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "personagen/input_record.h"

namespace personagen {

// Where a reader starts: line 1 at offset 0 of the first file, or a checkpointed position on
// resume. With several input files, `line` counts on across them while `offset` is within file
// number `file`.
struct ReadPosition {
  uint64_t line = 1;    // 1-based number of the next line to read, over all the files
  uint64_t offset = 0;  // its byte offset in its file's decompressed stream
  uint64_t file = 0;    // index of its file in the reader's list
  // Its 1-based line number within that file; 0 means unknown, which is only allowed in the
  // first file (where it equals `line`): positions written before inputs could be several.
  uint64_t file_line = 0;
};

struct ReaderOptions {
  // The persona is the first of these fields that is present in a line.
  std::vector<std::string> persona_fields{"persona", "input persona"};
  // Fields copied into InputRecord::fields (for custom templates). A line that lacks one is a
  // reject.
  std::vector<std::string> extra_fields;
  // Fields copied into InputRecord::fields after the extra fields, in the order asked, when
  // present (for --where). A missing or null one is no reject: it is simply not in `fields`;
  // neither is an object or an array. A name that is also an extra field, or repeated, is
  // copied once.
  std::vector<std::string> optional_fields;
  // A longer line is a reject; it is skipped without being held in memory. 8 MiB: a persona
  // line is a few KiB, and even the widest records (Nemotron, Elite) fit with room to spare,
  // while one corrupt line (a file without newlines) cannot take the memory of the machine.
  size_t max_line_bytes = 8u << 20;
};

// A reject's excerpt keeps at most this many bytes of its line: enough to recognise the line in
// rejects.jsonl, while the reject of an 8 MiB line stays one short line.
inline constexpr size_t kRejectExcerptBytes = 200;

class ByteSource;
class FieldParser;

// Streams JSONL records from a file or stdin ("-"), or from several files one after another as
// one stream (each file's last line ends at its end, newline or not), with gzip and zstd detected
// by their magic bytes. Memory stays bounded by max_line_bytes whatever the input size.
// A UTF-8 BOM (at the start of each file) and CRLF line endings are accepted. Blank lines are
// skipped silently.
class RecordReader {
 public:
  // Opens the file of `start` (the first, by default) and positions it there; the next files
  // are opened as the one before ends. Throws Error naming the file if it cannot be opened or
  // read, or if `start` is not the start of a line in it.
  RecordReader(std::vector<std::string> paths, ReaderOptions options, ReadPosition start = {});
  RecordReader(const std::string& path, ReaderOptions options, ReadPosition start = {})
      : RecordReader(std::vector<std::string>{path}, std::move(options), start) {}
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next non-blank line, as a record or a reject; nullopt at the end of the input.
  // Throws Error naming the file and offset if the stream is corrupt or truncated
  // (for example a cut-off .gz), or if a read fails.
  std::optional<InputRecord> next();

  // The position of the line next() would read next.
  ReadPosition position() const;

  // For progress: bytes consumed from the underlying files (compressed bytes for .gz/.zst; the
  // files before the current one count whole) and the files' summed size, or 0 when one is
  // unknown (stdin, pipes).
  uint64_t raw_bytes_read() const;
  uint64_t raw_size() const;
  // For progress: how far through raw_size() the reader is. For plain files, the offset of the
  // next line (the reader fetches in large chunks); for compressed ones, the bytes read.
  uint64_t consumed_bytes() const;
  // Bytes consumed from the current file alone (compressed bytes for .gz/.zst).
  uint64_t file_raw_bytes_read() const;

  // The file being read now, and all of them.
  const std::string& path() const { return paths_[position_.file]; }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  // Moves past the next line and sets `text` to it without its terminator, CR or a leading BOM;
  // false at the end of the input. A line longer than max_line_bytes sets `too_long` and
  // `text` to its first bytes only: the rest is skipped without being held in memory.
  bool read_line(std::string_view& text, bool& too_long);
  // Appends input after end_, first moving or growing the buffer if it is full.
  // Returns false at the end of the input.
  bool fill();
  // Discards the rest of an over-long line whose start is buffer_[begin_, end_).
  void skip_long_line();
  // The size of file `index` for progress, nullopt when unknown.
  std::optional<uint64_t> file_size_or_unknown(size_t index) const;
  // Checks that the current file, just opened, is at the start of a line at `offset`.
  void seek(uint64_t offset);
  // Moves on to file `index`, at its start.
  void open_file(uint64_t index);
  InputRecord parse(const ReadPosition& at, std::string_view text);

  std::vector<std::string> paths_;
  uint64_t done_raw_bytes_ = 0;             // raw bytes of the files before the current one
  std::optional<uint64_t> total_raw_size_;  // of all files; nullopt when one is unknown
  ReaderOptions options_;
  std::unique_ptr<ByteSource> source_;
  std::vector<char> buffer_;  // buffer_[begin_, end_) is read but not yet split into lines
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  ReadPosition position_;
  std::string long_head_;  // the first bytes of the last over-long line, for its excerpt
  std::unique_ptr<FieldParser> parser_;  // reused for every line
};

}  // namespace personagen
