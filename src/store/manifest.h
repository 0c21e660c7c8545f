#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "input/record_reader.h"
#include "store/record_sink.h"

namespace personagen {

// The configuration a run was started with, as ordered (name, value) pairs: task, method, model,
// template ids and hashes, seed, shots, sampling parameters, format, ... A rerun into the same
// directory must present the same pairs.
using RunConfig = std::vector<std::pair<std::string, std::string>>;

// One line naming every difference, in the order of `now`, then the names that are gone, e.g.
// `model was "a", now "b"; shots is new ("3"); top_p is gone (was "0.9")`.
// Empty when the two are equal. Names present on one side only count as differences.
std::string describe_config_difference(const RunConfig& before, const RunConfig& now);

// Counters that survive a resume. The summary and the exit code come from these.
struct Totals {
  uint64_t records = 0;   // written to shards
  uint64_t failed = 0;    // written to failures.jsonl
  uint64_t rejected = 0;  // written to rejects.jsonl
  // Lines without agreement: solve lines whose samples did not agree, in unverified.jsonl.
  uint64_t unverified = 0;
  // judge records scoring below --min-score, in below-threshold.jsonl.
  uint64_t below_threshold = 0;
  uint64_t requests = 0;  // HTTP requests sent, retries included
  uint64_t retries = 0;
  uint64_t prompt_tokens = 0;      // of the accepted replies, the ones in the records
  uint64_t completion_tokens = 0;  // of the accepted replies
  // Of every reply the server billed: the accepted ones, and those retried or failed for being
  // cut off, empty or invalid. The cost is computed from these.
  uint64_t billed_prompt_tokens = 0;
  uint64_t billed_completion_tokens = 0;
  double seconds = 0;  // wall time summed over all runs

  // Field by field: a sum over runs, or what one run added to the totals before it. Every field
  // is here, so a new one cannot be left out of either.
  Totals& operator+=(const Totals& o) {
    records += o.records;
    failed += o.failed;
    rejected += o.rejected;
    unverified += o.unverified;
    below_threshold += o.below_threshold;
    requests += o.requests;
    retries += o.retries;
    prompt_tokens += o.prompt_tokens;
    completion_tokens += o.completion_tokens;
    billed_prompt_tokens += o.billed_prompt_tokens;
    billed_completion_tokens += o.billed_completion_tokens;
    seconds += o.seconds;
    return *this;
  }
  Totals& operator-=(const Totals& o) {
    records -= o.records;
    failed -= o.failed;
    rejected -= o.rejected;
    unverified -= o.unverified;
    below_threshold -= o.below_threshold;
    requests -= o.requests;
    retries -= o.retries;
    prompt_tokens -= o.prompt_tokens;
    completion_tokens -= o.completion_tokens;
    billed_prompt_tokens -= o.billed_prompt_tokens;
    billed_completion_tokens -= o.billed_completion_tokens;
    seconds -= o.seconds;
    return *this;
  }
};

// Where a run stands. Every input line before `next` is finished (in a shard or in a side
// file: failures.jsonl, rejects.jsonl, ...); of the lines from `next` on, exactly those in
// `done_above` are finished. Its size is bounded by the lines in progress, not the input size.
struct Checkpoint {
  ReadPosition next;
  // Selected lines (not rejects, and kept by the selection flags) before next.line, for
  // --limit. Written as "accepted_below", its name in manifests of earlier versions.
  uint64_t selected_below = 0;
  std::vector<uint64_t> done_above;
  WriterState writer;
  Totals totals;
  // The journal's last entry when the checkpoint was taken: the entries after it are what a
  // resume keeps beyond the checkpoint (see journal.h).
  uint64_t journal_seq = 0;
};

// What identifies an input file's content, so that a rerun notices a file replaced or
// regenerated under the same path. Reading at most 2 MiB keeps it cheap at any input size; an
// edit confined to the middle of a large file that keeps its size goes unnoticed.
struct InputFingerprint {
  // The file, as the inputs expanded to it; empty in a manifest written before a run could have
  // several inputs (then it is the run's one input file).
  std::string path;
  uint64_t size = 0;
  uint64_t head = 0;  // xxh3-64 of the first 1 MiB (of the whole file when smaller)
  uint64_t tail = 0;  // xxh3-64 of the last 1 MiB (of the whole file when smaller)
  bool operator==(const InputFingerprint&) const = default;
};

// manifest.json: what a run was asked to do, and how far it got.
struct Manifest {
  std::string tool_version;
  RunConfig config;
  // The input files when the run began, in reading order. Empty when unknown: for stdin and
  // pipes, and in a manifest written by an earlier personagen that did not record it (the next
  // run then does).
  std::vector<InputFingerprint> input;
  Checkpoint checkpoint;
  bool complete = false;  // the run finished; a rerun has nothing left to do
  // The checkpoint belongs to a --retry-failed pass: it re-requests only the input lines listed
  // in failures.retry.jsonl, which the pass deletes when it completes.
  bool retry_pass = false;
  // What GET /v1/models of the (first) endpoint listed when the latest run began, as
  // "server_models"; empty when the endpoint has no such route or did not answer.
  std::vector<std::string> server_models;
};

// Writes the manifest atomically: a .tmp file, fsync, rename, fsync of the directory.
// Throws Error naming the file on an I/O error.
void write_manifest(const std::string& path, const Manifest& manifest);

// Reads a manifest; nullopt if the file does not exist. Throws Error naming the file if it is
// not a manifest this version understands.
std::optional<Manifest> read_manifest(const std::string& path);

}  // namespace personagen
