#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace personagen {

// How much the readers read at a time: 1 MiB keeps the per-byte cost of system calls and
// decoder calls negligible, and is nothing next to the rest of a run's memory.
inline constexpr size_t kReadChunk = size_t{1} << 20;

// A stream of input bytes: a plain file or pipe, or the decompressed content of a gzip or zstd
// stream. The reader sees only this interface, so compression stays out of line splitting.
// Every error is a personagen::Error whose message names the file and the offset.
class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Reads up to `size` bytes into `data` and returns how many it read; 0 only at the end of
  // the input. Throws Error on a failed read or a corrupt or truncated compressed stream.
  virtual size_t read(char* data, size_t size) = 0;

  // Skips `count` bytes and returns how many it skipped: fewer only at the end of the input.
  // Plain regular files seek, so skipping costs the same whatever `count` is; other sources
  // read and discard.
  virtual uint64_t skip(uint64_t count);

  // Bytes consumed from the underlying file so far (compressed bytes for .gz and .zst).
  virtual uint64_t raw_bytes_read() const = 0;

  // The size of the underlying file, or 0 when unknown (pipes, terminals).
  virtual uint64_t raw_size() const = 0;
};

// Opens `path` ("-" is stdin) and picks the decoder from the first bytes: 1f 8b is gzip
// (several members are read one after the other), 28 b5 2f fd is zstd (several frames too),
// anything else is plain. The sniffed bytes are replayed, so this works on pipes.
// Throws a usage Error ("<path>: cannot open: <reason>") if the file cannot be opened.
std::unique_ptr<ByteSource> open_byte_source(const std::string& path);

// The same over an already open descriptor, for stdin and tests. `name` is used in messages.
// The descriptor is closed by the source only if `owns_fd` is true.
std::unique_ptr<ByteSource> open_byte_source(int fd, const std::string& name, bool owns_fd);

}  // namespace personagen
