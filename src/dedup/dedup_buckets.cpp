// Stage 2 of the staged dedup: the verified candidate pairs of a range of bands (dedup_stages.h).
#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "dedup/dedup_stages.h"
#include "dedup/dedup_work.h"
#include "dedup/minhash.h"
#include "dedup/near_dup_index.h"
#include "dedup/record_file.h"
#include "dedup/spill_sort.h"
#include "dedup/stage_lock.h"
#include "personagen/error.h"

namespace personagen {
namespace {

// The stored MinHash values of any line of the input, read from its part's files as needed.
class ValueStore {
 public:
  ValueStore(const std::string& work, const std::vector<SignaturesDone>& parts) {
    uint64_t offset = 0;
    for (const SignaturesDone& part : parts) {
      const std::string dir = signatures_dir(work, part.part);
      Part p{offset, RecordFileReader(dir + "/values.index", sizeof(ValueRef)),
             RecordFileReader(dir + "/values", sizeof(uint32_t))};
      if (p.index.count() != part.lines) {
        throw Error(p.index.path() + ": " + std::to_string(p.index.count()) + " entries, " +
                    done_path(dir) + " says the part has " + std::to_string(part.lines) + " lines");
      }
      parts_.push_back(std::move(p));
      offset += part.lines;
    }
  }

  // The values of `line` as NearDupIndex::similarity takes them, valid until the next call
  // with the same `slot` (0 or 1).
  NearDupIndex::Values get(uint64_t line, int slot) {
    Cached& cached = cache_[slot];
    if (cached.line != line) {
      auto it = std::upper_bound(parts_.begin(), parts_.end(), line,
                                 [](uint64_t l, const Part& p) { return l <= p.offset; });
      const Part& part = *(it - 1);
      ValueRef ref;
      part.index.read_at(line - part.offset - 1, 1, &ref);
      cached.values.resize(ref.stored);
      if (ref.stored > 0) part.values.read_at(ref.offset, ref.stored, cached.values.data());
      cached.ref = ref;
      cached.line = line;
    }
    NearDupIndex::Values out;
    std::span<const uint32_t> stored = cached.values;
    (cached.ref.stored < cached.ref.shingle_count ? out.signature : out.shingles) = stored;
    out.shingle_count = cached.ref.shingle_count;
    out.bits = cached.ref.bits;
    return out;
  }

 private:
  struct Part {
    uint64_t offset;  // lines of the parts before it
    RecordFileReader index;
    RecordFileReader values;
  };
  struct Cached {
    uint64_t line = 0;
    ValueRef ref;
    std::vector<uint32_t> values;
  };
  std::vector<Part> parts_;
  Cached cache_[2];
};

// The candidate pairs of one band's buckets, merged over all parts.
// Why this reproduces NearDupIndex: a bucket's members are the first kMaxBucket records with
// its key that reach the MinHash stage. A record whose exact key an earlier one in the bucket
// has is an exact duplicate (equal texts have equal bands): it never reaches that stage.
// Member j's candidates are the members before it; from the 65th record on, the first 64.
void add_band_candidates(const std::string& work, const std::vector<SignaturesDone>& parts,
                         size_t band, SpillSorter<CandidatePair>& candidates) {
  MergeReader<BandEntry> merge;
  uint64_t offset = 0;
  for (const SignaturesDone& part : parts) {
    merge.add(RecordFileReader(signatures_dir(work, part.part) + "/band-" + std::to_string(band),
                               sizeof(BandEntry)),
              [offset](BandEntry& entry) { entry.line += offset; });
    offset += part.lines;
  }
  std::vector<BandEntry> members;
  bool any = false;
  uint32_t key = 0;
  for (BandEntry entry; merge.next(entry);) {
    if (!any || entry.band_key != key) {
      members.clear();
      key = entry.band_key;
      any = true;
    }
    if (members.size() < NearDupIndex::kMaxBucket) {
      const bool seen = std::any_of(members.begin(), members.end(), [&](const BandEntry& m) {
        return m.key_low == entry.key_low && m.key_high == entry.key_high;
      });
      if (seen) continue;
    }
    // Past a full bucket, an exact duplicate may still yield pairs here: clusters skips them.
    for (const BandEntry& member : members) candidates.add({entry.line, member.line});
    if (members.size() < NearDupIndex::kMaxBucket) members.push_back(entry);
  }
}

}  // namespace

StageResult dedup_buckets(const StageOptions& options) {
  check_stage_options(options, "dedup buckets", false);
  const std::vector<SignaturesDone> parts = read_all_signatures(options.work, "dedup buckets");
  const WorkParams& params = parts.front().params;
  const size_t begin = std::min<size_t>(options.band_begin, params.bands);
  const size_t end = std::min<size_t>(options.band_end, params.bands);
  if (begin >= end) {
    throw usage_error("dedup buckets: --bands " + std::to_string(options.band_begin) + "-" +
                      std::to_string(options.band_end) + " holds none of the " +
                      std::to_string(params.bands) + " bands (0-" + std::to_string(params.bands) +
                      ")");
  }
  const std::string dir = buckets_dir(options.work, begin, end);
  StageResult result;
  const StageLock lock(lock_path(dir), "buckets", options.work);
  const uint64_t digest = markers_digest(parts);
  if (std::optional<BucketsDone> done = read_buckets_done(dir, params)) {
    if (done->parts != parts.size()) {
      throw Error(done_path(dir) + ": made from " + std::to_string(done->parts) +
                  " parts, the signatures have " + std::to_string(parts.size()));
    }
    check_inputs_digest(dir, done->inputs_digest, digest, "dedup buckets");
    result.already_done = true;
    result.pairs = done->candidates;
    return result;
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw Error(dir + ": cannot create the directory: " + error.message());

  const std::string prefix =
      run_prefix(options, "buckets-bands-" + std::to_string(begin) + "-" + std::to_string(end));
  RunDirectory::remove_leftovers(tmp_dir(options), prefix);
  const RunDirectory runs(tmp_dir(options), prefix);
  SpillSorter<CandidatePair> candidates(runs, "candidates", options.memory_bytes);
  for (size_t band = begin; band < end; ++band) {
    add_band_candidates(options.work, parts, band, candidates);
  }

  // Each distinct pair is verified once, in (j, i) order, which is the order of the file.
  const MinHasher hasher(params.num_perm, params.seed);
  ValueStore store(options.work, parts);
  std::vector<uint32_t> scratch;
  BucketsDone done;
  done.params = params;
  done.parts = parts.size();
  done.band_begin = begin;
  done.band_end = end;
  done.inputs_digest = digest;
  RecordFileWriter pairs(dir + "/pairs", sizeof(VerifiedPair), true);
  candidates.finish(true, [&](const CandidatePair& pair) {
    ++done.candidates;
    const double s = NearDupIndex::similarity(hasher, params.threshold, store.get(pair.j, 0),
                                              store.get(pair.i, 1), scratch);
    if (s + 1e-12 < params.threshold) return;  // as NearDupIndex::find judges
    pairs.write(VerifiedPair{pair.j, pair.i, s});
  });
  done.pairs = pairs.count();
  pairs.commit();
  write_done(dir, done);
  result.pairs = done.candidates;
  result.spilled_runs = candidates.spilled_runs();
  return result;
}

}  // namespace personagen
