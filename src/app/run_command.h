#pragma once

#include <functional>
#include <vector>

#include "personagen/error.h"
#include "personagen/options.h"
#include "synth/run_synth.h"

namespace personagen {

// The work of a command that runs synth's machinery (synth, batch import and run): it gets the
// context and appends an outcome per run to `runs` as it starts.
using RunWork = std::function<ExitCode(const SynthContext&, std::vector<RunOutcome>&)>;

// Runs `work` within the edges such a command has: the terminal's status line, the signal guard,
// the API key (read only when `needs_key`), and the --summary file (options.summary_file) written
// on every way out, start-up errors included, so cron never reads the summary of an earlier run.
// `expansion`: the runs are the hops of a persona-to-persona expansion.
ExitCode run_with_edges(const Options& options, bool expansion, bool needs_key,
                        const RunWork& work);

}  // namespace personagen
