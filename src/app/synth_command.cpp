// `personagen synth`'s edges: the terminal, the signals, the API key and the --summary file.
// The work itself is synthesize() (src/synth/run_synth.cpp).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "app/api_key.h"
#include "app/run_command.h"
#include "app/run_summary.h"
#include "app/status_printer.h"
#include "app/terminal.h"
#include "personagen/commands.h"
#include "synth/run_synth.h"
#include "util/signal_guard.h"

namespace personagen {

namespace {

// Refuses a --summary path that cannot be written before the run spends anything: finding out
// at the end would lose the summary of a whole run.
void check_summary_writable(const std::string& path, const std::string& output) {
  if (path.empty()) return;
  // A summary inside the output directory, which the run creates, is checked when it is written.
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent) &&
      parent.lexically_normal() == fs::path(output).lexically_normal())
    return;
  std::string probe = path + ".tmp";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw usage_error("--summary " + path + ": cannot write there: " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

// Writes the --summary file on the way out of a command that failed, without hiding the error:
// a summary that cannot be written is logged instead.
void write_error_summary(const Options& options, ExitCode code, std::string_view message,
                         std::vector<RunOutcome>& runs, bool expansion) {
  if (!runs.empty()) {
    runs.back().code = code;
    runs.back().message = message;
  }
  try {
    write_summary(options, code, message, runs, expansion);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
  }
}

}  // namespace

ExitCode run_with_edges(const Options& options, bool expansion, bool needs_key,
                        const RunWork& work) {
  check_summary_writable(options.summary_file, options.output);
  std::vector<RunOutcome> runs;
  ExitCode code = ExitCode::ok;
  try {
    LinePrinter printer(stderr, is_smart_terminal(stderr));
    StatusPrinter status(
        printer, std::chrono::milliseconds(static_cast<int>(options.progress_seconds * 1000)),
        options.quiet);
    SignalGuard signals;
    SynthContext context{status, signals.level(), needs_key ? read_api_key(options) : ""};
    code = work(context, runs);
  } catch (const Error& e) {
    write_error_summary(options, e.code(), e.what(), runs, expansion);
    throw;
  } catch (const std::exception& e) {
    write_error_summary(options, ExitCode::error, e.what(), runs, expansion);
    throw;
  }
  write_summary(options, code, runs.empty() ? "" : runs.back().message, runs, expansion);
  return code;
}

ExitCode run_synth(const Options& options) {
  if (options.dry_run) return run_dry_run(options);
  // Every way out writes the --summary file, start-up errors included, so cron never reads the
  // summary of an earlier run. Only a command line that could not be parsed leaves it alone.
  bool expansion = expands_personas(options) && options.output != "-";
  return run_with_edges(options, expansion, /*needs_key=*/true,
                        [&](const SynthContext& context, std::vector<RunOutcome>& runs) {
                          return synthesize(options, context, runs);
                        });
}

}  // namespace personagen
