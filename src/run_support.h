#pragma once

#include <atomic>
#include <cstdio>
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

// Writes the --summary file, if one was asked for.
void write_summary(const Options& options, std::string_view status, ExitCode code,
                   std::string_view message, const Totals* totals, const Totals* this_run,
                   size_t shards);

}  // namespace personagen
