#pragma once

// Every figure `personagen report` gives about one dataset. The collector (collector.h) fills
// it from the records, similarity.h adds the embedding figures, and report_text.h, report_json.h
// and report_html.h write it out; --compare gives several, one per dataset, in columns.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace personagen {

// A figure that may come from a sketch or a sample: `value` ± `error` (95% bound, in the
// figure's own unit); `exact` when it was counted, in which case error is 0.
struct Estimate {
  double value = 0;
  double error = 0;
  bool exact = true;
  std::string method;  // how it was estimated, for the JSON: "exact", "hyperloglog p=14", ...
};

// Counts in bins [edges[i], edges[i+1]); edges.size() == counts.size() + 1.
struct Histogram {
  std::vector<double> edges;
  std::vector<uint64_t> counts;
};

// One row of a top-k table: a key, how many records had it, and its share of the records
// counted. With a sketch, count may overstate by up to `error` records.
struct TopEntry {
  std::string key;
  uint64_t count = 0;
  double share = 0;
  uint64_t error = 0;
};

// Integer distribution summary (words per output): exact, from counts per value.
struct Distribution {
  uint64_t count = 0;
  double mean = 0;
  double min = 0, p10 = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  Histogram histogram;
};

struct RunFigures {
  uint64_t records = 0;          // records read (lines that are JSON objects)
  uint64_t failures = 0;         // failures.jsonl lines beside the shards, when there are any
  uint64_t rejects = 0;          // rejects.jsonl (replies that did not parse)
  uint64_t unverified = 0;       // unverified.jsonl (solve without agreement)
  uint64_t below_threshold = 0;  // below-threshold.jsonl (judge --min-score)
  uint64_t bad_lines = 0;        // input lines that are not JSON objects or lack the field
  std::map<std::string, uint64_t> finish_reasons;  // of the records that have one
  std::map<int, uint64_t> attempts;                // attempts -> records
  std::map<std::string, uint64_t> tasks;           // record "task" -> records
  uint64_t prompt_tokens = 0;                      // accepted: summed over the records' usage
  uint64_t completion_tokens = 0;
  // From manifest.json when the input is a run directory: every billed reply, retries included.
  std::optional<uint64_t> billed_prompt_tokens, billed_completion_tokens;
  std::optional<double> cost_usd;  // billed (or accepted) tokens at --price-in/--price-out
};

struct DiversityFigures {
  Estimate distinct[3];            // distinct-1/2/3: unique word n-grams / all n-grams, 0..1
  Estimate near_dup_90;            // share of records with a near duplicate at Jaccard >= 0.9
  Estimate near_dup_70;            // ... at Jaccard >= 0.7
  uint64_t dup_sample = 0;         // records in the near-duplicate sample
  std::vector<TopEntry> openings;  // the 20 most common first four words, lower-cased
  Estimate personas;               // distinct personas covered
  double outputs_per_persona = 0;
};

struct SolveFigures {
  uint64_t records = 0;
  double agreement_rate = 0;              // records whose answers agreed / solve records
  std::map<std::string, uint64_t> votes;  // "3/4" -> records
};

struct JudgeFigures {
  uint64_t records = 0;
  std::map<std::string, Histogram> scores;  // "validity", "persona_fit", "quality", "overall"
  double mean_overall = 0;
};

struct TaskFigures {
  std::optional<SolveFigures> solve;
  std::optional<JudgeFigures> judge;
  std::vector<TopEntry> names;  // npc: most common names; tool: most common tool names
  std::vector<TopEntry> keys;   // npc/tool (object outputs): most common top-level keys
};

// With --embed-model: on a uniform sample of records.
struct SimilarityBin {
  double persona_low = 0, persona_high = 0;  // persona cosine in [low, high)
  uint64_t pairs = 0;
  double mean_output = 0;  // mean output cosine of those pairs
};

struct SimilarityFigures {
  std::string model;
  uint64_t sample = 0;              // records embedded
  uint64_t pairs = 0;               // pairs compared
  double mean_pairwise_cosine = 0;  // of outputs
  std::vector<SimilarityBin> bins;  // output similarity against persona similarity
};

struct Figures {
  std::string label;             // the input as given (a directory or files)
  std::string field = "output";  // the text field measured
  RunFigures run;
  Distribution words;  // words per output
  DiversityFigures diversity;
  TaskFigures task;
  std::optional<SimilarityFigures> similarity;
};

// One record's persona and output text, as the similarity sample keeps them.
struct TextPair {
  std::string persona;
  std::string output;
};

}  // namespace personagen
