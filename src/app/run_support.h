#pragma once

#include <atomic>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>

// write_file_atomic and sync_dir were declared here; shard_writer.cpp still finds sync_dir here.
#include "personagen/error.h"
#include "personagen/options.h"
#include "store/atomic_file.h"
#include "store/manifest.h"
#include "synth/run_synth.h"

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

// The API key from --api-key-file (trimmed), else $OPENAI_API_KEY (trimmed), else empty. Never
// logged. The one reader of the key: everything that needs it calls this. Throws a usage Error,
// which shows neither the key nor the file's path (the path may be the key, given in the wrong
// place), when the file cannot be read, is a directory, is empty or over 64 KiB, or when the
// key holds a space, a control character (a second line) or a non-ASCII byte.
std::string read_api_key(const Options& options);

// `text` with the API key masked as redacted() does, literal or JSON-escaped, for personagen's
// own messages: a safety net for one that quotes outside text or an argument given in the wrong
// place. A key under 8 bytes is left alone here, since it would mask parts of ordinary words;
// server replies are masked in the transport whatever the key's length. The key is read again,
// not passed around; a key that cannot be read cannot be in any message either.
std::string without_api_key(std::string_view text, const Options& options);

// `message`, a command-line parse error, with every value given on the command line (an
// argument that is not an option name, or the part of `--name=value` after "=") replaced by
// "(not shown)" where it appears as a whole word: it may be the key, pasted in the wrong place.
// Numbers are shown.
std::string without_argument_values(std::string_view message, int argc, const char* const* argv);

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
