#pragma once

#include <string>
#include <vector>

#include "personagen/error.h"
#include "synth/run_synth.h"

namespace personagen {

// `batch import -i RESULTS... -o DIR`: writes into DIR exactly what synth would have written for
// the export's requests, had the server given these replies: the shards, failures.jsonl (HTTP
// errors, requests the batch never ran, invalid outputs), rejects.jsonl, the manifest. It is a
// synth run of the export's options whose replies come from the result files (OpenAI's output
// and error files, or vLLM run_batch's output), found by custom_id, each judged once, so the
// parsers, records and exactly-once guarantees are synth's own.
//
// The first import is the run's main pass: a request without a result is a not_run failure.
// Every later one is a --retry-failed pass over failures.jsonl, so importing the same files again
// adds nothing, and importing the results of a resubmission (or a forgotten error file) settles
// what they answer. Before anything is written, a result whose custom_id is none of the
// export's requests is an Error naming its file and line. An interrupted import resumes from its
// checkpoint when run again with the same files.
ExitCode import_batches(const std::string& dir, const std::vector<std::string>& results,
                        const SynthContext& context, RunOutcome& outcome);

}  // namespace personagen
