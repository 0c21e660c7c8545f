#include "dedup/record_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "personagen/error.h"
#include "util/file_io.h"

namespace personagen {
namespace {

constexpr char kRecordFileMagic[8] = {'P', 'G', 'D', 'E', 'D', 'U', 'P', '\0'};
constexpr char kRecordFileEnd[8] = {'P', 'G', 'D', 'E', 'N', 'D', '\0', '\0'};
constexpr uint32_t kRecordFileVersion = 1;
struct RecordFileHeader {
  char magic[8];
  uint32_t version;
  uint32_t record_size;
};
struct RecordFileTrailer {
  char magic[8];
  uint64_t count;
};
// Sequential reads fetch about this many bytes at once: a merge of many runs holds one each.
constexpr size_t kRecordFileReadBytes = size_t{64} << 10;

}  // namespace

RecordFileWriter::RecordFileWriter(std::string path, size_t record_size, bool durable)
    : path_(std::move(path)), record_size_(record_size) {
  if (durable) {
    atomic_.emplace(path_);
  } else {
    plain_ = std::fopen(path_.c_str(), "wbe");
    if (!plain_) throw_io_error(path_, "cannot create");
  }
  RecordFileHeader header{};
  std::memcpy(header.magic, kRecordFileMagic, sizeof kRecordFileMagic);
  header.version = kRecordFileVersion;
  header.record_size = static_cast<uint32_t>(record_size_);
  put({reinterpret_cast<const char*>(&header), sizeof header});
}

RecordFileWriter::~RecordFileWriter() {
  if (plain_) {
    std::fclose(plain_);
    std::remove(path_.c_str());
  }
}

void RecordFileWriter::put(std::string_view bytes) {
  if (atomic_) {
    atomic_->write(bytes);
  } else if (std::fwrite(bytes.data(), 1, bytes.size(), plain_) != bytes.size()) {
    throw_io_error(path_, "cannot write");
  }
}

void RecordFileWriter::write(const void* records, size_t count) {
  put({static_cast<const char*>(records), count * record_size_});
  count_ += count;
}

void RecordFileWriter::commit() {
  RecordFileTrailer trailer{};
  std::memcpy(trailer.magic, kRecordFileEnd, sizeof kRecordFileEnd);
  trailer.count = count_;
  put({reinterpret_cast<const char*>(&trailer), sizeof trailer});
  if (atomic_) {
    atomic_->commit();
    return;
  }
  std::FILE* file = std::exchange(plain_, nullptr);
  if (std::fclose(file) != 0) {
    const int err = errno;
    std::remove(path_.c_str());
    throw_io_error(path_, "cannot write", err);
  }
}

RecordFileReader::RecordFileReader(std::string path, size_t record_size)
    : path_(std::move(path)), record_size_(record_size) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_io_error(path_, "cannot open");
  auto fail = [&](const std::string& what) {
    ::close(fd_);
    fd_ = -1;
    throw Error(path_ + ": " + what);
  };
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("cannot examine: " + errno_text());
  const auto size = static_cast<uint64_t>(st.st_size);
  RecordFileHeader header{};
  RecordFileTrailer trailer{};
  if (size < sizeof header || ::pread(fd_, &header, sizeof header, 0) != sizeof header ||
      std::memcmp(header.magic, kRecordFileMagic, sizeof kRecordFileMagic) != 0) {
    fail("not a dedup work file (no PGDEDUP header)");
  }
  if (header.version != kRecordFileVersion) {
    fail("format version " + std::to_string(header.version) + ", this build reads version " +
         std::to_string(kRecordFileVersion));
  }
  if (header.record_size != record_size_) {
    fail("records of " + std::to_string(header.record_size) + " bytes, expected " +
         std::to_string(record_size_));
  }
  const uint64_t body = size - sizeof header;
  if (size < sizeof header + sizeof trailer ||
      ::pread(fd_, &trailer, sizeof trailer, static_cast<off_t>(size - sizeof trailer)) !=
          sizeof trailer ||
      std::memcmp(trailer.magic, kRecordFileEnd, sizeof kRecordFileEnd) != 0 ||
      trailer.count != (body - sizeof trailer) / record_size_ ||
      (body - sizeof trailer) % record_size_ != 0) {
    fail("truncated: " + std::to_string(size) + " bytes end without a complete trailer");
  }
  count_ = trailer.count;
  buffer_.resize(std::max<size_t>(1, kRecordFileReadBytes / record_size_) * record_size_);
}

RecordFileReader::~RecordFileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordFileReader::map() {
  if (map_.mapped()) return;
  map_ = MappedFile(
      fd_, sizeof(RecordFileHeader) + count_ * record_size_ + sizeof(RecordFileTrailer), path_);
}

RecordFileReader::RecordFileReader(RecordFileReader&& other) noexcept
    : path_(std::move(other.path_)),
      record_size_(other.record_size_),
      count_(other.count_),
      next_(other.next_),
      fd_(std::exchange(other.fd_, -1)),
      map_(std::move(other.map_)),
      buffer_(std::move(other.buffer_)),
      begin_(other.begin_),
      end_(other.end_) {}

bool RecordFileReader::next(void* record) {
  if (begin_ == end_) {
    if (next_ >= count_) return false;
    const size_t count = std::min<uint64_t>(buffer_.size() / record_size_, count_ - next_);
    read_at(next_, count, buffer_.data());
    begin_ = 0;
    end_ = count * record_size_;
  }
  std::memcpy(record, buffer_.data() + begin_, record_size_);
  begin_ += record_size_;
  ++next_;
  return true;
}

void RecordFileReader::read_at(uint64_t index, size_t count, void* records) const {
  if (index + count > count_) {
    throw Error(path_ + ": record " + std::to_string(index + count - 1) + " asked for, it has " +
                std::to_string(count_));
  }
  auto* out = static_cast<char*>(records);
  size_t left = count * record_size_;
  auto offset = static_cast<off_t>(sizeof(RecordFileHeader) + index * record_size_);
  if (map_.mapped()) {
    std::memcpy(out, map_.bytes().data() + offset, left);
    return;
  }
  while (left > 0) {
    const ssize_t n = ::pread(fd_, out, left, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io_error(path_, "cannot read");
    if (n == 0) throw Error(path_ + ": truncated while it was read");
    out += n;
    left -= static_cast<size_t>(n);
    offset += n;
  }
}

}  // namespace personagen
