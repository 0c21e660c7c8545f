// Stage 3 of the staged dedup: which records are dropped, and for which (dedup_stages.h).
#include <optional>
#include <string>
#include <vector>

#include "dedup/dedup_stages.h"
#include "dedup/dedup_work.h"
#include "dedup/record_file.h"
#include "dedup/spill_sort.h"
#include "dedup/stage_lock.h"
#include "dedup/syntactic_dedup.h"
#include "personagen/error.h"

namespace personagen {
namespace {

// The exact duplicates, sorted by line into `path`: every record whose exact key an earlier
// record has, with the first record of that key as duplicate_of.
uint64_t write_exact_drops(const std::string& work, const std::vector<SignaturesDone>& parts,
                           const RunDirectory& runs, size_t memory_bytes, const std::string& path,
                           uint64_t& spilled_runs) {
  MergeReader<ExactEntry> merge;
  uint64_t offset = 0;
  for (const SignaturesDone& part : parts) {
    merge.add(RecordFileReader(signatures_dir(work, part.part) + "/exact", sizeof(ExactEntry)),
              [offset](ExactEntry& entry) { entry.line += offset; });
    offset += part.lines;
  }
  SpillSorter<DropEntry> drops(runs, "exact-drops", memory_bytes);
  ExactEntry first;
  bool any = false;
  for (ExactEntry entry; merge.next(entry);) {
    if (any && entry.same_key(first)) {
      drops.add({entry.line, first.line, 1.0, static_cast<uint32_t>(DedupStage::exact), 0});
    } else {
      first = entry;
      any = true;
    }
  }
  RecordFileWriter out(path, sizeof(DropEntry), false);
  drops.finish(false, [&](const DropEntry& drop) { out.write(drop); });
  out.commit();
  spilled_runs += drops.spilled_runs();
  return out.count();
}

// The near duplicates, in line order into `path`: walking the verified pairs by j, record j
// (if it is no exact duplicate) is dropped for the most similar earlier record i that is kept,
// the earliest on a tie, as run_dedup decides in input order.
uint64_t write_near_drops(const std::string& work, const std::vector<BucketsDone>& ranges,
                          uint64_t lines, const std::string& exact_path, const std::string& path) {
  MergeReader<VerifiedPair> pairs;
  for (const BucketsDone& range : ranges) {
    pairs.add(RecordFileReader(buckets_dir(work, range.band_begin, range.band_end) + "/pairs",
                               sizeof(VerifiedPair)));
  }
  RecordFileReader exact(exact_path, sizeof(DropEntry));
  DropEntry next_exact;
  bool more_exact = exact.next(next_exact);
  std::vector<bool> dropped(lines + 1, false);
  RecordFileWriter out(path, sizeof(DropEntry), false);

  std::optional<DropEntry> best;  // for record `current`
  uint64_t current = 0;
  bool current_exact = false;
  auto settle = [&] {
    if (!best) return;
    dropped[best->line] = true;
    out.write(*best);
    best.reset();
  };
  VerifiedPair last;
  bool any = false;
  for (VerifiedPair pair; pairs.next(pair);) {
    if (any && pair == last) continue;  // band ranges may overlap
    any = true;
    last = pair;
    if (pair.j != current) {
      settle();
      current = pair.j;
      while (more_exact && next_exact.line < current) more_exact = exact.next(next_exact);
      current_exact = more_exact && next_exact.line == current;
    }
    if (pair.j > lines || pair.i >= pair.j) {
      throw Error("dedup clusters: a pair (" + std::to_string(pair.j) + ", " +
                  std::to_string(pair.i) + ") does not fit the input's " + std::to_string(lines) +
                  " lines; were the buckets made from other signatures?");
    }
    if (current_exact || dropped[pair.i]) continue;
    // i ascends within j: a later i replaces the best only if strictly more similar.
    if (!best || pair.similarity > best->similarity) {
      best =
          DropEntry{pair.j, pair.i, pair.similarity, static_cast<uint32_t>(DedupStage::minhash), 0};
    }
  }
  settle();
  out.commit();
  return out.count();
}

}  // namespace

StageResult dedup_clusters(const StageOptions& options) {
  check_stage_options(options, "dedup clusters", false);
  const std::vector<SignaturesDone> parts = read_all_signatures(options.work, "dedup clusters");
  const WorkParams& params = parts.front().params;
  const std::vector<BucketsDone> ranges = read_all_buckets(options.work, params, parts.size());
  const std::string dir = clusters_dir(options.work);
  StageResult result;
  const StageLock lock(lock_path(dir), "clusters", options.work);
  const uint64_t digest = markers_digest(parts, ranges);
  if (std::optional<ClustersDone> done = read_clusters_done(dir, params)) {
    check_made_from(dir, done->parts, parts.size(), done->inputs_digest, digest, "dedup clusters");
    result.already_done = true;
    result.pairs = done->exact_dropped + done->near_dropped;
    return result;
  }
  ClustersDone done;
  done.params = params;
  done.parts = parts.size();
  done.inputs_digest = digest;
  for (const SignaturesDone& part : parts) {
    done.lines += part.lines;
    result.records += part.read;
  }
  const RunDirectory runs = begin_stage(options, dir, "clusters");
  const std::string exact_path = runs.path() + "/exact";
  const std::string near_path = runs.path() + "/near";
  done.exact_dropped = write_exact_drops(options.work, parts, runs, sort_memory(options),
                                         exact_path, result.spilled_runs);
  done.near_dropped = write_near_drops(options.work, ranges, done.lines, exact_path, near_path);

  // Both are in line order, and no line is in both: merged, they are the drops.
  MergeReader<DropEntry> merge;
  merge.add(RecordFileReader(exact_path, sizeof(DropEntry)));
  merge.add(RecordFileReader(near_path, sizeof(DropEntry)));
  RecordFileWriter drops(dir + "/drops", sizeof(DropEntry), true);
  for (DropEntry drop; merge.next(drop);) drops.write(drop);
  drops.commit();
  write_done(dir, done);
  result.pairs = done.exact_dropped + done.near_dropped;
  return result;
}

}  // namespace personagen
