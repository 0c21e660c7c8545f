#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "personagen/options.h"
#include "personagen/progress.h"
#include "store/manifest.h"

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
};

// What the app hands a synth run: where it shows progress, the interrupt level its signal
// handler raises, and the API key (never logged).
struct SynthContext {
  RunStatus& status;
  const std::atomic<int>& interrupt;
  std::string api_key;
};

// True for a task that expands personas hop by hop (persona-to-persona).
bool expands_personas(const Options& options);

// The work of `personagen synth`: one run into one output directory (or stdout), or, for a
// persona-to-persona task, one run per hop in <output>/hop-<h>/ (--hops). Appends each run's
// outcome to `runs` when it starts and fills it in as it goes, also when it throws, for the
// --summary file. Throws Error for a configuration, start-up or fatal error.
ExitCode synthesize(const Options& options, const SynthContext& context,
                    std::vector<RunOutcome>& runs);

}  // namespace personagen
