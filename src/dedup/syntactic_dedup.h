#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dedup/dedup.h"
#include "dedup/exact_dup_index.h"
#include "dedup/minhash.h"

namespace personagen {

class InputFiles;

enum class DedupStage : uint8_t { exact, minhash, semantic };
std::string_view to_string(DedupStage stage);

// A dropped record, kept small because a run may drop millions: its text is read back from the
// input only when the report is written.
struct DroppedRecord {
  uint64_t line = 0;
  // The line of the earlier kept record it duplicates; for an exact duplicate, the first line
  // with its text, which stage 2 may have dropped.
  uint64_t duplicate_of = 0;
  double similarity = 0;
  DedupStage stage = DedupStage::exact;
};

// What the stages decided, in input order.
struct DedupDecisions {
  std::vector<uint64_t> kept_lines;  // lines of the records kept by stages 1 and 2
  std::vector<bool> semantic_drop;   // per entry of kept_lines: dropped by stage 3
  std::vector<DroppedRecord> drops;  // sorted by line once every stage has run
};

// Prepares one usable record's text for stages 1 and 2, as both run_dedup and the staged dedup
// do: normalizes it into `normalized` and returns its exact key; `shingles` gets its shingles
// and `signature` its MinHash signature (num_perm values; none without shingles).
ExactDupIndex::Key prepare_text(std::string_view text, size_t ngram, const MinHasher& hasher,
                                std::string& normalized, std::vector<uint32_t>& shingles,
                                std::vector<uint32_t>& signature);

// Throws a usage Error naming the flag if the options of stages 1 and 2 (field, ngram,
// num_perm, threshold, bands, rows) are out of range. Shared by run_dedup and the staged dedup.
void validate_minhash_options(const DedupOptions& options);
// The LSH banding of the options: bands and rows as given, the missing one from num_perm, or
// choose_lsh_bands when neither is given.
LshBands dedup_banding(const DedupOptions& options);

// Thrown by run_syntactic_stages when its index and decisions would need more than the memory
// budget it was given: the caller goes on out of core.
struct IndexOutgrewMemory {
  uint64_t records = 0;  // lines read when it stopped
  size_t bytes = 0;      // what the index and decisions held then
};

// Stages 1 (exact duplicates of the normalized text) and 2 (MinHash near duplicates) in one
// streaming pass over `input`, filling `decisions` and the counts in `stats`. Records are judged
// in input order against the records kept before them, so the result does not depend on timing:
// a second thread only prepares records (parsing, normalizing, shingling, signing) ahead of the
// one that judges them. Rejected lines are logged as warnings, the first 100 one by one.
// Throws Error if the input cannot be read, IndexOutgrewMemory past `memory_bytes`.
void run_syntactic_stages(const InputFiles& input, const DedupOptions& options, LshBands lsh,
                          size_t memory_bytes, DedupDecisions& decisions, DedupStats& stats);

}  // namespace personagen
