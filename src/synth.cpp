#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "personagen/commands.h"
#include "personagen/error.h"
#include "personagen/manifest.h"
#include "personagen/output_record.h"
#include "personagen/record_reader.h"
#include "personagen/request_pool.h"
#include "personagen/shard_writer.h"
#include "personagen/status_printer.h"
#include "personagen/synth_plan.h"
#include "personagen/watermark.h"
#include "run_support.h"

namespace personagen {

namespace {

// A finished run leaves its manifest with complete = true; a rerun then has nothing to do.
constexpr const char* kManifest = "manifest.json";

// How far the reader may run ahead of the oldest unfinished line. It bounds the memory that
// resume state and the done-above list can take when one request keeps failing and retrying.
uint64_t max_read_ahead(const Options& options) {
  return std::max<uint64_t>(100000, 64 * static_cast<uint64_t>(options.concurrency));
}

// The output directory of a run: locked for the run's lifetime so two runs cannot interleave.
class OutputDir {
 public:
  explicit OutputDir(const std::string& dir) : dir_(dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create the output directory: " + ec.message());
    std::string lock = dir + "/.lock";
    fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(lock + ": cannot open: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
      throw Error(dir + ": another personagen run is using this directory");
  }
  ~OutputDir() { ::close(fd_); }
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  std::string manifest_path() const { return dir_ + "/" + kManifest; }

 private:
  std::string dir_;
  int fd_ = -1;
};

// What one request is about while it is in flight or waiting for a retry.
struct Pending {
  InputRecord record;
  std::string custom_id;
  std::string prompt;  // kept only for --format chat
  Completion completion;
  ParsedOutput parsed;
};

// The state of one synth invocation. Only the pool's thread touches it: the pool calls next(),
// judge(), finish() and tick() from its loop.
class SynthRun {
 public:
  SynthRun(const Options& options, const SynthPlan& plan, RecordSink& sink,
           std::optional<Manifest> manifest, const std::string& manifest_path)
      : options_(options),
        plan_(plan),
        builder_(plan),
        sink_(sink),
        manifest_path_(manifest_path),
        manifest_(manifest ? std::move(*manifest) : Manifest{}),
        watermark_(manifest_.checkpoint.next, manifest_.checkpoint.accepted_below,
                   manifest_.checkpoint.done_above),
        reader_(options.input, plan.reader, manifest_.checkpoint.next),
        accepted_(manifest_.checkpoint.accepted_below),
        start_totals_(manifest_.checkpoint.totals),
        printer_(stderr, is_smart_terminal(stderr)),
        status_(printer_,
                std::chrono::milliseconds(static_cast<int>(options.progress_seconds * 1000)),
                options.quiet) {
    manifest_.tool_version = PERSONAGEN_VERSION;
    manifest_.config = plan.config;
    manifest_.complete = false;
  }

  // Runs the pool to the end and returns how it ended. Checkpoints on every way out.
  ExitCode run(Transport& transport) {
    PoolOptions pool_options;
    pool_options.concurrency = static_cast<size_t>(options_.concurrency);
    pool_options.retry.max_retries = options_.max_retries;
    pool_options.grace_seconds = options_.grace_seconds;
    pool_options.seed = options_.seed;
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
      finish_status(false);
      throw Error(pool.fatal_reason() + " (progress is saved; fix this and rerun to resume)");
    }
    if (stop == RequestPool::Stop::interrupted) {
      checkpoint();
      finish_status(false);
      spdlog::warn("interrupted; rerun the same command to resume");
      return ExitCode::interrupted;
    }
    complete();
    finish_status(true);
    return totals().failed > 0 ? ExitCode::some_failed : ExitCode::ok;
  }

  const Totals& totals() const { return manifest_.checkpoint.totals; }
  Totals this_run() const {
    Totals t = totals();
    t.records -= start_totals_.records;
    t.failed -= start_totals_.failed;
    t.rejected -= start_totals_.rejected;
    t.requests -= start_totals_.requests;
    t.retries -= start_totals_.retries;
    t.prompt_tokens -= start_totals_.prompt_tokens;
    t.completion_tokens -= start_totals_.completion_tokens;
    t.seconds = elapsed();
    return t;
  }
  size_t shard_count() const { return manifest_.checkpoint.writer.shards.size(); }

 private:
  // The pool asks for the next request. Rejects and lines finished by an earlier run are
  // settled here without a request.
  bool next(Job& job) {
    while (!input_done_) {
      if (watermark_.span() >= max_read_ahead(options_)) return false;
      if (options_.limit && accepted_ >= options_.limit) {
        input_done_ = true;
        break;
      }
      std::optional<InputRecord> record = reader_.next();
      if (!record) {
        input_done_ = true;
        break;
      }
      watermark_.begin(record->line, record->offset, record->ok());
      watermark_.set_read_position(reader_.position());
      if (record->ok()) ++accepted_;
      if (watermark_.done_before(record->line)) {
        watermark_.finish(record->line);
        continue;
      }
      if (!record->ok()) {
        format_reject(*record, options_.input, line_);
        sink_.write_reject(line_);
        ++counters().rejected;
        watermark_.finish(record->line);
        continue;
      }
      builder_.build(*record);
      job.tag = record->line;
      job.body = builder_.body();
      Pending& pending = pending_[record->line];
      pending.custom_id = builder_.custom_id();
      if (plan_.format == OutputFormat::chat) pending.prompt = builder_.prompt();
      pending.record = std::move(*record);
      return true;
    }
    watermark_.set_read_position(reader_.position());
    return false;
  }

  // A 2xx reply: is it a usable completion for this task?
  Verdict judge(const Job& job, const HttpResponse& response) {
    Pending& pending = pending_.at(job.tag);
    std::string error;
    std::optional<Completion> completion = parse_completion(response.body, error);
    if (!completion) return Verdict::retry(FailureKind::bad_json, error);
    if (completion->finish_reason == "length")
      return Verdict::retry(FailureKind::truncated,
                            "the output was cut off (finish_reason \"length\")");
    if (completion->content.find_first_not_of(" \t\r\n") == std::string::npos)
      return Verdict::retry(FailureKind::empty, "the output is empty");
    ParsedOutput parsed = parse_output(plan_.kind, completion->content);
    if (!parsed.ok) return Verdict::retry(FailureKind::invalid_output, parsed.reason);
    pending.completion = std::move(*completion);
    pending.parsed = std::move(parsed);
    return Verdict::accept();
  }

  // A request is done for good: write its record or its failure, and settle its line.
  void finish(const Job& job, const HttpResponse& response, const Verdict& verdict) {
    auto it = pending_.find(job.tag);
    Pending& p = it->second;
    Totals& t = counters();
    t.requests += static_cast<uint64_t>(job.attempts);
    t.retries += static_cast<uint64_t>(job.attempts - 1);
    if (verdict.action == Verdict::Action::accept) {
      OutputRecord r;
      r.custom_id = p.custom_id;
      r.persona = p.record.persona;
      r.persona_id = p.record.id;
      r.task = plan_.task;
      r.method = to_string(plan_.method);
      r.model = plan_.model;
      r.template_id = plan_.template_id;
      r.template_hash = plan_.templ().hash();
      r.description = plan_.description;
      r.prompt = p.prompt;
      r.output = p.completion.content;
      r.parsed = p.parsed.parsed;
      r.parsed_is_tool = plan_.kind == OutputKind::tool;
      r.finish_reason = p.completion.finish_reason;
      r.usage = p.completion.usage;
      r.attempts = job.attempts;
      format_record(plan_.format, r, line_);
      sink_.write_record(line_);
      ++t.records;
      t.prompt_tokens += static_cast<uint64_t>(p.completion.usage.prompt_tokens);
      t.completion_tokens += static_cast<uint64_t>(p.completion.usage.completion_tokens);
    } else {
      FailureRecord f;
      f.custom_id = p.custom_id;
      f.line = p.record.line;
      f.persona = p.record.persona;
      f.persona_id = p.record.id;
      f.task = plan_.task;
      f.kind = to_string(verdict.kind);
      f.reason = verdict.reason;
      f.status = response.status;
      f.attempts = job.attempts;
      format_failure(f, line_);
      sink_.write_failure(line_);
      ++t.failed;
    }
    watermark_.finish(job.tag);
    pending_.erase(it);
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
    if (reader_.raw_size() > 0)
      p.fraction = std::min(1.0, static_cast<double>(reader_.raw_bytes_read()) /
                                     static_cast<double>(reader_.raw_size()));
    return p;
  }

  void finish_status(bool success) {
    bool clean = success && totals().failed == 0;
    status_.finish(progress(), options_.output == "-" ? "stdout" : options_.output + "/", !clean);
  }

  Totals& counters() { return manifest_.checkpoint.totals; }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  const Options& options_;
  const SynthPlan& plan_;
  RequestBuilder builder_;
  RecordSink& sink_;
  std::string manifest_path_;
  Manifest manifest_;
  Watermark watermark_;
  RecordReader reader_;
  uint64_t accepted_ = 0;
  bool input_done_ = false;
  Totals start_totals_;
  std::unordered_map<uint64_t, Pending> pending_;
  std::string line_;
  RequestPool* pool_ = nullptr;
  LinePrinter printer_;
  StatusPrinter status_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_checkpoint_ = started_;
};

}  // namespace

ExitCode run_synth(const Options& options) {
  // Resolve the task, templates and configuration; nothing is read or written yet.
  SynthPlan plan = make_plan(options);
  if (plan.model.empty()) throw usage_error("--model is required (or set $OPENAI_MODEL)");
  if (options.output.empty())
    throw usage_error("--output is required (a directory, or - for stdout)");
  if (options.concurrency < 1) throw usage_error("--concurrency must be at least 1");
  if (options.shard_size < 1) throw usage_error("--shard-size must be at least 1");

  TransportOptions transport_options;
  transport_options.url = chat_completions_url(options.base_url);
  transport_options.api_key = read_api_key(options);
  transport_options.timeout_seconds = options.timeout_seconds;
  transport_options.max_connections = static_cast<size_t>(options.concurrency);

  // Decide between a fresh run, a resume and nothing to do, and lock the directory.
  std::unique_ptr<OutputDir> dir;
  std::optional<Manifest> manifest;
  std::unique_ptr<RecordSink> sink;
  std::string manifest_path;
  if (options.output == "-") {
    sink = make_stdout_sink();
  } else {
    dir = std::make_unique<OutputDir>(options.output);
    // From here on the output directory is locked.
    manifest_path = dir->manifest_path();
    if (options.restart) {
      clear_output_dir(options.output, plan.task);
    } else {
      manifest = read_manifest(manifest_path);
    }
    if (manifest) {
      std::string difference = describe_config_difference(manifest->config, plan.config);
      if (!difference.empty())
        throw usage_error(options.output + ": holds a run with another configuration: " +
                          difference + " (use --restart to start over, or another --output)");
      if (manifest->complete) {
        const Totals& t = manifest->checkpoint.totals;
        if (!options.quiet)
          spdlog::info("{}: already complete ({} records, {} failed)", options.output, t.records,
                       t.failed);
        write_summary(options, "ok", t.failed ? ExitCode::some_failed : ExitCode::ok, "", &t,
                      nullptr, manifest->checkpoint.writer.shards.size());
        return t.failed ? ExitCode::some_failed : ExitCode::ok;
      }
      spdlog::info("{}: resuming at input line {}", options.output, manifest->checkpoint.next.line);
    }
    sink = std::make_unique<ShardWriter>(options.output, plan.task, options.shard_size,
                                         manifest ? manifest->checkpoint.writer : WriterState{});
  }

  SynthRun run(options, plan, *sink, std::move(manifest), manifest_path);
  std::unique_ptr<Transport> transport = make_curl_transport(transport_options);
  ExitCode code = ExitCode::ok;
  try {
    code = run.run(*transport);
  } catch (const Error& e) {
    Totals this_run = run.this_run();
    write_summary(options, "error", e.code(), e.what(), &run.totals(), &this_run,
                  run.shard_count());
    throw;
  }
  Totals this_run = run.this_run();
  std::string_view status = code == ExitCode::ok            ? "ok"
                            : code == ExitCode::some_failed ? "some_failed"
                                                            : "interrupted";
  write_summary(options, status, code, "", &run.totals(), &this_run, run.shard_count());
  return code;
}

}  // namespace personagen
