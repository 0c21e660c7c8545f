#pragma once

// `personagen dedup signatures|buckets|clusters|filter`: the staged dedup of dedup_stages.h, one
// command per stage so that a Slurm array or a Kubernetes Indexed Job can run each part, and the
// flags that `dedup` itself shares with them (the MinHash options, --memory and --tmp).

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "dedup/dedup.h"
#include "dedup/dedup_stages.h"
#include "personagen/error.h"
#include "personagen/options.h"

namespace personagen {

// --field, --ngram, --num-perm, --threshold, --bands, --rows and --seed.
void add_minhash_flags(CLI::App& app, DedupOptions& d);

// The least --memory any dedup command takes: below it the sort buffers would spill a run for
// every few records.
inline constexpr size_t kMinMemoryBytes = size_t{1} << 20;

// --memory SIZE (into `bytes`; at least 1M) and --tmp DIR, with the help of `dedup` itself or,
// with `stage`, of a stage command (default 1 GiB, WORK/tmp).
void add_memory_flags(CLI::App& app, size_t& bytes, std::string& tmp, bool stage = false);

struct DedupStageFlags {
  StageOptions stage;
  std::string part = "0/1";  // --part I/N
  std::string bands;         // --bands B0-B1 of buckets; empty = every band
};

struct DedupStageCommands {
  CLI::App* signatures = nullptr;
  CLI::App* buckets = nullptr;
  CLI::App* clusters = nullptr;
  CLI::App* filter = nullptr;
};

// Adds the four stages as subcommands of `dedup`.
DedupStageCommands add_dedup_stage_commands(CLI::App& dedup, DedupStageFlags& flags);

// Runs the stage that was parsed, printing one line on stderr unless --quiet; nullopt if none
// was. Throws Error as the stages do.
std::optional<ExitCode> run_dedup_stage_command(const DedupStageCommands& commands,
                                                DedupStageFlags& flags, const Options& options);

// Parses --bands "B0-B1" (inclusive, 0-based) or "B" into [begin, end). Throws a usage Error.
void parse_band_range(const std::string& text, size_t& begin, size_t& end);

}  // namespace personagen
