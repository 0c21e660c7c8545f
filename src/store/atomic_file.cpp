#include "store/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "personagen/error.h"

namespace personagen {
namespace {

// Large enough that writing a big output costs few system calls.
constexpr size_t kBufferSize = 1 << 20;

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_path_(path_ + ".tmp") {
  const int fd = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(tmp_path_ + ": cannot create: " + std::strerror(errno));
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp_path_.c_str());
    throw Error(tmp_path_ + ": cannot create: " + std::strerror(err));
  }
  std::setvbuf(file_, nullptr, _IOFBF, kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (file_ == nullptr) return;  // committed, or already cleaned up by fail()
  std::fclose(file_);
  ::unlink(tmp_path_.c_str());
}

void AtomicFile::fail(const std::string& file, const char* what, int err) {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  ::unlink(tmp_path_.c_str());
  throw Error(file + ": " + what + ": " + std::strerror(err));
}

void AtomicFile::write(std::string_view data) {
  if (file_ == nullptr) throw Error(tmp_path_ + ": write after commit or failure");
  if (std::fwrite(data.data(), 1, data.size(), file_) != data.size())
    fail(tmp_path_, "cannot write", errno);
}

void AtomicFile::commit() {
  if (file_ == nullptr) throw Error(tmp_path_ + ": commit after commit or failure");
  if (std::fflush(file_) != 0) fail(tmp_path_, "cannot write", errno);
  if (::fsync(::fileno(file_)) != 0) fail(tmp_path_, "cannot sync", errno);
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) fail(tmp_path_, "cannot close", errno);
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail(path_, "cannot rename into place", errno);
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  sync_dir(dir.empty() ? "." : dir);
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicFile file(path);
  file.write(content);
  file.commit();
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(dir + ": cannot open directory: " + std::strerror(errno));
  if (::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    throw Error(dir + ": fsync failed: " + std::strerror(saved));
  }
  ::close(fd);
}

}  // namespace personagen
