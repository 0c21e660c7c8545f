#include "run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "personagen/error.h"
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

}  // namespace

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
  if (options.restart) {
    if (options.retry_failed)
      throw usage_error("--restart and --retry-failed cannot be used together");
    clear_output_dir(dir_, prefix);
    std::filesystem::remove(retry_source());
    return {};
  }
  std::optional<Manifest> manifest = read_manifest(manifest_path());
  if (!manifest) {
    if (options.retry_failed) throw usage_error(dir_ + ": no run to retry (no manifest.json)");
    return {};
  }
  std::string difference = describe_config_difference(manifest->config, config);
  if (!difference.empty())
    throw usage_error(dir_ + ": holds a run with another configuration: " + difference +
                      " (use --restart to start over, or another --output)");

  if (!manifest->complete) {
    if (options.retry_failed && !manifest->retry_pass)
      throw usage_error(dir_ + ": the run is not finished; rerun without --retry-failed first");
    RunStart start{RunStart::Kind::resume, std::move(manifest), {}};
    if (start.manifest->retry_pass) start.retry_lines = read_failed_lines(retry_source());
    return start;
  }
  if (!options.retry_failed) return {RunStart::Kind::complete, std::move(manifest), {}};
  return start_retry_pass(std::move(*manifest));
}

RunStart RunDir::start_retry_pass(Manifest manifest) {
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
