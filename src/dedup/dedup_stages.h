#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dedup/dedup.h"

namespace personagen {

// Deduplication in four stages whose intermediates are sorted files in a work directory, so that
// it fits any memory and can be spread over machines (a Slurm array or a Kubernetes Indexed Job
// per stage, WORK on shared storage). The stages give exactly what run_dedup gives in memory on
// the same input and options (the exact and MinHash stages; there is no semantic stage here):
// the same kept lines, in the same order, and the same report.
//
//   1. signatures, per input part: each usable record's exact key, band keys and MinHash values;
//   2. buckets, per range of bands: the candidate pairs of every band bucket, merged over all
//      parts, verified by their Jaccard similarity as the in-memory index verifies them;
//   3. clusters, once: the exact duplicates, then for each record in input order the earlier
//      kept record it duplicates, if any (the most similar; the earliest on a tie);
//   4. filter, per input part: that part's kept lines, as they were, and its report lines.
//
// Every stage is idempotent: its files are written atomically and a `done` marker last, so a
// rerun of a finished stage does nothing and a crashed one starts again. Only signatures takes
// the field and the MinHash options; it records them, with its part's files, in WORK, and the
// later stages take them from there (their `dedup` fields other than inputs, output and report
// are ignored). buckets checks that every part was made with the same options and part count;
// filter checks that its part's files are those its signatures stage read; both say what differs.
//
// Stale work is refused, never used: signatures records each input file's size and mtime (ns),
// and a rerun of signatures or filter whose files differ fails ("FILE changed since its
// signatures were made (...): use a fresh work directory"); buckets and clusters record a digest
// of the done markers they read and fail the same way when rerun over other markers. Each of
// signatures, buckets and clusters holds an exclusive flock() on DIR.lock beside its output
// directory DIR (WORK/signatures/part-I-of-N.lock, WORK/buckets/bands-B0-B1.lock,
// WORK/clusters.lock) while it runs: a second job of the same stage (a Slurm requeue) fails with
// "another dedup STAGE is running on WORK (LOCK)". Under that lock it removes the sorted-run
// directories a killed run of the same stage left in the tmp directory.
//
// Resources beyond --memory (which bounds the sort buffers only):
//   - clusters keeps 1 bit per input line (125 MB per 1e9 lines);
//   - buckets keeps one open file and a 64 KB read buffer per part for each band's merge, and two
//     open files per part for the values: parts in the thousands need a higher `ulimit -n`;
//   - buckets' temporary disk: on templated data (many records sharing band keys) each record
//     yields up to 64 candidate pairs of 16 bytes per band of its range before they are
//     de-duplicated, i.e. up to 1 KB per record per band in WORK/tmp.

// Part `index` of `count` (0-based): the input files [index * F / count, (index + 1) * F / count)
// of the F files the inputs expand to, so each part is a contiguous run of the input.
struct InputPart {
  size_t index = 0;
  size_t count = 1;
};

// Parses "I/N" (0 <= I < N). Throws a usage Error naming `flag` otherwise.
InputPart parse_part(const std::string& text, const std::string& flag);

struct StageOptions {
  // inputs, field and the MinHash options (ngram, num_perm, threshold, bands, rows, seed); for
  // filter also output and report. embed_model must be empty.
  DedupOptions dedup;
  std::string work;  // the work directory, shared by every stage and part
  InputPart part;    // signatures and filter
  // buckets: bands [band_begin, band_end), clamped to the banding's band count.
  size_t band_begin = 0;
  size_t band_end = SIZE_MAX;
  // At most this many bytes of sort buffers; runs beyond it go to `tmp` (default WORK/tmp).
  size_t memory_bytes = size_t{1} << 30;
  std::string tmp;
  // signatures: the rejected lines among the first this many records are counted but not
  // warned of (run_dedup's in-memory pass warned of them before going on out of core).
  uint64_t warned_records = 0;
};

// What a stage did, for the command's one-line summary.
struct StageResult {
  bool already_done = false;  // its done marker was there: nothing was redone
  uint64_t records = 0;       // records read (signatures, filter) or judged (clusters)
  uint64_t pairs = 0;         // candidate pairs checked (buckets), duplicates found (clusters)
  uint64_t spilled_runs = 0;  // sorted runs written to tmp because the buffers were full
  DedupStats stats;           // filter: this part's counts (read, kept, dropped, rejected)
};

StageResult dedup_signatures(const StageOptions& options);
StageResult dedup_buckets(const StageOptions& options);
StageResult dedup_clusters(const StageOptions& options);
StageResult dedup_filter(const StageOptions& options);

// All four stages on one machine with one part, in a fresh work directory under `tmp` ($TMPDIR
// when empty) that is removed at the end, keeping the sort buffers within `memory_bytes`: what
// run_dedup does when the in-memory index would outgrow its memory. With `spilled_runs`, stores
// there how many sorted runs went to disk. Rejected lines among the first `warned_records` records
// are counted but not warned of (run_dedup's in-memory pass warned already). Throws a usage
// Error for stdin or embed_model.
DedupStats run_dedup_out_of_core(const DedupOptions& options, size_t memory_bytes,
                                 const std::string& tmp, uint64_t* spilled_runs = nullptr,
                                 uint64_t warned_records = 0);

}  // namespace personagen
