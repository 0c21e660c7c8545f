#pragma once

#include <string>

#include "personagen/error.h"
#include "personagen/options.h"
#include "synth/batch_export.h"
#include "synth/run_synth.h"

namespace personagen {

struct BatchRunOptions {
  BatchLimits limits;
  double poll_seconds = 60;  // between two looks at the batches
  // Resubmissions of what failed or expired, after the first round.
  int max_rounds = 5;
};

// `batch run`: the whole round trip against a server with the Files and Batches API
// (options.base_urls.front(), the context's key): export (batch_export), upload each requests
// file, create its batch, poll them all with a progress note, download the output and error
// files, import them (import_batches), then export what failed or expired and go again, up to
// `max_rounds` more rounds. Every step is recorded in batch.json as the server answers (and
// before a step that costs is sent), so a rerun after a crash, kill -9 or reboot resumes polling
// the same batches, and an upload or batch whose answer was lost is found on the server by its
// name or metadata instead of being made twice. Returns like synth; interrupted while polling
// leaves the batches running (rerun to resume). Throws Error when a batch fails validation,
// with the server's errors in the message.
ExitCode run_batches(const Options& options, const BatchRunOptions& run,
                     const SynthContext& context, RunOutcome& outcome);

// `batch cancel DIR`: asks the server to cancel every batch of the run that has not ended, and
// records that the run is cancelled: no later `batch run` creates or resubmits a batch of it, but
// it (or `batch import`) imports what finished before the cancel.
ExitCode cancel_batches(const std::string& dir, const Options& endpoint,
                        const SynthContext& context, RunOutcome& outcome);

}  // namespace personagen
