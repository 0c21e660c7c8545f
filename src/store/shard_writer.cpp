#include "store/shard_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "personagen/error.h"
#include "store/atomic_file.h"
#include "util/file_io.h"

namespace personagen {
namespace {

// A file's buffer goes to the kernel when it holds this much, and at the end of every loop turn
// (flush()): large enough that many records cost one write call, small enough that three open
// files hold little memory.
constexpr size_t kShardFlushBytes = 256 << 10;

std::string join(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name);
}

// One of the side files of side_file.h.
bool is_side_file(std::string_view name) {
  for (const SideFileInfo& side : kSideFiles)
    if (name == side.file_name) return true;
  return false;
}

// The index of `<prefix>-<digits>.jsonl` or `<prefix>-<digits>.jsonl.tmp`; nullopt for any
// other name, so files of other prefixes (even "math-v2" next to "math") are left alone.
std::optional<uint64_t> shard_index(std::string_view name, const std::string& prefix) {
  if (name.size() <= prefix.size() + 1 || name.substr(0, prefix.size()) != prefix ||
      name[prefix.size()] != '-') {
    return std::nullopt;
  }
  std::string_view rest = name.substr(prefix.size() + 1);
  size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  std::string_view suffix = rest.substr(digits);
  // shard_file_name writes at least 5 digits, so fewer means a name of someone else's.
  if (digits < 5 || (suffix != ".jsonl" && suffix != ".jsonl.tmp")) return std::nullopt;
  uint64_t index = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + digits, index);
  if (ec != std::errc()) return std::nullopt;
  return index;
}

int open_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) throw_io_error(path, "cannot open");
  return fd;
}

void close_fd(int fd, const std::string& path) {
  if (::close(fd) != 0 && errno != EINTR) throw_io_error(path, "close failed");
}

void truncate_file(const std::string& path, uint64_t bytes) {
  if (::truncate(path.c_str(), static_cast<off_t>(bytes)) != 0)
    throw_io_error(path, "cannot truncate");
}

void rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    const int err = errno;  // before building the message, which may allocate
    throw_io_error(from, "cannot rename to " + to, err);
  }
}

// Returns whether a file was removed.
bool remove_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw_io_error(path, "cannot remove");
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) throw Error(dir + ": cannot list directory: " + ec.message());
  return names;
}

[[noreturn]] void shorter_than_recorded(const std::string& path, uint64_t size, uint64_t bytes) {
  throw Error(path + ": has " + std::to_string(size) + " bytes, but the checkpoint recorded " +
              std::to_string(bytes) + "; the output directory was changed after the checkpoint");
}

[[noreturn]] void not_as_recorded(const std::string& path, uint64_t size, uint64_t bytes) {
  throw Error(path + ": has " + std::to_string(size) + " bytes, but the checkpoint recorded " +
              std::to_string(bytes) +
              " when it was complete; the output directory was changed after the checkpoint (use "
              "--restart to start over, or another --output)");
}

[[noreturn]] void missing(const std::string& path, uint64_t bytes) {
  throw Error(path + ": missing, but the checkpoint recorded it with " + std::to_string(bytes) +
              " bytes; the output directory was changed after the checkpoint");
}

// Truncates an existing file back to `bytes`; a missing file is fine when nothing was recorded.
void restore_length(const std::string& path, uint64_t bytes) {
  std::optional<uint64_t> size = file_size(path);
  if (!size) {
    if (bytes > 0) missing(path, bytes);
    return;
  }
  if (*size < bytes) shorter_than_recorded(path, *size, bytes);
  if (*size > bytes) truncate_file(path, bytes);
}

}  // namespace

// An append-only file with a write buffer. Lengths are counted by the caller, whole lines only.
struct ShardWriter::File {
  File(std::string file_path, int flags) : path(std::move(file_path)), fd(open_file(path, flags)) {}
  ~File() {
    if (fd >= 0) ::close(fd);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  void append_line(std::string_view json) {
    buffer.append(json);
    buffer.push_back('\n');
    if (buffer.size() >= kShardFlushBytes) flush();
  }
  void flush() {
    if (buffer.empty()) return;
    write_all(fd, buffer, path);
    buffer.clear();
    unsynced = true;
  }
  void datasync() {
    flush();
    if (!unsynced) return;
    if (::fdatasync(fd) != 0) throw_io_error(path, "fdatasync failed");
    unsynced = false;
  }
  void close() {
    int old = fd;
    fd = -1;
    close_fd(old, path);
  }

  std::string path;
  int fd;
  std::string buffer;
  bool unsynced = false;  // written since the last fdatasync
};

ShardWriter::ShardWriter(std::string dir, std::string prefix, uint64_t shard_size,
                         const WriterState& resume)
    : dir_(std::move(dir)), prefix_(std::move(prefix)), shard_size_(shard_size) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(dir_ + ": cannot create directory: " + ec.message());
  if (created) {
    std::filesystem::path path = std::filesystem::path(dir_).lexically_normal();
    if (!path.has_filename()) path = path.parent_path();  // "out/" names "out"
    std::string parent = path.parent_path().string();
    sync_dir(parent.empty() ? "." : parent);
  }
  // A fresh writer is a resume from the empty state: stale files of this prefix are removed or
  // truncated rather than appended to.
  restore(resume);
}

ShardWriter::~ShardWriter() = default;

// Every step is idempotent, so a crash during a resume is handled by the next resume from the
// same checkpoint.
void ShardWriter::restore(const WriterState& resume) {
  for (size_t i = 0; i < resume.shards.size(); ++i) {
    restore_shard(resume.shards[i], i + 1 == resume.shards.size());
  }
  for (const std::string& name : list_dir(dir_)) {
    std::optional<uint64_t> index = shard_index(name, prefix_);
    if (index && *index >= resume.shards.size() && remove_file(join(dir_, name))) {
      dir_dirty_ = true;
    }
  }
  for (const SideFileInfo& side : kSideFiles)
    restore_length(join(dir_, side.file_name), resume.side(side.file).bytes);
  state_ = resume;
}

void ShardWriter::restore_shard(const ShardInfo& info, bool last) {
  const std::string final_path = join(dir_, info.name);
  const std::string tmp_path = final_path + ".tmp";
  std::optional<uint64_t> final_size = file_size(final_path);
  std::optional<uint64_t> tmp_size = file_size(tmp_path);
  if (!info.open) {
    if (!final_size) {
      // Recorded closed, yet never renamed: tolerate it if the .tmp has the recorded bytes.
      if (!tmp_size) missing(final_path, info.bytes);
      if (*tmp_size < info.bytes) shorter_than_recorded(tmp_path, *tmp_size, info.bytes);
      truncate_file(tmp_path, info.bytes);
      rename_file(tmp_path, final_path);
      dir_dirty_ = true;
      return;
    }
    // Nothing is written to a shard once it is renamed, so any other length is someone else's.
    if (*final_size != info.bytes) not_as_recorded(final_path, *final_size, info.bytes);
    if (tmp_size && remove_file(tmp_path)) dir_dirty_ = true;
    return;
  }
  if (!last) {
    throw Error(final_path + ": the checkpoint records it as open, but it is not the last shard");
  }
  if (final_size) {
    // Renamed after the checkpoint (it filled up or the run closed): it is open again.
    if (tmp_size) {
      remove_file(final_path);
    } else {
      rename_file(final_path, tmp_path);
      tmp_size = final_size;
    }
    dir_dirty_ = true;
  }
  if (!tmp_size && info.bytes > 0) missing(tmp_path, info.bytes);
  if (tmp_size && *tmp_size < info.bytes) shorter_than_recorded(tmp_path, *tmp_size, info.bytes);
  if (!tmp_size) dir_dirty_ = true;
  shard_ = std::make_unique<File>(tmp_path, O_WRONLY | O_CREAT | O_APPEND);
  if (::ftruncate(shard_->fd, static_cast<off_t>(info.bytes)) != 0) {
    throw_io_error(tmp_path, "cannot truncate");
  }
}

void ShardWriter::check_writable() const {
  if (closed_) throw std::logic_error("ShardWriter: write after close()");
}

ShardWriter::File& ShardWriter::open_shard() {
  if (!shard_) {
    std::string name = shard_file_name(prefix_, state_.shards.size());
    shard_ = std::make_unique<File>(join(dir_, name) + ".tmp", O_WRONLY | O_CREAT | O_TRUNC);
    state_.shards.push_back(ShardInfo{std::move(name), 0, 0, true});
    dir_dirty_ = true;
  }
  return *shard_;
}

ShardWriter::File& ShardWriter::open_side_file(SideFile file) {
  std::unique_ptr<File>& open = side_files_[side_index(file)];
  if (!open) {
    open = std::make_unique<File>(join(dir_, side_file_info(file).file_name),
                                  O_WRONLY | O_CREAT | O_APPEND);
    if (state_.side(file).bytes == 0) dir_dirty_ = true;  // it may have just been created
  }
  return *open;
}

void ShardWriter::write_record(std::string_view json) {
  check_writable();
  check_one_line(json);
  open_shard().append_line(json);
  ShardInfo& info = state_.shards.back();
  ++info.records;
  info.bytes += json.size() + 1;
  if (shard_size_ != 0 && info.records >= shard_size_) rotate();
}

void ShardWriter::write_side(SideFile file, std::string_view json) {
  check_writable();
  check_one_line(json);
  open_side_file(file).append_line(json);
  SideFileState& side = state_.side(file);
  ++side.lines;
  side.bytes += json.size() + 1;
}

// The data is synced before the rename, so a shard under its final name is always complete.
void ShardWriter::rotate() {
  shard_->datasync();
  std::string tmp_path = shard_->path;
  shard_->close();
  shard_.reset();
  ShardInfo& info = state_.shards.back();
  rename_file(tmp_path, join(dir_, info.name));
  info.open = false;
  dir_dirty_ = true;
}

void ShardWriter::flush() {
  if (shard_) shard_->flush();
  for (const std::unique_ptr<File>& file : side_files_)
    if (file) file->flush();
}

WriterState ShardWriter::sync() {
  if (shard_) shard_->datasync();
  for (const std::unique_ptr<File>& file : side_files_)
    if (file) file->datasync();
  if (dir_dirty_) {
    sync_dir(dir_);
    dir_dirty_ = false;
  }
  return state_;
}

WriterState ShardWriter::close() {
  if (closed_) return state_;
  if (shard_) rotate();
  WriterState state = sync();
  for (std::unique_ptr<File>& file : side_files_) {
    if (file) file->close();
    file.reset();
  }
  closed_ = true;
  return state;
}

std::string shard_file_name(const std::string& prefix, uint64_t index) {
  char digits[32];  // room for the 20 digits of any uint64_t
  std::snprintf(digits, sizeof digits, "%05llu", static_cast<unsigned long long>(index));
  return prefix + "-" + digits + ".jsonl";
}

void clear_output_dir(const std::string& dir, const std::string& prefix) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  bool removed = false;
  for (const std::string& name : list_dir(dir)) {
    if (shard_index(name, prefix) || is_side_file(name) || name == "manifest.json" ||
        name == "manifest.json.tmp") {
      removed = remove_file(join(dir, name)) || removed;
    }
  }
  if (removed) sync_dir(dir);
}

}  // namespace personagen
