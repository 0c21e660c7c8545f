#pragma once

#include <atomic>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "personagen/error.h"
#include "personagen/manifest.h"
#include "personagen/options.h"

namespace personagen {

// Counts SIGINT and SIGTERM while alive: level 1 asks the run to wind down, level 2 to stop now.
// Restores the previous handlers when it goes out of scope.
class SignalGuard {
 public:
  SignalGuard();
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  const std::atomic<int>& level() const;
};

// True when `out` is a terminal that can redraw a line (not TERM=dumb).
bool is_smart_terminal(FILE* out);

// The API key from --api-key-file (trimmed), else $OPENAI_API_KEY, else empty. Never logged.
// Throws a usage Error naming the file if it cannot be read.
std::string read_api_key(const Options& options);

// `text` with every occurrence of the API key replaced by "***", for messages that carry a
// server's words: a server may quote the key it was given. The key is read again, not passed
// around; a key that cannot be read cannot be in any message either.
std::string without_api_key(std::string_view text, const Options& options);

// Raises the soft limit on open files so `connections` sockets fit, up to the hard limit.
// Warns when the hard limit is too low.
void ensure_file_limit(size_t connections);

// Writes `content` to `path` atomically and durably: a .tmp file, fsync, rename, fsync of the
// directory. A crash at any point leaves either the old file or the new one, and once it returns
// the new one stays. Throws Error naming the file.
void write_file_atomic(const std::string& path, std::string_view content);

// Makes the creates, renames and removals in `dir` durable: they are not until the directory
// itself is synced. Throws Error naming the directory.
void sync_dir(const std::string& dir);

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

}  // namespace personagen
