#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "personagen/options.h"
#include "report/collector.h"
#include "report/similarity.h"

namespace personagen {

// `personagen report`: its own flags, filled by cli.cpp.
struct ReportOptions {
  ReportInput input;                 // -i, --field, --persona-field, --dup-sample, --seed
  std::vector<std::string> compare;  // --compare DIR...: more datasets, in columns
  std::string json_path;             // --json FILE ("-" = stdout)
  std::string html_path;             // --html FILE
  std::string embed_model;           // --embed-model
  size_t sample = 2000;              // --sample: records embedded
};

// The most records --sample embeds: every pair is compared, so the work grows with the square.
inline constexpr size_t kMaxSimilaritySample = 10000;

// Adds the `report` subcommand and its flags to `app`: ReportOptions' own, and the shared ones
// that land in `options` (--price-in/--price-out, --base-url, --api-key-file).
CLI::App* add_report_command(CLI::App& app, ReportOptions& report, Options& options);

// Collects every dataset's figures (-i is one dataset; each --compare path is one more, named by
// its path), adds similarity with --embed-model (the API key is read only then; embeddings are
// cached for this command only, in a temporary file shared by the datasets, so personas they
// share are fetched once), and writes the terminal summary to stdout (unless --quiet or
// --json -), the JSON and the HTML page, each file atomically. Throws a usage Error for flags
// that do not fit together, Error with ExitCode::interrupted on SIGINT/SIGTERM while embedding,
// and Error as the collector and measure_similarity do.
ExitCode run_report_command(ReportOptions& report, const Options& options);

}  // namespace personagen
