#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "app/status_printer.h"
#include "input/record_reader.h"
#include "net/request_pool.h"
#include "personagen/error.h"
#include "personagen/options.h"
#include "store/journal.h"
#include "store/manifest.h"
#include "store/output_record.h"
#include "store/run_dir.h"
#include "store/shard_writer.h"
#include "store/watermark.h"
#include "synth/synth_plan.h"

namespace personagen {

// The state of one synth invocation into one output directory (or stdout). Only the pool's
// thread touches it: the pool calls next(), judge(), finish() and tick() from its loop.
//
// Exactly once: every input line ends up written whole (all its records and failures) or not at
// all. A checkpoint (manifest.json) records the low-watermark and the files' lengths; the
// journal records each line finished since, so that a resume after kill -9 keeps them.
class SynthRun {
 public:
  // `start` is the run directory's decision (fresh or resume, with the manifest and, for a
  // retry pass, the requests to send again). `dir` is the output directory, empty for stdout.
  SynthRun(const Options& options, const SynthPlan& plan, RecordSink& sink, RunStart start,
           const std::string& dir);
  ~SynthRun();

  // Runs the pool to the end and returns how it ended. Checkpoints on every way out. Throws
  // Error for a fatal reply (401, a refused configuration) or a bad input, after the checkpoint.
  ExitCode run(Transport& transport);

  // Why the run stopped early on its own (--max-failures, --max-rejects), or empty.
  const std::string& aborted() const { return aborted_; }
  bool retry_pass() const { return manifest_.retry_pass; }
  // What the files on disk hold: the totals of the last checkpoint that was written, so a
  // summary after a failed write (a full disk) never claims records that were not saved.
  const Totals& durable_totals() const { return durable_.totals; }
  // The same, this invocation only.
  Totals durable_this_run() const;
  size_t durable_shards() const { return durable_.writer.shards.size(); }

 private:
  // One request while it is in flight or waiting for a retry.
  struct Request {
    bool active = false;  // sent in this pass (a retry pass sends only the failed ones)
    std::string custom_id;
    std::string prompt;  // kept only for --format chat
    Completion completion;
    ParsedOutput parsed;
  };
  // One input line while any of its requests is unfinished. Its outputs wait here until all of
  // them are done, so a line is written whole or not at all.
  struct Pending {
    InputRecord record;
    std::vector<Request> requests;  // by RequestId::index
    size_t remaining = 0;
    std::vector<std::string> records;
    std::vector<std::string> failures;
  };

  RequestPool::Hooks hooks();
  bool next(Job& job);
  std::optional<InputRecord> read();
  ReadPosition read_position(const InputRecord& record) const;
  bool in_retry_list(const InputRecord& record);
  bool retry_wanted(uint64_t line, uint64_t index) const;
  void start_line(InputRecord record);
  void reject(const InputRecord& record);
  void check_input_end();
  uint64_t estimate_tokens(const std::string& body) const;
  void stop_early(std::string why);
  Verdict judge(const Job& job, const HttpResponse& response);
  void finish(const Job& job, const HttpResponse& response, const Verdict& verdict);
  void settle(uint64_t line);
  static std::string_view persona_id(const InputRecord& record);
  void add_record(Pending& p, const Request& request, int attempts);
  void add_persona_records(Pending& p, size_t index, int attempts);
  void tick();
  void checkpoint();
  void complete();
  Progress progress() const;
  double fraction() const;
  void finish_status(bool success);
  void finish_status_before_error();
  std::string output_name() const;
  Totals this_run() const;
  Totals& counters() { return manifest_.checkpoint.totals; }
  const Totals& totals() const { return manifest_.checkpoint.totals; }
  double elapsed() const;

  const Options& options_;
  const SynthPlan& plan_;
  Provenance provenance_;  // of every record of this run
  RequestBuilder builder_;
  RecordSink& sink_;
  std::string manifest_path_;  // empty for stdout
  Manifest manifest_;
  Checkpoint durable_;                     // the last checkpoint written
  std::vector<RequestId> retry_requests_;  // a retry pass's requests, sorted
  Watermark watermark_;
  RecordReader reader_;
  Selection selection_;
  std::unique_ptr<Journal> journal_;  // none for stdout
  std::optional<std::vector<InputRecord>> sampled_;
  size_t sample_next_ = 0;
  uint64_t start_line_ = 0;       // the checkpoint's low-watermark when this invocation began
  uint64_t selected_ = 0;         // selected personas so far, over all runs, for --limit
  uint64_t lines_read_ = 0;       // this invocation
  uint64_t lines_sent_ = 0;       // lines with requests that this invocation finished
  uint64_t ok_requests_ = 0;      // requests done for good this invocation, for --max-failures
  uint64_t failed_requests_ = 0;  // of which failed
  bool input_done_ = false;
  std::string aborted_;
  std::optional<Error> input_error_;
  Totals start_totals_;
  std::unordered_map<uint64_t, Pending> pending_;  // by input line
  std::vector<Job> ready_;  // built for the line just read, not yet handed to the pool
  size_t ready_next_ = 0;
  std::string last_failure_;
  std::string line_;
  RequestPool* pool_ = nullptr;
  LinePrinter printer_;
  StatusPrinter status_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_checkpoint_ = started_;
};

}  // namespace personagen
