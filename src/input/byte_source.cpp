#include "input/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <utility>

#include "personagen/error.h"
#include "util/file_io.h"

namespace personagen {
namespace {

// An open descriptor plus the raw bytes read from it that a decoder has not used yet.
// The first bytes are read ahead for sniffing and stay here, so every source replays them.
class RawInput {
 public:
  RawInput(int fd, std::string name, bool owns_fd)
      : fd_(fd), owns_fd_(owns_fd), name_(std::move(name)) {
    struct stat st {};
    if (fstat(fd_, &st) != 0) {
      int error = errno;
      close_fd();
      throw usage_error(name_ + ": cannot open: " + errno_text(error));
    }
    if (S_ISDIR(st.st_mode)) {
      close_fd();
      throw usage_error(name_ + ": cannot open: " + errno_text(EISDIR));
    }
    if (S_ISREG(st.st_mode)) {
      // stdin may be a file that someone already read part of; count from where it stands.
      off_t here = lseek(fd_, 0, SEEK_CUR);
      if (here >= 0 && here <= st.st_size) {
        regular_ = true;
        base_ = static_cast<uint64_t>(here);
        size_ = static_cast<uint64_t>(st.st_size) - base_;
      }
    }
  }
  ~RawInput() { close_fd(); }
  RawInput(const RawInput&) = delete;
  RawInput& operator=(const RawInput&) = delete;

  const std::string& name() const { return name_; }
  const char* data() const { return buffer_.get() + begin_; }
  size_t available() const { return end_ - begin_; }
  void consume(size_t count) { begin_ += count; }
  // Raw bytes handed out so far: read from the descriptor minus those still buffered.
  uint64_t used() const { return fd_bytes_ - available(); }
  uint64_t size() const { return regular_ ? size_ : 0; }
  bool seekable() const { return regular_; }

  // Buffers at least `count` bytes, unless the input ends first.
  void fill_at_least(size_t count) {
    while (available() < count) {
      size_t n = read_fd(buffer_.get() + end_, kReadChunk - end_);
      if (n == 0) return;
      end_ += n;
    }
  }

  // Replaces the used-up buffer with the next bytes; false at the end of the input.
  bool refill() {
    if (available() > 0) return true;
    begin_ = end_ = 0;
    end_ = read_fd(buffer_.get(), kReadChunk);
    return end_ > 0;
  }

  // Hands out buffered bytes first, then reads from the descriptor without a copy.
  size_t read(char* data, size_t size) {
    if (available() > 0) {
      size_t n = std::min(size, available());
      std::memcpy(data, buffer_.get() + begin_, n);
      begin_ += n;
      return n;
    }
    return read_fd(data, size);
  }

  // Moves a regular file to `offset` (counted from where the input started).
  void seek(uint64_t offset) {
    if (lseek(fd_, static_cast<off_t>(base_ + offset), SEEK_SET) < 0) {
      throw Error(name_ + ": cannot seek to offset " + std::to_string(offset) + ": " +
                  errno_text(errno));
    }
    begin_ = end_ = 0;
    fd_bytes_ = offset;
  }

 private:
  size_t read_fd(char* data, size_t size) {
    for (;;) {
      ssize_t n = ::read(fd_, data, size);
      if (n >= 0) {
        fd_bytes_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) {
        throw Error(name_ + ": read failed at offset " + std::to_string(fd_bytes_) + ": " +
                    errno_text(errno));
      }
    }
  }

  void close_fd() {
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_;
  bool owns_fd_;
  std::string name_;
  std::unique_ptr<char[]> buffer_ = std::make_unique_for_overwrite<char[]>(kReadChunk);
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t fd_bytes_ = 0;
  bool regular_ = false;
  uint64_t base_ = 0;
  uint64_t size_ = 0;
};

class PlainSource : public ByteSource {
 public:
  explicit PlainSource(std::unique_ptr<RawInput> raw) : raw_(std::move(raw)) {}

  size_t read(char* data, size_t size) override {
    size_t n = raw_->read(data, size);
    position_ += n;
    return n;
  }

  uint64_t skip(uint64_t count) override {
    if (!raw_->seekable()) return ByteSource::skip(count);
    uint64_t target = std::min(position_ + count, raw_->size());
    raw_->seek(target);
    uint64_t skipped = target - position_;
    position_ = target;
    return skipped;
  }

  uint64_t raw_bytes_read() const override { return raw_->used(); }
  uint64_t raw_size() const override { return raw_->size(); }

 private:
  std::unique_ptr<RawInput> raw_;
  uint64_t position_ = 0;
};

// Reads gzip members one after the other, as gzip -d does for `cat a.gz b.gz`.
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<RawInput> raw) : raw_(std::move(raw)) {
    // 15 + 32: the largest window, and accept either a gzip or a zlib header.
    if (inflateInit2(&stream_, 15 + 32) != Z_OK) {
      throw Error(raw_->name() + ": cannot start the gzip decoder");
    }
  }
  ~GzipSource() override { inflateEnd(&stream_); }

  size_t read(char* data, size_t size) override {
    size = std::min<size_t>(size, UINT_MAX);
    stream_.next_out = reinterpret_cast<Bytef*>(data);
    stream_.avail_out = static_cast<uInt>(size);
    while (stream_.avail_out > 0) {
      bool at_end = !raw_->refill();
      if (member_done_) {
        if (at_end) break;
        inflateReset(&stream_);
        member_done_ = false;
      }
      size_t offered = raw_->available();
      stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw_->data()));
      stream_.avail_in = static_cast<uInt>(offered);
      int status = inflate(&stream_, Z_NO_FLUSH);
      raw_->consume(offered - stream_.avail_in);
      if (status == Z_STREAM_END) {
        member_done_ = true;
      } else if (status == Z_BUF_ERROR) {
        // No progress with room to write: the input ended inside a member.
        throw Error(raw_->name() + ": truncated gzip stream at compressed offset " +
                    std::to_string(raw_->used()));
      } else if (status != Z_OK) {
        throw Error(raw_->name() + ": corrupt gzip stream at compressed offset " +
                    std::to_string(raw_->used()) + ": " +
                    (stream_.msg != nullptr ? stream_.msg : zError(status)));
      }
    }
    return size - stream_.avail_out;
  }

  uint64_t raw_bytes_read() const override { return raw_->used(); }
  uint64_t raw_size() const override { return raw_->size(); }

 private:
  std::unique_ptr<RawInput> raw_;
  z_stream stream_{};
  bool member_done_ = false;
};

// Reads zstd frames one after the other; the decoder moves on to the next frame by itself.
class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(std::unique_ptr<RawInput> raw)
      : raw_(std::move(raw)), context_(ZSTD_createDCtx()) {
    if (context_ == nullptr) throw Error(raw_->name() + ": cannot start the zstd decoder");
  }
  ~ZstdSource() override { ZSTD_freeDCtx(context_); }

  size_t read(char* data, size_t size) override {
    ZSTD_outBuffer out{data, size, 0};
    while (out.pos < out.size) {
      bool at_end = !raw_->refill();
      if (at_end && frame_done_) break;
      ZSTD_inBuffer in{raw_->data(), raw_->available(), 0};
      size_t written = out.pos;
      size_t status = ZSTD_decompressStream(context_, &out, &in);
      raw_->consume(in.pos);
      if (ZSTD_isError(status)) {
        throw Error(raw_->name() + ": corrupt zstd stream at compressed offset " +
                    std::to_string(raw_->used()) + ": " + ZSTD_getErrorName(status));
      }
      // 0 means a frame ended and all of it was written out.
      frame_done_ = status == 0;
      if (at_end && !frame_done_ && out.pos == written) {
        throw Error(raw_->name() + ": truncated zstd stream at compressed offset " +
                    std::to_string(raw_->used()));
      }
    }
    return out.pos;
  }

  uint64_t raw_bytes_read() const override { return raw_->used(); }
  uint64_t raw_size() const override { return raw_->size(); }

 private:
  std::unique_ptr<RawInput> raw_;
  ZSTD_DCtx* context_;
  bool frame_done_ = false;
};

bool is_gzip(const unsigned char* p, size_t n) {
  return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

// A zstd frame, or a skippable frame (magic 0x184D2A50 to 0x184D2A5F, little-endian).
bool is_zstd(const unsigned char* p, size_t n) {
  if (n < 4) return false;
  if (p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) return true;
  return (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18;
}

}  // namespace

uint64_t ByteSource::skip(uint64_t count) {
  auto scratch = std::make_unique_for_overwrite<char[]>(kReadChunk);
  uint64_t skipped = 0;
  while (skipped < count) {
    size_t n =
        read(scratch.get(), static_cast<size_t>(std::min<uint64_t>(count - skipped, kReadChunk)));
    if (n == 0) break;
    skipped += n;
  }
  return skipped;
}

std::unique_ptr<ByteSource> open_byte_source(int fd, const std::string& name, bool owns_fd) {
  auto raw = std::make_unique<RawInput>(fd, name, owns_fd);
  raw->fill_at_least(4);  // the longest magic number sniffed: zstd's 4 bytes
  auto magic = reinterpret_cast<const unsigned char*>(raw->data());
  if (is_gzip(magic, raw->available())) return std::make_unique<GzipSource>(std::move(raw));
  if (is_zstd(magic, raw->available())) return std::make_unique<ZstdSource>(std::move(raw));
  return std::make_unique<PlainSource>(std::move(raw));
}

std::unique_ptr<ByteSource> open_byte_source(const std::string& path) {
  if (path == "-") return open_byte_source(STDIN_FILENO, "stdin", false);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw usage_error(path + ": cannot open: " + errno_text(errno));
  return open_byte_source(fd, path, true);
}

}  // namespace personagen
