#include "dedup/stage_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "personagen/error.h"
#include "util/file_io.h"

namespace personagen {

StageLock::StageLock(const std::string& path, const std::string& stage, const std::string& work) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  if (error) throw Error(path + ": cannot create its directory: " + error.message());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io_error(path, "cannot open the lock file");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw Error("another dedup " + stage + " is running on " + work + " (" + path + ")");
    }
    throw_io_error(path, "cannot lock", err);
  }
}

StageLock::~StageLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

}  // namespace personagen
