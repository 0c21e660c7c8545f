#pragma once

// Every figure `personagen report` gives about one dataset. The collector (collector.h) fills
// it from the records, similarity.h adds the embedding figures, and report_text.h, report_json.h
// and report_html.h write it out; --compare gives several, one per dataset, in columns.

#include <cstdint>
#include <functional>
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

// Counts by a name that comes from the data (a finish reason, a task, "3/4"). The comparator is
// transparent, so that a string_view is looked up without building a string.
using NameCounts = std::map<std::string, uint64_t, std::less<>>;

// Integer distribution summary (words per output): exact, from counts per value. The mean,
// extremes and percentiles are undefined (nullopt; null in the JSON, "-" shown) when count is 0.
struct Distribution {
  uint64_t count = 0;
  std::optional<double> mean;
  std::optional<double> min, p10, p50, p90, p99, max;
  Histogram histogram;
};

struct RunFigures {
  // Records read: lines that are JSON objects with a text to measure (--field, or by the
  // record's kind; see report/record_view.h). Every other figure counts these.
  uint64_t records = 0;
  uint64_t failures = 0;             // failures.jsonl lines beside the shards, when there are any
  uint64_t rejects = 0;              // rejects.jsonl (replies that did not parse)
  uint64_t unverified = 0;           // unverified.jsonl (solve without agreement)
  uint64_t below_threshold = 0;      // below-threshold.jsonl (judge --min-score)
  uint64_t bad_lines = 0;            // non-blank lines that are not JSON objects or have no text
  NameCounts finish_reasons;         // of the records that have one
  std::map<int, uint64_t> attempts;  // attempts -> records
  NameCounts tasks;                  // record "task" -> records
  uint64_t prompt_tokens = 0;        // accepted: summed over the records' usage
  uint64_t completion_tokens = 0;
  // From manifest.json when the input is a run directory: every billed reply, retries included.
  std::optional<uint64_t> billed_prompt_tokens, billed_completion_tokens;
  std::optional<double> cost_usd;  // billed (or accepted) tokens at --price-in/--price-out
};

// Texts are compared as dedup compares them: normalize_text (NFC, case folded, white space
// collapsed), then split_words (punctuation stripped from the ends of words). A figure that is a
// share of nothing (no n-grams, no records, no personas) is undefined: nullopt.
struct DiversityFigures {
  // distinct-1/2/3: unique word n-grams / all n-grams, 0..1, over all records (n-grams do not
  // cross records). Exact while at most 2^20 distinct n-grams were seen, then "hyperloglog p=14"
  // (error: the 95% bound, 1.59% of the value). nullopt without any n-gram of that length.
  std::optional<Estimate> distinct[3];
  // The near-duplicate rate at Jaccard >= 0.9 (0.7): the share of records that have a near
  // duplicate LATER in the data, by MinHash (word 1-grams, 64 permutations, LSH banded for each
  // threshold, candidates confirmed by exact Jaccard as dedup does). So a group of k similar
  // records counts k - 1, as many as dedup drops (the same rate as dedup when similarity within
  // groups is transitive). Measured on a uniform sample of at most --sample-dups records, which
  // every later record is compared with: exact ("exact minhash", error 0) when every record fit,
  // else "minhash sample" with error 1.96 * sqrt(p (1 - p) / dup_sample). See near_dups.h.
  // nullopt without records.
  std::optional<Estimate> near_dup_90;
  std::optional<Estimate> near_dup_70;
  uint64_t dup_sample = 0;  // records in the near-duplicate sample
  // The 20 most common first four words (normalized), share = count / run.records. Counted by
  // Space-Saving with 4,096 counters: exact (every error 0) while the distinct openings fit.
  std::vector<TopEntry> openings;
  Estimate personas;  // distinct persona texts (exact, or hyperloglog as distinct-n)
  std::optional<double> outputs_per_persona;  // records that have a persona / personas
};

// Of the solve records in the shards and, for an output directory, in unverified.jsonl (the
// shards hold only the lines whose answers agreed). A solve run's shards written with --format
// chat hold messages only: the manifest's task says they are solve records, all agreed.
struct SolveFigures {
  uint64_t records = 0;
  double agreement_rate = 0;  // records whose answers agreed / solve records
  // "3/4" -> records, of the records that carry their votes (--format chat records do not).
  NameCounts votes;
};

struct JudgeFigures {
  uint64_t records = 0;
  // Per criterion of "scores" ("validity", "persona_fit", "quality", or a --rubric's) and
  // "overall": bins [1,2) ... [10,11), a score counted in the bin of its integer part.
  std::map<std::string, Histogram> scores;
  std::optional<double> mean_overall;  // nullopt when no record has an overall score
};

struct TaskFigures {
  std::optional<SolveFigures> solve;
  std::optional<JudgeFigures> judge;
  // Of the records whose output is an object or array (npc, tool, persona-to-persona), the 20
  // most common "name" values and top-level keys; share = count / those records.
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
  uint64_t sample = 0;                         // records embedded
  uint64_t pairs = 0;                          // pairs compared
  std::optional<double> mean_pairwise_cosine;  // of outputs; nullopt without pairs
  std::vector<SimilarityBin> bins;             // output similarity against persona similarity
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
