#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "app/api_key.h"
#include "app/file_limit.h"
#include "app/run_summary.h"
#include "input/byte_source.h"
#include "net/endpoint_balancer.h"
#include "personagen/commands.h"
#include "personagen/error.h"
#include "store/journal.h"
#include "store/manifest.h"
#include "store/run_dir.h"
#include "store/shard_writer.h"
#include "synth/synth_plan.h"
#include "synth/synth_run.h"
#include "synth/tasks.h"

namespace personagen {

namespace {

// A resume keeps the lines that the journal says were written after the checkpoint, as far as
// the files hold them: a kill -9 then costs only the requests that were in flight.
void keep_journaled_lines(const std::string& dir, const SynthPlan& plan, uint64_t shard_size,
                          Manifest& manifest) {
  Checkpoint& c = manifest.checkpoint;
  std::optional<JournalRecovery> kept =
      recover_journal(dir + "/" + kJournalName, dir, plan.task, shard_size, c);
  if (!kept) return;
  double seconds = c.totals.seconds;
  c.writer = std::move(kept->writer);
  c.totals = kept->totals;
  c.totals.seconds = seconds;
  c.journal_seq = kept->seq;
  c.done_above.insert(c.done_above.end(), kept->lines.begin(), kept->lines.end());
  std::sort(c.done_above.begin(), c.done_above.end());
  spdlog::info("{}: keeping {} input lines written after the last checkpoint", dir,
               kept->lines.size());
}

// Refuses a --summary path that cannot be written before the run spends anything: finding out
// at the end would lose the summary of a whole run.
void check_summary_writable(const std::string& path, const std::string& output) {
  if (path.empty()) return;
  // A summary inside the output directory, which the run creates, is checked when it is written.
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent) &&
      parent.lexically_normal() == fs::path(output).lexically_normal())
    return;
  std::string probe = path + ".tmp";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw usage_error("--summary " + path + ": cannot write there: " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

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
  transport_options.max_reply_bytes = options.max_reply_bytes;
  ensure_file_limit(static_cast<size_t>(options.concurrency));

  // Decide between a fresh run, a resume and nothing to do.
  std::unique_ptr<RunDir> dir;
  RunStart start;
  std::unique_ptr<RecordSink> sink;
  if (options.output == "-") {
    sink = make_stdout_sink();
  } else {
    // An input that cannot be opened is refused before the directory records a run of it, so
    // that the corrected command is not refused as "another configuration".
    struct stat st {};
    if (options.input != "-" && (::stat(options.input.c_str(), &st) != 0 || S_ISDIR(st.st_mode)))
      open_byte_source(options.input);
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
    if (start.kind == RunStart::Kind::resume) {
      spdlog::info("{}: resuming {}at input line {}", options.output,
                   start.manifest->retry_pass ? "the --retry-failed pass " : "",
                   start.manifest->checkpoint.next.line);
      keep_journaled_lines(options.output, plan, options.shard_size, *start.manifest);
    }
    sink = std::make_unique<ShardWriter>(
        options.output, plan.task, options.shard_size,
        start.manifest ? start.manifest->checkpoint.writer : WriterState{});
  }

  SynthRun run(options, plan, *sink, std::move(start), dir ? options.output : "");
  // Only what is on disk is reported: after a failed write, the last checkpoint.
  auto report = [&outcome, &run] {
    outcome.totals = run.durable_totals();
    outcome.this_run = run.durable_this_run();
    outcome.shards = run.durable_shards();
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
    RunOutcome& outcome = hops.emplace_back();
    ExitCode code = run_one_synth(h, outcome);
    if (code != ExitCode::ok && code != ExitCode::some_failed) return code;
    if (code == ExitCode::some_failed) worst = code;
    if (hop < options.hops && outcome.totals && outcome.totals->records == 0) {
      // Nothing to expand: the next hop would have no input. The expansion ends here, cleanly.
      outcome.message = "hop " + std::to_string(hop) + " made no personas (" +
                        std::to_string(outcome.totals->failed) +
                        " requests failed); the expansion stops there";
      spdlog::warn("{}", outcome.message);
      return worst;
    }
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
  check_summary_writable(options.summary_file, options.output);
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
