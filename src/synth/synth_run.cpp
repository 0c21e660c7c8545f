#include "synth/synth_run.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "input/input_files.h"
#include "store/dataset_card.h"
#include "synth/request_walk.h"
#include "synth/tasks.h"
#include "util/cost.h"
#include "util/utf8.h"

namespace personagen {

namespace {

// A rate threshold (--max-failures 5%) only counts once this many outcomes are in, so the
// first few cannot trip it by chance.
constexpr uint64_t kMinOutcomesForRate = 100;

// How much of an output a failure for invalid output quotes, so the user can see why the parser
// refused it.
constexpr size_t kExcerptBytes = 160;

// A replay (batch import) is answered from memory at once: this many requests per pool turn
// spread its wait and tick over many replies, and hold only this many parsed lines.
constexpr size_t kReplayInFlight = 1024;

// How far the reader may run ahead of the oldest unfinished line. It bounds the memory that
// resume state and the done-above list can take when one request keeps failing and retrying.
uint64_t max_read_ahead(const Options& options) {
  return std::max<uint64_t>(100000, 64 * static_cast<uint64_t>(options.concurrency));
}

// The start of `text` on one line, for a failure's reason.
std::string excerpt(std::string_view text) {
  std::string out(utf8_prefix(text, kExcerptBytes));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  if (out.size() < text.size()) out += "...";
  return out;
}

}  // namespace

SynthRun::SynthRun(const Options& options, const SynthPlan& plan, RecordSink& sink, RunStart start,
                   const std::string& dir, RunStatus& status)
    : options_(options),
      plan_(plan),
      provenance_{plan.task,        to_string(plan.method), plan.model,
                  plan.template_id, plan.templ().hash(),    {}},
      builder_(plan),
      sink_(sink),
      manifest_path_(dir.empty() ? "" : dir + "/manifest.json"),
      manifest_(start.manifest ? std::move(*start.manifest) : Manifest{}),
      durable_(manifest_.checkpoint),
      retry_(std::move(start.retry)),
      kept_reader_(retry_.path),
      watermark_(manifest_.checkpoint.next, manifest_.checkpoint.selected_below,
                 manifest_.checkpoint.done_above),
      reader_(plan.input_files, plan.reader,
              plan.selection.sample ? ReadPosition{} : manifest_.checkpoint.next),
      selection_(plan.selection),
      start_line_(manifest_.checkpoint.next.line),
      selected_(manifest_.checkpoint.selected_below),
      start_totals_(manifest_.checkpoint.totals),
      status_(status) {
  manifest_.tool_version = PERSONAGEN_VERSION;
  manifest_.config = plan.config;
  manifest_.complete = false;
  if (!dir.empty()) {
    const WriterState& writer = manifest_.checkpoint.writer;
    size_t first_open = writer.shards.empty() ? 0 : writer.shards.size() - 1;
    journal_ = std::make_unique<Journal>(dir + "/" + kJournalName, manifest_.checkpoint.journal_seq,
                                         first_open);
  }
  // A sample depends on the whole input, so it is drawn again on every run (the same for the
  // same seed); lines before the checkpoint are then skipped.
  if (selection_.sample() > 0) sampled_ = read_sample(reader_, selection_);
}

SynthRun::~SynthRun() = default;

ExitCode SynthRun::run(Transport& transport, const std::atomic<int>& interrupt, bool replay) {
  PoolOptions pool_options;
  pool_options.concurrency = static_cast<size_t>(options_.concurrency);
  pool_options.retry.max_retries = options_.max_retries;
  pool_options.retry.max_length_retries = options_.length_retries;
  pool_options.grace_seconds = options_.grace_seconds;
  pool_options.seed = options_.seed;
  pool_options.requests_per_minute = options_.rpm;
  pool_options.tokens_per_minute = options_.tpm;
  pool_options.outage_wait_seconds = options_.outage_wait_seconds;
  pool_options.configuration_proven = start_totals_.records > 0;
  pool_options.response_format = !plan_.extras.response_format.empty();
  if (replay) {
    pool_options.concurrency = kReplayInFlight;
    pool_options.retry.max_retries = 0;
    pool_options.retry.max_length_retries = 0;
    pool_options.requests_per_minute = 0;
    pool_options.tokens_per_minute = 0;
    pool_options.outage_wait_seconds = 0;
    pool_options.slow_start = false;
    pool_options.adaptive = false;
    pool_options.configuration_proven = true;
  }
  RequestPool pool(transport, pool_options);
  pool_ = &pool;
  // What a resume kept from the journal becomes the checkpoint before anything new is written.
  checkpoint();
  check_budget();  // a resume of a run that spent its budget sends nothing

  RequestPool::Stop stop = pool.run(*this, interrupt);
  pool_ = nullptr;

  // From here on nothing is in flight: make the outcome durable, then report it.
  if (stop == RequestPool::Stop::fatal) {
    checkpoint();
    finish_status_before_error();
    throw Error(pool.fatal_reason() + " (progress is saved; fix this and rerun to resume)");
  }
  if (stop == RequestPool::Stop::interrupted) {
    checkpoint();
    finish_status(false);
    if (!aborted_.empty()) {
      spdlog::error("{}; stopped early, {}", aborted_, resume_advice_);
      return ExitCode::aborted;
    }
    spdlog::warn("interrupted; rerun the same command to resume");
    return ExitCode::interrupted;
  }
  if (input_error_) {
    // Everything read before the bad spot is finished and kept; the run is not complete.
    checkpoint();
    finish_status_before_error();
    throw *input_error_;
  }
  complete();
  const Totals& all = totals();
  if (all.records + all.failed + all.rejected == 0 && !retry_pass())
    spdlog::warn("{}: {}", join_inputs(options_.inputs),
                 lines_read_ > 0 ? "no persona passed the selection" : "the input has no records");
  Totals run = this_run();
  // A sample reads every line of the input to draw it: its rejects are out of all of them.
  uint64_t lines = sampled_ ? reader_.position().line : lines_read_;
  bool too_many_rejects = options_.max_rejects.exceeded(run.rejected, lines, /*min_total=*/0);
  finish_status(!too_many_rejects);
  if (too_many_rejects) {
    aborted_ = "too many rejected input lines (" + std::to_string(run.rejected) + " of " +
               std::to_string(lines) + ", --max-rejects)";
    spdlog::error("{}; see rejects.jsonl", aborted_);
    return ExitCode::aborted;
  }
  return totals().failed > 0 ? ExitCode::some_failed : ExitCode::ok;
}

Totals SynthRun::this_run() const {
  Totals t = totals();
  t -= start_totals_;
  t.seconds = elapsed();
  return t;
}

Totals SynthRun::durable_this_run() const {
  Totals t = durable_.totals;
  t -= start_totals_;
  t.seconds = elapsed();
  return t;
}

// The pool asks for the next request. Rejects, personas not selected and lines finished by an
// earlier run are settled here without a request.
bool SynthRun::next(Job& job) {
  if (build_followup(job) || build_next(job)) return true;
  while (!input_done_) {
    if (watermark_.span() >= max_read_ahead(options_)) return false;
    if (!retry_pass() && options_.limit && selected_ >= options_.limit) {
      input_done_ = true;
      break;
    }
    std::optional<InputRecord> record;
    try {
      record = read();
    } catch (const Error& e) {
      // A corrupt or unreadable input stops the reading, not the requests already made: they
      // finish, the checkpoint keeps them, and the error is reported after that.
      input_error_ = e;
    }
    if (!record) {
      input_done_ = true;
      if (!input_error_) check_input_end();
      break;
    }
    ++lines_read_;
    if (record->ok() && plan_.role == TaskRole::training) {
      record->reject = training_reject(plan_, *record);
      if (!record->ok()) record->excerpt = utf8_prefix(record->persona, kRejectExcerptBytes);
    }
    // --limit counts the personas selected, in render as here: the first N that pass.
    bool chosen = record->ok() && selection_.selected(*record);
    watermark_.begin({record->line, record->offset, record->file, record->file_line}, chosen);
    watermark_.set_read_position(read_position(*record));
    if (chosen) ++selected_;
    if (watermark_.done_before(record->line) || (record->ok() && !chosen) ||
        !in_retry_list(*record)) {
      watermark_.finish(record->line);
      continue;
    }
    if (!record->ok()) {
      reject(*record);
      continue;
    }
    start_line(std::move(*record));
    if (build_next(job)) return true;
  }
  if (!sampled_) watermark_.set_read_position(reader_.position());
  return false;
}

bool SynthRun::build_next(Job& job) {
  if (unbuilt_.empty()) return false;
  // The line is still pending: it cannot be written while one of its requests is unbuilt.
  Pending& pending = pending_.at(building_);
  size_t index = unbuilt_.back();
  unbuilt_.pop_back();
  builder_.build(pending.record, index);
  job.id = RequestId{pending.record.line, index};
  job.body = builder_.body();
  job.key = builder_.custom_id();
  job.estimated_tokens = estimate_tokens(job.body);
  Request& request = pending.requests[index];
  request.custom_id = job.key;
  if (plan_.format == OutputFormat::chat) request.prompt = builder_.prompt();
  if (plan_.converse) request.turns.assign(1, Turn{"user", pending.record.persona, {}});
  return true;
}

void SynthRun::reject(const InputRecord& record) {
  format_reject(record, plan_.input_files[record.file], json_);
  sink_.write_reject(json_);
  ++totals().rejected;
  watermark_.finish(record.line);
  if (journal_) journal_->add(record.line, sink_.state(), totals());
  Totals run = this_run();
  if (options_.max_rejects.exceeded(run.rejected, lines_read_, kMinOutcomesForRate) && !sampled_)
    stop_early("too many rejected input lines (" + std::to_string(run.rejected) + " of " +
               std::to_string(lines_read_) + ", --max-rejects)");
}

// What a request may cost against --tpm before its reply says: the prompt at about four bytes a
// token, plus the completion it may produce (512 when --max-tokens is unset: a typical answer,
// and usage corrects it afterwards).
uint64_t SynthRun::estimate_tokens(const std::string& body) const {
  uint64_t completion =
      plan_.sampling.max_tokens ? static_cast<uint64_t>(*plan_.sampling.max_tokens) : 512;
  return estimate_body_tokens(body.size()) + completion;
}

// --max-cost: the billed cost of every run into this output, retries included, against the
// budget. Requests in flight still finish when it is reached, and their cost counts too.
void SynthRun::check_budget() {
  if (!options_.max_cost) return;
  std::optional<double> cost =
      cost_of(totals().billed_prompt_tokens, totals().billed_completion_tokens, options_);
  if (cost && *cost >= *options_.max_cost)
    stop_early("the billed cost reached " + dollars(*cost) + ", the --max-cost of " +
                   dollars(*options_.max_cost),
               "rerun with a higher --max-cost to go on");
}

void SynthRun::stop_early(std::string why, std::string resume_advice) {
  if (!aborted_.empty()) return;
  aborted_ = std::move(why);
  resume_advice_ = std::move(resume_advice);
  if (pool_) pool_->request_stop(1);
}

// A 2xx reply: is it a usable completion for this task? Every reply with usage was billed,
// whatever the verdict.
Verdict SynthRun::judge(const Job&, const HttpResponse& response) {
  std::string error;
  std::optional<Completion> completion = parse_completion(response.body, error);
  if (!completion) return Verdict::retry(FailureKind::bad_json, error);
  totals().billed_prompt_tokens += static_cast<uint64_t>(completion->usage.prompt_tokens);
  totals().billed_completion_tokens += static_cast<uint64_t>(completion->usage.completion_tokens);
  check_budget();
  Verdict verdict = Verdict::accept();
  ParsedOutput parsed;
  if (completion->finish_reason == "length") {
    verdict = Verdict::retry(FailureKind::truncated,
                             "the output was cut off (finish_reason \"length\"); raise "
                             "--max-tokens");
  } else if (completion->content.find_first_not_of(" \t\r\n") == std::string::npos) {
    verdict = Verdict::retry(FailureKind::empty, "the output is empty");
  } else if (parsed = parse_output(plan_.kind, completion->content); !parsed.ok) {
    verdict = Verdict::retry(FailureKind::invalid_output, parsed.reason + "; the output begins \"" +
                                                              excerpt(completion->content) + "\"");
  }
  verdict.tokens_used = completion->usage.total_tokens;
  if (verdict.action == Verdict::Action::accept)
    verdict.output = Judged{std::move(*completion), std::move(parsed)};
  return verdict;
}

// A request is done for good: format its records or its failure; once every request of its line
// is done, write them all and settle the line.
void SynthRun::finish(const Job& job, const HttpResponse& response, Verdict verdict) {
  Pending& p = pending_.at(job.id.line);
  Request& request = p.requests[job.id.index];
  Totals& t = totals();
  t.requests += static_cast<uint64_t>(job.attempts);
  t.retries += static_cast<uint64_t>(job.attempts - 1);
  if (verdict.action == Verdict::Action::accept) {
    ++ok_requests_;
    Judged& judged = std::any_cast<Judged&>(verdict.output);
    t.prompt_tokens += static_cast<uint64_t>(judged.completion.usage.prompt_tokens);
    t.completion_tokens += static_cast<uint64_t>(judged.completion.usage.completion_tokens);
    if (plan_.creates_personas) {
      add_persona_records(p, job.id.index, judged, job.attempts);
    } else if (plan_.converse) {
      if (!advance_conversation(p, job, judged)) return;  // its next request is queued
    } else if (plan_.kind == OutputKind::solution) {
      add_sample(request, judged, job.attempts);
    } else if (plan_.kind == OutputKind::judge) {
      add_judgment(p, request, judged, job.attempts);
    } else {
      add_record(p, request, judged, job.attempts);
    }
  } else {
    ++failed_requests_;
    FailureRecord f;
    f.custom_id = request.custom_id;
    f.line = p.record.line;
    f.request = job.id.index;
    f.persona = p.record.persona;
    f.persona_id = persona_id(p.record);
    f.task = plan_.task;
    f.kind = to_string(verdict.kind);
    f.reason = verdict.reason;
    f.status = response.status;
    f.attempts = job.attempts;
    format_failure(f, json_);
    p.failures.push_back(json_);
    last_failure_ = verdict.reason;
    request.failure = verdict.reason;
  }
  if (--p.remaining == 0) settle(job.id.line);
}

// Every request of the line is done: write its records and failures together and finish it.
void SynthRun::settle(uint64_t line) {
  auto it = pending_.find(line);
  Pending& p = it->second;
  if (plan_.kind == OutputKind::solution) settle_solve(p);
  for (const std::string& record : p.records) sink_.write_record(record);
  for (const std::string& failure : p.failures) sink_.write_failure(failure);
  for (const std::string& below : p.below_threshold)
    sink_.write_side(SideFile::below_threshold, below);
  Totals& t = totals();
  t.records += p.records.size();
  t.failed += p.failures.size();
  t.below_threshold += p.below_threshold.size();
  bool failed = !p.failures.empty();
  watermark_.finish(line);
  pending_.erase(it);
  ++lines_sent_;
  if (journal_) journal_->add(line, sink_.state(), t);
  // A rate counts requests, not records: a persona task writes several records per request.
  uint64_t outcomes = ok_requests_ + failed_requests_;
  if (failed && options_.max_failures.exceeded(failed_requests_, outcomes, kMinOutcomesForRate))
    stop_early("too many failed requests (" + std::to_string(failed_requests_) + " of " +
               std::to_string(outcomes) + ", --max-failures; last: " + last_failure_ + ")");
}

void SynthRun::tick() {
  // The records first, then the journal entries that vouch for them: a kill -9 at any moment
  // leaves no entry whose records are not in the files.
  sink_.flush();
  if (journal_) journal_->flush();
  auto now = std::chrono::steady_clock::now();
  if (now - last_checkpoint_ >= std::chrono::duration<double>(options_.checkpoint_seconds))
    checkpoint();
  status_.update(progress());
}

// Makes everything written so far durable and records where the run stands.
void SynthRun::checkpoint() {
  last_checkpoint_ = std::chrono::steady_clock::now();
  take_position(sink_.sync());
  if (!manifest_path_.empty()) write_manifest(manifest_path_, manifest_);
  if (!manifest_path_.empty()) write_dataset_card_beside(manifest_path_, manifest_, options_);
  durable_ = manifest_.checkpoint;
  // The checkpoint holds every entry now; a crash before this clear leaves entries it skips.
  if (journal_) journal_->clear();
  // Give freed memory back: request and reply buffers of many sizes come and go, and without
  // this glibc's heap creeps up over a long run (seen as ~3 MB per million records).
  ::malloc_trim(0);
}

void SynthRun::complete() {
  take_position(sink_.close());
  manifest_.checkpoint.done_above.clear();
  // What the run read is its input from now on: lines appended while it ran are part of it.
  // The last file as far as it was read, if the reader got to it (a retry pass may stop early).
  if (!manifest_.input.empty() && !sampled_ && !options_.limit) {
    bool at_last = reader_.position().file + 1 == plan_.input_files.size();
    auto read = fingerprint_inputs(
        plan_.input_files,
        at_last ? std::optional<uint64_t>(reader_.file_raw_bytes_read()) : std::nullopt);
    if (!read.empty()) manifest_.input = std::move(read);
  }
  manifest_.complete = true;
  if (!manifest_path_.empty()) write_manifest(manifest_path_, manifest_);
  if (!manifest_path_.empty()) write_dataset_card_beside(manifest_path_, manifest_, options_);
  durable_ = manifest_.checkpoint;
  if (journal_) journal_->remove();
}

void SynthRun::take_position(WriterState writer) {
  Checkpoint& c = manifest_.checkpoint;
  c.writer = std::move(writer);
  c.next = watermark_.low();
  c.selected_below = watermark_.selected_below();
  c.done_above = watermark_.done_above();
  c.totals.seconds = start_totals_.seconds + elapsed();
  if (journal_) c.journal_seq = journal_->seq();
}

double SynthRun::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

}  // namespace personagen
