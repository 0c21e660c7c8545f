#pragma once

// `--config FILE` and `--dump-config`: any long flag of the subcommand given, read from a TOML
// file through CLI11's config support, and the resolved configuration written back as TOML.

#include <CLI/CLI.hpp>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "app/config_toml.h"

namespace personagen {

// The state of --config and --dump-config for one command line.
struct ConfigFile {
  std::string path;                  // --config FILE, "" when not given
  std::vector<ConfigEntry> entries;  // read as soon as --config is parsed
  bool dump = false;                 // --dump-config
  // Every text value read from the file, so that a parse error about one (CLI11 may quote it)
  // can be printed without it, as values given on the command line are.
  std::vector<std::string> values() const;
  // "FILE:LINE: " of the key that a CLI11 error message names (as --key), when that key came
  // from the file and not from the command line `args`; "" otherwise.
  std::string where(const std::string& message, std::span<char* const> args) const;
};

// Adds --config FILE and --dump-config to `app`, the root: with fallthrough, both may be given
// after the subcommand. The file is read when --config is parsed (a missing or malformed file is
// a usage Error naming it and the line); its keys are given to the subcommand on the command
// line when CLI11 processes config files, after the flags, so a flag wins over the file, and the
// file over the environment and the defaults. A flat key is the long name of a flag of that
// subcommand (or of personagen itself, like quiet); a [synth] or [batch.export] table holds the
// keys of that subcommand, and a table of another subcommand is checked but not used. An unknown
// key is a usage Error naming the key, the file and the nearest flag; "api-key" is refused with
// the same advice as --api-key.
void add_config_flags(CLI::App& app, ConfigFile& config);

// The resolved configuration of the subcommand that was parsed, as TOML that --config reads
// back to the same configuration: flat keys, one per long flag of the subcommand (and of
// personagen itself) that has a value from the command line, the file or a default. Flags the
// user did not set and that have no default are left out.
std::string dump_config(const CLI::App& app);

}  // namespace personagen
