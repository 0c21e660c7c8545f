#include "synth/run_synth.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <optional>

#include "input/byte_source.h"
#include "net/batch_api.h"
#include "net/endpoint_balancer.h"
#include "net/file_limit.h"
#include "personagen/error.h"
#include "store/journal.h"
#include "store/manifest.h"
#include "store/run_dir.h"
#include "store/shard_writer.h"
#include "store/stdout_sink.h"
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

}  // namespace

SynthPlan plan_synth(const Options& options) {
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
  if (options.max_cost && (!options.price_in || !options.price_out))
    throw usage_error("--max-cost needs --price-in and --price-out (dollars per million tokens)");
  check_base_urls(options.base_urls);
  return plan;
}

namespace {

// Where the records go, decided by the output directory: a fresh run, a resume, or nothing to do.
struct Output {
  std::unique_ptr<RunDir> dir;  // none for stdout; locked while it lives
  RunStart start;
  std::unique_ptr<RecordSink> sink;  // none when the run is already complete
};

// A run begun before structured outputs sent no response_format, so --structured's default
// (auto) would make its rerun "another configuration". Unless --structured is given, such a run
// resumes as it began, without one.
void resume_as_begun(const Options& options, SynthPlan& plan) {
  if (options.structured_given || options.restart || options.output == "-" ||
      plan.extras.response_format.empty())
    return;
  std::optional<Manifest> manifest = read_manifest(options.output + "/manifest.json");
  if (!manifest) return;
  auto recorded = [](const auto& pair) { return pair.first == "response_format"; };
  if (std::any_of(manifest->config.begin(), manifest->config.end(), recorded)) return;
  plan.extras.response_format.clear();
  std::erase_if(plan.config, recorded);
  spdlog::info(
      "{}: this run began without structured outputs and goes on without them "
      "(--structured with --restart starts it over with them)",
      options.output);
}

// Phase 2, the output directory. Locks it, and on a resume keeps what the journal vouches for.
Output open_output(const Options& options, const SynthPlan& plan) {
  Output out;
  if (options.output == "-") {
    out.sink = make_stdout_sink();
    return out;
  }
  // An input that cannot be opened is refused before the directory records a run of it, so
  // that the corrected command is not refused as "another configuration".
  for (const std::string& input : plan.input_files) {
    struct stat st {};
    if (input != "-" && (::stat(input.c_str(), &st) != 0 || S_ISDIR(st.st_mode)))
      open_byte_source(input);
  }
  out.dir = std::make_unique<RunDir>(options.output);
  out.start = out.dir->prepare(options, plan.config, plan.task, plan.input_files);
  if (out.start.kind == RunStart::Kind::complete) return out;
  if (out.start.kind == RunStart::Kind::resume) {
    spdlog::info("{}: resuming {}at input line {}", options.output,
                 out.start.manifest->retry_pass ? "the --retry-failed pass " : "",
                 out.start.manifest->checkpoint.next.line);
    keep_journaled_lines(options.output, plan, options.shard_size, *out.start.manifest);
  }
  out.sink = std::make_unique<ShardWriter>(
      options.output, plan.task, options.shard_size,
      out.start.manifest ? out.start.manifest->checkpoint.writer : WriterState{});
  return out;
}

// What GET /models of the first endpoint lists, for the manifest: the models the server offered
// when the run began. Best effort and cheap (one unbilled GET, no retries, a short timeout): a
// server without the route, or a key it refuses, is logged, and the chat requests then say
// whether the configuration works.
std::vector<std::string> server_models(const Options& options, const std::string& api_key) {
  constexpr size_t kMaxModels = 500;  // a provider's catalogue; the manifest stays small
  try {
    BatchApi api({options.base_urls.front(), api_key, /*timeout_seconds=*/10, /*max_retries=*/0});
    std::vector<std::string> ids = api.list_models();
    if (ids.size() > kMaxModels) ids.resize(kMaxModels);
    if (std::find(ids.begin(), ids.end(), options.model) == ids.end())
      spdlog::info("the server does not list model \"{}\" among its {} models", options.model,
                   ids.size());
    return ids;
  } catch (const Error& e) {
    spdlog::info("{} (not recorded in the manifest)", e.what());
    return {};
  }
}

// Phase 3, the transport's configuration: every --base-url's chat completions endpoint.
TransportOptions transport_options(const Options& options, const std::string& api_key) {
  TransportOptions transport;
  for (const std::string& base : options.base_urls)
    transport.urls.push_back(chat_completions_url(base));
  transport.api_key = api_key;
  transport.timeout_seconds = options.timeout_seconds;
  transport.max_connections = static_cast<size_t>(options.concurrency);
  transport.max_reply_bytes = options.max_reply_bytes;
  return transport;
}

}  // namespace

ExitCode run_one_synth(const Options& options, const SynthContext& context, RunOutcome& outcome,
                       Transport* replay) {
  outcome.output = options.output;
  SynthPlan plan = plan_synth(options);
  TransportOptions transport = transport_options(options, context.api_key);
  if (!replay) ensure_file_limit(static_cast<size_t>(options.concurrency));
  resume_as_begun(options, plan);
  Output out = open_output(options, plan);
  if (!out.sink) {
    const Totals& t = out.start.manifest->checkpoint.totals;
    context.status.note(
        options.output + ": already complete (" + std::to_string(t.records) + " records, " +
        std::to_string(t.failed) + " failed)" +
        (t.failed ? "; --retry-failed re-requests the failures" : "; nothing to do"));
    outcome.code = t.failed ? ExitCode::some_failed : ExitCode::ok;
    outcome.totals = t;
    outcome.shards = out.start.manifest->checkpoint.writer.shards.size();
    return outcome.code;
  }

  SynthRun run(options, plan, *out.sink, std::move(out.start), out.dir ? options.output : "",
               context.status);
  if (!replay && out.dir) run.set_server_models(server_models(options, context.api_key));
  // Only what is on disk is reported: after a failed write, the last checkpoint.
  auto report = [&outcome, &run] {
    outcome.totals = run.durable_totals();
    outcome.this_run = run.durable_this_run();
    outcome.shards = run.durable_shards();
  };
  ExitCode code = ExitCode::ok;
  try {
    if (replay) {
      code = run.run(*replay, context.interrupt, /*replay=*/true);
    } else {
      std::unique_ptr<Transport> client = make_curl_transport(transport);
      code = run.run(*client, context.interrupt, /*replay=*/false);
    }
  } catch (...) {
    report();
    throw;
  }
  // The retry pass is recorded as complete; its list of lines has served.
  if (out.dir && run.retry_pass() && (code == ExitCode::ok || code == ExitCode::some_failed))
    out.dir->remove_retry_source();
  report();
  outcome.code = code;
  outcome.message = run.aborted();
  return code;
}

namespace {

// persona-to-persona: hop h is a complete run of its own in <output>/hop-<h>/, whose input is
// hop h-1's personas, for every --hops including 1. Each hop resumes like any run, so the whole
// expansion does; a finished hop is skipped on a rerun, so a rerun with a larger --hops goes on
// where the last one ended. A hop writes a single shard, so the next hop reads one file.
ExitCode run_hops(const Options& options, const SynthContext& context,
                  std::vector<RunOutcome>& hops) {
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
      h.inputs = {options.output + "/hop-" + std::to_string(hop - 1) + "/" + options.task +
                  "-00000.jsonl"};
      // The selection flags chose the seeds; every persona a hop makes goes on to the next.
      h.limit = 0;
      h.match.clear();
      h.exclude.clear();
      h.where.clear();
      h.sample = 0;
      h.part.clear();
    }
    RunOutcome& outcome = hops.emplace_back();
    ExitCode code = run_one_synth(h, context, outcome);
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

}  // namespace

// True for a task that expands personas hop by hop (persona-to-persona).
bool expands_personas(const Options& options) {
  const TaskInfo* info = options.template_file.empty() ? find_task(options.task) : nullptr;
  return info && info->kind == OutputKind::persona_list;
}

ExitCode synthesize(const Options& options, const SynthContext& context,
                    std::vector<RunOutcome>& runs) {
  if (expands_personas(options) && options.output != "-") return run_hops(options, context, runs);
  return run_one_synth(options, context, runs.emplace_back());
}

}  // namespace personagen
