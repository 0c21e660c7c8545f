#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "report/figures.h"

namespace personagen {

// What `personagen report` reads for one dataset.
struct ReportInput {
  // JSONL files and directories (a run's output directory: its shards, side files and
  // manifest.json); .gz/.zst read transparently.
  std::vector<std::string> inputs;
  std::string label;             // names the dataset in the report; default: inputs joined
  std::string field = "output";  // the text measured; a string, or an object (npc, tool)
  std::string persona_field = "persona";
  std::optional<double> price_in;  // USD per 1M tokens
  std::optional<double> price_out;
  // Records in the near-duplicate sample. Each later record is looked up among them, so the time
  // grows with it: 2,000 keeps 1M records under 30 s on 2 cores, within about ±2% (95%).
  size_t dup_sample = 2000;
  size_t text_sample = 2000;  // (persona, output) pairs kept for --embed-model; 0 = none
  uint64_t seed = 1;
};

// Reads every record of the input once, streaming, in memory bounded by the samples and sketches
// whatever the input's size, and returns its figures (all but similarity). When `sample` is not
// null it receives a uniform sample of up to text_sample (persona, output) pairs.
// Throws Error naming the file when an input cannot be read.
Figures collect_figures(const ReportInput& input, std::vector<TextPair>* sample = nullptr);

}  // namespace personagen
