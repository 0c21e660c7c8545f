#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace personagen {

// What `personagen dedup` does; cli.cpp fills it from the command line, and run_dedup_command
// (app/dedup_commands.h) adds the endpoints and the API key.
struct DedupOptions {
  // JSONL files and directories of record shards, read as one input in order; "-" = stdin
  // (spooled to a temporary file), then the only input; .gz/.zst are read transparently.
  std::vector<std::string> inputs;
  std::string output;             // JSONL path of the kept records; "-" = stdout
  std::string field = "persona";  // the text field compared; any string field, e.g. "output"
  std::string report;             // optional: one JSON line per dropped record
  size_t ngram = 1;               // word n-grams for MinHash
  size_t num_perm = 128;          // MinHash permutations
  double threshold = 0.9;         // Jaccard similarity at which a record is a near duplicate
  size_t bands = 0, rows = 0;     // LSH banding; 0 = chosen from num_perm and threshold
  uint64_t seed = 1;              // MinHash permutations and the HNSW graph
  // The memory the in-memory index may use; past it, the run goes on out of core
  // (run_dedup_out_of_core), with sorted runs in `tmp` ($TMPDIR when empty). 0 = half the
  // machine's physical memory.
  size_t memory_bytes = 0;
  std::string tmp;

  // The optional semantic stage: off while embed_model is empty.
  std::string embed_model;
  double cosine = 0.9;  // cosine similarity at which a record is a semantic duplicate
  std::vector<std::string> base_urls;  // OpenAI-compatible base URLs, e.g.
                                       // http://127.0.0.1:8000/v1; requests are balanced over them
  std::string api_key;                 // never logged
  int concurrency = 16;                // requests in flight
  size_t batch = 64;                   // texts per /embeddings request
  double timeout_seconds = 120;
  int max_retries = 5;
};

// Counts of one run; read = kept + exact_dropped + near_dropped + semantic_dropped + rejected.
struct DedupStats {
  uint64_t read = 0;  // non-blank input lines
  uint64_t kept = 0;
  uint64_t exact_dropped = 0;
  uint64_t near_dropped = 0;
  uint64_t semantic_dropped = 0;
  uint64_t rejected = 0;  // lines that are not JSON objects with a string `field`
  double seconds = 0;
  size_t bands = 0, rows = 0;       // the LSH banding used
  uint64_t embeddings_fetched = 0;  // received from the endpoint in this run
  uint64_t embeddings_cached = 0;   // found in the cache from an earlier run
};

// Removes duplicate records from a JSONL file, keeping the first of each group, in input order.
// Every line written is an input line as it was (less a CR before its newline and a leading
// byte-order mark), so any schema round-trips.
//
// Stage 1 drops exact duplicates of the text after normalization (NFC, case folding, white space
// collapsed): a line duplicates the first line with its text, even one stage 2 dropped. Stage 2
// drops near duplicates: MinHash over word n-grams with LSH banding, a candidate confirmed when its
// Jaccard similarity with an earlier kept record reaches the threshold. Stage 3, with embed_model,
// drops records whose embedding has a cosine of at least `cosine` with an earlier kept record's
// (nearest neighbour by hnswlib); embeddings are cached in `<output>.embeddings` (not with output
// "-"), so a rerun requests only the missing ones. The same input and options give the same output.
//
// When the exact and MinHash index would outgrow memory_bytes, the run starts again out of core
// (dedup_stages.h), which gives the same output; with embed_model that is an Error instead.
//
// Lines that are not usable are counted as rejected, logged as warnings (file:line: reason)
// and not written. The output (and the report) are written to `<path>.tmp` and renamed at the
// end, so a failed run leaves no partial file; the output may be the input itself.
// Throws Error on bad options (a usage error), unreadable input, write failures, and in the
// semantic stage on a fatal or failed request or an interrupt (ExitCode::interrupted).
DedupStats run_dedup(const DedupOptions& options);

}  // namespace personagen
