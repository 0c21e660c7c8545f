#include "util/file_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "personagen/error.h"

namespace personagen {

std::string errno_text(int err) {
  return std::strerror(err);
}

void throw_io_error(const std::string& path, std::string_view what, int err) {
  throw Error(path + ": " + std::string(what) + ": " + errno_text(err));
}

std::optional<uint64_t> file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_io_error(path, "cannot stat");
  }
  return static_cast<uint64_t>(st.st_size);
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(text).str();
}

void write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io_error(name, "write failed");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string absolute_path(const std::string& path) {
  if (path.empty() || path == "-") return path;
  return std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace personagen
