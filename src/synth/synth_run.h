#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "input/record_reader.h"
#include "net/request_pool.h"
#include "personagen/error.h"
#include "personagen/options.h"
#include "personagen/progress.h"
#include "store/journal.h"
#include "store/kept_samples.h"
#include "store/manifest.h"
#include "store/output_record.h"
#include "store/run_dir.h"
#include "store/shard_writer.h"
#include "store/training_records.h"
#include "store/watermark.h"
#include "synth/synth_plan.h"

namespace personagen {

// The state of one synth invocation into one output directory (or stdout). The request pool
// drives it as its JobOwner: next() reads input lines and builds their requests one at a time,
// judge() checks a reply against the task, finish() turns a request's end into records or a
// failure, and tick() flushes, checkpoints and shows progress. Only the pool's thread touches
// it, so it needs no locks.
//
// Exactly once: every input line ends up written whole (all its records and failures) or not at
// all. A checkpoint (manifest.json) records the low-watermark and the files' lengths; the
// journal records each line finished since, so that a resume after kill -9 keeps them.
class SynthRun final : private JobOwner {
 public:
  // `start` is the run directory's decision (fresh or resume, with the manifest and, for a
  // retry pass, the requests to send again). `dir` is the output directory, empty for stdout.
  // `status` shows the progress and the final line; SynthRun itself never prints.
  SynthRun(const Options& options, const SynthPlan& plan, RecordSink& sink, RunStart start,
           const std::string& dir, RunStatus& status);
  ~SynthRun();

  // Runs the pool to the end and returns how it ended. Checkpoints on every way out. `interrupt`
  // at 1 winds down (requests in flight may finish), at 2 stops at once (see RequestPool::run).
  // Throws Error for a fatal reply (401, a refused configuration) or a bad input, after the
  // checkpoint.
  // With `replay` the transport answers from a batch's results: a reply is what it is, so each
  // request is judged once (no retries, no slow start, no rate limits), many at a time.
  ExitCode run(Transport& transport, const std::atomic<int>& interrupt, bool replay = false);

  // What the endpoint's GET /models listed as this run began, for the manifest.
  void set_server_models(std::vector<std::string> ids) { manifest_.server_models = std::move(ids); }

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
  // One request of a line, from when it is built until the line is written. A retry pass builds
  // only the requests that failed; the others stay empty, but for a solve line whose failure
  // kept its samples that succeeded: those are restored into their places (restore_kept_samples).
  struct Request {
    std::string custom_id;
    std::string prompt;  // kept only for --format chat
    // converse: the step in flight (0 .. steps() - 1), the conversation so far (the input text
    // first), and what its requests cost so far.
    size_t step = 0;
    std::vector<Turn> turns;
    Usage usage;
    int attempts = 0;
    // solve: the sample's outcome, kept until the line's vote.
    std::string output, answer, reasoning, finish_reason, failure;
    std::optional<std::string> normalized;  // the answer's comparison key; none if it failed
  };
  // What judge() made of an accepted reply; it travels to finish() in Verdict::output.
  struct Judged {
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
    std::vector<std::string> below_threshold;  // judge: records scoring below --min-score
  };

  // JobOwner: the pool's calls.
  bool next(Job& job) override;
  Verdict judge(const Job& job, const HttpResponse& response) override;
  void finish(const Job& job, const HttpResponse& response, Verdict verdict) override;
  void tick() override;

  // Builds the next request of the line being read, if it has one left.
  bool build_next(Job& job);
  // converse: builds the next request of a conversation whose last one was accepted.
  bool build_followup(Job& job);
  std::optional<InputRecord> read();
  ReadPosition read_position(const InputRecord& record) const;
  bool in_retry_list(const InputRecord& record);
  bool retry_wanted(uint64_t line, uint64_t index) const;
  void start_line(InputRecord record);
  void reject(const InputRecord& record);
  void check_input_end();
  uint64_t estimate_tokens(const std::string& body) const;
  void stop_early(std::string why, std::string resume_advice = "rerun the same command to resume");
  void check_budget();
  void settle(uint64_t line);
  static std::string_view persona_id(const InputRecord& record);
  // The run's provenance, with the model the reply says it came from.
  Provenance provenance_for(const Completion& completion) const {
    Provenance p = provenance_;
    p.served_model = completion.model;
    return p;
  }
  void add_record(Pending& p, const Request& request, const Judged& judged, int attempts);
  void add_persona_records(Pending& p, size_t index, const Judged& judged, int attempts);
  // judge: the record of a judgment, for the shards or, below --min-score, the side file.
  void add_judgment(Pending& p, const Request& request, const Judged& judged, int attempts);
  // converse: adds the reply to the conversation; true when the conversation is complete (its
  // record is added), false when its next request is queued.
  bool advance_conversation(Pending& p, const Job& job, Judged& judged);
  void add_conversation(Pending& p, Request& request, const std::string& finish_reason);
  // solve: keeps a sample's outcome for the vote.
  void add_sample(Request& request, Judged& judged, int attempts);
  // solve: once every sample is in, the vote decides: a record, unverified.jsonl or a failure.
  void settle_solve(Pending& p);
  // solve, a retry pass: the samples the line's failure kept take their places again, so that
  // only the failed ones are sent (read_failed_requests checked they fit the line).
  void restore_kept_samples(Pending& p);
  void checkpoint();
  void complete();
  // Records in the checkpoint where the run stands: the files' state `writer`, the watermark,
  // the time spent and the journal's last entry.
  void take_position(WriterState writer);
  Progress progress() const;
  double fraction() const;
  void finish_status(bool success);
  void finish_status_before_error();
  std::string output_name() const;
  Totals this_run() const;
  // The totals of all runs into this output, as they stand now (the checkpoint's, once written).
  Totals& totals() { return manifest_.checkpoint.totals; }
  const Totals& totals() const { return manifest_.checkpoint.totals; }
  double elapsed() const;

  const Options& options_;
  const SynthPlan& plan_;
  Provenance provenance_;  // of every record of this run
  RequestBuilder builder_;
  RecordSink& sink_;
  std::string manifest_path_;  // empty for stdout
  Manifest manifest_;
  Checkpoint durable_;             // the last checkpoint written
  FailedRequests retry_;           // a retry pass's requests, from failures.retry.jsonl
  KeptSamplesReader kept_reader_;  // solve: the samples kept in retry_.path
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
  std::string resume_advice_;  // what the stop message tells the user to do
  std::optional<Error> input_error_;
  Totals start_totals_;
  std::unordered_map<uint64_t, Pending> pending_;  // by input line
  // The line whose requests next() is handing out, and the indexes of those not built yet, last
  // first. A line's requests are built one at a time, as the pool asks, so a built request waits
  // in one place only: the pool.
  uint64_t building_ = 0;
  std::vector<size_t> unbuilt_;
  // converse: conversations whose next request can be built, oldest first. They go before new
  // lines, so a started conversation finishes before more are begun.
  std::deque<RequestId> followups_;
  std::vector<ChatMessage> messages_;  // scratch for build_followup
  std::string last_failure_;
  std::string json_;  // a record or failure being formatted; reused to keep its capacity
  RequestPool* pool_ = nullptr;
  RunStatus& status_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_checkpoint_ = started_;
};

}  // namespace personagen
