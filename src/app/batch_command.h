#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "personagen/options.h"
#include "synth/batch_run.h"

namespace personagen {

// The flags of `personagen batch` beyond synth's.
struct BatchFlags {
  BatchRunOptions run;
  std::vector<std::string> results;  // batch import -i
  std::string dir;                   // the positional DIR of export --retry-failed and cancel
};

// `personagen batch export|import|run|cancel`, as subcommands of `batch`.
struct BatchCommands {
  CLI::App* batch = nullptr;
  CLI::App* exporting = nullptr;
  CLI::App* importing = nullptr;
  CLI::App* running = nullptr;
  CLI::App* cancelling = nullptr;
};

BatchCommands add_batch_commands(CLI::App& app, Options& options, BatchFlags& flags);

// Runs the batch subcommand that was parsed; nullopt if none was. Throws Error like synth.
std::optional<ExitCode> run_batch_command(const BatchCommands& commands, Options& options,
                                          BatchFlags& flags);

}  // namespace personagen
