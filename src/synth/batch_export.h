#pragma once

#include <cstdint>
#include <string>

#include "personagen/options.h"
#include "personagen/progress.h"
#include "store/batch_state.h"

namespace personagen {

// Where a requests file is cut: OpenAI's limits per batch input file, or lower.
struct BatchLimits {
  uint64_t max_requests = 50000;
  uint64_t max_bytes = 200'000'000;
};

// `options` as a batch export records them, or a usage Error: converse (each turn needs the reply
// before it), --hops above 1 (each hop reads the one before), stdin (an import reads the input
// again) and -o - are refused. Paths become absolute, so an import may run from anywhere.
Options batch_options(Options options);

// `batch export`: the requests synth would send for `options`, byte for byte (custom_id and
// body), as batch input lines in requests-00000.jsonl, requests-00001.jsonl, ... of
// options.output, each cut at `limits`, then batch.json. The directory is also the run's output
// directory: its manifest records the configuration and the inputs as synth's would, so the
// import resumes, and refuses a changed input, like synth. A finished export is not written
// again; an interrupted one is done again from the start. Returns the state.
BatchState export_batches(const Options& options, const BatchLimits& limits, RunStatus& status);

// `batch export --retry-failed DIR`: the requests of failures.jsonl (errors, expired or never
// run, invalid output) as the next round's files, requests-r<round>-00000.jsonl, ..., recorded in
// batch.json. Returns the state; no new file when nothing failed. Refused while an import into
// DIR is unfinished, and when the last round's results were not imported yet.
BatchState export_failed(const std::string& dir, const BatchLimits& limits, RunStatus& status);

}  // namespace personagen
