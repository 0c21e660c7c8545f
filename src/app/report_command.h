#pragma once

#include <string>
#include <vector>

#include "personagen/error.h"
#include "personagen/options.h"
#include "report/collector.h"
#include "report/similarity.h"

namespace personagen {

// `personagen report`: its own flags, filled by cli.cpp.
struct ReportOptions {
  ReportInput input;                 // -i, --field, --sample-dups, prices
  std::vector<std::string> compare;  // --compare DIR...: more datasets, in columns
  std::string json_path;             // --json FILE ("-" = stdout)
  std::string html_path;             // --html FILE
  std::string embed_model;           // --embed-model
  size_t sample = 2000;              // --sample: records embedded
};

// Collects every dataset's figures, adds similarity with --embed-model, and writes the terminal
// summary (unless --quiet or --json -), the JSON and the HTML page.
ExitCode run_report_command(ReportOptions& report, const Options& options);

}  // namespace personagen
