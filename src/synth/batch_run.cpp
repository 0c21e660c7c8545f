#include "synth/batch_run.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "net/batch_api.h"
#include "store/batch_state.h"
#include "store/manifest.h"
#include "synth/batch_import.h"
#include "util/file_io.h"

namespace personagen {

namespace {

using Clock = std::chrono::steady_clock;

// The state of one run directory, saved after every step that the server answered.
class Ledger {
 public:
  Ledger(std::string dir, BatchState state, RunOutcome& outcome)
      : dir_(std::move(dir)), state_(std::move(state)), outcome_(outcome) {
    report();
  }
  BatchState& state() { return state_; }
  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void save() {
    update_batch_state(path(kBatchStateName), [this](BatchState& disk) {
      // `batch cancel` may have run from another shell meanwhile: its word stands.
      state_.cancelled = state_.cancelled || disk.cancelled;
      state_.imported_round = std::max(state_.imported_round, disk.imported_round);
      disk = state_;
    });
    report();
  }
  // The files of the last round.
  std::vector<BatchFile*> round() {
    std::vector<BatchFile*> files;
    for (BatchFile& f : state_.files)
      if (f.round == state_.last_round()) files.push_back(&f);
    return files;
  }

 private:
  void report() {
    outcome_.batches.clear();
    for (const BatchFile& f : state_.files)
      outcome_.batches.push_back({f.name, f.batch_id, f.status, f.requests, f.completed, f.failed});
  }
  std::string dir_;
  BatchState state_;
  RunOutcome& outcome_;
};

void take(BatchFile& f, const RemoteBatch& b) {
  f.batch_id = b.id;
  f.status = b.status;
  f.completed = b.completed;
  f.failed = b.failed;
  f.errors = b.errors;
  f.output_file_id = b.output_file_id;
  f.error_file_id = b.error_file_id;
}

std::string upload_name(const BatchState& state, const BatchFile& f) {
  return state.run_id + "-" + f.name;
}

// Uploads the file and creates its batch, unless that was done. A step that was started but whose
// answer was not recorded (the process died in between) is looked up on the server first.
void submit(Ledger& ledger, BatchFile& f, BatchApi& api) {
  BatchState& state = ledger.state();
  if (!f.batch_id.empty() || state.cancelled) return;
  if (f.file_id.empty() && f.upload_started) {
    for (const RemoteFile& r : api.list_files())
      if (r.filename == upload_name(state, f) && r.bytes == f.bytes) f.file_id = r.id;
  }
  if (f.file_id.empty()) {
    f.upload_started = true;
    ledger.save();
    f.file_id = api.upload(ledger.path(f.name), upload_name(state, f)).id;
    ledger.save();
  }
  if (f.create_started) {
    for (const RemoteBatch& b : api.list_batches()) {
      auto run = b.metadata.find("personagen_run");
      auto file = b.metadata.find("personagen_file");
      if (run != b.metadata.end() && run->second == state.run_id && file != b.metadata.end() &&
          file->second == f.name)
        take(f, b);
    }
    if (!f.batch_id.empty()) {
      ledger.save();
      return;
    }
  }
  f.create_started = true;
  ledger.save();
  take(f, api.create(f.file_id, {{"personagen_run", state.run_id}, {"personagen_file", f.name}}));
  ledger.save();
}

std::string elapsed_text(Clock::time_point since) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - since).count();
  char text[32];
  std::snprintf(text, sizeof text, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return text;
}

std::string progress_line(const std::vector<BatchFile*>& files, Clock::time_point since) {
  uint64_t total = 0, completed = 0, failed = 0;
  size_t ended = 0;
  std::string running;
  for (const BatchFile* f : files) {
    total += f->requests;
    completed += f->completed;
    failed += f->failed;
    if (batch_status_terminal(f->status))
      ++ended;
    else if (running.empty())
      running = "; " + f->batch_id + " " + (f->status.empty() ? "not created" : f->status);
  }
  return "batch round " + std::to_string(files.empty() ? 0 : files.front()->round) + ": " +
         std::to_string(ended) + " of " + std::to_string(files.size()) + " batches ended, " +
         std::to_string(completed) + "/" + std::to_string(total) + " requests done, " +
         std::to_string(failed) + " failed" + running + "; " + elapsed_text(since);
}

// Waits `seconds`, or less if the run is interrupted. Returns false when interrupted.
bool pause(double seconds, const std::atomic<int>& interrupt) {
  auto until = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < until) {
    if (interrupt.load() > 0) return false;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
  }
  return interrupt.load() == 0;
}

// Polls the round's batches until each has ended and its files are downloaded. False when
// interrupted. Throws Error for a batch that failed validation.
bool finish_round(Ledger& ledger, BatchApi& api, double poll_seconds, const SynthContext& context) {
  Clock::time_point since = Clock::now();
  std::vector<BatchFile*> files = ledger.round();
  for (;;) {
    bool all_ended = true;
    for (BatchFile* f : files) {
      if (f->batch_id.empty() || batch_status_terminal(f->status)) continue;
      take(*f, api.get(f->batch_id));
      ledger.save();
      all_ended = all_ended && batch_status_terminal(f->status);
    }
    context.status.note(progress_line(files, since));
    if (all_ended) break;
    if (!pause(poll_seconds, context.interrupt)) return false;
  }
  for (BatchFile* f : files) {
    if (f->status == "failed")
      throw Error(f->name + ": batch " + f->batch_id + " failed validation: " +
                  (f->errors.empty() ? "the server gave no errors" : f->errors));
    if (f->downloaded || f->batch_id.empty()) continue;
    if (!f->output_file_id.empty()) api.download(f->output_file_id, ledger.path(f->output_name()));
    if (!f->error_file_id.empty()) api.download(f->error_file_id, ledger.path(f->error_name()));
    f->downloaded = true;
    ledger.save();
  }
  return true;
}

ExitCode import_round(Ledger& ledger, const SynthContext& context, RunOutcome& outcome) {
  std::vector<std::string> results;
  for (const BatchFile* f : ledger.round()) {
    for (const std::string& name : {f->output_name(), f->error_name()})
      if (std::filesystem::exists(ledger.path(name))) results.push_back(ledger.path(name));
  }
  ExitCode code = import_batches(ledger.dir(), results, context, outcome);
  // import_batches recorded the round as imported; the ledger's next save keeps that.
  ledger.save();
  return code;
}

BatchApiOptions api_options(const Options& options, const SynthContext& context) {
  BatchApiOptions api;
  api.base_url = options.base_urls.empty() ? "" : options.base_urls.front();
  api.api_key = context.api_key;
  api.max_retries = options.max_retries;
  return api;
}

}  // namespace

ExitCode run_batches(const Options& options, const BatchRunOptions& run,
                     const SynthContext& context, RunOutcome& outcome) {
  if (options.base_urls.size() > 1)
    throw usage_error("batch run takes one --base-url: a batch lives on the server it was made on");
  BatchState exported = export_batches(options, run.limits, context.status);
  std::string dir = batch_options(options).output;
  Ledger ledger(dir, std::move(exported), outcome);
  outcome.output = ledger.dir();
  BatchApi api(api_options(options, context));
  ExitCode code = ExitCode::ok;
  for (;;) {
    BatchState& state = ledger.state();
    int round = state.last_round();
    if (state.imported_round < round) {
      for (BatchFile* f : ledger.round()) submit(ledger, *f, api);
      if (!finish_round(ledger, api, run.poll_seconds, context)) {
        outcome.message = "interrupted while the batches run; rerun batch run to go on polling";
        spdlog::warn("{}", outcome.message);
        return ExitCode::interrupted;
      }
      code = import_round(ledger, context, outcome);
      if (code != ExitCode::ok && code != ExitCode::some_failed) return code;
    }
    std::optional<Manifest> manifest = read_manifest(ledger.path("manifest.json"));
    if (manifest && !outcome.totals) {
      // A rerun of a run already imported: its --summary reports what the directory holds.
      outcome.totals = manifest->checkpoint.totals;
      outcome.shards = manifest->checkpoint.writer.shards.size();
    }
    uint64_t failed = manifest ? manifest->checkpoint.totals.failed : 0;
    if (failed == 0) return ExitCode::ok;
    if (state.cancelled) {
      outcome.message = "the run was cancelled; batch export --retry-failed sends the " +
                        std::to_string(failed) + " failed requests again";
      context.status.note(outcome.message);
      return ExitCode::some_failed;
    }
    if (round >= run.max_rounds) return ExitCode::some_failed;
    BatchState next = export_failed(ledger.dir(), run.limits, context.status);
    if (next.last_round() == round) return code;
    state = std::move(next);
    ledger.save();
  }
}

ExitCode cancel_batches(const std::string& dir_given, const Options& endpoint,
                        const SynthContext& context, RunOutcome& outcome) {
  std::string dir = absolute_path(dir_given);
  std::optional<BatchState> state = read_batch_state(dir + "/" + kBatchStateName);
  if (!state) throw usage_error(dir + ": no batch run here (batch.json is missing)");
  Ledger ledger(dir, std::move(*state), outcome);
  outcome.output = dir;
  ledger.state().cancelled = true;
  ledger.save();
  BatchApi api(api_options(endpoint, context));
  size_t cancelled = 0;
  for (BatchFile& f : ledger.state().files) {
    if (f.batch_id.empty() || batch_status_terminal(f.status)) continue;
    take(f, api.cancel(f.batch_id));
    f.cancel_sent = true;
    ledger.save();
    ++cancelled;
  }
  context.status.note(dir + ": cancelled " + std::to_string(cancelled) +
                      (cancelled == 1 ? " batch" : " batches") +
                      "; batch run or batch import imports what they finished");
  return ExitCode::ok;
}

}  // namespace personagen
