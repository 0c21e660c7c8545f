#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <unordered_map>

#include "endpoint_balancer.h"
#include "personagen/commands.h"
#include "personagen/error.h"
#include "personagen/manifest.h"
#include "personagen/output_record.h"
#include "personagen/record_reader.h"
#include "personagen/request_pool.h"
#include "personagen/shard_writer.h"
#include "personagen/status_printer.h"
#include "personagen/synth_plan.h"
#include "personagen/tasks.h"
#include "personagen/watermark.h"
#include "run_dir.h"
#include "run_support.h"

namespace personagen {

namespace {

// A rate threshold (--max-failures 5%) only counts once this many outcomes are in, so the
// first few cannot trip it by chance.
constexpr uint64_t kMinOutcomesForRate = 100;

// How far the reader may run ahead of the oldest unfinished line. It bounds the memory that
// resume state and the done-above list can take when one request keeps failing and retrying.
uint64_t max_read_ahead(const Options& options) {
  return std::max<uint64_t>(100000, 64 * static_cast<uint64_t>(options.concurrency));
}

// A job's tag is line * kMaxRequestsPerLine + the request's index within its line (one per
// text-to-persona relation).
constexpr uint64_t kMaxRequestsPerLine = 8;

// One request while it is in flight or waiting for a retry.
struct Request {
  std::string custom_id;
  std::string prompt;  // kept only for --format chat
  Completion completion;
  ParsedOutput parsed;
};

// One input line while any of its requests is unfinished. Its outputs wait here until all of
// them are done, so a line is written whole or not at all, and the line-level checkpoint stays
// exact even when a line makes several requests.
struct Pending {
  InputRecord record;
  std::vector<Request> requests;
  size_t remaining = 0;
  std::vector<std::string> records;
  std::vector<std::string> failures;
};

// The state of one synth invocation. Only the pool's thread touches it: the pool calls next(),
// judge(), finish() and tick() from its loop.
class SynthRun {
 public:
  SynthRun(const Options& options, const SynthPlan& plan, RecordSink& sink, RunStart start,
           const std::string& manifest_path)
      : options_(options),
        plan_(plan),
        provenance_{plan.task, to_string(plan.method), plan.model, plan.template_id,
                    plan.templ().hash()},
        builder_(plan),
        sink_(sink),
        manifest_path_(manifest_path),
        manifest_(start.manifest ? std::move(*start.manifest) : Manifest{}),
        retry_lines_(std::move(start.retry_lines)),
        watermark_(manifest_.checkpoint.next, manifest_.checkpoint.accepted_below,
                   manifest_.checkpoint.done_above),
        reader_(options.input, plan.reader,
                plan.selection.sample ? ReadPosition{} : manifest_.checkpoint.next),
        selection_(plan.selection),
        accepted_(manifest_.checkpoint.accepted_below),
        start_totals_(manifest_.checkpoint.totals),
        printer_(stderr, is_smart_terminal(stderr)),
        status_(printer_,
                std::chrono::milliseconds(static_cast<int>(options.progress_seconds * 1000)),
                options.quiet) {
    manifest_.tool_version = PERSONAGEN_VERSION;
    manifest_.config = plan.config;
    manifest_.complete = false;
    // A sample depends on the whole input, so it is drawn again on every run (the same for the
    // same seed); lines before the checkpoint are then skipped.
    if (selection_.sample() > 0) sampled_ = read_sample(reader_, selection_);
  }

  // Why the run stopped early on its own (--max-failures), or empty.
  const std::string& aborted() const { return aborted_; }

  // Runs the pool to the end and returns how it ended. Checkpoints on every way out.
  ExitCode run(Transport& transport) {
    PoolOptions pool_options;
    pool_options.concurrency = static_cast<size_t>(options_.concurrency);
    pool_options.retry.max_retries = options_.max_retries;
    pool_options.grace_seconds = options_.grace_seconds;
    pool_options.seed = options_.seed;
    pool_options.requests_per_minute = options_.rpm;
    pool_options.tokens_per_minute = options_.tpm;
    RequestPool pool(transport, pool_options);
    pool_ = &pool;

    RequestPool::Hooks hooks;
    hooks.next = [this](Job& job) { return next(job); };
    hooks.judge = [this](const Job& job, const HttpResponse& r) { return judge(job, r); };
    hooks.finish = [this](const Job& job, const HttpResponse& r, const Verdict& v) {
      finish(job, r, v);
    };
    hooks.tick = [this] { tick(); };

    SignalGuard signals;
    RequestPool::Stop stop = pool.run(hooks, signals.level());
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
        spdlog::error("{}; stopped early, rerun the same command to resume", aborted_);
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
      spdlog::warn(
          "{}: {}", options_.input,
          lines_read_ > 0 ? "no persona passed the selection" : "the input has no records");
    Totals run = this_run();
    bool too_many_rejects =
        options_.max_rejects.exceeded(run.rejected, lines_read_, /*min_total=*/0);
    finish_status(!too_many_rejects);
    if (too_many_rejects) {
      aborted_ = "too many rejected input lines (" + std::to_string(run.rejected) + " of " +
                 std::to_string(lines_read_) + ", --max-rejects)";
      spdlog::error("{}; see rejects.jsonl", aborted_);
      return ExitCode::aborted;
    }
    return totals().failed > 0 ? ExitCode::some_failed : ExitCode::ok;
  }

  bool retry_pass() const { return manifest_.retry_pass; }

  const Totals& totals() const { return manifest_.checkpoint.totals; }
  Totals this_run() const {
    Totals t = totals();
    t -= start_totals_;
    t.seconds = elapsed();
    return t;
  }
  size_t shard_count() const { return manifest_.checkpoint.writer.shards.size(); }

 private:
  // The pool asks for the next request. Rejects and lines finished by an earlier run are
  // settled here without a request.
  bool next(Job& job) {
    while (ready_.empty() && !input_done_) {
      if (watermark_.span() >= max_read_ahead(options_)) return false;
      if (!retry_pass() && options_.limit && accepted_ >= options_.limit) {
        input_done_ = true;
        break;
      }
      std::optional<InputRecord> record;
      try {
        record = read();
      } catch (const Error& e) {
        // A corrupt or unreadable input stops the reading, not the requests already made:
        // they finish, the checkpoint keeps them, and the error is reported after that.
        input_error_ = e;
      }
      if (!record) {
        input_done_ = true;
        break;
      }
      ++lines_read_;
      watermark_.begin(record->line, record->offset, record->ok());
      watermark_.set_read_position(read_position(*record));
      if (record->ok()) ++accepted_;
      if (watermark_.done_before(record->line) || !wanted(*record) ||
          (record->ok() && !selection_.selected(*record))) {
        watermark_.finish(record->line);
        continue;
      }
      if (!record->ok()) {
        format_reject(*record, options_.input, line_);
        sink_.write_reject(line_);
        ++counters().rejected;
        watermark_.finish(record->line);
        Totals run = this_run();
        if (options_.max_rejects.exceeded(run.rejected, lines_read_, kMinOutcomesForRate))
          stop_early("too many rejected input lines (" + std::to_string(run.rejected) + " of " +
                     std::to_string(lines_read_) + ", --max-rejects)");
        continue;
      }
      Pending& pending = pending_[record->line];
      pending.requests.resize(plan_.relations.size());
      pending.remaining = plan_.relations.size();
      for (size_t sub = 0; sub < plan_.relations.size(); ++sub) {
        builder_.build(*record, sub);
        Job ready;
        ready.tag = record->line * kMaxRequestsPerLine + sub;
        ready.body = builder_.body();
        ready.estimated_tokens = estimate_tokens(ready.body);
        ready_.push_back(std::move(ready));
        pending.requests[sub].custom_id = builder_.custom_id();
        if (plan_.format == OutputFormat::chat) pending.requests[sub].prompt = builder_.prompt();
      }
      pending.record = std::move(*record);
      break;
    }
    if (!ready_.empty()) {
      job = std::move(ready_.front());
      ready_.pop_front();
      return true;
    }
    if (!sampled_) watermark_.set_read_position(reader_.position());
    return false;
  }

  // The next input line: from the reader, or from the sample drawn at start-up.
  std::optional<InputRecord> read() {
    if (!sampled_) return reader_.next();
    while (sample_next_ < sampled_->size()) {
      InputRecord& record = (*sampled_)[sample_next_++];
      if (record.line >= manifest_start_line_) return std::move(record);
    }
    return std::nullopt;
  }
  ReadPosition read_position(const InputRecord& record) const {
    // A sample is never resumed by seeking, so only the line number matters.
    return sampled_ ? ReadPosition{record.line + 1, 0} : reader_.position();
  }

  // In a retry pass only the lines listed in failures.retry.jsonl are requested again; the
  // rest of the input, rejects included, is already settled.
  bool wanted(const InputRecord& record) {
    if (!retry_pass()) return true;
    if (!retry_lines_.empty() && record.line > retry_lines_.back()) input_done_ = true;
    return record.ok() && std::binary_search(retry_lines_.begin(), retry_lines_.end(), record.line);
  }

  // What a request may cost against --tpm before its reply says: the prompt at about four
  // bytes a token, plus the completion it may produce. usage corrects it afterwards.
  uint64_t estimate_tokens(const std::string& body) const {
    uint64_t completion =
        plan_.sampling.max_tokens ? static_cast<uint64_t>(*plan_.sampling.max_tokens) : 512;
    return body.size() / 4 + completion;
  }

  void stop_early(std::string why) {
    if (!aborted_.empty()) return;
    aborted_ = std::move(why);
    if (pool_) pool_->request_stop(1);
  }

  // A 2xx reply: is it a usable completion for this task?
  Verdict judge(const Job& job, const HttpResponse& response) {
    Request& request =
        pending_.at(job.tag / kMaxRequestsPerLine).requests[job.tag % kMaxRequestsPerLine];
    std::string error;
    std::optional<Completion> completion = parse_completion(response.body, error);
    if (!completion) return Verdict::retry(FailureKind::bad_json, error);
    Verdict verdict = Verdict::accept();
    if (completion->finish_reason == "length") {
      verdict = Verdict::retry(FailureKind::truncated,
                               "the output was cut off (finish_reason \"length\")");
    } else if (completion->content.find_first_not_of(" \t\r\n") == std::string::npos) {
      verdict = Verdict::retry(FailureKind::empty, "the output is empty");
    } else if (ParsedOutput parsed = parse_output(plan_.kind, completion->content); !parsed.ok) {
      verdict = Verdict::retry(FailureKind::invalid_output, parsed.reason);
    } else {
      request.parsed = std::move(parsed);
    }
    verdict.tokens_used = completion->usage.total_tokens;
    if (verdict.action == Verdict::Action::accept) request.completion = std::move(*completion);
    return verdict;
  }

  // A request is done for good: format its records or its failure; once every request of its
  // line is done, write them all and settle the line.
  void finish(const Job& job, const HttpResponse& response, const Verdict& verdict) {
    uint64_t line = job.tag / kMaxRequestsPerLine;
    size_t sub = job.tag % kMaxRequestsPerLine;
    auto it = pending_.find(line);
    Pending& p = it->second;
    Request& request = p.requests[sub];
    Totals& t = counters();
    t.requests += static_cast<uint64_t>(job.attempts);
    t.retries += static_cast<uint64_t>(job.attempts - 1);
    if (verdict.action == Verdict::Action::accept) {
      if (plan_.creates_personas) {
        add_persona_records(p, sub, job.attempts);
      } else {
        add_record(p, request, job.attempts);
      }
      t.prompt_tokens += static_cast<uint64_t>(request.completion.usage.prompt_tokens);
      t.completion_tokens += static_cast<uint64_t>(request.completion.usage.completion_tokens);
    } else {
      FailureRecord f;
      f.custom_id = request.custom_id;
      f.line = p.record.line;
      f.persona = p.record.persona;
      f.persona_id = persona_id(p.record);
      f.task = plan_.task;
      f.kind = to_string(verdict.kind);
      f.reason = verdict.reason;
      f.status = response.status;
      f.attempts = job.attempts;
      format_failure(f, line_);
      p.failures.push_back(line_);
      last_failure_ = verdict.reason;
    }
    if (--p.remaining > 0) return;

    for (const std::string& record : p.records) sink_.write_record(record);
    for (const std::string& failure : p.failures) sink_.write_failure(failure);
    t.records += p.records.size();
    t.failed += p.failures.size();
    bool failed = !p.failures.empty();
    watermark_.finish(line);
    pending_.erase(it);
    Totals run = this_run();
    if (failed &&
        options_.max_failures.exceeded(run.failed, run.records + run.failed, kMinOutcomesForRate))
      stop_early("too many failed requests (" + std::to_string(run.failed) + " of " +
                 std::to_string(run.records + run.failed) +
                 ", --max-failures; last: " + last_failure_ + ")");
  }

  // The input's own id; for persona records (from text-to-persona or persona-to-persona),
  // their custom_id.
  static std::string_view persona_id(const InputRecord& record) {
    if (!record.id.empty()) return record.id;
    for (const auto& [name, value] : record.fields)
      if (name == "custom_id") return value;
    return {};
  }

  void add_record(Pending& p, const Request& request, int attempts) {
    OutputRecord r;
    r.custom_id = request.custom_id;
    r.persona = p.record.persona;
    r.persona_id = persona_id(p.record);
    r.provenance = provenance_;
    r.description = plan_.description;
    r.prompt = request.prompt;
    r.output = request.completion.content;
    r.parsed = request.parsed.parsed;
    r.parsed_is_tool = plan_.kind == OutputKind::tool;
    r.finish_reason = request.completion.finish_reason;
    r.usage = request.completion.usage;
    r.attempts = attempts;
    format_record(plan_.format, r, line_);
    p.records.push_back(line_);
  }

  // text-to-persona and persona-to-persona write one persona record per persona created, each
  // a valid input for synth, render and dedup.
  void add_persona_records(Pending& p, size_t sub, int attempts) {
    const Request& request = p.requests[sub];
    const std::vector<std::string>& personas = request.parsed.personas;
    std::string_view parent_id = p.record.id;
    uint64_t parent_hop = 0;
    for (const auto& [name, value] : p.record.fields) {
      if (name == "custom_id") parent_id = value;
      if (name == "hop") parent_hop = std::strtoull(value.c_str(), nullptr, 10);
    }
    for (size_t i = 0; i < personas.size(); ++i) {
      PersonaRecord r;
      std::string custom_id = request.custom_id + "-" + std::to_string(i);
      r.persona = personas[i];
      r.source = parent_id;
      r.relation =
          plan_.kind == OutputKind::persona ? std::string_view(plan_.relations[sub]) : "related";
      r.hop = plan_.kind == OutputKind::persona ? 0 : parent_hop + 1;
      r.custom_id = custom_id;
      r.input = p.record.persona;
      r.provenance = provenance_;
      r.finish_reason = request.completion.finish_reason;
      r.usage = request.completion.usage;
      r.attempts = attempts;
      format_persona_record(r, line_);
      p.records.push_back(line_);
    }
  }

  void tick() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_checkpoint_ >= std::chrono::duration<double>(options_.checkpoint_seconds))
      checkpoint();
    status_.update(progress());
  }

  // Makes everything written so far durable and records where the run stands.
  void checkpoint() {
    last_checkpoint_ = std::chrono::steady_clock::now();
    Checkpoint& c = manifest_.checkpoint;
    c.writer = sink_.sync();
    c.next = watermark_.low();
    c.accepted_below = watermark_.accepted_below();
    c.done_above = watermark_.done_above();
    c.totals.seconds = start_totals_.seconds + elapsed();
    if (!manifest_path_.empty()) write_manifest(manifest_path_, manifest_);
    // Give freed memory back: request and reply buffers of many sizes come and go, and
    // without this glibc's heap creeps up over a long run (seen as ~3 MB per million records).
    ::malloc_trim(0);
  }

  void complete() {
    Checkpoint& c = manifest_.checkpoint;
    c.writer = sink_.close();
    c.next = watermark_.low();
    c.accepted_below = watermark_.accepted_below();
    c.done_above.clear();
    c.totals.seconds = start_totals_.seconds + elapsed();
    manifest_.complete = true;
    if (!manifest_path_.empty()) write_manifest(manifest_path_, manifest_);
  }

  Progress progress() const {
    Totals run = this_run();
    Progress p;
    p.elapsed_seconds = run.seconds;
    p.done = run.records;
    p.failed = run.failed;
    p.rejected = run.rejected;
    p.in_flight = pool_ ? pool_->in_flight() : 0;
    p.waiting = pool_ ? pool_->waiting() : 0;
    p.retries = pool_ ? pool_->retries() : run.retries;
    p.prompt_tokens = run.prompt_tokens;
    p.completion_tokens = run.completion_tokens;
    if (options_.price_in || options_.price_out) {
      p.cost = (static_cast<double>(run.prompt_tokens) * options_.price_in.value_or(0) +
                static_cast<double>(run.completion_tokens) * options_.price_out.value_or(0)) /
               1e6;
    }
    if (reader_.raw_size() > 0) {
      // The reader fetches the file in large chunks, so for plain input the offset of the next
      // line is the truer measure; for compressed input (whose offsets count decompressed
      // bytes) the compressed bytes read are.
      double consumed =
          static_cast<double>(std::min(reader_.position().offset, reader_.raw_bytes_read()));
      p.fraction = std::min(1.0, consumed / static_cast<double>(reader_.raw_size()));
    }
    return p;
  }

  void finish_status(bool success) {
    bool clean = success && totals().failed == 0;
    status_.finish(progress(), output_name(), !clean);
  }

  // The run is about to stop with an error: the error is the one line a quiet run prints.
  void finish_status_before_error() { status_.finish(progress(), output_name(), false); }

  std::string output_name() const {
    return options_.output == "-" ? "stdout" : options_.output + "/";
  }

  Totals& counters() { return manifest_.checkpoint.totals; }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  const Options& options_;
  const SynthPlan& plan_;
  Provenance provenance_;  // of every record of this run
  RequestBuilder builder_;
  RecordSink& sink_;
  std::string manifest_path_;
  Manifest manifest_;
  std::vector<uint64_t> retry_lines_;  // a retry pass's lines, sorted
  Watermark watermark_;
  RecordReader reader_;
  Selection selection_;
  std::optional<std::vector<InputRecord>> sampled_;
  size_t sample_next_ = 0;
  uint64_t manifest_start_line_ = manifest_.checkpoint.next.line;
  uint64_t accepted_ = 0;
  uint64_t lines_read_ = 0;  // this invocation
  bool input_done_ = false;
  std::string aborted_;
  std::optional<Error> input_error_;
  Totals start_totals_;
  std::unordered_map<uint64_t, Pending> pending_;  // by input line
  std::deque<Job> ready_;  // built for the line just read, not yet handed to the pool
  std::string last_failure_;
  std::string line_;
  RequestPool* pool_ = nullptr;
  LinePrinter printer_;
  StatusPrinter status_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_checkpoint_ = started_;
};

}  // namespace

namespace {

// One complete run into one output directory, or to stdout. Fills in `outcome` as it goes, for
// the --summary file, and throws Error for a configuration, start-up or fatal error.
ExitCode run_one_synth(const Options& options, RunOutcome& outcome) {
  outcome.output = options.output;
  // Resolve the task, templates and configuration; nothing is read or written yet.
  SynthPlan plan = make_plan(options);
  if (plan.model.empty()) throw usage_error("--model is required (or set $OPENAI_MODEL)");
  if (options.output.empty())
    throw usage_error("--output is required (a directory, or - for stdout)");
  if (options.concurrency < 1) throw usage_error("--concurrency must be at least 1");
  if (options.shard_size < 1) throw usage_error("--shard-size must be at least 1");
  if (options.output == "-" && (options.restart || options.retry_failed))
    throw usage_error("--restart and --retry-failed need an output directory, not -o -");
  if (options.output == "-" && options.hops > 1)
    throw usage_error("--hops needs an output directory, not -o -");

  TransportOptions transport_options;
  check_base_urls(options.base_urls);
  for (const std::string& base : options.base_urls)
    transport_options.urls.push_back(chat_completions_url(base));
  transport_options.api_key = read_api_key(options);
  transport_options.timeout_seconds = options.timeout_seconds;
  transport_options.max_connections = static_cast<size_t>(options.concurrency);
  ensure_file_limit(static_cast<size_t>(options.concurrency));

  // Decide between a fresh run, a resume and nothing to do.
  std::unique_ptr<RunDir> dir;
  RunStart start;
  std::unique_ptr<RecordSink> sink;
  if (options.output == "-") {
    sink = make_stdout_sink();
  } else {
    dir = std::make_unique<RunDir>(options.output);
    // From here on the output directory is locked.
    start = dir->prepare(options, plan.config, plan.task);
    if (start.kind == RunStart::Kind::complete) {
      const Totals& t = start.manifest->checkpoint.totals;
      if (!options.quiet)
        std::fprintf(stderr, "personagen: %s: already complete (%llu records, %llu failed)%s\n",
                     options.output.c_str(), static_cast<unsigned long long>(t.records),
                     static_cast<unsigned long long>(t.failed),
                     t.failed ? "; --retry-failed re-requests the failures" : "; nothing to do");
      outcome.code = t.failed ? ExitCode::some_failed : ExitCode::ok;
      outcome.totals = t;
      outcome.shards = start.manifest->checkpoint.writer.shards.size();
      return outcome.code;
    }
    if (start.kind == RunStart::Kind::resume)
      spdlog::info("{}: resuming {}at input line {}", options.output,
                   start.manifest->retry_pass ? "the --retry-failed pass " : "",
                   start.manifest->checkpoint.next.line);
    sink = std::make_unique<ShardWriter>(
        options.output, plan.task, options.shard_size,
        start.manifest ? start.manifest->checkpoint.writer : WriterState{});
  }

  std::string manifest_path = dir ? dir->manifest_path() : "";
  SynthRun run(options, plan, *sink, std::move(start), manifest_path);
  auto report = [&outcome, &run] {
    outcome.totals = run.totals();
    outcome.this_run = run.this_run();
    outcome.shards = run.shard_count();
  };
  ExitCode code = ExitCode::ok;
  try {
    std::unique_ptr<Transport> transport = make_curl_transport(transport_options);
    code = run.run(*transport);
  } catch (...) {
    report();
    throw;
  }
  // The retry pass is recorded as complete; its list of lines has served.
  if (dir && run.retry_pass() && (code == ExitCode::ok || code == ExitCode::some_failed))
    dir->remove_retry_source();
  report();
  outcome.code = code;
  outcome.message = run.aborted();
  return code;
}

// True for a task that expands personas hop by hop (persona-to-persona).
bool expands_personas(const Options& options) {
  const TaskInfo* info = options.template_file.empty() ? find_task(options.task) : nullptr;
  return info && info->kind == OutputKind::persona_list;
}

// persona-to-persona: hop h is a complete run of its own in <output>/hop-<h>/, whose input is
// hop h-1's personas, for every --hops including 1. Each hop resumes like any run, so the whole
// expansion does; a finished hop is skipped on a rerun, so a rerun with a larger --hops goes on
// where the last one ended. A hop writes a single shard, so the next hop reads one file.
ExitCode run_hops(const Options& options, std::vector<RunOutcome>& hops) {
  if (options.hops < 1 || options.hops > 6) throw usage_error("--hops must be 1 to 6");
  if (std::filesystem::exists(options.output + "/manifest.json"))
    throw usage_error(options.output +
                      ": holds a persona-to-persona run in the single-hop layout of an earlier "
                      "personagen; move its files into " +
                      options.output + "/hop-1/ to resume or extend it");
  // A hop's options, and so the configuration its manifest records, do not depend on --hops:
  // a rerun with more hops finds the hops already done unchanged and skips them.
  Options h = options;
  h.shard_size = std::numeric_limits<uint64_t>::max();
  ExitCode worst = ExitCode::ok;
  for (int hop = 1; hop <= options.hops; ++hop) {
    h.output = options.output + "/hop-" + std::to_string(hop);
    if (hop > 1) {
      h.input =
          options.output + "/hop-" + std::to_string(hop - 1) + "/" + options.task + "-00000.jsonl";
      // The selection flags chose the seeds; every persona a hop makes goes on to the next.
      h.limit = 0;
      h.match.clear();
      h.exclude.clear();
      h.where.clear();
      h.sample = 0;
      h.part.clear();
    }
    ExitCode code = run_one_synth(h, hops.emplace_back());
    if (code != ExitCode::ok && code != ExitCode::some_failed) return code;
    if (code == ExitCode::some_failed) worst = code;
  }
  return worst;
}

// Writes the --summary file on the way out of a command that failed, without hiding the error:
// a summary that cannot be written is logged instead.
void write_error_summary(const Options& options, ExitCode code, std::string_view message,
                         std::vector<RunOutcome>& runs, bool expansion) {
  if (!runs.empty()) {
    runs.back().code = code;
    runs.back().message = message;
  }
  try {
    write_summary(options, code, message, runs, expansion);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
  }
}

}  // namespace

ExitCode run_synth(const Options& options) {
  // Every way out writes the --summary file, start-up errors included, so cron never reads the
  // summary of an earlier run. Only a command line that could not be parsed leaves it alone.
  bool expansion = expands_personas(options) && options.output != "-";
  std::vector<RunOutcome> runs;
  ExitCode code = ExitCode::ok;
  try {
    code = expansion ? run_hops(options, runs) : run_one_synth(options, runs.emplace_back());
  } catch (const Error& e) {
    write_error_summary(options, e.code(), e.what(), runs, expansion);
    throw;
  } catch (const std::exception& e) {
    write_error_summary(options, ExitCode::error, e.what(), runs, expansion);
    throw;
  }
  write_summary(options, code, runs.back().message, runs, expansion);
  return code;
}

}  // namespace personagen
