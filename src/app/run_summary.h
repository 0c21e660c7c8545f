#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "personagen/error.h"
#include "personagen/options.h"
#include "store/manifest.h"
#include "synth/run_synth.h"

namespace personagen {

// The summary's "status" for an exit code: "ok", "some_failed", "aborted", "interrupted" or
// "error".
std::string_view summary_status(ExitCode code);

// Writes the --summary file, if one was asked for, for a command that ends with `code` and
// `message` (why it stopped, or empty). A single run is `runs[0]`; an expansion is described as a
// whole (its totals summed over `runs`, one per hop reached, and the first hop that did not end
// ok), followed by each hop. The API key never appears in it. Throws Error naming the file if it
// cannot be written.
void write_summary(const Options& options, ExitCode code, std::string_view message,
                   std::span<const RunOutcome> runs, bool expansion);

// The --summary file: one JSON object for cron and scripts to check.
struct RunSummary {
  std::string_view status;  // "ok", "some_failed", "aborted", "interrupted", "error"
  int exit_code = 0;
  std::string_view message;          // why the run stopped, if it did not finish
  std::string_view output;           // the output directory, or "-"
  const Totals* totals = nullptr;    // all runs into this directory
  const Totals* this_run = nullptr;  // this invocation only
  size_t shards = 0;
  // A persona-to-persona expansion: each hop reached, in order, written as a "hops" array whose
  // entries have the fields above plus "hop" (1, 2, ...). The fields above then describe the
  // whole expansion. Empty for a single run, and then no "hops" is written.
  std::span<const RunSummary> hops;
  int failed_hop = 0;
  // batch run: the batches, written as a "batches" array when not empty.
  std::span<const RunOutcome::Batch>
      batches;  // the first hop that did not end "ok", written as "failed_hop" if not 0
  // The API key: every occurrence in `message` is written as "***", so a server that echoes the
  // key in an error cannot put it in the file.
  std::string_view secret;
};

// `summary` as the text of the --summary file: one JSON object and a newline. Never throws
// except for lack of memory.
std::string format_summary_json(const RunSummary& summary);

}  // namespace personagen
