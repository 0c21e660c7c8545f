#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "personagen/http_transport.h"
#include "personagen/options.h"
#include "personagen/progress.h"
#include "store/manifest.h"
#include "synth/synth_plan.h"

namespace personagen {

// What one run, or one hop of a persona-to-persona expansion, reports in the --summary file. It
// is filled in as the run goes, so a run that fails part-way reports what was known by then.
struct RunOutcome {
  std::string output;  // the run's output directory, or "-"
  ExitCode code = ExitCode::ok;
  std::string message;             // why it stopped, if it did not finish
  std::optional<Totals> totals;    // all runs into `output`, once its manifest is known
  std::optional<Totals> this_run;  // this invocation only, once it started
  size_t shards = 0;
  // batch run: each requests file's batch and its last known state.
  struct Batch {
    std::string file, batch_id, status;
    uint64_t requests = 0, completed = 0, failed = 0;
  };
  std::vector<Batch> batches;
};

// What the app hands a synth run: where it shows progress, the interrupt level its signal
// handler raises, and the API key (never logged).
struct SynthContext {
  RunStatus& status;
  const std::atomic<int>& interrupt;
  std::string api_key;
};

// One complete run into one output directory, or to stdout, in phases: plan, output directory,
// transport, run, report. Fills in `outcome` as it goes, for the --summary file, and throws
// Error for a configuration, start-up or fatal error. With `replay`, the replies come from that
// transport (a batch's results) and are judged once each: no retries, no slow start.
ExitCode run_one_synth(const Options& options, const SynthContext& context, RunOutcome& outcome,
                       Transport* replay = nullptr);

// Phase 1 of a run: the plan, with every flag synth needs checked (the model, the output, the
// endpoints, --max-cost's prices). Nothing is read or written yet. --dry-run stops after it.
SynthPlan plan_synth(const Options& options);

// True for a task that expands personas hop by hop (persona-to-persona).
bool expands_personas(const Options& options);

// The work of `personagen synth`: one run into one output directory (or stdout), or, for a
// persona-to-persona task, one run per hop in <output>/hop-<h>/ (--hops). Appends each run's
// outcome to `runs` when it starts and fills it in as it goes, also when it throws, for the
// --summary file. Throws Error for a configuration, start-up or fatal error.
ExitCode synthesize(const Options& options, const SynthContext& context,
                    std::vector<RunOutcome>& runs);

}  // namespace personagen
