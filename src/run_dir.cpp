#include "run_dir.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "personagen/error.h"
#include "personagen/hash.h"
#include "personagen/shard_writer.h"

namespace personagen {

namespace {

uint64_t file_size(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

// The input line numbers of the failure records in `path`, sorted and unique.
std::vector<uint64_t> read_failed_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot read");
  std::vector<uint64_t> lines;
  std::string text;
  for (uint64_t number = 1; std::getline(in, text); ++number) {
    if (text.empty()) continue;
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded() || !json.contains("line") || !json["line"].is_number_unsigned())
      throw Error(path + ":" + std::to_string(number) +
                  ": expected a failure record with a \"line\"");
    lines.push_back(json["line"].get<uint64_t>());
  }
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  return lines;
}

bool retry_may_change(const std::string& name) {
  return std::find(std::begin(kRetryMayChange), std::end(kRetryMayChange), name) !=
         std::end(kRetryMayChange);
}

// Refuses `config` unless it equals `recorded`. With --retry-failed the values named in
// kRetryMayChange may differ; returns those changes described, or empty.
std::string check_config(const std::string& dir, const RunConfig& recorded, const RunConfig& config,
                         bool retry_failed) {
  RunConfig compared = recorded;
  RunConfig before, after;
  if (retry_failed) {
    for (auto& recorded_pair : compared) {
      const std::string& name = recorded_pair.first;
      if (!retry_may_change(name)) continue;
      auto now = std::find_if(config.begin(), config.end(),
                              [&name](const auto& pair) { return pair.first == name; });
      if (now == config.end() || now->second == recorded_pair.second) continue;
      before.emplace_back(name, recorded_pair.second);
      after.emplace_back(name, now->second);
      recorded_pair.second = now->second;
    }
  }
  std::string difference = describe_config_difference(compared, config);
  if (!difference.empty())
    throw usage_error(dir + ": holds a run with another configuration: " + difference +
                      " (use --restart to start over, or another --output)");
  return describe_config_difference(before, after);
}

void log_retry_changes(const std::string& dir, const std::string& changes) {
  if (!changes.empty()) spdlog::info("{}: the --retry-failed pass asks with {}", dir, changes);
}

// Refuses a rerun over an input that is not the one the run began with: resuming at the old
// offset would mix two inputs in one output, and a complete run would do nothing. An unfinished
// run over a file that only grew (a cut-off download made whole) goes on: what it read is the
// same, and the rest is what a run over the whole file would read.
void check_input(const std::string& dir, const std::string& path, const Manifest& manifest,
                 const std::optional<InputFingerprint>& now) {
  const std::optional<InputFingerprint>& recorded = manifest.input;
  if (!recorded || !now || *recorded == *now) return;
  if (!manifest.complete && now->size > recorded->size &&
      fingerprint_input(path, recorded->size) == recorded)
    return;
  std::string what = "same size, but its last MiB differs";
  if (recorded->size != now->size)
    what = "size " + std::to_string(now->size) + ", was " + std::to_string(recorded->size);
  else if (recorded->head != now->head)
    what = "same size, but its first MiB differs";
  throw usage_error(dir + ": the input " + path + " changed since this run began (" + what +
                    "); use a new --output, or --restart to start over");
}

// Reads `size` bytes at `offset`, or returns false.
bool read_at(int fd, uint64_t offset, size_t size, std::string& out) {
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<InputFingerprint> fingerprint_input(const std::string& path,
                                                  std::optional<uint64_t> length) {
  constexpr uint64_t kSpan = uint64_t{1} << 20;
  if (path == "-") return std::nullopt;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  // O_NONBLOCK: if a pipe took the file's place since the check, opening it must not wait.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  std::optional<InputFingerprint> out;
  std::string bytes;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    InputFingerprint f;
    f.size = length.value_or(static_cast<uint64_t>(st.st_size));
    size_t span = static_cast<size_t>(std::min(kSpan, f.size));
    if (f.size <= static_cast<uint64_t>(st.st_size) && read_at(fd, 0, span, bytes)) {
      f.head = hash64(bytes);
      if (read_at(fd, f.size - span, span, bytes)) {
        f.tail = hash64(bytes);
        out = f;
      }
    }
  }
  ::close(fd);
  return out;
}

RunDir::RunDir(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(dir_ + ": cannot create the output directory: " + ec.message());
  std::string lock = dir_ + "/.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw Error(lock + ": cannot open: " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw Error(dir_ + ": another personagen run is using this directory");
  }
}

RunDir::~RunDir() {
  ::close(lock_fd_);
}

RunStart RunDir::prepare(const Options& options, const RunConfig& config,
                         const std::string& prefix) {
  std::optional<InputFingerprint> input = fingerprint_input(options.input);
  Manifest fresh;
  fresh.config = config;
  fresh.input = input;
  if (options.restart) {
    if (options.retry_failed)
      throw usage_error("--restart and --retry-failed cannot be used together");
    clear_output_dir(dir_, prefix);
    std::filesystem::remove(retry_source());
    return {RunStart::Kind::fresh, std::move(fresh), {}};
  }
  std::optional<Manifest> manifest = read_manifest(manifest_path());
  if (!manifest) {
    if (options.retry_failed) throw usage_error(dir_ + ": no run to retry (no manifest.json)");
    return {RunStart::Kind::fresh, std::move(fresh), {}};
  }
  std::string retry_changes = check_config(dir_, manifest->config, config, options.retry_failed);
  check_input(dir_, options.input, *manifest, input);
  if (input && manifest->input != input) {
    // The input grew, or the manifest is of an earlier version: from now on this is the run's
    // input. A resume records it at its first checkpoint; a complete run records it here.
    manifest->input = input;
    if (manifest->complete) write_manifest(manifest_path(), *manifest);
  }

  if (!manifest->complete) {
    if (options.retry_failed && !manifest->retry_pass)
      throw usage_error(dir_ + ": the run is not finished; rerun without --retry-failed first");
    log_retry_changes(dir_, retry_changes);
    manifest->config = config;
    RunStart start{RunStart::Kind::resume, std::move(manifest), {}};
    if (start.manifest->retry_pass) start.retry_lines = read_failed_lines(retry_source());
    return start;
  }
  if (!options.retry_failed) return {RunStart::Kind::complete, std::move(manifest), {}};
  return start_retry_pass(std::move(*manifest), config, retry_changes);
}

RunStart RunDir::start_retry_pass(Manifest manifest, const RunConfig& config,
                                  const std::string& changes) {
  WriterState& writer = manifest.checkpoint.writer;
  // A crash after the rename below but before the manifest recorded it leaves the failures in
  // the retry file while the manifest still counts them in failures.jsonl; pick them up again.
  bool already_moved = writer.failures_bytes > 0 && file_size(failures()) == 0 &&
                       file_size(retry_source()) == writer.failures_bytes;
  if (!already_moved) {
    std::filesystem::remove(retry_source());  // a leftover of an earlier, finished retry pass
    if (writer.failures_bytes == 0) return {RunStart::Kind::complete, std::move(manifest), {}};
    if (::truncate(failures().c_str(), static_cast<off_t>(writer.failures_bytes)) != 0 ||
        std::rename(failures().c_str(), retry_source().c_str()) != 0)
      throw Error(failures() + ": cannot move aside for --retry-failed: " + std::strerror(errno));
  }
  std::vector<uint64_t> lines = read_failed_lines(retry_source());
  log_retry_changes(dir_, changes);
  manifest.config = config;  // a resume of this pass compares against what it asks with

  // The retry pass reads the input again from the start and re-requests only these lines.
  Checkpoint& c = manifest.checkpoint;
  c.totals.failed -= std::min<uint64_t>(c.totals.failed, writer.failures_lines);
  writer.failures_bytes = 0;
  writer.failures_lines = 0;
  c.next = {};
  c.accepted_below = 0;
  c.done_above.clear();
  manifest.complete = false;
  manifest.retry_pass = true;
  write_manifest(manifest_path(), manifest);
  return {RunStart::Kind::resume, std::move(manifest), std::move(lines)};
}

void RunDir::remove_retry_source() {
  std::filesystem::remove(retry_source());
}

}  // namespace personagen
