#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dedup/dedup.h"
#include "dedup/dedup_stages.h"
#include "dedup/spill_sort.h"

namespace personagen {

// The work directory of the staged dedup (dedup_stages.h): where each stage's files are, the
// records of those files, and the done markers that say a stage finished and with what.
//
//   WORK/signatures/part-I-of-N/  exact, band-B (per band), values, values.index, done.json
//   WORK/buckets/bands-B0-B1/     pairs, done.json
//   WORK/clusters/                drops, done.json
//   WORK/tmp/                     sorted runs while a stage runs (unless --tmp says elsewhere)
//
// Lines are the record's line in the whole input, 1-based, as RecordReader numbers them; in a
// part's files they are the line within the part (the part's line offset is added on reading).

// --- Records of the binary files (record_file.h); sorted as operator< says.

// `exact`: a usable record's exact key, by (key, line).
struct ExactEntry {
  uint64_t key_low = 0, key_high = 0;
  uint64_t line = 0;
  bool same_key(const ExactEntry& o) const {
    return key_low == o.key_low && key_high == o.key_high;
  }
  bool operator==(const ExactEntry&) const = default;
  bool operator<(const ExactEntry& o) const {
    if (key_high != o.key_high) return key_high < o.key_high;
    if (key_low != o.key_low) return key_low < o.key_low;
    return line < o.line;
  }
};

// `band-B`: a record with shingles, its 32-bit band key and its exact key, by (band key, line).
struct BandEntry {
  uint32_t band_key = 0;
  uint32_t unused = 0;
  uint64_t line = 0;
  uint64_t key_low = 0, key_high = 0;
  bool operator==(const BandEntry&) const = default;
  bool operator<(const BandEntry& o) const {
    return band_key != o.band_key ? band_key < o.band_key : line < o.line;
  }
};

// `values.index`, one per line of the part: where the line's stored values are in `values` (its
// shingles, or its signature past num_perm shingles; `stored` = 0 for a line without shingles).
struct ValueRef {
  uint64_t offset = 0;  // in values, counted in 32-bit values
  uint32_t stored = 0;
  uint32_t shingle_count = 0;
  uint64_t bits = 0;  // NearDupIndex::bits_of(its shingles)
};

// `pairs`: a candidate pair whose similarity reached the threshold, by (j, i).
struct VerifiedPair {
  uint64_t j = 0, i = 0;
  double similarity = 0;
  bool operator<(const VerifiedPair& o) const { return j != o.j ? j < o.j : i < o.i; }
  bool operator==(const VerifiedPair& o) const { return j == o.j && i == o.i; }
};

// `drops`: a dropped record, by line.
struct DropEntry {
  uint64_t line = 0;
  uint64_t duplicate_of = 0;
  double similarity = 0;
  uint32_t stage = 0;  // DedupStage
  uint32_t unused = 0;
  bool operator==(const DropEntry&) const = default;
  bool operator<(const DropEntry& o) const { return line < o.line; }
};

// --- Paths.

std::string signatures_dir(const std::string& work, InputPart part);
std::string buckets_dir(const std::string& work, size_t band_begin, size_t band_end);
std::string clusters_dir(const std::string& work);
std::string done_path(const std::string& dir);
// options.tmp, or WORK/tmp.
std::string tmp_dir(const StageOptions& options);
// The prefix of a stage's run directory in tmp_dir: `name` ("signatures-part-1-of-4"), and when
// --tmp is given (it may be shared by other work directories) "-" and a hash of WORK's path.
// Under its stage's lock a stage removes the leftovers with its prefix (a killed run's).
std::string run_prefix(const StageOptions& options, const std::string& name);
// The sort buffers' share of --memory: a sixteenth stays for what they do not count (the reader,
// the writers, the merges' read buffers), which took 10M personas under --memory 2G 2.5% over it.
size_t sort_memory(const StageOptions& options);
// The lock file of a stage's output directory `dir`: "dir.lock" (WORK/clusters.lock).
std::string lock_path(const std::string& dir);
// Starts a stage that is not done, under its lock: creates its output directory `dir`, removes
// the run directories a killed run of it left in tmp_dir (run_prefix(options, name)), and
// returns a fresh one. Throws Error naming a directory it cannot create.
RunDirectory begin_stage(const StageOptions& options, const std::string& dir,
                         const std::string& name);

// --- Options.

// Throws a usage Error naming the flag if `options` cannot run `stage` ("dedup signatures", ...):
// no work directory, stdin or --embed-model; with `inputs`, no input.
void check_stage_options(const StageOptions& options, const std::string& stage, bool inputs);
// The files of `part` of the files the inputs expand to (expand_inputs).
std::vector<std::string> part_files(const std::vector<std::string>& inputs, InputPart part);

// --- Done markers.

// What must be the same in every stage of one run: the options that decide the result.
struct WorkParams {
  std::string field;
  uint64_t ngram = 0, num_perm = 0;
  double threshold = 0;
  uint64_t bands = 0, rows = 0;
  uint64_t seed = 0;
};
// The parameters of `options`, with the banding resolved (dedup_banding).
WorkParams work_params(const DedupOptions& options);

// What a file was when a stage read it: a later change of either means its signatures are stale.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
// The stamps of `files`, in order. Throws Error naming a file that cannot be examined.
std::vector<FileStamp> file_stamps(const std::vector<std::string>& files);

struct SignaturesDone {
  WorkParams params;
  InputPart part;
  std::vector<std::string> files;  // the part's input files
  std::vector<FileStamp> stamps;   // one per file, as signatures read them
  uint64_t lines = 0;              // lines in the part, blank ones included
  uint64_t read = 0, rejected = 0;
  uint64_t marker_hash = 0;  // on reading: hash64 of the done.json text (not written)
};
struct BucketsDone {
  WorkParams params;
  uint64_t parts = 0;
  uint64_t band_begin = 0, band_end = 0;
  uint64_t candidates = 0, pairs = 0;  // distinct candidate pairs, and those verified
  uint64_t inputs_digest = 0;          // markers_digest of the signatures it read
  uint64_t marker_hash = 0;            // on reading: hash64 of the done.json text (not written)
};
struct ClustersDone {
  WorkParams params;
  uint64_t parts = 0, lines = 0;
  uint64_t exact_dropped = 0, near_dropped = 0;
  uint64_t inputs_digest = 0;  // markers_digest of the signatures and buckets it read
};

// Writes dir/done.json atomically. Throws Error naming it on failure.
void write_done(const std::string& dir, const SignaturesDone& done);
void write_done(const std::string& dir, const BucketsDone& done);
void write_done(const std::string& dir, const ClustersDone& done);

// dir/done.json, or nullopt if there is none. Throws Error naming the file if it is not such a
// marker; buckets' and clusters' also if made with other parameters than `params` (those of
// the signatures).
std::optional<SignaturesDone> read_signatures_done(const std::string& dir);
std::optional<BucketsDone> read_buckets_done(const std::string& dir, const WorkParams& params);
std::optional<ClustersDone> read_clusters_done(const std::string& dir, const WorkParams& params);
// Throws Error("DIR/done.json: made with --threshold 0.9, <expected_by> has 0.8") for the first
// parameter that differs.
void check_params(const std::string& dir, const WorkParams& made, const WorkParams& expected,
                  const std::string& expected_by);

// Throws Error("FILE changed since its signatures were made (DIR/done.json): use a fresh work
// directory") for the first of `done`'s files whose size or mtime is not as recorded; `stage`
// starts the message.
void check_inputs_unchanged(const std::string& dir, const SignaturesDone& done,
                            const std::string& stage);

// A digest of the done markers a stage read (their marker_hash, in order): buckets and clusters
// record it, and a rerun that finds other markers fails instead of redoing or keeping stale work.
uint64_t markers_digest(const std::vector<SignaturesDone>& signatures,
                        const std::vector<BucketsDone>& buckets = {});
// Checks that the done stage in `dir` was made from `parts` parts and the done markers whose
// markers_digest is `digest`. Throws Error("DIR/done.json: made from N parts, ...") or
// Error("STAGE: DIR/done.json was made from other done markers than WORK now holds (...): use
// a fresh work directory").
void check_made_from(const std::string& dir, uint64_t made_parts, uint64_t parts,
                     uint64_t made_digest, uint64_t digest, const std::string& stage);

// Every part's signatures, in order, after checking that all N parts of one split are done with
// the same parameters (the run's, from then on). Throws Error naming what is missing or differs
// ("dedup buckets: part 3 of 4 has no signatures yet (WORK/signatures/part-3-of-4/done.json)");
// `stage` starts the message.
std::vector<SignaturesDone> read_all_signatures(const std::string& work, const std::string& stage);

// The band ranges done in WORK/buckets, after checking that together they cover [0, bands).
// Throws Error naming the missing bands otherwise.
std::vector<BucketsDone> read_all_buckets(const std::string& work, const WorkParams& params,
                                          size_t parts);

}  // namespace personagen
