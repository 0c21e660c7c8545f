// Stage 2 of the staged dedup: the verified candidate pairs of a range of bands (dedup_stages.h).
#include <algorithm>
#include <optional>
#include <string>
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
      p.index.map();
      p.values.map();
      parts_.push_back(std::move(p));
      offset += part.lines;
    }
  }

  // One line's values, held by the caller: a bucket keeps its members' values in memory.
  struct Held {
    uint64_t line = 0;  // 0: none (lines count from 1)
    ValueRef ref;
    std::vector<uint32_t> values;

    // The values as NearDupIndex::similarity takes them, valid while this is unchanged.
    NearDupIndex::Values view() const {
      NearDupIndex::Values out;
      std::span<const uint32_t> stored = values;
      (ref.stored < ref.shingle_count ? out.signature : out.shingles) = stored;
      out.shingle_count = ref.shingle_count;
      out.bits = ref.bits;
      return out;
    }
  };

  // Reads the values of `line` into `out`.
  void read(uint64_t line, Held& out) const {
    auto it = std::upper_bound(parts_.begin(), parts_.end(), line,
                               [](uint64_t l, const Part& p) { return l <= p.offset; });
    const Part& part = *(it - 1);
    part.index.read_at(line - part.offset - 1, 1, &out.ref);
    out.values.resize(out.ref.stored);
    if (out.ref.stored > 0) part.values.read_at(out.ref.offset, out.ref.stored, out.values.data());
    out.line = line;
  }

 private:
  struct Part {
    uint64_t offset;  // lines of the parts before it
    RecordFileReader index;
    RecordFileReader values;
  };
  std::vector<Part> parts_;
};

// The verified pairs of one band's buckets, merged over all parts.
// Why this reproduces NearDupIndex: a bucket's members are the first kMaxBucket records with
// its key that reach the MinHash stage. A record whose exact key an earlier one in the bucket
// has is an exact duplicate (equal texts have equal bands): it never reaches that stage.
// Member j's candidates are the members before it; from the 65th record on, the first 64.
// Why verified here: a crowded bucket gives each later record 64 candidates, and spilling them
// all before verifying (16 bytes each, per band) took more disk than the input by far; the
// members' values are held instead, and only pairs at the threshold are kept. A pair found in
// several bands is verified in each, and kept once.
void add_band_pairs(const std::string& work, const std::vector<SignaturesDone>& parts, size_t band,
                    const ValueStore& store, const MinHasher& hasher, double threshold,
                    SpillSorter<VerifiedPair>& pairs, uint64_t& checked) {
  MergeReader<BandEntry> merge;
  uint64_t offset = 0;
  for (const SignaturesDone& part : parts) {
    merge.add(RecordFileReader(signatures_dir(work, part.part) + "/band-" + std::to_string(band),
                               sizeof(BandEntry)),
              [offset](BandEntry& entry) { entry.line += offset; });
    offset += part.lines;
  }
  std::vector<BandEntry> members;
  std::vector<ValueStore::Held> held(NearDupIndex::kMaxBucket);  // the members' values
  ValueStore::Held current;
  std::vector<uint32_t> scratch;
  bool any = false;
  uint32_t key = 0;
  for (BandEntry entry; merge.next(entry);) {
    if (!any || entry.band_key != key) {
      members.clear();
      key = entry.band_key;
      any = true;
    }
    const bool joins = members.size() < NearDupIndex::kMaxBucket;
    if (joins) {
      const bool seen = std::any_of(members.begin(), members.end(), [&](const BandEntry& m) {
        return m.key_low == entry.key_low && m.key_high == entry.key_high;
      });
      if (seen) continue;
    }
    // Past a full bucket, an exact duplicate may still yield pairs here: clusters skips them.
    // Values are read only for a bucket of two or more: most buckets hold one record.
    if (!members.empty()) store.read(entry.line, current);
    for (size_t m = 0; m < members.size(); ++m) {
      if (held[m].line != members[m].line) store.read(members[m].line, held[m]);
      ++checked;
      const double s =
          NearDupIndex::similarity(hasher, threshold, current.view(), held[m].view(), scratch);
      if (s + 1e-12 < threshold) continue;  // as NearDupIndex::find judges
      pairs.add(VerifiedPair{entry.line, members[m].line, s});
    }
    if (joins) {  // held[size] holds its values if they were read, else another line's
      std::swap(held[members.size()], current);
      members.push_back(entry);
    }
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
    check_made_from(dir, done->parts, parts.size(), done->inputs_digest, digest, "dedup buckets");
    result.already_done = true;
    result.pairs = done->candidates;
    return result;
  }
  const RunDirectory runs = begin_stage(
      options, dir, "buckets-bands-" + std::to_string(begin) + "-" + std::to_string(end));
  const MinHasher hasher(params.num_perm, params.seed);
  const ValueStore store(options.work, parts);
  SpillSorter<VerifiedPair> verified(runs, "pairs", sort_memory(options));
  uint64_t checked = 0;
  for (size_t band = begin; band < end; ++band) {
    add_band_pairs(options.work, parts, band, store, hasher, params.threshold, verified, checked);
  }

  BucketsDone done;
  done.params = params;
  done.parts = parts.size();
  done.band_begin = begin;
  done.band_end = end;
  done.inputs_digest = digest;
  done.candidates = checked;
  RecordFileWriter pairs(dir + "/pairs", sizeof(VerifiedPair), true);
  verified.finish(true, [&](const VerifiedPair& pair) { pairs.write(pair); });
  done.pairs = pairs.count();
  pairs.commit();
  write_done(dir, done);
  result.pairs = done.candidates;
  result.spilled_runs = verified.spilled_runs();
  return result;
}

}  // namespace personagen
