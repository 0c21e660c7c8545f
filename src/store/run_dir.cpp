#include "store/run_dir.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "personagen/error.h"
#include "store/kept_samples.h"
#include "store/shard_writer.h"
#include "util/file_io.h"
#include "util/hash.h"

namespace personagen {

namespace {

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

// What changed in the list of input files, e.g. `a-00001.jsonl is new`; empty if the same
// files are there in the same order.
std::string describe_file_list_difference(const std::vector<InputFingerprint>& before,
                                          const std::vector<InputFingerprint>& now) {
  auto has = [](const std::vector<InputFingerprint>& list, const std::string& path) {
    return std::any_of(list.begin(), list.end(),
                       [&path](const InputFingerprint& f) { return f.path == path; });
  };
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  for (const InputFingerprint& f : now)
    if (!has(before, f.path)) add(f.path + " is new");
  for (const InputFingerprint& f : before)
    if (!has(now, f.path)) add(f.path + " is gone");
  if (out.empty()) {
    for (size_t i = 0; i < now.size(); ++i)
      if (now[i].path != before[i].path) return "the files are read in another order";
  }
  return out;
}

// Refuses a rerun over an input that is not the one the run began with: resuming at the old
// offset would mix two inputs in one output, and a complete run would do nothing. An unfinished
// run whose last file only grew (a cut-off download made whole) goes on: what it read is the
// same, and the rest is what a run over the whole file would read.
void check_input(const std::string& dir, const Manifest& manifest,
                 const std::vector<InputFingerprint>& now) {
  std::vector<InputFingerprint> recorded = manifest.input;
  if (recorded.empty() || now.empty()) return;
  // A manifest of an earlier version names no file: it is the run's one input.
  if (recorded.size() == 1 && recorded[0].path.empty()) recorded[0].path = now[0].path;
  if (recorded == now) return;
  std::string files = describe_file_list_difference(recorded, now);
  if (!files.empty())
    throw usage_error(dir + ": the input files changed since this run began: " + files +
                      "; use a new --output, or --restart to start over");
  for (size_t i = 0; i < now.size(); ++i) {
    const InputFingerprint& was = recorded[i];
    const InputFingerprint& is = now[i];
    if (was == is) continue;
    if (!manifest.complete && i + 1 == now.size() && is.size > was.size &&
        fingerprint_input(is.path, was.size) == was)
      continue;
    std::string what = "same size, but its last MiB differs";
    if (was.size != is.size)
      what = "size " + std::to_string(is.size) + ", was " + std::to_string(was.size);
    else if (was.head != is.head)
      what = "same size, but its first MiB differs";
    throw usage_error(dir + ": the input " + is.path + " changed since this run began (" + what +
                      "); use a new --output, or --restart to start over");
  }
}

// Refuses to let a rerun report a finished run whose files are not the ones it finished with: a
// shard deleted, cut short or appended to, or a side file changed, would otherwise be reported
// as complete while records are lost or a torn line is kept. A missing side file recorded with
// 0 bytes is fine: it was never written. failures.jsonl is checked only if `failures`.
void verify_finished_files(const std::string& dir, const WriterState& writer, bool failures) {
  auto check = [&dir](const std::string& name, uint64_t recorded, bool may_be_missing) {
    const std::string path = dir + "/" + name;
    const std::optional<uint64_t> size = file_size(path);
    if (!size && may_be_missing && recorded == 0) return;
    if (size == recorded) return;
    std::string what = !size ? "is missing" : "has " + std::to_string(*size) + " bytes";
    throw Error(path + ": " + what + ", but the finished run recorded " + std::to_string(recorded) +
                " bytes; the output directory was changed after the run finished (use --restart "
                "to start over, or another --output)");
  };
  for (const ShardInfo& shard : writer.shards)
    check(shard.open ? shard.name + ".tmp" : shard.name, shard.bytes, false);
  for (const SideFileInfo& side : kSideFiles)
    if (failures || side.file != SideFile::failures)
      check(std::string(side.file_name), writer.side(side.file).bytes, true);
}

// "failures.jsonl, rejects.jsonl and unverified.jsonl": the side files, for a message.
std::string side_file_names() {
  std::string out;
  for (size_t i = 0; i < kSideFileCount; ++i) {
    if (i > 0) out += i + 1 == kSideFileCount ? " and " : ", ";
    out += kSideFiles[i].file_name;
  }
  return out;
}

// Refuses a directory that holds files but no manifest: they may be the user's own, and a fresh
// run would delete its namesakes (shards of this task, the side files). The lock
// and a manifest whose first write was cut off are personagen's.
// So is a --summary file written into the directory by an earlier attempt that stopped before
// the run began.
void check_empty(const std::string& dir, const std::string& summary_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path summary = summary_file.empty() ? fs::path() : fs::weakly_canonical(summary_file, ec);
  ec.clear();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name == ".lock" || name == "manifest.json.tmp") continue;
    std::error_code ignored;
    fs::path here = fs::weakly_canonical(it->path(), ignored);
    if (!summary.empty() && (here == summary || here.string() == summary.string() + ".tmp"))
      continue;
    throw usage_error(dir + ": is not empty (it holds " + name +
                      ") and has no manifest.json, so it holds no personagen run to resume; use "
                      "another --output, or --restart to write into it anyway (which deletes "
                      "its shards, " +
                      side_file_names() + ")");
  }
  if (ec) throw Error(dir + ": cannot list directory: " + ec.message());
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

// The samples of a line (--samples K) as `config` records them: synth writes "samples" only
// when it is not 1.
uint64_t configured_samples(const RunConfig& config) {
  for (const auto& [name, value] : config) {
    if (name != "samples") continue;
    uint64_t samples = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), samples);
    if (error != std::errc() || end != value.data() + value.size() || samples == 0)
      throw Error("the configuration's \"samples\" is \"" + value + "\" (expected a count)");
    return samples;
  }
  return 1;
}

}  // namespace

std::optional<uint64_t> FailedRequests::kept_at(uint64_t line) const {
  auto it = std::lower_bound(kept.begin(), kept.end(), line,
                             [](const Kept& k, uint64_t l) { return k.line < l; });
  if (it == kept.end() || it->line != line) return std::nullopt;
  return it->offset;
}

FailedRequests read_failed_requests(const std::string& path, uint64_t samples) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read");
  FailedRequests failed;
  failed.path = path;
  std::vector<RequestId>& requests = failed.requests;
  // The records that keep a line's samples, in file order: where, and which samples they keep.
  struct Keeping {
    FailedRequests::Kept kept;
    std::string where;
    std::vector<uint64_t> samples;
  };
  std::vector<Keeping> keeping;
  std::string text;
  uint64_t offset = 0;
  for (uint64_t number = 1; std::getline(in, text); ++number, offset += text.size() + 1) {
    if (text.empty()) continue;
    auto json = nlohmann::json::parse(text, nullptr, false);
    std::string where = path + ":" + std::to_string(number);
    if (json.is_discarded() || !json.contains("line") || !json["line"].is_number_unsigned() ||
        (json.contains("request") && !json["request"].is_number_unsigned()))
      throw Error(where + ": expected a failure record with a \"line\" and a \"request\"");
    uint64_t line = json["line"].get<uint64_t>();
    requests.push_back(RequestId{line, json.value("request", kEveryRequest)});
    if (!json.contains("kept_samples")) continue;
    // Checked now, so that a retry pass never starts on samples it cannot read back.
    std::vector<uint64_t> kept;
    for (const KeptSample& k : read_kept_samples(json, where)) kept.push_back(k.request);
    if (!kept.empty()) keeping.push_back({{line, offset}, std::move(where), std::move(kept)});
  }
  std::sort(requests.begin(), requests.end());
  requests.erase(std::unique(requests.begin(), requests.end()), requests.end());
  // A line's failures are written together, and only the first keeps its samples; should two,
  // the first in the file counts.
  std::stable_sort(keeping.begin(), keeping.end(),
                   [](const Keeping& a, const Keeping& b) { return a.kept.line < b.kept.line; });
  for (size_t i = 0; i < keeping.size(); ++i) {
    const Keeping& k = keeping[i];
    if (i > 0 && keeping[i - 1].kept.line == k.kept.line) continue;
    std::vector<uint64_t> failed_samples;
    auto it = std::lower_bound(requests.begin(), requests.end(), RequestId{k.kept.line, 0});
    for (; it != requests.end() && it->line == k.kept.line; ++it)
      failed_samples.push_back(it->index);
    check_kept_line(k.samples, failed_samples, samples,
                    k.where + ": input line " + std::to_string(k.kept.line));
    failed.kept.push_back(k.kept);
  }
  return failed;
}

std::optional<InputFingerprint> fingerprint_input(const std::string& path,
                                                  std::optional<uint64_t> length) {
  // 1 MiB at each end: cheap at any input size (see InputFingerprint), and a regenerated file
  // almost always differs within its first or last MiB.
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
    f.path = path;
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

std::vector<InputFingerprint> fingerprint_inputs(const std::vector<std::string>& files,
                                                 std::optional<uint64_t> last_length) {
  std::vector<InputFingerprint> out;
  for (size_t i = 0; i < files.size(); ++i) {
    std::optional<InputFingerprint> f =
        fingerprint_input(files[i], i + 1 == files.size() ? last_length : std::nullopt);
    if (!f) return {};
    out.push_back(std::move(*f));
  }
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

RunStart RunDir::prepare(const Options& options, const RunConfig& config, const std::string& prefix,
                         const std::vector<std::string>& input_files) {
  std::vector<InputFingerprint> input = fingerprint_inputs(input_files);
  Manifest fresh;
  fresh.tool_version = PERSONAGEN_VERSION;
  fresh.config = config;
  fresh.input = input;
  // A fresh run records its manifest before it creates anything else here, so that a run killed
  // at any moment leaves a directory that a rerun resumes rather than refuses.
  auto start_fresh = [this, &fresh] {
    write_manifest(manifest_path(), fresh);
    return RunStart{RunStart::Kind::fresh, std::move(fresh), {}};
  };
  if (options.restart) {
    if (options.retry_failed)
      throw usage_error("--restart and --retry-failed cannot be used together");
    clear_output_dir(dir_, prefix);
    std::filesystem::remove(retry_source());
    return start_fresh();
  }
  std::optional<Manifest> manifest = read_manifest(manifest_path());
  if (!manifest) {
    if (options.retry_failed) throw usage_error(dir_ + ": no run to retry (no manifest.json)");
    check_empty(dir_, options.summary_file);
    return start_fresh();
  }
  std::string retry_changes = check_config(dir_, manifest->config, config, options.retry_failed);
  check_input(dir_, *manifest, input);
  // A --retry-failed pass moves failures.jsonl aside itself, whatever its length.
  if (manifest->complete)
    verify_finished_files(dir_, manifest->checkpoint.writer, !options.retry_failed);
  if (!input.empty() && manifest->input != input) {
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
    if (start.manifest->retry_pass)
      start.retry = read_failed_requests(retry_source(), configured_samples(config));
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
  SideFileState& failed = writer.side(SideFile::failures);
  bool already_moved = failed.bytes > 0 && file_size(failures()).value_or(0) == 0 &&
                       file_size(retry_source()).value_or(0) == failed.bytes;
  uint64_t samples = configured_samples(config);
  FailedRequests requests;
  if (already_moved) {
    requests = read_failed_requests(retry_source(), samples);
  } else {
    std::filesystem::remove(retry_source());  // a leftover of an earlier, finished retry pass
    if (failed.bytes == 0) return {RunStart::Kind::complete, std::move(manifest), {}};
    // Cut to what the checkpoint counts (as a resume would) and read before the move: a list
    // the pass cannot use is refused while failures.jsonl is still where a plain rerun
    // expects it. The move keeps the bytes, so the offsets of kept samples stay right.
    if (::truncate(failures().c_str(), static_cast<off_t>(failed.bytes)) != 0)
      throw Error(failures() + ": cannot cut to its checkpointed length for --retry-failed: " +
                  std::strerror(errno));
    requests = read_failed_requests(failures(), samples);
    if (std::rename(failures().c_str(), retry_source().c_str()) != 0)
      throw Error(failures() + ": cannot move aside for --retry-failed: " + std::strerror(errno));
    requests.path = retry_source();
  }
  log_retry_changes(dir_, changes);
  manifest.config = config;  // a resume of this pass compares against what it asks with

  // The retry pass reads the input again from the start and re-requests only these lines.
  Checkpoint& c = manifest.checkpoint;
  c.totals.failed -= std::min<uint64_t>(c.totals.failed, failed.lines);
  failed = {};
  c.next = {};
  c.selected_below = 0;
  c.done_above.clear();
  manifest.complete = false;
  manifest.retry_pass = true;
  write_manifest(manifest_path(), manifest);
  return {RunStart::Kind::resume, std::move(manifest), std::move(requests)};
}

void RunDir::remove_retry_source() {
  std::filesystem::remove(retry_source());
}

}  // namespace personagen
