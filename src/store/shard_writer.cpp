#include "store/shard_writer.h"

#include <fcntl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
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

namespace personagen {
namespace {

constexpr size_t kShardFlushBytes = 256 << 10;
constexpr size_t kStdoutFlushBytes = 64 << 10;
constexpr const char* kFailuresName = "failures.jsonl";
constexpr const char* kRejectsName = "rejects.jsonl";

[[noreturn]] void fail(const std::string& path, const char* what, int err = errno) {
  throw Error(path + ": " + what + ": " + std::strerror(err));
}

std::string join(const std::string& dir, const std::string& name) {
  return dir + "/" + name;
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
  if (digits < 5 || (suffix != ".jsonl" && suffix != ".jsonl.tmp")) return std::nullopt;
  uint64_t index = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + digits, index);
  if (ec != std::errc()) return std::nullopt;
  return index;
}

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path, "write failed");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

int open_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot open");
  return fd;
}

void close_fd(int fd, const std::string& path) {
  if (::close(fd) != 0 && errno != EINTR) fail(path, "close failed");
}

// The size of a file, or nullopt if it does not exist.
std::optional<uint64_t> file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    fail(path, "cannot stat");
  }
  return static_cast<uint64_t>(st.st_size);
}

void truncate_file(const std::string& path, uint64_t bytes) {
  if (::truncate(path.c_str(), static_cast<off_t>(bytes)) != 0) fail(path, "cannot truncate");
}

void rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    int err = errno;
    fail(from, ("cannot rename to " + to).c_str(), err);
  }
}

// A newline inside a record would make one record two lines and break every line count.
void check_one_line(std::string_view json) {
  if (json.find('\n') != std::string_view::npos) {
    throw std::logic_error("RecordSink: a line to write contains a newline");
  }
}

// Returns whether a file was removed.
bool remove_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  fail(path, "cannot remove");
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
    if (::fdatasync(fd) != 0) fail(path, "fdatasync failed");
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
  restore_length(join(dir_, kFailuresName), resume.failures_bytes);
  restore_length(join(dir_, kRejectsName), resume.rejects_bytes);
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
    fail(tmp_path, "cannot truncate");
  }
}

void ShardWriter::check_writable() const {
  if (closed_) throw std::logic_error("ShardWriter: write after close()");
}

ShardWriter::File& ShardWriter::shard() {
  if (!shard_) {
    std::string name = shard_file_name(prefix_, state_.shards.size());
    shard_ = std::make_unique<File>(join(dir_, name) + ".tmp", O_WRONLY | O_CREAT | O_TRUNC);
    state_.shards.push_back(ShardInfo{std::move(name), 0, 0, true});
    dir_dirty_ = true;
  }
  return *shard_;
}

ShardWriter::File& ShardWriter::side_file(std::unique_ptr<File>& file, const char* name,
                                          uint64_t recorded_bytes) {
  if (!file) {
    file = std::make_unique<File>(join(dir_, name), O_WRONLY | O_CREAT | O_APPEND);
    if (recorded_bytes == 0) dir_dirty_ = true;  // it may have just been created
  }
  return *file;
}

void ShardWriter::write_record(std::string_view json) {
  check_writable();
  check_one_line(json);
  shard().append_line(json);
  ShardInfo& info = state_.shards.back();
  ++info.records;
  info.bytes += json.size() + 1;
  if (shard_size_ != 0 && info.records >= shard_size_) rotate();
}

void ShardWriter::write_failure(std::string_view json) {
  check_writable();
  check_one_line(json);
  side_file(failures_, kFailuresName, state_.failures_bytes).append_line(json);
  ++state_.failures_lines;
  state_.failures_bytes += json.size() + 1;
}

void ShardWriter::write_reject(std::string_view json) {
  check_writable();
  check_one_line(json);
  side_file(rejects_, kRejectsName, state_.rejects_bytes).append_line(json);
  ++state_.rejects_lines;
  state_.rejects_bytes += json.size() + 1;
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
  for (File* file : {shard_.get(), failures_.get(), rejects_.get()}) {
    if (file) file->flush();
  }
}

WriterState ShardWriter::sync() {
  for (File* file : {shard_.get(), failures_.get(), rejects_.get()}) {
    if (file) file->datasync();
  }
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
  for (std::unique_ptr<File>* file : {&failures_, &rejects_}) {
    if (*file) (*file)->close();
    file->reset();
  }
  closed_ = true;
  return state;
}

namespace {

// Why not spdlog for failures and rejects: -q and --log-level would then drop them, and with
// -o - stderr is the only place they exist.
class StdoutSink final : public RecordSink {
 public:
  explicit StdoutSink(FILE* diagnostics) : diagnostics_(diagnostics) {}

  void write_record(std::string_view json) override {
    check_writable();
    check_one_line(json);
    buffer_.append(json);
    buffer_.push_back('\n');
    if (buffer_.size() >= kStdoutFlushBytes) flush();
  }
  void write_failure(std::string_view json) override {
    check_writable();
    check_one_line(json);
    diagnostic("personagen: failure: ", json);
    ++state_.failures_lines;
  }
  void write_reject(std::string_view json) override {
    check_writable();
    check_one_line(json);
    diagnostic("personagen: reject: ", json);
    ++state_.rejects_lines;
  }
  WriterState sync() override {
    flush();
    return state_;
  }
  const WriterState& state() const override { return state_; }
  WriterState close() override {
    if (!closed_) flush();
    closed_ = true;
    return state_;
  }

 private:
  void check_writable() const {
    if (closed_) throw std::logic_error("stdout sink: write after close()");
  }
  void flush() {
    std::string data;
    data.swap(buffer_);
    write_all(STDOUT_FILENO, data, "stdout");
  }
  // One line, flushed at once, so it is out even if the run dies next; one fwrite, so the stdio
  // lock keeps it whole next to spdlog's lines on the same stream.
  void diagnostic(std::string_view label, std::string_view json) {
    line_.assign(label);
    line_.append(json);
    line_.push_back('\n');
    if (std::fwrite(line_.data(), 1, line_.size(), diagnostics_) != line_.size() ||
        std::fflush(diagnostics_) != 0) {
      fail("stderr", "write failed");
    }
  }

  FILE* diagnostics_;
  std::string buffer_;
  std::string line_;
  WriterState state_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<RecordSink> make_stdout_sink(FILE* diagnostics) {
  // Records own stdout. spdlog's built-in default logger (the one with no name) writes there
  // too, so if nobody has replaced it yet, diagnostics move to stderr before a record is written.
  if (spdlog::default_logger()->name().empty())
    spdlog::set_default_logger(spdlog::stderr_color_mt("personagen"));
  return std::make_unique<StdoutSink>(diagnostics);
}

std::string shard_file_name(const std::string& prefix, uint64_t index) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%05llu", static_cast<unsigned long long>(index));
  return prefix + "-" + digits + ".jsonl";
}

void clear_output_dir(const std::string& dir, const std::string& prefix) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  bool removed = false;
  for (const std::string& name : list_dir(dir)) {
    if (shard_index(name, prefix) || name == kFailuresName || name == kRejectsName ||
        name == "manifest.json" || name == "manifest.json.tmp") {
      removed = remove_file(join(dir, name)) || removed;
    }
  }
  if (removed) sync_dir(dir);
}

}  // namespace personagen
