#include "synth/batch_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "personagen/error.h"
#include "store/atomic_file.h"
#include "store/run_dir.h"
#include "synth/request_walk.h"
#include "synth/synth_plan.h"
#include "synth/tasks.h"
#include "util/file_io.h"
#include "util/hash.h"
#include "util/json_text.h"

namespace personagen {

namespace {

constexpr const char* kBatchUrl = "/v1/chat/completions";

// The batch input files of one round, written one after another, each cut before it would pass
// the limits. A file is written as <name>.tmp, synced and renamed, so a file under its name is
// always whole.
class RequestFiles {
 public:
  RequestFiles(std::string dir, int round, const BatchLimits& limits)
      : dir_(std::move(dir)), round_(round), limits_(limits) {}
  ~RequestFiles() {
    if (fd_ >= 0) ::close(fd_);
  }

  void add(std::string_view custom_id, std::string_view body) {
    line_.clear();
    line_ += "{\"custom_id\":";
    append_json_string(line_, custom_id);
    line_ += ",\"method\":\"POST\",\"url\":\"";
    line_ += kBatchUrl;
    line_ += "\",\"body\":";
    line_ += body;
    line_ += "}\n";
    if (line_.size() > limits_.max_bytes)
      throw usage_error("the request " + std::string(custom_id) + " alone is " +
                        std::to_string(line_.size()) + " bytes, over --batch-max-bytes " +
                        std::to_string(limits_.max_bytes));
    if (fd_ >= 0 && (current_.requests == limits_.max_requests ||
                     current_.bytes + line_.size() > limits_.max_bytes))
      close_current();
    if (fd_ < 0) open_next();
    buffer_ += line_;
    current_.requests++;
    current_.bytes += line_.size();
    if (buffer_.size() >= (1u << 16)) flush();
  }

  // Closes the last file and syncs the directory; the files written, in order.
  std::vector<BatchFile> finish() {
    if (fd_ >= 0) close_current();
    sync_dir(dir_);
    return std::move(files_);
  }

 private:
  std::string path(const BatchFile& f) const { return dir_ + "/" + f.name; }

  void open_next() {
    char name[64];
    if (round_ == 0)
      std::snprintf(name, sizeof name, "requests-%05zu.jsonl", files_.size());
    else
      std::snprintf(name, sizeof name, "requests-r%d-%05zu.jsonl", round_, files_.size());
    current_ = BatchFile{};
    current_.name = name;
    current_.round = round_;
    std::string tmp = path(current_) + ".tmp";
    fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw_io_error(tmp, "cannot create");
  }

  void flush() {
    write_all(fd_, buffer_, path(current_) + ".tmp");
    buffer_.clear();
  }

  void close_current() {
    flush();
    std::string tmp = path(current_) + ".tmp";
    if (::fdatasync(fd_) != 0) throw_io_error(tmp, "cannot sync");
    ::close(fd_);
    fd_ = -1;
    if (std::rename(tmp.c_str(), path(current_).c_str()) != 0)
      throw_io_error(tmp, "cannot rename to " + current_.name);
    files_.push_back(current_);
  }

  std::string dir_;
  int round_;
  BatchLimits limits_;
  int fd_ = -1;
  BatchFile current_;
  std::vector<BatchFile> files_;
  std::string line_, buffer_;
};

// Removes the files of `round` an interrupted export left, whole or not.
void remove_round_files(const std::string& dir, int round) {
  std::string prefix = round == 0 ? "requests-0" : "requests-r" + std::to_string(round) + "-";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) std::filesystem::remove(entry.path());
  }
}

std::string new_run_id() {
  std::random_device device;
  uint64_t state =
      (uint64_t{device()} << 32) ^ device() ^
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
      static_cast<uint64_t>(::getpid());
  return "pg-run-" + hex64(splitmix64(state)).substr(0, 12);
}

std::string describe(const std::vector<BatchFile>& files, uint64_t requests) {
  return std::to_string(requests) + " requests in " + std::to_string(files.size()) +
         (files.size() == 1 ? " file" : " files");
}

uint64_t count_requests(const std::vector<BatchFile>& files) {
  uint64_t n = 0;
  for (const BatchFile& f : files) n += f.requests;
  return n;
}

}  // namespace

Options batch_options(Options o) {
  if (o.output.empty()) throw usage_error("--output is required (the batch directory)");
  if (o.output == "-") throw usage_error("batch needs an output directory, not -o -");
  if (o.model.empty()) throw usage_error("--model is required (or set $OPENAI_MODEL)");
  if (o.hops > 1)
    throw usage_error(
        "--hops above 1 is not for batches: each hop reads the personas of the one before; "
        "export each hop on its own, with the last hop's shard as input");
  for (const std::string& input : o.inputs)
    if (input == "-")
      throw usage_error("batch export needs input files, not stdin: the import reads them again");
  const TaskInfo* task = o.template_file.empty() ? find_task(o.task) : nullptr;
  if (task && task->name == std::string_view("converse"))
    throw usage_error(
        "-t converse is not for batches: each turn needs the reply before it; use synth");
  for (std::string& input : o.inputs) input = absolute_path(input);
  o.prompts_dir = absolute_path(o.prompts_dir);
  o.template_file = absolute_path(o.template_file);
  o.world_file = absolute_path(o.world_file);
  o.schema_file = absolute_path(o.schema_file);
  // --rubric is a built-in rubric's name or a file; only a file is a path.
  if (!o.rubric.empty() && std::filesystem::is_regular_file(o.rubric))
    o.rubric = absolute_path(o.rubric);
  o.output = absolute_path(o.output);
  return o;
}

BatchState export_batches(const Options& given, const BatchLimits& limits, RunStatus& status) {
  Options options = batch_options(given);
  SynthPlan plan = make_plan(options);
  RunDir dir(options.output);
  std::string state_path = options.output + "/" + kBatchStateName;
  if (std::optional<BatchState> state = read_batch_state(state_path)) {
    // The same command again: a changed configuration or input is refused, as for synth.
    dir.prepare(options, plan.config, plan.task, plan.input_files);
    state->options.output = options.output;
    status.note(options.output + ": already exported (" +
                describe(state->files, count_requests(state->files)) + ")");
    return *state;
  }
  RunStart start = dir.prepare(options, plan.config, plan.task, plan.input_files);
  if (start.kind != RunStart::Kind::fresh) {
    const Totals& t = start.manifest->checkpoint.totals;
    if (t.records + t.failed + t.rejected > 0)
      throw usage_error(options.output +
                        ": holds a synth run; export the batch into a directory of its own");
  }
  remove_round_files(options.output, 0);

  RequestBuilder builder(plan);
  RequestFiles files(options.output, 0, limits);
  WalkCounts counts = walk_requests(
      plan, options.limit, builder, [](uint64_t, size_t) { return true; },
      [&](const InputRecord&, size_t) { files.add(builder.custom_id(), builder.body()); });
  BatchState state;
  state.run_id = new_run_id();
  state.options = options;
  state.files = files.finish();
  write_batch_state(state_path, state);
  status.note(options.output + ": exported " + describe(state.files, counts.requests) + " for " +
              std::to_string(counts.selected) + " input lines" +
              (counts.rejected ? " (" + std::to_string(counts.rejected) +
                                     " lines will be rejects; the import writes them)"
                               : ""));
  return state;
}

BatchState export_failed(const std::string& dir_path, const BatchLimits& limits,
                         RunStatus& status) {
  std::string out = absolute_path(dir_path);
  std::optional<BatchState> state = read_batch_state(out + "/" + kBatchStateName);
  if (!state) throw usage_error(out + ": no batch export here (batch.json is missing)");
  int round = state->last_round();
  if (state->imported_round < round)
    throw usage_error(out + ": round " + std::to_string(round) +
                      "'s results are not imported yet; import them first (batch import)");
  SynthPlan plan = make_plan(state->options);
  RunDir dir(out);
  Options options = state->options;
  RunStart start = dir.prepare(options, plan.config, plan.task, plan.input_files);
  if (start.kind != RunStart::Kind::complete)
    throw usage_error(out + ": an import is unfinished; rerun batch import to finish it first");
  std::string failures = out + "/" + std::string(side_file_info(SideFile::failures).file_name);
  FailedRequests failed;
  if (file_size(failures).value_or(0) > 0) failed = read_failed_requests(failures, plan.samples);
  if (failed.requests.empty()) {
    status.note(out + ": nothing failed; nothing to send again");
    return *state;
  }

  remove_round_files(out, round + 1);
  auto wanted = [&](uint64_t line, size_t unit) {
    return retry_wants(failed, plan.kind, line, unit);
  };
  RequestBuilder builder(plan);
  RequestFiles files(out, round + 1, limits);
  WalkCounts counts = walk_requests(
      plan, options.limit, builder, wanted,
      [&](const InputRecord&, size_t) { files.add(builder.custom_id(), builder.body()); });
  std::vector<BatchFile> written = files.finish();
  *state = update_batch_state(out + "/" + kBatchStateName, [&](BatchState& s) {
    s.files.insert(s.files.end(), written.begin(), written.end());
  });
  status.note(out + ": round " + std::to_string(round + 1) + ": " +
              describe(written, counts.requests) + " to send again");
  return *state;
}

}  // namespace personagen
