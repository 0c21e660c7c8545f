#include "app/batch_command.h"

#include "app/cli_flags.h"
#include "app/run_command.h"
#include "personagen/commands.h"
#include "synth/batch_export.h"
#include "synth/batch_import.h"

namespace personagen {

namespace {

void add_limit_flags(CLI::App& app, BatchFlags& b) {
  app.add_option("--batch-max-requests", b.run.limits.max_requests,
                 "Requests per batch input file, at most (OpenAI's limit: 50000)")
      ->capture_default_str()
      ->transform(in_range({.whole = true, .min = 1, .max = 50000, .show_max = true}));
  app.add_option("--batch-max-bytes", b.run.limits.max_bytes,
                 "Bytes per batch input file, at most (OpenAI's limit: 200 MB)")
      ->capture_default_str()
      ->transform(in_range({.whole = true, .min = 1, .max = 200e6, .show_max = true}));
}

void add_summary_flag(CLI::App& app, Options& o) {
  app.add_option("--summary", o.summary_file, "Write a JSON summary of the run to FILE");
}

// The directory is -o DIR or the positional DIR, whichever was given.
std::string dir_of(const Options& o, const BatchFlags& b) {
  if (!b.dir.empty() && !o.output.empty() && b.dir != o.output)
    throw usage_error("two directories given: " + b.dir + " and -o " + o.output);
  std::string dir = b.dir.empty() ? o.output : b.dir;
  if (dir.empty()) throw usage_error("the batch directory is required (-o DIR)");
  return dir;
}

}  // namespace

BatchCommands add_batch_commands(CLI::App& app, Options& o, BatchFlags& b) {
  BatchCommands c;
  c.batch = app.add_subcommand(
      "batch", "Run synth through a Batch API (OpenAI's, half the price) or vLLM's run_batch");
  c.batch->require_subcommand(1);

  c.exporting = c.batch->add_subcommand(
      "export", "Write the requests synth would send as batch input files, into -o DIR");
  add_request_flags(*c.exporting, o, /*input_required=*/false);
  c.exporting->add_option("-o,--output", o.output, "The batch directory");
  c.exporting->add_option("dir", b.dir, "With --retry-failed: the batch directory");
  c.exporting->add_flag("--retry-failed", o.retry_failed,
                        "Write only the requests that failed, expired or were never run, as the "
                        "next round's files");
  add_limit_flags(*c.exporting, b);
  c.exporting->add_flag("--dry-run", o.dry_run,
                        "Count the requests, tokens and cost range; write nothing");
  add_price_flags(*c.exporting, o);
  add_summary_flag(*c.exporting, o);

  c.importing = c.batch->add_subcommand(
      "import", "Turn batch output and error files into records, as synth would have written");
  c.importing
      ->add_option("-i,--input", b.results,
                   "Output and error files of the batches (OpenAI or vLLM run_batch)")
      ->required();
  c.importing->add_option("-o,--output", o.output, "The batch directory of the export")->required();
  add_summary_flag(*c.importing, o);

  c.running = c.batch->add_subcommand(
      "run", "Export, upload, create, poll, download and import, resubmitting what failed");
  add_request_flags(*c.running, o);
  c.running->add_option("-o,--output", o.output, "The batch directory")->required();
  add_endpoint_flags(*c.running, o);
  c.running->add_option("--poll-interval", b.run.poll_seconds, "Seconds between two polls")
      ->capture_default_str()
      ->transform(in_range({.above_min = true}));
  c.running
      ->add_option("--max-retries", b.run.max_rounds, "Rounds that resubmit what failed or expired")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<int>(0)));
  add_limit_flags(*c.running, b);
  add_summary_flag(*c.running, o);

  c.cancelling = c.batch->add_subcommand(
      "cancel", "Cancel the batches of the run in DIR that are still running");
  c.cancelling->add_option("dir", b.dir, "The batch directory");
  c.cancelling->add_option("-o,--output", o.output, "The batch directory");
  add_endpoint_flags(*c.cancelling, o);
  return c;
}

std::optional<ExitCode> run_batch_command(const BatchCommands& c, Options& o, BatchFlags& b) {
  if (!c.batch->parsed()) return std::nullopt;
  if (c.exporting->parsed()) {
    o.command = "batch export";
    if (o.dry_run && !o.retry_failed) return run_dry_run(batch_options(o));
    return run_with_edges(o, false, false, [&](const SynthContext& ctx, auto& runs) {
      RunOutcome& outcome = runs.emplace_back();
      if (o.retry_failed) {
        outcome.output = dir_of(o, b);
        export_failed(outcome.output, b.run.limits, ctx.status);
      } else {
        if (o.inputs.empty()) throw usage_error("--input is required");
        if (!b.dir.empty()) throw usage_error("DIR is for --retry-failed; use -o DIR");
        outcome.output = o.output;
        export_batches(o, b.run.limits, ctx.status);
      }
      return ExitCode::ok;
    });
  }
  if (c.importing->parsed()) {
    o.command = "batch import";
    return run_with_edges(o, false, false, [&](const SynthContext& ctx, auto& runs) {
      return import_batches(o.output, b.results, ctx, runs.emplace_back());
    });
  }
  if (c.running->parsed()) {
    o.command = "batch run";
    return run_with_edges(o, false, true, [&](const SynthContext& ctx, auto& runs) {
      return run_batches(o, b.run, ctx, runs.emplace_back());
    });
  }
  o.command = "batch cancel";
  std::string dir = dir_of(o, b);
  o.output = dir;
  return run_with_edges(o, false, true, [&](const SynthContext& ctx, auto& runs) {
    return cancel_batches(dir, o, ctx, runs.emplace_back());
  });
}

}  // namespace personagen
